"""Fence construction, validation and metric geometry."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geofence import (
    Fence,
    FenceError,
    FenceKind,
    FenceVersion,
    circle_fence,
    contains,
    corridor_fence,
    distance_m,
    gcj02_to_wgs84,
    geodesic_distance_m,
    geodesic_offset,
    polygon_fence,
    wgs84_to_gcj02,
)
from geofence.fence import Pieces, corridor_pieces, corridor_polygon, piece_distance
from geofence.projection import local_aeqd

SQUARE = [(113.07, 22.57), (113.08, 22.57), (113.08, 22.58), (113.07, 22.58)]


def error_of(fn: Callable[..., object], *args: object, **kwargs: object) -> FenceError:
    with pytest.raises(FenceError) as info:
        fn(*args, **kwargs)
    return info.value


def test_fence_error_is_a_value_error_with_code_field_and_both_messages() -> None:
    err = error_of(circle_fence, "c", 113.0, 22.5, -5.0)
    assert isinstance(err, ValueError)
    assert err.code == "invalid_radius" and err.field == "radius_m"
    assert err.message_zh and err.message_en and str(err) == err.message_en
    assert err.to_dict()["code"] == "invalid_radius"


@pytest.mark.parametrize("radius", [0.0, -1.0, float("nan"), float("inf"), True, "100"])
def test_circle_radius_must_be_a_positive_number(radius: object) -> None:
    assert error_of(circle_fence, "c", 113.0, 22.5, radius).code == "invalid_radius"


def test_circle_radius_above_100km_is_refused_as_unrealistic() -> None:
    assert error_of(circle_fence, "c", 113.0, 22.5, 150_000.0).code == "invalid_radius"


@pytest.mark.parametrize("width", [0.0, -30.0, float("nan")])
def test_corridor_width_must_be_positive(width: float) -> None:
    assert error_of(corridor_fence, "r", [(113.0, 22.5), (113.01, 22.5)], width).code == "invalid_width"


def test_polygon_with_lat_lon_swapped_is_refused_swapped_lat_lon() -> None:
    swapped = [(lat, lon) for lon, lat in SQUARE]
    err = error_of(polygon_fence, "p", swapped)
    assert err.code == "swapped_lat_lon" and err.field == "shell"
    assert "颠倒" in err.message_zh


def test_circle_with_lat_lon_swapped_is_refused_swapped_lat_lon() -> None:
    assert error_of(circle_fence, "c", 22.58, 113.08, 100.0).code == "swapped_lat_lon"


def test_corridor_with_lat_lon_swapped_is_refused_swapped_lat_lon() -> None:
    assert error_of(corridor_fence, "r", [(22.5, 113.0), (22.51, 113.01)], 30.0).code == "swapped_lat_lon"


def test_coordinates_out_of_range_are_refused_invalid_coordinates_with_the_vertex_index() -> None:
    err = error_of(polygon_fence, "p", [(113.07, 22.57), (213.08, 22.57), (113.08, 22.58)])
    assert err.code == "invalid_coordinates" and err.field == "shell[1]"


def test_null_island_vertex_is_refused_invalid_coordinates() -> None:
    assert error_of(circle_fence, "c", 0.0, 0.0, 100.0).code == "invalid_coordinates"


def test_fence_outside_china_is_refused_outside_china() -> None:
    err = error_of(circle_fence, "c", 2.35, 48.85, 100.0)
    assert err.code == "outside_china"


def test_non_numeric_position_is_refused_with_its_index() -> None:
    err = error_of(polygon_fence, "p", [(113.07, 22.57), ("x", 22.57), (113.08, 22.58)])
    assert err.code == "invalid_coordinates" and err.field == "shell[1]"


def test_polygon_with_fewer_than_3_distinct_points_is_refused() -> None:
    err = error_of(polygon_fence, "p", [(113.07, 22.57), (113.08, 22.57), (113.07, 22.57), (113.08, 22.57)])
    assert err.code == "too_few_points"


def test_polygon_hole_with_fewer_than_3_distinct_points_is_refused_naming_the_hole() -> None:
    err = error_of(polygon_fence, "p", SQUARE, [[(113.072, 22.572), (113.073, 22.572)]])
    assert err.code == "too_few_points" and err.field == "holes[0]"


def test_collinear_polygon_is_refused_degenerate_geometry() -> None:
    err = error_of(polygon_fence, "p", [(113.07, 22.57), (113.08, 22.57), (113.09, 22.57)])
    assert err.code == "degenerate_geometry"


def test_corridor_with_a_single_distinct_point_is_refused() -> None:
    err = error_of(corridor_fence, "r", [(113.07, 22.57), (113.07, 22.57)], 30.0)
    assert err.code == "too_few_points"


def test_empty_geometry_is_refused() -> None:
    assert error_of(Fence, "p", FenceKind.POLYGON, Polygon()).code == "empty_geometry"


def test_self_intersecting_bowtie_is_repaired_into_two_triangles_and_marked_repaired() -> None:
    bowtie = [(113.07, 22.57), (113.08, 22.58), (113.08, 22.57), (113.07, 22.58)]
    fence = polygon_fence("p", bowtie)
    assert fence.repaired
    assert isinstance(fence.geometry, MultiPolygon) and len(fence.geometry.geoms) == 2
    assert contains(fence, 113.072, 22.575) and contains(fence, 113.078, 22.575)
    assert not contains(fence, 113.075, 22.5715)


def test_valid_polygon_is_not_marked_repaired() -> None:
    assert not polygon_fence("p", SQUARE).repaired


def test_self_intersection_without_any_area_is_refused() -> None:
    spike = [(113.07, 22.57), (113.08, 22.57), (113.08, 22.58), (113.08, 22.57)]
    assert error_of(polygon_fence, "p", spike).code in ("self_intersection", "degenerate_geometry")
    there_and_back = [(113.07, 22.57), (113.08, 22.57), (113.09, 22.58), (113.08, 22.57)]
    assert error_of(polygon_fence, "p", there_and_back).code == "self_intersection"


def test_invalid_polygon_built_directly_is_refused_self_intersection() -> None:
    bowtie = Polygon([(113.07, 22.57), (113.08, 22.58), (113.08, 22.57), (113.07, 22.58)])
    assert error_of(Fence, "p", FenceKind.POLYGON, bowtie).code == "self_intersection"


def test_fence_kind_and_geometry_type_must_match() -> None:
    assert error_of(Fence, "p", FenceKind.CIRCLE, Polygon(SQUARE), radius_m=5.0).code == "unsupported_geometry"
    assert error_of(Fence, "p", "nonsense", Polygon(SQUARE)).code == "invalid_kind"
    assert error_of(Fence, "", FenceKind.POLYGON, Polygon(SQUARE)).code == "invalid_id"


def test_unknown_crs_is_refused() -> None:
    assert error_of(circle_fence, "c", 113.0, 22.5, 10.0, crs="bd09").code == "invalid_crs"


def test_gcj02_circle_centre_is_converted_to_wgs84() -> None:
    wlon, wlat = 113.08, 22.58
    fence = circle_fence("c", *wgs84_to_gcj02(wlon, wlat), 100.0, crs="gcj02")
    assert geodesic_distance_m(fence.geometry.x, fence.geometry.y, wlon, wlat) < 0.01


def test_gcj02_polygon_is_densified_and_converted_to_wgs84() -> None:
    gcj = [wgs84_to_gcj02(lon, lat) for lon, lat in SQUARE]
    fence = polygon_fence("p", gcj, crs="gcj02")
    assert shapely.get_num_coordinates(fence.geometry) > 40
    # The WGS-84 corners are vertices of the converted polygon (to a centimetre).
    coords = np.asarray(fence.geometry.exterior.coords)
    for lon, lat in SQUARE:
        nearest = min(geodesic_distance_m(lon, lat, *c) for c in coords)
        assert nearest < 0.01


def test_gcj02_corridor_is_converted_with_the_exact_inverse() -> None:
    gcj_line = [(113.0650, 22.5700), (113.0750, 22.5760)]
    fence = corridor_fence("r", gcj_line, 20.0, crs="gcj02")
    start = fence.geometry.coords[0]
    assert start == pytest.approx(gcj02_to_wgs84(*gcj_line[0]), abs=1e-12)


def test_circle_distance_is_the_geodesic_distance_minus_radius() -> None:
    fence = circle_fence("c", 113.08, 22.58, 250.0)
    for az, dist in [(0.0, 1000.0), (90.0, 260.0), (200.0, 5000.0)]:
        point = geodesic_offset(113.08, 22.58, az, dist)
        assert distance_m(fence, *point) == pytest.approx(dist - 250.0, abs=1e-6)


def test_corridor_equals_geos_flat_buffer_up_to_geos_input_simplification() -> None:
    transformer = local_aeqd(113.08, 22.58)
    xy = np.array([[0.0, 0.0], [400.0, 30.0], [700.0, 300.0], [690.0, 800.0], [1200.0, 820.0], [1210.0, 830.0]])
    fence = corridor_fence(
        "r", list(zip(*transformer.transform(xy[:, 0], xy[:, 1], direction="INVERSE"), strict=True)), 30.0
    )
    ours = fence.area_polygon_m()
    projected = shapely.transform(
        fence.geometry, lambda c: np.column_stack(fence._prepared.transformer.transform(c[:, 0], c[:, 1]))
    )
    geos = projected.buffer(15.0, cap_style="flat", quad_segs=64)
    # GEOS simplifies the input line by 1 % of the distance before buffering.
    assert shapely.hausdorff_distance(ours.exterior, geos.exterior) < 0.01 * 15.0 + 0.01
    assert abs(ours.area - geos.area) / geos.area < 1e-3


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_corridor_piece_distances_match_the_corridor_polygon_to_a_millimetre(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = np.cumsum(rng.normal(0, 80, (12, 2)), axis=0)  # a wiggly, self-crossing centre line
    polygon = corridor_polygon(xy, 9.0)
    px = rng.uniform(xy[:, 0].min() - 50, xy[:, 0].max() + 50, 1500)
    py = rng.uniform(xy[:, 1].min() - 50, xy[:, 1].max() + 50, 1500)
    points = shapely.points(px, py)
    d_polygon = np.where(shapely.covers(polygon, points), 0.0, shapely.distance(polygon.boundary, points))

    def nearest(p: Pieces) -> np.ndarray:
        return np.array(
            [piece_distance(np.full(len(p.mx), x), np.full(len(p.mx), y), p).min() for x, y in zip(px, py, strict=True)]
        )

    d_sectors = nearest(corridor_pieces(xy, 9.0))
    d_discs = nearest(corridor_pieces(xy, 9.0, discs=True))
    assert np.allclose(d_sectors, d_polygon, atol=1e-3)
    assert np.allclose(d_discs, d_sectors, atol=1e-9)  # discs describe the same set


def test_polygon_area_is_measured_in_square_metres() -> None:
    fence = polygon_fence("p", SQUARE)
    expected = geodesic_distance_m(113.07, 22.575, 113.08, 22.575) * geodesic_distance_m(113.075, 22.57, 113.075, 22.58)
    assert fence.area_m2() == pytest.approx(expected, rel=1e-3)


def test_fence_is_frozen_hashable_and_picklable_without_its_cache() -> None:
    fence = corridor_fence("r", [(113.0, 22.5), (113.01, 22.51)], 20.0, name="路")
    distance_m(fence, 113.005, 22.505)  # builds the cache
    with pytest.raises(AttributeError):
        fence.id = "x"  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(fence))
    assert copy == fence and hash(copy) == hash(fence)
    assert "_prepared" not in copy.__dict__
    assert distance_m(copy, 113.005, 22.505) == distance_m(fence, 113.005, 22.505)


def test_version_requires_aware_datetimes_and_a_later_end() -> None:
    fence = circle_fence("c", 113.0, 22.5, 10.0)
    assert error_of(FenceVersion, fence, datetime(2026, 1, 1)).code == "naive_datetime"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert error_of(FenceVersion, fence, start, start - timedelta(hours=1)).code == "invalid_validity"


def test_local_projection_distances_match_geodesic_distances_to_a_millimetre() -> None:
    transformer = local_aeqd(113.08, 22.58)
    rng = np.random.default_rng(5)
    for _ in range(50):
        a = geodesic_offset(113.08, 22.58, rng.uniform(0, 360), rng.uniform(0, 5000))
        b = geodesic_offset(*a, rng.uniform(0, 360), rng.uniform(0, 500))
        (ax, bx), (ay, by) = transformer.transform([a[0], b[0]], [a[1], b[1]])
        assert np.hypot(bx - ax, by - ay) == pytest.approx(geodesic_distance_m(*a, *b), abs=1e-3)
