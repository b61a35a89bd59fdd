"""judge_fix, the decision the phone clock-in asks for: a real road corridor (60 m wide), points 3 m
inside / outside its edge, the edge margin, GPS accuracy limit, invalid and swapped coordinates, GCJ-02
input, versions (a punch is judged against the fence active at its capture time), the cross-process
version stamp, and the spoofing review flags over the person's recent punches."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import geofence
from backend.fences import services
from backend.fences.tables import ProjectFenceVersion
from backend.org.services import rules_for_project
from backend.rules import DEFAULT_RULES
from tests.integration.fences.kit import (
    ROAD,
    ROAD_WIDTH_M,
    beside_road,
    circle_body,
    new_site,
    phone_punch,
    road_body,
)

pytestmark = pytest.mark.integration

HALF = ROAD_WIDTH_M / 2
RULES = DEFAULT_RULES  # gps_max_accuracy_m 100, fence_edge_margin_m 50


@pytest.fixture(scope="module")
async def road(world: Any) -> dict[str, Any]:
    site = await new_site(world)
    fence = await services.create_fence(site.project_id, **road_body())
    return {"site": site, "fence": fence}


def now() -> datetime:
    return datetime.now(UTC)


def yesterday() -> datetime:  # fences of the spoofing tests apply to punches captured in the last hours
    return now() - timedelta(days=1)


async def judge(road: dict[str, Any], lon: float, lat: float, acc: float, **kw: Any) -> services.FixJudgement:
    return await services.judge_fix(road["site"].project_id, lon, lat, acc, kw.pop("at", now()), rules=RULES, **kw)


# --- the corridor edge ------------------------------------------------------------------------------


async def test_point_3m_inside_corridor_edge_accepted(road):
    lon, lat = beside_road(HALF - 3)
    j = await judge(road, lon, lat, 5.0)
    assert j.reasons == () and j.flags == () and j.code == "accepted"
    assert j.fence_id == road["fence"]["id"] and j.fence_version == 1 and j.distance_m == 0.0


async def test_point_3m_inside_other_side_accepted(road):
    lon, lat = beside_road(HALF - 3, side=-1)
    assert (await judge(road, lon, lat, 2.0)).reasons == ()


async def test_point_3m_outside_with_good_accuracy_rejected_outside_fence_with_distance(road):
    lon, lat = beside_road(HALF + 3)
    j = await judge(road, lon, lat, 2.0)  # min(2, 50) < 3: not near the edge
    assert j.reasons == ("outside_fence",)
    assert j.distance_m == pytest.approx(3.0, abs=0.05)
    assert "不在电子围栏内" in j.message_zh and "3 米" in j.message_zh
    assert j.fence_id == road["fence"]["id"]


async def test_point_3m_outside_within_accuracy_accepted_near_edge(road):
    lon, lat = beside_road(HALF + 3)
    j = await judge(road, lon, lat, 5.0)  # min(5, 50) = 5 ≥ 3
    assert j.reasons == () and j.flags == ("near_edge",) and j.code == "near_edge"
    assert j.distance_m == pytest.approx(3.0, abs=0.05)


async def test_near_edge_with_big_accuracy_capped_by_margin(road):
    lon, lat = beside_road(HALF + 40)
    j = await judge(road, lon, lat, 80.0)  # min(80, margin 50) = 50 ≥ 40
    assert j.reasons == () and j.flags == ("near_edge",)
    lon, lat = beside_road(HALF + 60)
    j = await judge(road, lon, lat, 90.0)  # min(90, 50) = 50 < 60
    assert j.reasons == ("outside_fence",)
    assert j.distance_m == pytest.approx(60.0, abs=0.1)


async def test_near_edge_margin_follows_district_rules(road):
    lon, lat = beside_road(HALF + 40)
    tight = DEFAULT_RULES.with_overrides({"fence_edge_margin_m": 20.0})
    j = await services.judge_fix(road["site"].project_id, lon, lat, 80.0, now(), rules=tight)
    assert j.reasons == ("outside_fence",)


async def test_low_accuracy_rejected_with_measured_accuracy_in_message(road):
    lon, lat = beside_road(0)
    j = await judge(road, lon, lat, 150.0)
    assert j.reasons == ("low_gps_accuracy",)
    assert "150" in j.message_zh and "100" in j.message_zh
    # Exactly at the limit is still fine.
    assert (await judge(road, lon, lat, 100.0)).reasons == ()


async def test_zero_zero_rejected_invalid_coordinates(road):
    j = await judge(road, 0.0, 0.0, 5.0)
    assert j.reasons == ("invalid_coordinates",) and j.fence_id is None


async def test_out_of_china_rejected_invalid_coordinates(road):
    j = await judge(road, 2.3522, 48.8566, 5.0)  # Paris
    assert j.reasons == ("invalid_coordinates",) and "swapped_lat_lon" not in j.flags


async def test_swapped_fix_rejected_with_swapped_flag(road):
    lon, lat = beside_road(0)
    j = await judge(road, lat, lon, 5.0)
    assert j.reasons == ("invalid_coordinates",) and j.flags == ("swapped_lat_lon",)
    assert "颠倒" in j.message_zh


async def test_invalid_accuracy_rejected(road):
    lon, lat = beside_road(0)
    assert (await judge(road, lon, lat, -1.0)).reasons == ("invalid_accuracy",)


async def test_gcj02_fix_converted_to_wgs84(road):
    wlon, wlat = beside_road(HALF - 3)
    glon, glat = geofence.wgs84_to_gcj02(wlon, wlat)
    j = await judge(road, glon, glat, 3.0, coord_system="gcj02")
    assert j.reasons == () and j.flags == ()
    assert j.lon == pytest.approx(wlon, abs=1e-7) and j.lat == pytest.approx(wlat, abs=1e-7)  # stored: WGS-84
    # The same numbers read as WGS-84 lie hundreds of metres away: the conversion matters.
    wrong = await judge(road, glon, glat, 3.0)
    assert wrong.reasons == ("outside_fence",) and wrong.distance_m > 100


async def test_unknown_coord_system_refused(road):
    from backend.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        await judge(road, 113.0, 22.6, 3.0, coord_system="bd09")
    assert exc.value.field == "coord_system"


async def test_project_without_fence_rejects_no_fence(world):
    site = await new_site(world, with_person=False)
    j = await services.judge_fix(site.project_id, 113.0105, 22.6478, 5.0, now(), rules=RULES)
    assert j.reasons == ("no_fence",) and j.fences_checked == 0


# --- versions -----------------------------------------------------------------------------------------


async def test_punch_judged_against_version_active_at_capture_time(world):
    site = await new_site(world, with_person=False)
    before_create = now()
    centre = (113.0500, 22.6000)
    fence = await services.create_fence(site.project_id, **circle_body(*centre, 100.0))
    t1 = now()
    p = geofence.geodesic_offset(*centre, 45.0, 60.0)  # inside v1 (r = 100 m)
    moved = geofence.geodesic_offset(*centre, 225.0, 500.0)
    updated = await services.update_fence(site.project_id, fence["id"], **circle_body(*moved, 100.0))
    assert updated["version"] == 2 and updated["previous_version"] == 1
    t2 = now()

    old = await services.judge_fix(site.project_id, *p, 5.0, t1, rules=RULES)
    assert old.reasons == () and old.fence_version == 1
    new = await services.judge_fix(site.project_id, *p, 5.0, t2, rules=RULES)
    assert new.reasons == ("outside_fence",) and new.fence_version == 2
    assert new.distance_m == pytest.approx(460.0, abs=1.0)
    early = await services.judge_fix(site.project_id, *p, 5.0, before_create - timedelta(seconds=1), rules=RULES)
    assert early.reasons == ("no_fence",)

    await services.delete_fence(site.project_id, fence["id"])
    gone = await services.judge_fix(site.project_id, *p, 5.0, now(), rules=RULES)
    assert gone.reasons == ("no_fence",)
    still = await services.judge_fix(site.project_id, *p, 5.0, t1, rules=RULES)  # history is kept
    assert still.reasons == () and still.fence_version == 1


async def test_versions_are_half_open_and_contiguous(world):
    site = await new_site(world, with_person=False)
    fence = await services.create_fence(site.project_id, **circle_body(113.05, 22.60, 50.0))
    for r in (60.0, 70.0):
        await services.update_fence(site.project_id, fence["id"], **circle_body(113.05, 22.60, r))
    history = await services.fence_history(site.project_id, fence["id"])
    assert [h["version"] for h in history] == [3, 2, 1]
    assert [h["radius_m"] for h in history] == [70.0, 60.0, 50.0]
    assert history[0]["valid_to"] is None and history[0]["active"]
    assert history[1]["valid_to"] == history[0]["valid_from"]
    assert history[2]["valid_to"] == history[1]["valid_from"]
    # At the exact switch instant the new version applies ([valid_from, valid_to)).
    switch = datetime.fromisoformat(history[0]["valid_from"])
    versions = await services.active_versions([site.project_id], switch)
    assert [(v.fence_id, v.version) for v in versions] == [(fence["id"], 3)]


async def test_edit_made_by_another_process_is_seen_at_the_next_judgement(world):
    """Another app process writes a new version straight to the database: this process's cache has
    (fence, 1) only, the version query shows (fence, 2) and it is built from its row."""
    site = await new_site(world, with_person=False)
    centre = (113.0600, 22.6100)
    fence = await services.create_fence(site.project_id, **circle_body(*centre, 100.0))
    p = geofence.geodesic_offset(*centre, 0.0, 150.0)
    assert (await services.judge_fix(site.project_id, *p, 5.0, now(), rules=RULES)).reasons == ("outside_fence",)

    bigger = geofence.circle_fence(str(fence["id"]), *centre, 300.0, name="圆形围栏")
    switch = now()
    await ProjectFenceVersion.update({ProjectFenceVersion.valid_to: switch}).where(
        (ProjectFenceVersion.fence == fence["id"]) & (ProjectFenceVersion.version == 1))
    await ProjectFenceVersion(fence=fence["id"], project=site.project_id, version=2,
                              definition=geofence.fence_to_dict(bigger), valid_from=switch).save()

    j = await services.judge_fix(site.project_id, *p, 5.0, now(), rules=RULES)
    assert j.reasons == () and j.fence_version == 2


async def test_several_fences_first_containing_else_nearest(world):
    site = await new_site(world, with_person=False)
    a = await services.create_fence(site.project_id, **circle_body(113.0700, 22.6200, 100.0, name="甲"))
    b = await services.create_fence(site.project_id, **circle_body(113.0800, 22.6200, 100.0, name="乙"))
    inside_b = geofence.geodesic_offset(113.0800, 22.6200, 0, 10)
    j = await services.judge_fix(site.project_id, *inside_b, 5.0, now(), rules=RULES)
    assert j.reasons == () and j.fence_id == b["id"] and j.fences_checked == 2
    near_a = geofence.geodesic_offset(113.0700, 22.6200, 270, 180)
    j = await services.judge_fix(site.project_id, *near_a, 5.0, now(), rules=RULES)
    assert j.reasons == ("outside_fence",) and j.fence_id == a["id"]
    assert j.distance_m == pytest.approx(80.0, abs=0.5)


# --- spoofing signals (review flags, never rejections) -------------------------------------------------


async def test_impossible_speed_between_punches_flagged(world):
    site = await new_site(world)
    await services.create_fence(site.project_id, **road_body(), valid_from=yesterday())
    t0 = now() - timedelta(minutes=30)
    inside = beside_road(0)
    _j0, v0 = await phone_punch(site, *inside, 5.3, t0)
    assert v0.verdict == "accepted", (v0.reasons, v0.flags)
    far = geofence.geodesic_offset(*inside, 10.0, 40_000)  # 40 km in 5 minutes = 480 km/h
    rules = await rules_for_project(site.project_id)
    j = await services.judge_fix(site.project_id, *far, 5.0, t0 + timedelta(minutes=5), rules=rules,
                                 person_id=site.person_id)
    assert "impossible_speed" in j.flags and j.reasons == ("outside_fence",)
    # Walking 500 m in 10 minutes is fine.
    walk = geofence.geodesic_offset(*inside, 60.0, 500)
    j = await services.judge_fix(site.project_id, *walk, 5.0, t0 + timedelta(minutes=10), rules=rules,
                                 person_id=site.person_id)
    assert "impossible_speed" not in j.flags


async def test_repeated_coordinates_flagged(world):
    site = await new_site(world)
    await services.create_fence(site.project_id, **road_body(), valid_from=yesterday())
    lon, lat = beside_road(5.123456)
    await phone_punch(site, lon, lat, 6.1, now() - timedelta(hours=3))
    j, v = await phone_punch(site, lon, lat, 7.9, now() - timedelta(minutes=1))
    assert j.flags == ("repeated_coordinates",) and j.reasons == ()
    assert v.verdict == "flagged" and "repeated_coordinates" in v.flags


async def test_accuracy_exactly_zero_flagged(world):
    site = await new_site(world)
    await services.create_fence(site.project_id, **road_body(), valid_from=yesterday())
    j, v = await phone_punch(site, *beside_road(1.5), 0.0, now() - timedelta(minutes=1))
    assert j.flags == ("suspicious_accuracy",) and v.verdict == "flagged"


async def test_same_round_accuracy_three_times_flagged(world):
    site = await new_site(world)
    await services.create_fence(site.project_id, **road_body(), valid_from=yesterday())
    t = now() - timedelta(hours=2)
    flags = []
    for i in range(3):
        j, _ = await phone_punch(site, *beside_road(2.0 + i * 1.37), 30.0, t + timedelta(minutes=20 * i))
        flags.append(j.flags)
    assert flags[0] == () and flags[1] == () and "suspicious_accuracy" in flags[2]


async def test_clock_skew_device_ahead_flagged_outbox_delay_not(world):
    site = await new_site(world)
    await services.create_fence(site.project_id, **road_body(), valid_from=yesterday())
    rules = await rules_for_project(site.project_id)
    lon, lat = beside_road(3.3)
    ahead = await services.judge_fix(site.project_id, lon, lat, 5.5, now() + timedelta(minutes=5), rules=rules,
                                     person_id=site.person_id)
    assert "clock_skew" in ahead.flags
    # Ten minutes in the offline outbox: not a clock problem (late_upload is the attendance path's flag).
    waited = await services.judge_fix(site.project_id, lon, lat, 5.5, now() - timedelta(minutes=10), rules=rules,
                                      person_id=site.person_id)
    assert "clock_skew" not in waited.flags
    # With the device's send time: a device clock 5 minutes behind is flagged.
    behind = await services.judge_fix(site.project_id, lon, lat, 5.5, now() - timedelta(minutes=6), rules=rules,
                                      person_id=site.person_id, device_sent_at=now() - timedelta(minutes=5))
    assert "clock_skew" in behind.flags


async def test_spoof_flags_never_reject(world):
    site = await new_site(world)
    await services.create_fence(site.project_id, **road_body(), valid_from=yesterday())
    lon, lat = beside_road(4.4)
    await phone_punch(site, lon, lat, 0.0, now() - timedelta(minutes=20))
    j, v = await phone_punch(site, lon, lat, 0.0, now() - timedelta(minutes=19, seconds=59))
    assert set(j.flags) >= {"repeated_coordinates", "suspicious_accuracy"}
    assert j.reasons == () and v.verdict == "flagged"


async def test_spoof_ignores_other_persons(world):
    site = await new_site(world)
    other = await new_site(world)
    await services.create_fence(site.project_id, **road_body(), valid_from=yesterday())
    await services.create_fence(other.project_id, **road_body(), valid_from=yesterday())
    lon, lat = beside_road(6.6)
    await phone_punch(other, lon, lat, 5.0, now() - timedelta(minutes=5))
    j, _ = await phone_punch(site, lon, lat, 5.0, now() - timedelta(minutes=1))
    assert "repeated_coordinates" not in j.flags


async def test_road_fixture_is_the_real_5km_road():
    length = sum(geofence.geodesic_distance_m(*a, *b) for a, b in itertools.pairwise(ROAD))
    assert 5_000 < length < 6_000
