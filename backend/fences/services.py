"""Electronic fences of projects (stored, versioned) and the decision for one fix.

Placeholder until the fence store lands: every fix is judged ``no_fence``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.rules import Rules


@dataclass(frozen=True, slots=True)
class FixJudgement:
    reasons: tuple[str, ...]
    flags: tuple[str, ...]
    lon: float  # WGS-84
    lat: float
    fence_id: int | None = None
    distance_m: float | None = None
    message_zh: str = ""


async def judge_fix(project_id: int, lon: float, lat: float, accuracy_m: float, captured_at: datetime, *,
                    rules: Rules, coord_system: str = "wgs84", person_id: int | None = None) -> FixJudgement:
    return FixJudgement(reasons=("no_fence",), flags=(), lon=lon, lat=lat)
