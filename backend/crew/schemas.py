"""JSON inputs of the crew API (most steps are multipart uploads, parsed in controllers.forms)."""

from __future__ import annotations

from backend.org.schemas import Strict


class ReviewIn(Strict):
    """A supervisor's decision on a face mismatch or a duplicate face; the note is required."""

    approve: bool
    note: str

