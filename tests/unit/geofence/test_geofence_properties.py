"""Property tests: invariances that must hold for any fence and any fix."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geofence import circle_fence, contains, corridor_fence, distance_m, polygon_fence
from geofence.projection import local_aeqd

CENTRE = (113.08, 22.58)  # Jiangmen
TF = local_aeqd(*CENTRE)


def to_lonlat(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
    lon, lat = TF.transform(x, y, direction="INVERSE")
    return list(zip(np.atleast_1d(lon).tolist(), np.atleast_1d(lat).tolist(), strict=True))


star_radii = st.lists(st.floats(min_value=50.0, max_value=500.0), min_size=3, max_size=12)
translation = st.floats(min_value=-30_000.0, max_value=30_000.0)


@settings(max_examples=150, deadline=None)
@given(
    star_radii,
    st.floats(min_value=0.0, max_value=0.9),
    st.floats(min_value=0.0, max_value=2 * math.pi),
    translation,
    translation,
)
def test_point_inside_a_polygon_stays_inside_after_translating_both_by_the_same_metres(
    radii: list[float], depth: float, bearing: float, dx: float, dy: float
) -> None:
    # A star-shaped polygon around the origin: every point closer to the centre than
    # min(r)·cos(π/n) is inside it, here by at least 10 % of that distance.
    n = len(radii)
    angles = np.arange(n) * 2 * math.pi / n
    vx = np.array(radii) * np.cos(angles)
    vy = np.array(radii) * np.sin(angles)
    inner = min(radii) * math.cos(math.pi / n)
    px, py = depth * inner * math.cos(bearing), depth * inner * math.sin(bearing)

    here = polygon_fence("p", to_lonlat(vx, vy))
    there = polygon_fence("q", to_lonlat(vx + dx, vy + dy))
    assert contains(here, *to_lonlat(np.array([px]), np.array([py]))[0])
    assert contains(there, *to_lonlat(np.array([px + dx]), np.array([py + dy]))[0])


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=-2000.0, max_value=2000.0),
    st.floats(min_value=-2000.0, max_value=2000.0),
    translation,
    translation,
)
def test_distance_to_a_corridor_is_unchanged_by_translating_fix_and_fence_together(
    px: float, py: float, dx: float, dy: float
) -> None:
    line = np.array([[-800.0, -100.0], [0.0, 0.0], [300.0, 600.0], [900.0, 650.0]])
    here = corridor_fence("r", to_lonlat(line[:, 0], line[:, 1]), 30.0)
    there = corridor_fence("s", to_lonlat(line[:, 0] + dx, line[:, 1] + dy), 30.0)
    d_here = distance_m(here, *to_lonlat(np.array([px]), np.array([py]))[0])
    d_there = distance_m(there, *to_lonlat(np.array([px + dx]), np.array([py + dy]))[0])
    # The shared local projection is not perfectly isometric 30 km out (< 2e-5 relative).
    assert d_there == pytest.approx(d_here, abs=0.01, rel=5e-5)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=1.0, max_value=5000.0), st.floats(min_value=0.0, max_value=360.0))
def test_circle_distance_plus_radius_is_the_distance_from_the_centre(radius: float, bearing: float) -> None:
    fence = circle_fence("c", *CENTRE, radius)
    point = to_lonlat(np.array([2 * radius * math.cos(bearing)]), np.array([2 * radius * math.sin(bearing)]))[0]
    assert distance_m(fence, *point) == pytest.approx(radius, rel=1e-6)
