"""Response structs of attendance data (punch rows as the lists show them)."""

from __future__ import annotations

from datetime import datetime

from backend.schemas import MaskedId, Out


class PunchRowOut(Out):
    """One punch as ``attendance.services.list_punches`` lists it; the ID number only masked."""

    id: int
    project: int
    project_name: str
    person: int | None
    name: str | None
    id_masked: MaskedId | None
    source: str
    direction: str | None
    captured_at: datetime
    received_at: datetime
    latency_s: float
    local_date: str
    verdict: str
    reasons: list[str]
    flags: list[str]
    lon: float | None
    lat: float | None
    accuracy_m: float | None
    fence_distance_m: float | None
    face_distance: float | None
    terminal: int | None
    message: str
    reason_labels: list[str]
