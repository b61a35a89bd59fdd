"""FenceIndex: batch results equal decide() fix by fix."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from geofence import (
    Fence,
    FenceIndex,
    circle_fence,
    corridor_fence,
    decide,
    distance_m,
    geodesic_azimuth,
    geodesic_distance_m,
    geodesic_offset,
    polygon_fence,
)
from geofence.projection import local_aeqd

CENTRE = (113.08, 22.58)  # Jiangmen
RULES = {"max_accuracy_m": 60.0, "edge_margin_m": 25.0}
TOLERANCE_M = 0.005  # batch vs single distances


@cache
def jiangmen_fences() -> tuple[Fence, ...]:
    """Corridors, circles and polygons (with a hole, a multipolygon, a repaired bowtie)."""
    rng = np.random.default_rng(2026)
    tf = local_aeqd(*CENTRE)

    def to_lonlat(xy: np.ndarray) -> list[tuple[float, float]]:
        lon, lat = tf.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
        return list(zip(lon.tolist(), lat.tolist(), strict=True))

    fences: list[Fence] = []
    for i in range(8):
        start = rng.uniform(-3000, 3000, 2)
        heading = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.5, 8))
        steps = rng.uniform(30, 400, 8)[:, None] * np.column_stack([np.cos(heading), np.sin(heading)])
        xy = np.vstack([start, start + np.cumsum(steps, axis=0)])
        fences.append(corridor_fence(f"road-{i}", to_lonlat(xy), float(rng.uniform(8, 60))))
    for i in range(4):
        x, y = rng.uniform(-3000, 3000, 2)
        lon, lat = tf.transform(x, y, direction="INVERSE")
        fences.append(circle_fence(f"circle-{i}", lon, lat, float(rng.uniform(20, 400))))
    square = np.array([[-400.0, -300.0], [500.0, -300.0], [500.0, 400.0], [-400.0, 400.0]])
    hole = np.array([[-100.0, -100.0], [100.0, -100.0], [100.0, 150.0], [-100.0, 150.0]])
    shift = np.array([1200.0, 800.0])
    fences.append(polygon_fence("yard-with-hole", to_lonlat(square + shift), [to_lonlat(hole + shift)]))
    offsets = (np.array([-2000.0, -1500.0]), np.array([-1500.0, -2200.0]))
    parts = [Polygon(to_lonlat(square * 0.3 + offset)) for offset in offsets]
    fences.append(polygon_fence("two-yards", MultiPolygon(parts)))
    bowtie = np.array([[0.0, 0.0], [600.0, 500.0], [600.0, 0.0], [0.0, 500.0]]) + np.array([-2500.0, 1500.0])
    fences.append(polygon_fence("bowtie", to_lonlat(bowtie)))
    assert fences[-1].repaired
    return tuple(fences)


@cache
def jiangmen_index() -> FenceIndex:
    return FenceIndex(jiangmen_fences())


def sample_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixes near the fences (most), anywhere in the area, far away, and invalid ones."""
    rng = np.random.default_rng(seed)
    fences = jiangmen_fences()
    lons, lats = [], []
    for _ in range(n):
        fence = fences[rng.integers(len(fences))]
        coords = np.asarray(fence.geometry.centroid.coords[0] if fence.kind == "polygon" else fence.geometry.coords[0])
        if fence.kind == "corridor":
            line = np.asarray(fence.geometry.coords)
            k = rng.integers(len(line) - 1)
            coords = line[k] + rng.uniform() * (line[k + 1] - line[k])
        lon, lat = geodesic_offset(float(coords[0]), float(coords[1]), rng.uniform(0, 360), abs(rng.normal(0, 120)))
        lons.append(lon)
        lats.append(lat)
    lons += [113.2, 113.08, 113.9, 0.0, float("nan"), 22.58, 200.0]  # 13 km, 0, 85 km away; invalid
    lats += [22.7, 22.45, 22.9, 0.0, 22.58, 113.08, 22.5]
    acc = rng.uniform(1, 80, len(lons))
    acc[:5] = [0.0, 60.0, 60.0001, 25.0, 1000.0]
    return np.array(lons), np.array(lats), acc


def near_a_threshold(fences: tuple[Fence, ...], lon: float, lat: float, accuracy: float) -> bool:
    """True when a fix is within a centimetre of a decision threshold or of a nearest-fence tie."""
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (73.5 <= lon <= 135.1 and 3.8 <= lat <= 53.6):
        return False
    distances = sorted(distance_m(f, lon, lat) for f in fences)
    d = distances[0]
    if 0.0 < d < 0.01 or abs(d - min(accuracy, RULES["edge_margin_m"])) < 0.01:
        return True
    return d > 0 and distances[1] - d < 0.01


def assert_batch_equals_single(lons: np.ndarray, lats: np.ndarray, acc: np.ndarray, index: FenceIndex) -> int:
    result = index.judge(lons, lats, acc, **RULES)
    codes = result.codes()
    compared = 0
    for i in range(len(lons)):
        if near_a_threshold(index.fences, lons[i], lats[i], acc[i]):
            continue
        single = decide(index.fences, lons[i], lats[i], acc[i], **RULES)
        assert codes[i] == single.code, (i, single)
        assert bool(result.inside[i]) == (single.distance_m == 0.0)
        if single.fence_id is None:
            assert result.fence_idx[i] == -1 and math.isnan(result.distance_m[i])
        else:
            assert index.fences[result.fence_idx[i]].id == single.fence_id, (i, single)
            assert result.distance_m[i] == pytest.approx(single.distance_m, abs=TOLERANCE_M, rel=1e-5)
        compared += 1
    return compared


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_results_equal_single_decisions_on_random_samples(seed: int) -> None:
    lons, lats, acc = sample_points(400, seed)
    compared = assert_batch_equals_single(lons, lats, acc, jiangmen_index())
    assert compared > 390


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=-4500, max_value=4500),
            st.floats(min_value=-4500, max_value=4500),
            st.floats(min_value=0, max_value=120),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_batch_equals_single_for_any_fixes_in_the_area(fixes: list[tuple[float, float, float]]) -> None:
    tf = local_aeqd(*CENTRE)
    xy = np.array([(x, y) for x, y, _ in fixes])
    lons, lats = tf.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
    acc = np.array([a for _, _, a in fixes])
    fences = jiangmen_fences()
    assume(not any(near_a_threshold(fences, lons[i], lats[i], acc[i]) for i in range(len(fixes))))
    assert_batch_equals_single(np.asarray(lons), np.asarray(lats), acc, jiangmen_index())


def test_batch_verdict_codes_cover_every_rule() -> None:
    lons, lats, acc = sample_points(400, 4)
    codes = set(jiangmen_index().judge(lons, lats, acc, **RULES).codes())
    assert {"accepted", "near_edge", "outside_fence", "low_gps_accuracy", "invalid_coordinates"} <= codes


def test_batch_with_no_fences_rejects_valid_fixes_no_fence() -> None:
    result = FenceIndex([]).judge([113.08, 0.0], [22.58, 0.0], [5.0, 5.0], **RULES)
    assert list(result.codes()) == ["no_fence", "invalid_coordinates"]
    assert np.isnan(result.distance_m).all() and (result.fence_idx == -1).all()


def test_batch_nan_or_negative_accuracy_is_invalid_accuracy() -> None:
    result = jiangmen_index().judge([113.08, 113.08], [22.58, 22.58], [float("nan"), -3.0], **RULES)
    assert list(result.codes()) == ["invalid_accuracy", "invalid_accuracy"]


def test_batch_fixes_tens_of_km_away_get_exact_distances() -> None:
    index = jiangmen_index()
    lons = np.array([113.6, 112.5, 113.08])
    lats = np.array([22.9, 22.1, 23.3])  # 60 km, 80 km and 80 km away: past the ring search
    result = index.judge(lons, lats, np.full(3, 5.0), **RULES)
    for i in range(3):
        single = decide(index.fences, lons[i], lats[i], 5.0, **RULES)
        assert index.fences[result.fence_idx[i]].id == single.fence_id
        assert result.distance_m[i] == pytest.approx(single.distance_m, rel=1e-5)


def test_batch_split_over_threads_equals_one_thread() -> None:
    lons, lats, acc = sample_points(5000, 5)
    index = jiangmen_index()
    one = index.judge(lons, lats, acc, **RULES)
    two = index.judge(lons, lats, acc, **RULES, workers=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("east_km", "north_km"), [(100, 0), (0, 100), (70, 70), (300, 0)])
def test_index_projection_far_from_its_centre_is_accurate_to_a_centimetre(east_km: float, north_km: float) -> None:
    # One circle at the centre, one 100–300 km away: the index is centred between them,
    # so the far circle sits 50–150 km from the projection centre.
    tf = local_aeqd(*CENTRE)
    lon, lat = tf.transform(east_km * 1000.0, north_km * 1000.0, direction="INVERSE")
    near = circle_fence("near", *CENTRE, 150.0)
    far = circle_fence("far", lon, lat, 150.0)
    index = FenceIndex([near, far])
    for fence in (near, far):
        cx, cy = fence.geometry.x, fence.geometry.y
        for az in (0.0, 45.0, 90.0, 200.0):
            for dist in (147.0, 153.0, 400.0, 2000.0):
                p = geodesic_offset(cx, cy, az, dist)
                inside, d, idx = index.locate([p[0]], [p[1]])
                assert index.fences[idx[0]] is fence
                assert d[0] == pytest.approx(max(dist - 150.0, 0.0), abs=0.01)
                assert inside[0] == (dist < 150.0)


def test_corridor_3m_inside_and_outside_is_judged_the_same_in_batch() -> None:
    road = corridor_fence("road", [(113.06, 22.565), (113.068, 22.57), (113.075, 22.576)], 30.0)
    (lon1, lat1), (lon2, lat2) = road.geometry.coords[0], road.geometry.coords[1]
    mid = ((lon1 + lon2) / 2, (lat1 + lat2) / 2)
    az = geodesic_azimuth(*mid, lon2, lat2)
    inside = geodesic_offset(*mid, az + 90.0, 12.0)
    outside = geodesic_offset(*mid, az + 90.0, 18.0)
    index = FenceIndex([road, circle_fence("far", 113.5, 22.9, 10.0)])
    result = index.judge([inside[0], outside[0]], [inside[1], outside[1]], [2.0, 2.0], **RULES)
    assert list(result.codes()) == ["accepted", "outside_fence"]
    assert result.distance_m[1] == pytest.approx(3.0, abs=0.01)
    assert geodesic_distance_m(*inside, *outside) == pytest.approx(6.0, abs=1e-6)
