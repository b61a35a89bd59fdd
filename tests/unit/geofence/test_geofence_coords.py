"""WGS-84 ⇄ GCJ-02 and densify."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from geofence import (
    densify,
    gcj02_to_wgs84,
    gcj02_to_wgs84_arrays,
    geodesic_distance_m,
    geometry_gcj02_to_wgs84,
    geometry_wgs84_to_gcj02,
    wgs84_to_gcj02,
    wgs84_to_gcj02_arrays,
)

# Reference pairs (wgs_lat, wgs_lon, gcj_lat, gcj_lon) from the eviltransform test suite,
# https://github.com/googollee/eviltransform — python/test.py and go/transform_test.go
# ("shanghai", "shenzhen", "beijing").
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]

# From the coordtransform test script (https://github.com/wandergis/coordtransform,
# test/app.js): wgs84togcj02(116.404, 39.915) -> [116.41024449916938, 39.91640428150164].
COORDTRANSFORM_WGS = (116.404, 39.915)
COORDTRANSFORM_GCJ = (116.41024449916938, 39.91640428150164)

# Eastern China, where the GCJ-02 offset is known to be a few hundred metres.
eastern_lon = st.floats(min_value=105.0, max_value=122.0, allow_nan=False)
eastern_lat = st.floats(min_value=20.0, max_value=41.0, allow_nan=False)
china_lon = st.floats(min_value=73.5, max_value=135.1, allow_nan=False)
china_lat = st.floats(min_value=3.8, max_value=53.6, allow_nan=False)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_eviltransform_reference_points(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-9)
    assert lat == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_exact_inverse_recovers_reference_points_within_1cm(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert geodesic_distance_m(lon, lat, wlon, wlat) < 0.01


def test_wgs84_to_gcj02_matches_coordtransform_reference_point() -> None:
    lon, lat = wgs84_to_gcj02(*COORDTRANSFORM_WGS)
    assert (lon, lat) == pytest.approx(COORDTRANSFORM_GCJ, abs=1e-9)


def test_points_outside_china_are_unchanged_by_both_directions() -> None:
    for lon, lat in [(2.35, 48.85), (-74.0, 40.7), (139.7, 35.7), (100.0, 60.0)]:
        assert wgs84_to_gcj02(lon, lat) == (lon, lat)
        assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_gcj02_inverse_iterates_until_residual_below_1e7_degrees() -> None:
    glon, glat = 113.085, 22.585
    lon, lat = gcj02_to_wgs84(glon, glat)
    back = wgs84_to_gcj02(lon, lat)
    assert abs(back[0] - glon) < 1e-7
    assert abs(back[1] - glat) < 1e-7


def test_vectorised_gcj_conversions_equal_scalar_ones() -> None:
    rng = np.random.default_rng(7)
    lon = np.concatenate([rng.uniform(100, 125, 200), [2.35, 139.7]])
    lat = np.concatenate([rng.uniform(18, 45, 200), [48.85, 35.7]])
    glon, glat = wgs84_to_gcj02_arrays(lon, lat)
    wlon, wlat = gcj02_to_wgs84_arrays(glon, glat)
    for i in range(len(lon)):
        assert (glon[i], glat[i]) == pytest.approx(wgs84_to_gcj02(lon[i], lat[i]), abs=1e-12)
        assert (wlon[i], wlat[i]) == pytest.approx(gcj02_to_wgs84(glon[i], glat[i]), abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_wgs_to_gcj_to_wgs_round_trip_moves_a_point_in_china_less_than_1m(lon: float, lat: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert geodesic_distance_m(lon, lat, *back) < 1.0


@settings(max_examples=200, deadline=None)
@given(eastern_lon, eastern_lat)
def test_gcj02_offset_in_eastern_china_is_between_100_and_700_metres(lon: float, lat: float) -> None:
    offset = geodesic_distance_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 100.0 < offset < 700.0


def test_densify_splits_segments_to_at_most_the_requested_length() -> None:
    line = LineString([(113.0, 22.5), (113.03, 22.52)])  # ~4 km
    dense = densify(line, 50.0)
    coords = np.asarray(dense.coords)
    lengths = [geodesic_distance_m(*coords[i], *coords[i + 1]) for i in range(len(coords) - 1)]
    assert max(lengths) <= 50.0
    assert len(coords) > 80
    assert densify(Point(113.0, 22.5)) == Point(113.0, 22.5)


def test_gcj_polygon_is_densified_before_conversion() -> None:
    square = Polygon([(113.0, 22.5), (113.02, 22.5), (113.02, 22.52), (113.0, 22.52)])
    converted = geometry_gcj02_to_wgs84(square)
    assert shapely.get_num_coordinates(converted) > 4 * 40
    back = geometry_wgs84_to_gcj02(converted, max_segment_m=1e6)
    # Every original vertex survives the round trip to within a centimetre.
    for lon, lat in square.exterior.coords:
        nearest = min(back.exterior.coords, key=lambda c: (c[0] - lon) ** 2 + (c[1] - lat) ** 2)
        assert geodesic_distance_m(lon, lat, *nearest) < 0.01
