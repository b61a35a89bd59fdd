"""The demo corridor fence."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from backend.fences.services.common import _project
from backend.fences.services.store import create_fence

# A road of about 5 km through the project's location (113.0105, 22.6478), 杜阮 (west) → 棠下 (north-east).
DEMO_ROAD: list[tuple[float, float]] = [
    (112.9880, 22.6395), (112.9965, 22.6420), (113.0040, 22.6452), (113.0105, 22.6478), (113.0170, 22.6510),
    (113.0235, 22.6552), (113.0290, 22.6601), (113.0330, 22.6648),
]
DEMO_ROAD_WIDTH_M = 60.0


async def create_demo_fences(project_id: int) -> list[int]:
    """The demo corridor of the municipal road project 蓬江区杜阮至棠下连接线道路改造工程: ~5 km, 60 m
    wide, valid from the project's start (so back-dated demo punches are judged against it)."""
    project = await _project(project_id)
    start_day = project.get("actual_start") or project.get("planned_start")
    valid_from = None
    if start_day is not None:
        valid_from = datetime.combine(start_day, time(0, 0), tzinfo=ZoneInfo(project.get("timezone") or
                                                                             "Asia/Shanghai"))
    created = await create_fence(
        project_id, name="杜阮至棠下连接线施工路段", kind="corridor",
        geometry={"type": "LineString", "coordinates": [list(p) for p in DEMO_ROAD]}, crs="wgs84",
        width_m=DEMO_ROAD_WIDTH_M, valid_from=valid_from, note="demo")
    return [created["id"]]


