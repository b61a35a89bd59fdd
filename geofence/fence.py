"""Fences: polygon, circle and corridor; validation, versions and metric distance.

A :class:`Fence` is plain data in WGS-84 (lon, lat).  The first time a fence is used
for a distance it builds (and caches on itself) a local azimuthal-equidistant
projection centred on the fence, the projected geometry and its boundary, both
``shapely.prepare``-d, so that one decision costs a few microseconds.

Corridor semantics: the set of points within ``width_m / 2`` of the centre line,
with FLAT ends — exactly ``buffer(width_m / 2, cap_style="flat", join_style="round")``
in a metric projection.  It is built as the union of one rectangle per centre-line
segment and one circular sector on the outer side of every bend (see
:func:`corridor_pieces`).  GEOS' own buffer would do, but it first simplifies the
input line by 1 % of the buffer distance (up to 15 cm for a 30 m road); the piece
union is exact (arcs to 0.5 mm) and is the same model the batch index evaluates
analytically, so single and batch decisions agree to the millimetre.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry import LinearRing, LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geofence.coords import (
    CHINA_LAT_MAX,
    CHINA_LAT_MIN,
    CHINA_LON_MAX,
    CHINA_LON_MIN,
    CRS_VALUES,
    gcj02_to_wgs84,
    geometry_to_wgs84,
)
from geofence.errors import FenceError
from geofence.projection import local_aeqd

MAX_RADIUS_M = 100_000.0
MAX_WIDTH_M = 10_000.0
MIN_POLYGON_AREA_M2 = 1.0
# Largest gap between the drawn arc of a corridor bend and the true circle.
ARC_TOLERANCE_M = 0.0005


class FenceKind(StrEnum):
    POLYGON = "polygon"
    CIRCLE = "circle"
    CORRIDOR = "corridor"


FenceGeometry = Polygon | MultiPolygon | LineString | Point


# --- validation helpers -----------------------------------------------------------


def _china_mask(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    return (lon >= CHINA_LON_MIN) & (lon <= CHINA_LON_MAX) & (lat >= CHINA_LAT_MIN) & (lat <= CHINA_LAT_MAX)


def check_positions(coords: NDArray[np.float64], field: str) -> None:
    """Raise :class:`FenceError` unless every (lon, lat) row is a usable WGS-84/GCJ-02 point in China.

    Order of the checks: not finite or (0, 0) → ``invalid_coordinates``; all inside
    China → fine; all inside China once lon and lat are swapped → ``swapped_lat_lon``;
    outside ±180/±90 → ``invalid_coordinates``; otherwise ``outside_china``.
    """
    if coords.shape[0] == 0:
        raise FenceError("empty_geometry", field, "几何图形为空", "The geometry is empty")
    lon = coords[:, 0]
    lat = coords[:, 1]
    finite = np.isfinite(lon) & np.isfinite(lat)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise FenceError(
            "invalid_coordinates", f"{field}[{i}]", "坐标不是有效数字", "Coordinate is not a finite number"
        )
    zero = (lon == 0.0) & (lat == 0.0)
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        raise FenceError(
            "invalid_coordinates",
            f"{field}[{i}]",
            "坐标为 (0, 0)，定位无效",
            "Coordinate is (0, 0), which is not a real position",
        )
    inside = _china_mask(lon, lat)
    if inside.all():
        return
    if _china_mask(lat, lon).all():
        raise FenceError(
            "swapped_lat_lon",
            field,
            "经纬度顺序颠倒：应为（经度, 纬度），交换后才位于中国境内",
            "Latitude and longitude are swapped: expected (lon, lat); swapped, the points lie in China",
        )
    i = int(np.flatnonzero(~inside)[0])
    if not (-180.0 <= lon[i] <= 180.0 and -90.0 <= lat[i] <= 90.0):
        raise FenceError(
            "invalid_coordinates",
            f"{field}[{i}]",
            f"坐标超出范围：经度 {lon[i]}，纬度 {lat[i]}",
            f"Coordinate out of range: lon {lon[i]}, lat {lat[i]}",
        )
    raise FenceError(
        "outside_china",
        f"{field}[{i}]",
        f"坐标不在中国境内：经度 {lon[i]}，纬度 {lat[i]}",
        f"Coordinate is outside China: lon {lon[i]}, lat {lat[i]}",
    )


def as_positions(value: Any, field: str) -> NDArray[np.float64]:
    """A sequence of [lon, lat] or [lon, lat, alt] → float array (n, 2); raises FenceError."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise FenceError(
            "invalid_coordinates", field, "坐标应为 [经度, 纬度] 列表", "Expected a list of [lon, lat] pairs"
        )
    rows: list[tuple[float, float]] = []
    for i, pos in enumerate(value):
        if (
            isinstance(pos, (str, bytes))
            or not isinstance(pos, Sequence)
            or len(pos) not in (2, 3)
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in pos)
        ):
            raise FenceError(
                "invalid_coordinates",
                f"{field}[{i}]",
                "坐标应为 [经度, 纬度] 两个数字",
                "Each position must be [lon, lat] (two numbers)",
            )
        rows.append((float(pos[0]), float(pos[1])))
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def _distinct_count(coords: NDArray[np.float64]) -> int:
    return len({(float(x), float(y)) for x, y in coords})


def _drop_repeats(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    if len(coords) < 2:
        return coords
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
    return coords[keep]


def _check_crs(crs: str) -> None:
    if crs not in CRS_VALUES:
        raise FenceError("invalid_crs", "crs", f"不支持的坐标系 {crs!r}（应为 wgs84 或 gcj02）", f"Unknown crs {crs!r}")


def _check_positive(value: Any, field: str, code: str, limit: float, zh_name: str, en_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FenceError(code, field, f"{zh_name}必须是数字", f"{en_name} must be a number")
    if value <= 0:
        raise FenceError(code, field, f"{zh_name}必须大于 0 米", f"{en_name} must be greater than 0 m")
    if value > limit:
        raise FenceError(code, field, f"{zh_name}不能超过 {limit:.0f} 米", f"{en_name} must not exceed {limit:.0f} m")
    return float(value)


def _polygon_positions(geometry: Polygon | MultiPolygon) -> Iterable[tuple[str, NDArray[np.float64]]]:
    polygons = [geometry] if isinstance(geometry, Polygon) else list(geometry.geoms)
    multi = isinstance(geometry, MultiPolygon)
    for k, polygon in enumerate(polygons):
        prefix = f"polygons[{k}]." if multi else ""
        yield f"{prefix}shell", np.asarray(polygon.exterior.coords, dtype=np.float64)[:, :2]
        for h, ring in enumerate(polygon.interiors):
            yield f"{prefix}holes[{h}]", np.asarray(ring.coords, dtype=np.float64)[:, :2]


# --- corridor pieces (shared with the batch index) -------------------------------------


class Pieces(NamedTuple):
    """Convex pieces whose union is a fence, in metric coordinates.

    Piece i is the rectangle centred at (mx, my), axis (ux, uy), half-length ``a``,
    half-width ``h``, grown by a disc of radius ``rho``; a piece with a non-zero cone
    (c1 → c2, < 180°) is restricted to that cone around its centre (a circular
    sector).  Distance from p: ``max(hypot(max(|s|-a, 0), max(|t|-h, 0)) - rho, 0)``
    with s, t the coordinates of p in the piece's frame, +inf outside the cone.
    """

    mx: NDArray[np.float64]
    my: NDArray[np.float64]
    ux: NDArray[np.float64]
    uy: NDArray[np.float64]
    a: NDArray[np.float64]
    h: NDArray[np.float64]
    rho: NDArray[np.float64]
    c1x: NDArray[np.float64]
    c1y: NDArray[np.float64]
    c2x: NDArray[np.float64]
    c2y: NDArray[np.float64]


def _empty() -> NDArray[np.float64]:
    return np.zeros(0, dtype=np.float64)


def segment_pieces(xy: NDArray[np.float64], half_width: float | NDArray[np.float64]) -> Pieces:
    """One piece per segment of the polyline ``xy`` (n, 2): a rectangle (h = half_width)."""
    xy = _drop_repeats(xy)
    d = xy[1:] - xy[:-1]
    length = np.hypot(d[:, 0], d[:, 1])
    u = d / length[:, None]
    m = (xy[1:] + xy[:-1]) / 2.0
    n = len(length)
    zeros = np.zeros(n)
    h = np.broadcast_to(np.asarray(half_width, dtype=np.float64), (n,)).copy()
    return Pieces(m[:, 0], m[:, 1], u[:, 0], u[:, 1], length / 2.0, h, zeros, zeros, zeros, zeros, zeros)


def join_pieces(xy: NDArray[np.float64], half_width: float) -> Pieces:
    """Circular sectors filling the outer side of each bend of a corridor centre line.

    A bend turning by θ gets a sector of radius ``half_width`` between the outer
    normals of its two segments; sectors wider than 90° are split in two so that
    every cone stays well away from 180° (where the cone test degenerates).
    """
    xy = _drop_repeats(xy)
    if len(xy) < 3:
        e = _empty()
        return Pieces(e, e, e, e, e, e, e, e, e, e, e)
    d = xy[1:] - xy[:-1]
    u = d / np.hypot(d[:, 0], d[:, 1])[:, None]
    u1 = u[:-1]
    u2 = u[1:]
    cross = u1[:, 0] * u2[:, 1] - u1[:, 1] * u2[:, 0]
    dot = u1[:, 0] * u2[:, 0] + u1[:, 1] * u2[:, 1]
    theta = np.arctan2(cross, dot)
    keep = np.abs(theta) > 1e-12
    v = xy[1:-1][keep]
    u1 = u1[keep]
    theta = theta[keep]
    # Outer normal of the incoming segment: right normal for a left turn, left for a right turn.
    left_turn = theta > 0
    c1x = np.where(left_turn, u1[:, 1], -u1[:, 1])
    c1y = np.where(left_turn, -u1[:, 0], u1[:, 0])
    base = np.arctan2(c1y, c1x)
    wide = np.abs(theta) > math.pi / 2.0
    mid = np.where(wide, base + theta / 2.0, base + theta)
    starts = np.concatenate([base, mid[wide]])
    ends = np.concatenate([mid, (base + theta)[wide]])
    vx = np.concatenate([v[:, 0], v[wide, 0]])
    vy = np.concatenate([v[:, 1], v[wide, 1]])
    k = len(vx)
    zeros = np.zeros(k)
    return Pieces(
        vx,
        vy,
        np.ones(k),  # any unit axis: with a = h = 0 the distance is |p - v| - rho
        zeros,
        zeros,
        zeros,
        np.full(k, float(half_width)),
        np.cos(starts),
        np.sin(starts),
        np.cos(ends),
        np.sin(ends),
    )


def concat_pieces(parts: Sequence[Pieces]) -> Pieces:
    if not parts:
        e = _empty()
        return Pieces(e, e, e, e, e, e, e, e, e, e, e)
    return Pieces(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))


def corridor_pieces(xy: NDArray[np.float64], half_width: float, *, discs: bool = False) -> Pieces:
    """Rectangles and bend sectors whose union is the flat-ended corridor.

    With ``discs=True`` a bend farther than 2·half_width from both ends of the line
    gets a full disc instead of a sector: the union is the same set (any point of
    such a disc is within half_width of the line and its nearest point on the line
    is not an end point, so it lies in a rectangle or a sector anyway), and a disc
    is cheaper to evaluate than a sector's cone test.
    """
    xy = _drop_repeats(xy)
    joins = join_pieces(xy, half_width)
    if discs and len(joins.mx):
        ends = xy[[0, -1]]
        far0 = np.hypot(joins.mx - ends[0, 0], joins.my - ends[0, 1]) > 2.0 * half_width
        far1 = np.hypot(joins.mx - ends[1, 0], joins.my - ends[1, 1]) > 2.0 * half_width
        safe = far0 & far1
        # A vertex may carry two half sectors; keep one disc per vertex.
        vertex = np.stack([joins.mx, joins.my], axis=1)
        _, first = np.unique(vertex, axis=0, return_index=True)
        single = np.zeros(len(safe), dtype=bool)
        single[first] = True
        disc = safe & single
        keep_sector = ~safe
        z = np.zeros(int(disc.sum()))
        disc_pieces = Pieces(joins.mx[disc], joins.my[disc], z + 1.0, z, z, z, joins.rho[disc], z, z, z, z)
        sectors = Pieces(*(c[keep_sector] for c in joins))
        joins = concat_pieces([disc_pieces, sectors])
    return concat_pieces([segment_pieces(xy, half_width), joins])


def piece_distance(px: NDArray[np.float64], py: NDArray[np.float64], p: Pieces) -> NDArray[np.float64]:
    """Distance from points to pieces, element-wise (0 inside a piece)."""
    qx = px - p.mx
    qy = py - p.my
    s = np.abs(qx * p.ux + qy * p.uy) - p.a
    t = np.abs(qy * p.ux - qx * p.uy) - p.h
    np.maximum(s, 0.0, out=s)
    np.maximum(t, 0.0, out=t)
    d = np.hypot(s, t)
    d -= p.rho
    np.maximum(d, 0.0, out=d)
    # Cone test (pieces without a cone have c1 = c2 = 0 and always pass).
    sign = p.c1x * p.c2y - p.c1y * p.c2x
    out = ((p.c1x * qy - p.c1y * qx) * sign < 0) | ((qx * p.c2y - qy * p.c2x) * sign < 0)
    d[out] = np.inf
    return d


def piece_polygons(p: Pieces, arc_tolerance_m: float = ARC_TOLERANCE_M, overlap_m: float = 0.0) -> list[BaseGeometry]:
    """Shapely geometries of pieces (rectangles, sectors, discs; segments when h = 0).

    ``overlap_m`` lengthens rectangles and widens sectors by that much so that pieces
    meeting edge to edge overlap a little and union into one polygon despite rounding.
    """
    out: list[BaseGeometry] = []
    for i in range(len(p.mx)):
        mx, my, ux, uy = p.mx[i], p.my[i], p.ux[i], p.uy[i]
        a, h, rho = p.a[i], p.h[i], p.rho[i]
        if rho == 0 and h > 0:
            a += overlap_m
        if rho > 0:
            step = 2.0 * math.acos(max(-1.0, 1.0 - arc_tolerance_m / rho))
            if p.c1x[i] == 0 and p.c1y[i] == 0 and p.c2x[i] == 0 and p.c2y[i] == 0:
                if a == 0 and h == 0:
                    n = max(16, math.ceil(2 * math.pi / step))
                    ang = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
                    out.append(Polygon(np.column_stack([mx + rho * np.cos(ang), my + rho * np.sin(ang)])))
                    continue
                raise ValueError("rounded rectangles are not used")
            a1 = math.atan2(p.c1y[i], p.c1x[i])
            sweep = math.atan2(p.c1x[i] * p.c2y[i] - p.c1y[i] * p.c2x[i], p.c1x[i] * p.c2x[i] + p.c1y[i] * p.c2y[i])
            widen = math.copysign(overlap_m / rho, sweep)
            a1 -= widen
            sweep += 2.0 * widen
            n = max(2, math.ceil(abs(sweep) / step) + 1)
            ang = a1 + np.linspace(0.0, sweep, n)
            ring = np.vstack([[mx, my], np.column_stack([mx + rho * np.cos(ang), my + rho * np.sin(ang)])])
            out.append(Polygon(ring))
            continue
        ax, ay = ux * a, uy * a
        if h == 0:
            out.append(LineString([(mx - ax, my - ay), (mx + ax, my + ay)]))
            continue
        nx, ny = -uy * h, ux * h
        out.append(
            Polygon(
                [
                    (mx - ax - nx, my - ay - ny),
                    (mx + ax - nx, my + ay - ny),
                    (mx + ax + nx, my + ay + ny),
                    (mx - ax + nx, my - ay + ny),
                ]
            )
        )
    return out


def corridor_polygon(xy: NDArray[np.float64], half_width: float) -> Polygon | MultiPolygon:
    """The flat-ended corridor around the metric polyline ``xy`` as one polygon."""
    # Pieces overlap by 1 µm so that rounding cannot leave hairline cracks between them.
    parts = piece_polygons(corridor_pieces(xy, half_width), overlap_m=1e-6)
    merged = shapely.union_all(parts)
    polygons = [g for g in shapely.get_parts(merged) if isinstance(g, Polygon) and g.area > 0]
    if len(polygons) == 1:
        return polygons[0]
    return MultiPolygon(polygons)


# --- the fence ------------------------------------------------------------------------


class _Prepared:
    """Per-fence metric state: the projection and the prepared projected geometry."""

    __slots__ = ("area", "boundary", "radius", "transform", "transformer")

    def __init__(self, fence: Fence) -> None:
        geometry = fence.geometry
        if fence.kind is FenceKind.CIRCLE:
            lon0, lat0 = geometry.x, geometry.y  # type: ignore[union-attr]
        else:
            minx, miny, maxx, maxy = geometry.bounds
            lon0, lat0 = (minx + maxx) / 2.0, (miny + maxy) / 2.0
        self.transformer: Transformer = local_aeqd(lon0, lat0)
        self.transform = self.transformer.transform
        self.radius: float | None = None
        self.area: BaseGeometry | None = None
        self.boundary: BaseGeometry | None = None
        if fence.kind is FenceKind.CIRCLE:
            self.radius = fence.radius_m
            return
        projected = project_geometry(geometry, self.transformer)
        if fence.kind is FenceKind.CORRIDOR:
            xy = np.asarray(projected.coords, dtype=np.float64)[:, :2]
            area: BaseGeometry = corridor_polygon(xy, float(fence.width_m) / 2.0)  # type: ignore[arg-type]
        else:
            area = projected
        boundary = area.boundary
        shapely.prepare(area)
        shapely.prepare(boundary)
        self.area = area
        self.boundary = boundary

    def distance(self, lon: float, lat: float) -> float:
        x, y = self.transform(lon, lat)
        if self.radius is not None:
            d = math.hypot(x, y) - self.radius
            return d if d > 0.0 else 0.0
        p = Point(x, y)
        if self.area.covers(p):  # type: ignore[union-attr]
            return 0.0
        return float(self.boundary.distance(p))  # type: ignore[union-attr]


def project_geometry(geometry: BaseGeometry, transformer: Transformer) -> Any:
    def apply(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry, apply)


def _check_polygon_shape(geometry: BaseGeometry) -> None:
    for field, ring in _polygon_positions(geometry):  # type: ignore[arg-type]
        check_positions(ring, field)
        if _distinct_count(ring) < 3:
            raise FenceError(
                "too_few_points",
                field,
                "多边形至少需要 3 个不同的顶点",
                "A polygon needs at least 3 distinct points",
            )
    if not geometry.is_valid:
        raise FenceError(
            "self_intersection",
            "geometry",
            f"多边形无效（{shapely.is_valid_reason(geometry)}）",
            f"Invalid polygon ({shapely.is_valid_reason(geometry)}); build it with polygon_fence()",
        )


def _check_corridor_shape(geometry: BaseGeometry) -> None:
    xy = np.asarray(geometry.coords, dtype=np.float64)[:, :2]
    check_positions(xy, "centre_line")
    if _distinct_count(xy) < 2:
        raise FenceError(
            "too_few_points",
            "centre_line",
            "中心线至少需要 2 个不同的点",
            "A corridor centre line needs at least 2 distinct points",
        )


def _check_circle_shape(geometry: BaseGeometry) -> None:
    check_positions(np.array([[geometry.x, geometry.y]]), "centre")  # type: ignore[attr-defined]


_EXPECTED_GEOMETRY: dict[FenceKind, tuple[type, ...]] = {
    FenceKind.POLYGON: (Polygon, MultiPolygon),
    FenceKind.CIRCLE: (Point,),
    FenceKind.CORRIDOR: (LineString,),
}
_CHECK_SHAPE: dict[FenceKind, Callable[[BaseGeometry], None]] = {
    FenceKind.POLYGON: _check_polygon_shape,
    FenceKind.CORRIDOR: _check_corridor_shape,
    FenceKind.CIRCLE: _check_circle_shape,
}


@dataclass(frozen=True)
class Fence:
    """One electronic fence (电子围栏), WGS-84 (lon, lat).

    * ``polygon``: ``geometry`` is a Polygon or MultiPolygon (holes allowed);
    * ``circle``: ``geometry`` is the centre Point, ``radius_m`` > 0;
    * ``corridor``: ``geometry`` is the centre LineString, ``width_m`` > 0 is the total
      width (flat ends).

    Build fences with :func:`polygon_fence`, :func:`circle_fence`,
    :func:`corridor_fence` (which also accept GCJ-02 and repair self-intersecting
    polygons) or the parsers; the constructor itself only validates.
    """

    id: str
    kind: FenceKind
    geometry: FenceGeometry
    radius_m: float | None = None
    width_m: float | None = None
    name: str = ""
    repaired: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise FenceError("invalid_id", "id", "围栏编号不能为空", "Fence id must be a non-empty string")
        kind, geometry = self._check_kind_and_geometry()
        self._check_sizes(kind)
        _CHECK_SHAPE[kind](geometry)
        if not isinstance(self.name, str):
            raise FenceError("invalid_name", "name", "名称必须是文字", "Name must be a string")
        if kind is FenceKind.POLYGON and self._prepared.area.area < MIN_POLYGON_AREA_M2:  # type: ignore[union-attr]
            raise FenceError(
                "degenerate_geometry",
                "geometry",
                "多边形面积几乎为零",
                f"The polygon's area is below {MIN_POLYGON_AREA_M2} m²",
            )

    def _check_kind_and_geometry(self) -> tuple[FenceKind, BaseGeometry]:
        """Normalise ``kind`` to the enum and ``geometry`` to 2-D; refuse a geometry of another kind."""
        try:
            kind = FenceKind(self.kind)
        except ValueError:
            raise FenceError(
                "invalid_kind", "kind", f"未知的围栏类型 {self.kind!r}", f"Unknown fence kind {self.kind!r}"
            ) from None
        object.__setattr__(self, "kind", kind)
        geometry = self.geometry
        if not isinstance(geometry, BaseGeometry) or geometry.is_empty:
            raise FenceError("empty_geometry", "geometry", "几何图形为空", "The geometry is empty")
        if geometry.has_z:
            object.__setattr__(self, "geometry", shapely.force_2d(geometry))
            geometry = self.geometry
        if not isinstance(geometry, _EXPECTED_GEOMETRY[kind]) or isinstance(geometry, LinearRing):
            raise FenceError(
                "unsupported_geometry",
                "geometry",
                f"{kind.value} 围栏不能使用 {geometry.geom_type} 几何",
                f"A {kind.value} fence cannot have a {geometry.geom_type} geometry",
            )
        return kind, geometry

    def _check_sizes(self, kind: FenceKind) -> None:
        """A radius for circles only, a width for corridors only, each positive and bounded."""
        if kind is FenceKind.CIRCLE:
            radius = _check_positive(self.radius_m, "radius_m", "invalid_radius", MAX_RADIUS_M, "半径", "Radius")
            object.__setattr__(self, "radius_m", radius)
        elif self.radius_m is not None:
            raise FenceError("invalid_radius", "radius_m", "只有圆形围栏才有半径", "Only circle fences have a radius")
        if kind is FenceKind.CORRIDOR:
            width = _check_positive(self.width_m, "width_m", "invalid_width", MAX_WIDTH_M, "宽度", "Width")
            object.__setattr__(self, "width_m", width)
        elif self.width_m is not None:
            raise FenceError("invalid_width", "width_m", "只有带状围栏才有宽度", "Only corridor fences have a width")

    @cached_property
    def _prepared(self) -> _Prepared:
        return _Prepared(self)

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of the geometry (circle: its centre only)."""
        return tuple(self.geometry.bounds)  # type: ignore[return-value]

    def area_polygon_m(self) -> Polygon | MultiPolygon:
        """The fence's area in its local azimuthal-equidistant metres (centred on the fence)."""
        prepared = self._prepared
        if prepared.area is not None:
            return prepared.area  # type: ignore[return-value]
        return Point(0.0, 0.0).buffer(float(self.radius_m), quad_segs=64)  # type: ignore[arg-type]

    def area_m2(self) -> float:
        return float(self.area_polygon_m().area)


# --- factories --------------------------------------------------------------------


def _polygon_from_input(shell: Any, holes: Any) -> Polygon | MultiPolygon:
    if isinstance(shell, (Polygon, MultiPolygon)):
        if holes:
            raise FenceError(
                "invalid_geometry", "holes", "传入多边形几何时不能另给内环", "Pass holes inside the geometry"
            )
        for field, ring in _polygon_positions(shell):
            check_positions(ring, field)
        return shell
    if isinstance(shell, BaseGeometry):
        raise FenceError(
            "unsupported_geometry",
            "shell",
            f"多边形围栏不能使用 {shell.geom_type}",
            f"A polygon fence cannot be built from a {shell.geom_type}",
        )
    shell_xy = as_positions(shell, "shell")
    check_positions(shell_xy, "shell")
    hole_xys: list[NDArray[np.float64]] = []
    for i, hole in enumerate(holes or ()):
        xy = as_positions(hole, f"holes[{i}]")
        check_positions(xy, f"holes[{i}]")
        hole_xys.append(xy)
    for field, xy in [("shell", shell_xy), *((f"holes[{i}]", h) for i, h in enumerate(hole_xys))]:
        if _distinct_count(xy) < 3:
            raise FenceError(
                "too_few_points", field, "多边形至少需要 3 个不同的顶点", "A polygon needs at least 3 distinct points"
            )
    return Polygon(shell_xy, hole_xys)


def _repair(polygon: Polygon | MultiPolygon) -> tuple[Polygon | MultiPolygon, bool]:
    if polygon.is_valid:
        return polygon, False
    if polygon.convex_hull.area == 0.0:
        raise FenceError(
            "degenerate_geometry",
            "geometry",
            "多边形的顶点共线，面积为零",
            "The polygon's points are collinear: it has no area",
        )
    reason = shapely.is_valid_reason(polygon)
    fixed = shapely.make_valid(polygon)
    parts = [
        p for g in shapely.get_parts(fixed) for p in shapely.get_parts(g) if isinstance(p, Polygon) and p.area > 0.0
    ]
    if not parts:
        raise FenceError(
            "self_intersection",
            "geometry",
            f"多边形自相交且无法修复为有效区域（{reason}）",
            f"The polygon intersects itself and cannot be repaired into an area ({reason})",
        )
    merged = parts[0] if len(parts) == 1 else shapely.union_all(parts)
    if not isinstance(merged, (Polygon, MultiPolygon)) or not merged.is_valid:
        raise FenceError(
            "self_intersection",
            "geometry",
            f"多边形自相交且无法修复（{reason}）",
            f"The polygon intersects itself and cannot be repaired ({reason})",
        )
    return merged, True


def polygon_fence(
    fence_id: str,
    shell: Any,
    holes: Sequence[Any] = (),
    *,
    name: str = "",
    crs: str = "wgs84",
) -> Fence:
    """A polygon fence from a shell (list of (lon, lat)), optional holes, or a shapely
    Polygon/MultiPolygon.  GCJ-02 input (``crs="gcj02"``) is densified to 50 m and
    converted.  A self-intersecting polygon is repaired with ``shapely.make_valid``
    when that yields an area (``repaired=True``), else refused.
    """
    _check_crs(crs)
    polygon = _polygon_from_input(shell, holes)
    polygon = geometry_to_wgs84(polygon, crs)
    polygon, repaired = _repair(polygon)
    return Fence(fence_id, FenceKind.POLYGON, polygon, name=name, repaired=repaired)


def circle_fence(
    fence_id: str, lon: float, lat: float, radius_m: float, *, name: str = "", crs: str = "wgs84"
) -> Fence:
    """A circle fence: centre (lon, lat) and radius in metres (geodesic)."""
    _check_crs(crs)
    _check_positive(radius_m, "radius_m", "invalid_radius", MAX_RADIUS_M, "半径", "Radius")
    xy = as_positions([(lon, lat)], "centre")
    check_positions(xy, "centre")
    clon, clat = float(xy[0, 0]), float(xy[0, 1])
    if crs == "gcj02":
        clon, clat = gcj02_to_wgs84(clon, clat)
    return Fence(fence_id, FenceKind.CIRCLE, Point(clon, clat), radius_m=radius_m, name=name)


def corridor_fence(fence_id: str, centre_line: Any, width_m: float, *, name: str = "", crs: str = "wgs84") -> Fence:
    """A corridor (e.g. a road): centre line (list of (lon, lat) or LineString) and total width."""
    _check_crs(crs)
    _check_positive(width_m, "width_m", "invalid_width", MAX_WIDTH_M, "宽度", "Width")
    if isinstance(centre_line, LineString):
        xy = np.asarray(centre_line.coords, dtype=np.float64)[:, :2]
    elif isinstance(centre_line, BaseGeometry):
        raise FenceError(
            "unsupported_geometry",
            "centre_line",
            f"带状围栏的中心线不能是 {centre_line.geom_type}",
            f"A corridor centre line cannot be a {centre_line.geom_type}",
        )
    else:
        xy = as_positions(centre_line, "centre_line")
    check_positions(xy, "centre_line")
    xy = _drop_repeats(xy)
    if len(xy) < 2:
        raise FenceError(
            "too_few_points",
            "centre_line",
            "中心线至少需要 2 个不同的点",
            "A corridor centre line needs at least 2 distinct points",
        )
    line = geometry_to_wgs84(LineString(xy), crs)
    return Fence(fence_id, FenceKind.CORRIDOR, line, width_m=width_m, name=name)


def distance_m(fence: Fence, lon: float, lat: float) -> float:
    """Metres from WGS-84 (lon, lat) to the fence's nearest edge; 0 inside or on the edge."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise FenceError("invalid_coordinates", "lon/lat", "坐标不是有效数字", "Coordinate is not a finite number")
    return fence._prepared.distance(lon, lat)


def contains(fence: Fence, lon: float, lat: float) -> bool:
    """True when WGS-84 (lon, lat) is inside the fence or on its edge."""
    return distance_m(fence, lon, lat) == 0.0


# --- versions ---------------------------------------------------------------------


def _require_aware(value: Any, field: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise FenceError(
            "naive_datetime",
            field,
            "时间必须带时区",
            "Datetime must be timezone-aware",
        )


@dataclass(frozen=True)
class FenceVersion:
    """A fence as it was valid in [valid_from, valid_to) — valid_to None means still valid."""

    fence: Fence
    valid_from: datetime
    valid_to: datetime | None = None
    version: int = 1

    def __post_init__(self) -> None:
        _require_aware(self.valid_from, "valid_from")
        if self.valid_to is not None:
            _require_aware(self.valid_to, "valid_to")
            if self.valid_to <= self.valid_from:
                raise FenceError(
                    "invalid_validity",
                    "valid_to",
                    "失效时间必须晚于生效时间",
                    "valid_to must be later than valid_from",
                )

    def is_active(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


def active_version(versions: Iterable[FenceVersion], at: datetime) -> FenceVersion | None:
    """The version active at ``at`` (a punch's capture time), or None.

    Validity is half-open [valid_from, valid_to).  If several versions overlap, the
    one that became valid last wins (then the higher ``version``).
    """
    _require_aware(at, "at")
    best: FenceVersion | None = None
    for v in versions:
        if v.is_active(at) and (best is None or (v.valid_from, v.version) > (best.valid_from, best.version)):
            best = v
    return best


def active_fences(versions: Iterable[FenceVersion], at: datetime) -> tuple[Fence, ...]:
    """The active version of every fence id (in order of first appearance) at ``at``."""
    _require_aware(at, "at")
    by_id: dict[str, list[FenceVersion]] = {}
    for v in versions:
        by_id.setdefault(v.fence.id, []).append(v)
    out: list[Fence] = []
    for group in by_id.values():
        chosen = active_version(group, at)
        if chosen is not None:
            out.append(chosen.fence)
    return tuple(out)
