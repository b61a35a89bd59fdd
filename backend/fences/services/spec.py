"""API input → ``geofence.Fence``: the fence spec, its validation and error field paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import geofence
from backend.bounded import BoundedRunner
from backend.errors import InvalidInput, invalid
from backend.fences.services.common import KINDS, _check_crs
from backend.fences.upload import NAME_MAX, build_feature_fence
from backend.rules import Rules

_FIELD_RULES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^geometry\.coordinates\.polygons\[(\d+)\]\.shell(\[\d+\])?"),
     lambda m: f"geometry.coordinates[{m[1]}][0]{m[2] or ''}"),
    (re.compile(r"^geometry\.coordinates\.polygons\[(\d+)\]\.holes\[(\d+)\](\[\d+\])?"),
     lambda m: f"geometry.coordinates[{m[1]}][{int(m[2]) + 1}]{m[3] or ''}"),
    (re.compile(r"^geometry\.coordinates\.shell(\[\d+\])?"), lambda m: f"geometry.coordinates[0]{m[1] or ''}"),
    (re.compile(r"^geometry\.coordinates\.holes\[(\d+)\](\[\d+\])?"),
     lambda m: f"geometry.coordinates[{int(m[1]) + 1}]{m[2] or ''}"),
    (re.compile(r"^geometry\.coordinates\.centre_line(\[\d+\])?"), lambda m: f"geometry.coordinates{m[1] or ''}"),
    (re.compile(r"^geometry\.coordinates\.centre(\[\d+\])?"), lambda m: "geometry.coordinates"),
    (re.compile(r"^geometry\.coordinates\.geometry"), lambda m: "geometry"),
    (re.compile(r"^properties\.(width_m|width|宽度|路宽|带宽)$"), lambda m: "width_m"),
    (re.compile(r"^properties\.(radius_m|radius|半径)$"), lambda m: "radius_m"),
]


def api_field(library_field: str) -> str:
    """A geofence error field (``feature.geometry.coordinates.shell[3]``) → the API body's path
    (``geometry.coordinates[0][3]``)."""
    f = library_field.removeprefix("feature.")
    for pattern, repl in _FIELD_RULES:
        m = pattern.match(f)
        if m:
            return repl(m) + f[m.end():]
    return f or "geometry"


def fence_error(err: geofence.FenceError, *, field_name: str | None = None) -> InvalidInput:
    """A geofence.FenceError as the app's 400, naming the field of the request."""
    return InvalidInput(err.message_zh, err.message_en, field=field_name or api_field(err.field), code=err.code)


# ============================================================================ input → geofence.Fence


@dataclass(frozen=True)
class FenceSpec:
    """One fence as the API takes it: kind + GeoJSON geometry (+ radius / width) in a coordinate system.

    ``geometry`` is a GeoJSON geometry: Polygon / MultiPolygon (kind polygon), Point (circle) or
    LineString (corridor, the centre line).  Also accepted: ``{"type": "circle", "center": [lon, lat],
    "radius_m": r}`` and ``radius_m`` / ``width_m`` inside the geometry object."""

    name: str
    kind: str
    geometry: dict[str, Any]
    crs: str = "wgs84"
    radius_m: float | None = None
    width_m: float | None = None


_GEOMETRY_KIND = {"Polygon": "polygon", "MultiPolygon": "polygon", "Point": "circle", "LineString": "corridor"}


def _normalise_geometry(spec: FenceSpec) -> tuple[dict[str, Any], float | None, float | None]:
    geometry = spec.geometry
    if not isinstance(geometry, dict):
        raise invalid("geometry", "geometry 应为 GeoJSON 几何对象", "geometry must be a GeoJSON geometry object",
                      code="invalid_geojson")
    geometry = dict(geometry)
    radius, width = spec.radius_m, spec.width_m
    for key, current in (("radius_m", radius), ("width_m", width)):
        if key in geometry:
            inner = geometry.pop(key)
            if current is not None and inner != current:
                raise invalid(key, f"{key} 同时出现在 geometry 内外且取值不同", f"Two different values for {key}")
            if key == "radius_m":
                radius = inner
            else:
                width = inner
    gtype = geometry.get("type")
    if isinstance(gtype, str) and gtype.lower() == "circle":
        centre = geometry.pop("center", geometry.pop("centre", geometry.get("coordinates")))
        geometry = {"type": "Point", "coordinates": centre}
    extra = set(geometry) - {"type", "coordinates"}
    if extra:
        name = sorted(extra)[0]
        raise invalid(f"geometry.{name}", f"geometry 中有无法识别的字段 {name}", f"Unknown field geometry.{name}")
    return geometry, radius, width


def fence_feature(spec: FenceSpec) -> dict[str, Any]:
    """Validate ``spec`` up to its geometry (cheap) and return it as the GeoJSON Feature geofence builds."""
    kind = spec.kind
    if kind not in KINDS:
        raise invalid("kind", "围栏类型应为 polygon（多边形）、circle（圆形）或 corridor（带状）",
                      "kind must be polygon, circle or corridor", code="invalid_kind")
    _check_crs(spec.crs)
    name = (spec.name or "").strip()
    if not name:
        raise invalid("name", "请填写围栏名称", "The fence needs a name")
    if len(name) > NAME_MAX:
        raise invalid("name", f"围栏名称不能超过 {NAME_MAX} 个字符", f"Name longer than {NAME_MAX} characters")
    geometry, radius, width = _normalise_geometry(spec)
    gkind = _GEOMETRY_KIND.get(str(geometry.get("type")))
    if gkind is not None and gkind != kind:
        expected = {"polygon": "Polygon 或 MultiPolygon", "circle": "Point（圆心）", "corridor": "LineString（中心线）"}
        raise invalid("geometry.type", f"{KINDS[kind]}围栏的几何应为 {expected[kind]}，收到 {geometry.get('type')}",
                      f"A {kind} fence needs a {expected[kind].split('（')[0]} geometry, got {geometry.get('type')}",
                      code="kind_mismatch")
    if radius is not None and kind != "circle":
        raise invalid("radius_m", "只有圆形围栏才有半径", "Only circle fences have a radius", code="invalid_radius")
    if width is not None and kind != "corridor":
        raise invalid("width_m", "只有带状围栏才有宽度", "Only corridor fences have a width", code="invalid_width")
    props: dict[str, Any] = {"name": name}
    if radius is not None:
        props["radius_m"] = radius
    if width is not None:
        props["width_m"] = width
    return {"type": "Feature", "geometry": geometry, "properties": props}


def build_fence(spec: FenceSpec, fence_id: str = "new",
                limits: geofence.ImportLimits = geofence.ImportLimits()) -> geofence.Fence:
    """Validate ``spec`` and build the (WGS-84) fence; bad input → InvalidInput naming the field."""
    try:
        return build_feature_fence(fence_feature(spec), spec.crs, fence_id, limits)
    except geofence.FenceError as err:
        raise fence_error(err) from None


async def build_fence_bounded(spec: FenceSpec, rules: Rules, fence_id: str = "new", *,
                              runner: BoundedRunner | None) -> geofence.Fence:
    """``build_fence`` for a request: the vertices capped (``rules.fence_import_max_feature_vertices``) and the
    geometry built in a worker process with a time and memory cap (``runner``, the app's parse workers:
    ``backend.bounded``), off the event loop.  ``runner`` None: a trusted caller without an app (demo data,
    scripts, tests) — built in this process, with the same vertex cap."""
    feature = fence_feature(spec)
    limits = geofence.ImportLimits(max_feature_vertices=rules.fence_import_max_feature_vertices)
    try:
        if runner is None:
            return build_feature_fence(feature, spec.crs, fence_id, limits)
        return await runner.run(build_feature_fence, feature, spec.crs, fence_id, limits,
                                timeout_s=rules.fence_import_max_seconds, what_zh="围栏", what_en="fence")
    except geofence.FenceError as err:
        raise fence_error(err) from None


