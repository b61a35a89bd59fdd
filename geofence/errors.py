"""The one exception type of the geofence library."""

from __future__ import annotations

from typing import Any


class FenceError(ValueError):
    """Bad fence input: bad coordinates, degenerate geometry, unparsable file ...

    ``code`` is machine-readable (e.g. ``swapped_lat_lon``), ``field`` names the
    offending input (e.g. ``shell[3]`` or ``features[0].properties.width_m``), and the
    two messages are ready to show to a user.
    """

    def __init__(self, code: str, field: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.field = field
        self.message_zh = message_zh
        self.message_en = message_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "field": self.field,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }

    def __repr__(self) -> str:
        return f"FenceError(code={self.code!r}, field={self.field!r}, message_en={self.message_en!r})"
