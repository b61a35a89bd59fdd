"""decide(): worked examples on a real-looking road corridor in Jiangmen, Guangdong."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import MultiPolygon, Polygon

from geofence import (
    REASON_EN,
    REASON_ZH,
    Fence,
    FenceVersion,
    active_fences,
    active_version,
    circle_fence,
    corridor_fence,
    decide,
    distance_m,
    geodesic_azimuth,
    geodesic_distance_m,
    geodesic_offset,
    polygon_fence,
)
from geofence.index import VERDICTS

# A made-up ~5.4 km road through Jiangmen (江门) running north-east, 30 m wide.
ROAD = [
    (113.0600, 22.5650),
    (113.0680, 22.5700),
    (113.0750, 22.5760),
    (113.0810, 22.5800),
    (113.0880, 22.5830),
    (113.0950, 22.5890),
    (113.1010, 22.5960),
]
WIDTH = 30.0
RULES = {"max_accuracy_m": 100.0, "edge_margin_m": 20.0}


def road() -> Fence:
    return corridor_fence("road-1", ROAD, WIDTH, name="江门 滨江大道")


def beside_road(offset_from_centre_m: float, segment: int = 2, side: float = 90.0) -> tuple[float, float]:
    """A point abeam the middle of a segment, ``offset_from_centre_m`` to its right (side=90)."""
    (lon1, lat1), (lon2, lat2) = ROAD[segment], ROAD[segment + 1]
    half = geodesic_distance_m(lon1, lat1, lon2, lat2) / 2.0
    az = geodesic_azimuth(lon1, lat1, lon2, lat2)
    mid = geodesic_offset(lon1, lat1, az, half)
    az_mid = geodesic_azimuth(*mid, lon2, lat2)
    return geodesic_offset(*mid, az_mid + side, offset_from_centre_m)


def test_road_corridor_is_about_5km_long() -> None:
    length = sum(geodesic_distance_m(*ROAD[i], *ROAD[i + 1]) for i in range(len(ROAD) - 1))
    assert 5000 < length < 6000


def test_point_3m_inside_the_road_edge_is_accepted() -> None:
    lon, lat = beside_road(WIDTH / 2 - 3.0)
    d = decide([road()], lon, lat, 5.0, **RULES)
    assert d.accepted and d.reasons == () and d.flags == ()
    assert d.distance_m == 0.0
    assert d.fence_id == "road-1"
    assert d.message_zh == "在电子围栏内"


def test_point_3m_inside_on_the_left_side_is_accepted_too() -> None:
    lon, lat = beside_road(WIDTH / 2 - 3.0, side=-90.0)
    assert decide([road()], lon, lat, 5.0, **RULES).accepted


def test_point_3m_outside_the_road_edge_is_3m_away() -> None:
    lon, lat = beside_road(WIDTH / 2 + 3.0)
    assert distance_m(road(), lon, lat) == pytest.approx(3.0, abs=0.01)


def test_point_3m_outside_with_good_accuracy_is_rejected_outside_fence() -> None:
    lon, lat = beside_road(WIDTH / 2 + 3.0)
    d = decide([road()], lon, lat, 2.0, **RULES)
    assert not d.accepted
    assert d.reasons == ("outside_fence",)
    assert d.distance_m == pytest.approx(3.0, abs=0.01)
    assert d.message_zh == "不在电子围栏内，距离 3 米"
    assert d.message_en == "Outside the geofence, 3 m away"


def test_near_edge_with_big_accuracy_is_accepted_with_near_edge_flag() -> None:
    lon, lat = beside_road(WIDTH / 2 + 12.0)
    d = decide([road()], lon, lat, 35.0, **RULES)
    assert d.accepted
    assert d.flags == ("near_edge",)
    assert d.distance_m == pytest.approx(12.0, abs=0.01)
    assert "边缘" in d.message_zh


def test_near_edge_margin_is_the_smaller_of_accuracy_and_edge_margin() -> None:
    lon, lat = beside_road(WIDTH / 2 + 25.0)  # 25 m out, accuracy 60 m, margin 20 m
    d = decide([road()], lon, lat, 60.0, **RULES)
    assert not d.accepted and d.reasons == ("outside_fence",)
    d = decide([road()], lon, lat, 60.0, max_accuracy_m=100.0, edge_margin_m=30.0)
    assert d.accepted and d.flags == ("near_edge",)


def test_point_120m_away_message_states_the_distance() -> None:
    lon, lat = beside_road(WIDTH / 2 + 120.0)
    d = decide([road()], lon, lat, 5.0, **RULES)
    assert d.message_zh == "不在电子围栏内，距离 120 米"


def test_far_away_distance_is_given_in_kilometres() -> None:
    d = decide([road()], 113.2, 22.7, 5.0, **RULES)
    assert d.reasons == ("outside_fence",)
    assert d.message_zh.endswith("公里") and d.message_en.endswith("km away")


def test_low_accuracy_is_rejected_with_the_measured_accuracy_in_the_message() -> None:
    lon, lat = beside_road(0.0)
    d = decide([road()], lon, lat, 150.0, **RULES)
    assert not d.accepted
    assert d.reasons == ("low_gps_accuracy",)
    assert d.message_zh == "定位精度 150 米，超过 100 米的限制"
    assert d.message_en == "GPS accuracy 150 m exceeds the 100 m limit"
    assert d.distance_m == 0.0  # still reported, for the supervisor


def test_accuracy_equal_to_the_limit_is_allowed() -> None:
    lon, lat = beside_road(0.0)
    assert decide([road()], lon, lat, 100.0, **RULES).accepted


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(0.0, 0.0), (float("nan"), 22.58), (113.08, float("inf")), (200.0, 22.5), (113.0, 95.0), (2.35, 48.85)],
)
def test_zero_out_of_range_or_foreign_coordinates_are_rejected_invalid_coordinates(lon: float, lat: float) -> None:
    d = decide([road()], lon, lat, 5.0, **RULES)
    assert not d.accepted and d.reasons == ("invalid_coordinates",)
    assert d.distance_m is None and d.fence_id is None


def test_fix_with_lat_and_lon_swapped_is_rejected_and_flagged_swapped() -> None:
    lon, lat = beside_road(0.0)
    d = decide([road()], lat, lon, 5.0, **RULES)
    assert d.reasons == ("invalid_coordinates",)
    assert d.flags == ("swapped_lat_lon",)
    assert "颠倒" in d.message_zh


def test_no_fence_configured_is_rejected_no_fence() -> None:
    d = decide([], 113.08, 22.58, 5.0, **RULES)
    assert d.reasons == ("no_fence",)


@pytest.mark.parametrize("accuracy", [float("nan"), -1.0])
def test_nan_or_negative_accuracy_is_rejected_invalid_accuracy(accuracy: float) -> None:
    assert decide([road()], 113.08, 22.58, accuracy, **RULES).reasons == ("invalid_accuracy",)


def test_corridor_has_flat_ends_a_point_3m_beyond_the_end_is_outside() -> None:
    (lon1, lat1), (lon2, lat2) = ROAD[-2], ROAD[-1]
    az = geodesic_azimuth(lon2, lat2, lon1, lat1) + 180.0  # continue past the end
    lon, lat = geodesic_offset(lon2, lat2, az, 3.0)
    d = decide([road()], lon, lat, 1.0, **RULES)
    assert d.reasons == ("outside_fence",)
    assert d.distance_m == pytest.approx(3.0, abs=0.01)
    # ... while 3 m before the end it is inside.
    lon, lat = geodesic_offset(lon2, lat2, az + 180.0, 3.0)
    assert decide([road()], lon, lat, 1.0, **RULES).accepted


def test_outer_side_of_a_bend_is_rounded() -> None:
    # The bend at ROAD[3]: a point 14 m from the vertex along the bisector of the outer
    # normals is inside (round join), 16 m is 1 m outside.
    v = ROAD[3]
    az_in = geodesic_azimuth(*ROAD[2], *v)
    az_out = geodesic_azimuth(*v, *ROAD[4])
    turn = (az_out - az_in + 540.0) % 360.0 - 180.0  # > 0: turning right (clockwise)
    outer = (az_in + az_out) / 2.0 + (-90.0 if turn > 0 else 90.0)
    assert distance_m(road(), *geodesic_offset(*v, outer, 14.0)) == 0.0
    assert distance_m(road(), *geodesic_offset(*v, outer, 16.0)) == pytest.approx(1.0, abs=0.01)


def test_circle_fence_accepts_inside_radius_and_measures_from_the_rim() -> None:
    site = circle_fence("gate", 113.08, 22.58, 200.0)
    inside = geodesic_offset(113.08, 22.58, 37.0, 197.0)
    outside = geodesic_offset(113.08, 22.58, 37.0, 203.0)
    assert decide([site], *inside, 2.0, **RULES).accepted
    d = decide([site], *outside, 2.0, **RULES)
    assert d.reasons == ("outside_fence",) and d.distance_m == pytest.approx(3.0, abs=0.001)


def test_polygon_hole_point_in_hole_is_outside() -> None:
    shell = [(113.070, 22.570), (113.090, 22.570), (113.090, 22.590), (113.070, 22.590)]
    hole = [(113.078, 22.578), (113.082, 22.578), (113.082, 22.582), (113.078, 22.582)]
    site = polygon_fence("yard", shell, [hole])
    d = decide([site], 113.080, 22.580, 5.0, **RULES)
    assert d.reasons == ("outside_fence",)
    to_west_edge = geodesic_distance_m(113.080, 22.580, 113.078, 22.580)  # nearer than the south edge
    assert d.distance_m == pytest.approx(to_west_edge, rel=1e-4)
    assert decide([site], 113.075, 22.575, 5.0, **RULES).accepted


def test_multipolygon_fence_accepts_points_in_either_part() -> None:
    a = Polygon([(113.07, 22.57), (113.075, 22.57), (113.075, 22.575), (113.07, 22.575)])
    b = Polygon([(113.08, 22.58), (113.085, 22.58), (113.085, 22.585), (113.08, 22.585)])
    site = polygon_fence("two-yards", MultiPolygon([a, b]))
    assert decide([site], 113.072, 22.572, 5.0, **RULES).accepted
    assert decide([site], 113.082, 22.582, 5.0, **RULES).accepted
    assert decide([site], 113.078, 22.578, 5.0, **RULES).reasons == ("outside_fence",)


def test_inside_several_fences_reports_the_first_and_outside_reports_the_nearest() -> None:
    a = circle_fence("a", 113.08, 22.58, 300.0)
    b = circle_fence("b", 113.081, 22.58, 300.0)
    assert decide([a, b], 113.0805, 22.58, 5.0, **RULES).fence_id == "a"
    assert decide([b, a], 113.0805, 22.58, 5.0, **RULES).fence_id == "b"
    far_east = geodesic_offset(113.081, 22.58, 90.0, 400.0)
    d = decide([a, b], *far_east, 5.0, **RULES)
    assert d.fence_id == "b" and d.distance_m == pytest.approx(100.0, abs=0.01)


def test_punch_is_judged_against_the_fence_version_active_at_capture_time() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    t1 = t0 + timedelta(days=10)
    old = FenceVersion(circle_fence("site", 113.08, 22.58, 100.0), t0, t1, version=1)
    new = FenceVersion(circle_fence("site", 113.08, 22.58, 300.0), t1, None, version=2)
    point = geodesic_offset(113.08, 22.58, 0.0, 200.0)
    before_edit = active_version([old, new], t1 - timedelta(seconds=1))
    after_edit = active_version([old, new], t1)
    assert before_edit is old and after_edit is new
    assert not decide([before_edit.fence], *point, 5.0, **RULES).accepted
    assert decide([after_edit.fence], *point, 5.0, **RULES).accepted
    assert active_version([old, new], t0 - timedelta(seconds=1)) is None


def test_active_fences_picks_one_version_per_fence_id() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    v1 = FenceVersion(circle_fence("a", 113.08, 22.58, 100.0), t0)
    v2 = FenceVersion(circle_fence("a", 113.08, 22.58, 150.0), t0 + timedelta(days=1))
    other = FenceVersion(circle_fence("b", 113.09, 22.58, 100.0), t0)
    fences = active_fences([v1, other, v2], t0 + timedelta(days=2))
    assert [(f.id, f.radius_m) for f in fences] == [("a", 150.0), ("b", 100.0)]


def test_every_code_decide_can_return_has_a_chinese_and_english_label() -> None:
    for code in (*VERDICTS, "swapped_lat_lon", "clock_skew", "impossible_speed"):
        assert code in REASON_ZH and code in REASON_EN
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in REASON_ZH.values())


def test_decision_code_summarises_the_outcome() -> None:
    lon, lat = beside_road(0.0)
    assert decide([road()], lon, lat, 5.0, **RULES).code == "accepted"
    assert decide([road()], *beside_road(WIDTH / 2 + 5.0), 10.0, **RULES).code == "near_edge"
    assert decide([road()], 0.0, 0.0, 5.0, **RULES).code == "invalid_coordinates"


def test_decision_distance_is_finite_metres() -> None:
    d = decide([road()], *beside_road(WIDTH / 2 + 40.0), 5.0, **RULES)
    assert d.distance_m is not None and math.isfinite(d.distance_m)
