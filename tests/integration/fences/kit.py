"""Test material for the fence store: a real road (the Duruan–Tangxia link road in Jiangmen, ~5.5 km),
points a given distance inside/outside a corridor edge (geodesic offsets perpendicular to the road),
fresh projects with a worker on the roster, and phone punches through the real attendance path."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import geofence
from backend.fences.services import DEMO_ROAD

ROAD = [list(p) for p in DEMO_ROAD]
ROAD_WIDTH_M = 60.0
# Segment 3 → 4 of the road: (113.0105, 22.6478) → (113.0170, 22.6510), we offset from its midpoint.
SEG = (DEMO_ROAD[3], DEMO_ROAD[4])


def beside_road(offset_from_centre_m: float, *, side: int = 1) -> tuple[float, float]:
    """A point ``offset_from_centre_m`` from the road's centre line, perpendicular at the middle of SEG
    (side +1 = left of the direction of travel, -1 = right)."""
    (lon1, lat1), (lon2, lat2) = SEG
    mid_lon, mid_lat = geofence.geodesic_offset(lon1, lat1, geofence.geodesic_azimuth(lon1, lat1, lon2, lat2),
                                                geofence.geodesic_distance_m(lon1, lat1, lon2, lat2) / 2)
    az = geofence.geodesic_azimuth(mid_lon, mid_lat, lon2, lat2) - 90.0 * side
    return geofence.geodesic_offset(mid_lon, mid_lat, az, offset_from_centre_m)


def road_body(name: str = "道路施工段", width_m: float = ROAD_WIDTH_M, **kw: Any) -> dict[str, Any]:
    return {"name": name, "kind": "corridor", "geometry": {"type": "LineString", "coordinates": ROAD},
            "width_m": width_m, **kw}


def circle_body(lon: float, lat: float, radius_m: float, name: str = "圆形围栏", **kw: Any) -> dict[str, Any]:
    return {"name": name, "kind": "circle", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "radius_m": radius_m, **kw}


def square(lon: float, lat: float, half_m: float) -> list[list[float]]:
    n = geofence.geodesic_offset(lon, lat, 0, half_m)[1]
    s = geofence.geodesic_offset(lon, lat, 180, half_m)[1]
    e = geofence.geodesic_offset(lon, lat, 90, half_m)[0]
    w = geofence.geodesic_offset(lon, lat, 270, half_m)[0]
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


@dataclass
class Site:
    project_id: int
    unit_id: int
    team_id: int
    enterprise_id: int
    person_id: int | None = None


async def new_site(world: Any, *, lon: float = 113.0105, lat: float = 22.6478, with_person: bool = True) -> Site:
    """A fresh municipal project under construction (district A), its own contractor and a worker."""
    from backend.demo import fake_uscc
    from backend.org import services as org
    from backend.workforce import services as workforce

    rng = random.Random(uuid.uuid4().int)
    tag = uuid.uuid4().hex[:6]
    today = date.today()
    pid = await org.create_project(name=f"围栏测试道路工程{tag}", district_id=world.district_a, category="municipal",
                                   contract_value_yuan=20_000_000, planned_start=today - timedelta(days=30),
                                   lon=lon, lat=lat)
    await org.change_status(pid, "under_construction", effective_on=today - timedelta(days=20), note="开工",
                            user_id=None)
    ent = await org.create_enterprise(f"围栏测试路桥{tag}有限公司", fake_uscc(rng, "110101"))
    unit = await org.add_unit(pid, ent, "general_contractor", today - timedelta(days=25))
    team = await org.create_team(pid, unit, "路基班组")
    site = Site(project_id=pid, unit_id=unit, team_id=team, enterprise_id=ent)
    if with_person:
        person = await workforce.upsert_person(id_number=world.id_number(), name="张围栏")
        await workforce.enter_roster(project_id=pid, person_id=person, unit_id=unit, team_id=team, work_role="worker",
                                     work_type="150", entered_on=today - timedelta(days=10))
        site.person_id = person
    return site


async def phone_punch(site: Site, lon: float, lat: float, accuracy_m: float, captured_at: datetime, *,
                      coord_system: str = "wgs84") -> tuple[Any, Any]:
    """What the phone clock-in does after face and liveness: judge_fix, then the one attendance path."""
    from backend.attendance.services import PunchIn, record_punch
    from backend.fences.services import judge_fix
    from backend.org.services import rules_for_project

    rules = await rules_for_project(site.project_id)
    j = await judge_fix(site.project_id, lon, lat, accuracy_m, captured_at, rules=rules, coord_system=coord_system,
                        person_id=site.person_id)
    v = await record_punch(PunchIn(
        source="mobile", project_id=site.project_id, person_id=site.person_id,
        idempotency_key=f"m:test:{uuid.uuid4().hex}", captured_at=captured_at, lon=j.lon, lat=j.lat,
        accuracy_m=accuracy_m, fence_id=j.fence_id, fence_distance_m=j.distance_m, reasons=j.reasons, flags=j.flags,
        received_at=captured_at + timedelta(seconds=2),
    ))
    return j, v
