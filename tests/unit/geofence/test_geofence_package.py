"""Package rules: a pure library (no backend imports, no I/O), offline projections."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pyproj
from shapely.geometry import LineString, Polygon

import geofence
from geofence import corridor_fence, densify, distance_m, geodesic_offset
from geofence.projection import local_aeqd, local_tmerc

PACKAGE = pathlib.Path(geofence.__file__).parent
FORBIDDEN_MODULES = {"backend", "socket", "requests", "httpx", "aiohttp", "urllib", "sqlite3", "logging"}


def modules_imported(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_geofence_imports_nothing_from_backend_and_no_io_modules() -> None:
    for path in PACKAGE.glob("*.py"):
        assert not (modules_imported(path) & FORBIDDEN_MODULES), path.name


def test_geofence_never_opens_files() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert "open" not in calls, path.name


def test_projections_need_no_grid_files_and_no_network() -> None:
    assert not pyproj.network.is_network_enabled()
    for transformer in (local_aeqd(113.08, 22.58), local_tmerc(113.08, 22.58)):
        assert "grid" not in transformer.definition
        x, y = transformer.transform(113.09, 22.59)
        assert np.isfinite([x, y]).all()


def test_public_api_is_exported() -> None:
    for name in geofence.__all__:
        assert hasattr(geofence, name), name


def test_densified_straight_corridor_is_one_polygon_without_cracks() -> None:
    start = (113.06, 22.57)
    end = geodesic_offset(*start, 63.0, 3000.0)
    line = densify(LineString([start, end]), 20.0)
    fence = corridor_fence("straight", line, 12.0)
    area = fence.area_polygon_m()
    assert isinstance(area, Polygon) and len(area.interiors) == 0
    assert distance_m(fence, *geodesic_offset(*start, 63.0, 1500.0)) == 0.0
