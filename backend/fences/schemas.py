"""JSON inputs of the fence API.  Unknown fields are refused (``Strict``); kind, crs and the geometry are
checked by the service so that the error names the field in Chinese and English."""

from __future__ import annotations

from typing import Any

from backend.org.schemas import Strict


class FenceIn(Strict):
    """A fence: ``kind`` polygon | circle | corridor; ``geometry`` a GeoJSON geometry (Polygon /
    MultiPolygon, Point = circle centre, LineString = corridor centre line) in ``crs`` (wgs84 | gcj02);
    ``radius_m`` for circles, ``width_m`` (total width) for corridors.  On update, ``expected_version``
    (the version the editor started from) turns a concurrent edit into 409."""

    name: str
    kind: str
    geometry: dict[str, Any]
    crs: str = "wgs84"
    radius_m: float | None = None
    width_m: float | None = None
    expected_version: int | None = None


class PointIn(Strict):
    lon: float
    lat: float
    accuracy_m: float = 0.0


class JudgeIn(Strict):
    """Batch judgement (the supervisor map, what-if checks): points in ``crs`` against the fences active
    at ``at`` (ISO 8601 with zone; default now)."""

    points: list[PointIn]
    crs: str = "wgs84"
    at: str | None = None


class RejudgeIn(Strict):
    """Local capture days, inclusive (YYYY-MM-DD)."""

    date_from: str
    date_to: str
