"""Fences in and out: GeoJSON, KML, the map, and the database JSON column.

* :func:`fences_from_geojson` / :func:`fence_from_geojson` — Feature, FeatureCollection
  or a bare geometry.  Polygon / MultiPolygon → polygon fence; LineString with
  ``properties.width_m`` → corridor; Point with ``properties.radius_m`` → circle.
  The geometry type decides the kind (``properties.kind`` is ignored on input).
* :func:`fences_from_kml` — every Placemark: Polygon (outer/inner boundaries),
  MultiGeometry of Polygons, LineString + width, Point + radius.  Width and radius
  come from ExtendedData (``width_m``/``width``/``宽度``, ``radius_m``/``radius``/``半径``)
  or from the description ("宽度: 30 米", "width=30").  DTDs and entities are refused by the
  XML parser itself (defusedxml), whatever the file's encoding (UTF-16 included).
* Both importers take :class:`ImportLimits` (feature count, vertices per feature and in
  total): a file over a limit is refused with ``too_many_features`` / ``too_many_vertices``
  before any geometry is built.
* :func:`to_geojson` — a Feature for the map (circle → Point + ``radius_m``, corridor →
  LineString + ``width_m``), optionally in GCJ-02 for Chinese base maps, or the
  fence's area as a polygon (:func:`display_polygon`).
* :func:`fence_to_dict` / :func:`fence_from_dict` — the storage form (JSON-safe,
  WGS-84, exact round trip), and the same for :class:`FenceVersion`.

Input files may be in WGS-84 or GCJ-02 (``crs="gcj02"``: densified to 50 m, then
converted exactly); everything returned is WGS-84 unless asked otherwise.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import defusedxml
import defusedxml.ElementTree as DET
import numpy as np
import shapely
from pyproj.enums import TransformDirection
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geofence.coords import CRS_VALUES, geometry_wgs84_to_gcj02, wgs84_to_gcj02
from geofence.errors import FenceError
from geofence.fence import (
    Fence,
    FenceKind,
    FenceVersion,
    _check_crs,
    as_positions,
    check_positions,
    circle_fence,
    corridor_fence,
    polygon_fence,
)

STORAGE_SCHEMA = 1

_WIDTH_KEYS = ("width_m", "width", "宽度", "路宽", "带宽")
_RADIUS_KEYS = ("radius_m", "radius", "半径")
_ID_KEYS = ("id", "fence_id", "编号")
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_WIDTH_RE = re.compile(r"(?:width(?:_m)?|宽度|路宽|带宽)\s*[:：=]?\s*" + _NUMBER, re.IGNORECASE)
_RADIUS_RE = re.compile(r"(?:radius(?:_m)?|半径)\s*[:：=]?\s*" + _NUMBER, re.IGNORECASE)


def _invalid_geojson(field: str, zh: str, en: str) -> FenceError:
    return FenceError("invalid_geojson", field, zh, en)


def _prefixed(err: FenceError, prefix: str) -> FenceError:
    return FenceError(err.code, f"{prefix}.{err.field}" if err.field else prefix, err.message_zh, err.message_en)


def _number(value: Any, field: str, code: str, zh: str, en: str) -> float:
    if isinstance(value, bool):
        raise FenceError(code, field, f"{zh}必须是数字", f"{en} must be a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().removesuffix("米").removesuffix("m").strip())
        except ValueError:
            pass
    raise FenceError(code, field, f"{zh}必须是数字", f"{en} must be a number")


def _lookup(props: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    lowered = {str(k).lower(): (k, v) for k, v in props.items()}
    for key in keys:
        if key in lowered and lowered[key][1] not in (None, ""):
            return lowered[key]
    return None


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Upper bounds for one imported file (``None`` = no bound): fences, vertices of one fence, and
    vertices of all fences together.  Checked on the raw input, before any geometry is built."""

    max_features: int | None = None
    max_feature_vertices: int | None = None
    max_vertices: int | None = None

    def check_features(self, count: int, field: str) -> None:
        if self.max_features is not None and count > self.max_features:
            raise FenceError(
                "too_many_features",
                field,
                f"文件中的围栏过多（{count} 个，上限 {self.max_features} 个），请拆分文件",
                f"The file holds {count} fences (limit {self.max_features}); split it",
            )


class _VertexBudget:
    def __init__(self, limits: ImportLimits) -> None:
        self.limits = limits
        self.total = 0

    def spend(self, count: int, field: str) -> None:
        lim = self.limits
        if lim.max_feature_vertices is not None and count > lim.max_feature_vertices:
            raise FenceError(
                "too_many_vertices",
                field,
                f"围栏顶点过多（{count} 个，单个围栏上限 {lim.max_feature_vertices} 个），请简化后重试",
                f"The fence has {count} vertices (limit {lim.max_feature_vertices} per fence); simplify it",
            )
        self.total += count
        if lim.max_vertices is not None and self.total > lim.max_vertices:
            raise FenceError(
                "too_many_vertices",
                field,
                f"文件中的顶点总数过多（超过 {lim.max_vertices} 个），请简化或拆分文件",
                f"The file holds more than {lim.max_vertices} vertices in all; simplify or split it",
            )


NO_LIMITS = ImportLimits()


def _count_positions(value: Any, depth: int = 0) -> int:
    """Positions in a GeoJSON ``coordinates`` value (nested lists; a position is a list of numbers)."""
    if not isinstance(value, list) or depth > 4:
        return 0
    if not value or not isinstance(value[0], list):
        return 1
    return sum(_count_positions(v, depth + 1) for v in value)


# --- GeoJSON in -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _GeoJSONShape:
    """A GeoJSON geometry to build a fence from, with the paths its errors are reported under."""

    coords: Any
    props: Mapping[str, Any]
    fence_id: str
    name: str
    crs: str
    cpath: str  # the geometry's coordinates
    ppath: str  # the feature's properties


def _fence_from_geometry(
    geometry: Any, props: Mapping[str, Any], fence_id: str, crs: str, path: str, owner: str = ""
) -> Fence:
    """``path`` names the geometry in error fields, ``owner`` the feature holding the properties."""
    ppath = f"{owner}.properties" if owner else "properties"
    if not isinstance(geometry, Mapping):
        raise _invalid_geojson(path, "缺少几何对象", "Missing geometry object")
    gtype = geometry.get("type")
    build = _GEOJSON_BUILDERS.get(gtype) if isinstance(gtype, str) else None
    if build is None:
        raise FenceError(
            "unsupported_geometry",
            f"{path}.type",
            f"不支持的几何类型 {gtype!r}（支持 Polygon、MultiPolygon、LineString、Point）",
            f"Unsupported geometry type {gtype!r} (use Polygon, MultiPolygon, LineString or Point)",
        )
    shape = _GeoJSONShape(
        geometry.get("coordinates"), props, fence_id, _display_name(props), crs, f"{path}.coordinates", ppath
    )
    try:
        return build(shape)
    except FenceError as err:
        moved = _relocated(err, path, shape)
        if moved is err:
            raise
        raise moved from None


def _display_name(props: Mapping[str, Any]) -> str:
    name = props.get("name") or props.get("名称") or ""
    return name if isinstance(name, str) else str(name)


def _relocated(err: FenceError, path: str, shape: _GeoJSONShape) -> FenceError:
    """An error of the fence builders, its field put under the geometry's or the feature's path."""
    if err.field.startswith((path, shape.ppath)):
        return err
    if err.field in ("width_m", "radius_m"):
        return FenceError(err.code, f"{shape.ppath}.{err.field}", err.message_zh, err.message_en)
    if err.field.startswith("properties."):
        return FenceError(
            err.code, f"{shape.ppath}{err.field.removeprefix('properties')}", err.message_zh, err.message_en
        )
    return _prefixed(err, shape.cpath)


def _geojson_polygon(g: _GeoJSONShape) -> Fence:
    if not isinstance(g.coords, list) or not g.coords:
        raise _invalid_geojson(g.cpath, "多边形坐标格式错误", "Polygon coordinates must be a list of rings")
    return polygon_fence(g.fence_id, g.coords[0], g.coords[1:], name=g.name, crs=g.crs)


def _geojson_multipolygon(g: _GeoJSONShape) -> Fence:
    if not isinstance(g.coords, list) or not g.coords:
        raise _invalid_geojson(g.cpath, "多边形坐标格式错误", "MultiPolygon coordinates must be a list")
    polygons = [_geojson_rings(rings, f"{g.cpath}[{k}]") for k, rings in enumerate(g.coords)]
    return polygon_fence(g.fence_id, MultiPolygon(polygons), name=g.name, crs=g.crs)


def _geojson_rings(rings: Any, path: str) -> Polygon:
    """One polygon of a MultiPolygon: every ring valid and of at least 3 distinct points."""
    if not isinstance(rings, list) or not rings:
        raise _invalid_geojson(path, "多边形坐标格式错误", "Each polygon must be a list of rings")
    xys = [as_positions(ring, f"{path}[{r}]") for r, ring in enumerate(rings)]
    for r, xy in enumerate(xys):
        check_positions(xy, f"{path}[{r}]")
        if len({(float(a), float(b)) for a, b in xy}) < 3:
            raise FenceError(
                "too_few_points", f"{path}[{r}]", "多边形至少需要 3 个不同的顶点", "A polygon needs at least 3 distinct points"
            )
    return Polygon(xys[0], xys[1:])


def _geojson_corridor(g: _GeoJSONShape) -> Fence:
    found = _lookup(g.props, _WIDTH_KEYS)
    if found is None:
        raise FenceError(
            "missing_width",
            f"{g.ppath}.width_m",
            "带状围栏（线）需要在 properties.width_m 中给出宽度（米）",
            "A LineString fence needs its total width in properties.width_m",
        )
    width = _number(found[1], f"properties.{found[0]}", "invalid_width", "宽度", "Width")
    return corridor_fence(g.fence_id, g.coords, width, name=g.name, crs=g.crs)


def _geojson_circle(g: _GeoJSONShape) -> Fence:
    found = _lookup(g.props, _RADIUS_KEYS)
    if found is None:
        raise FenceError(
            "missing_radius",
            f"{g.ppath}.radius_m",
            "圆形围栏（点）需要在 properties.radius_m 中给出半径（米）",
            "A Point fence needs its radius in properties.radius_m",
        )
    radius = _number(found[1], f"properties.{found[0]}", "invalid_radius", "半径", "Radius")
    if not isinstance(g.coords, list) or len(g.coords) not in (2, 3):
        raise _invalid_geojson(g.cpath, "点坐标应为 [经度, 纬度]", "Point coordinates must be [lon, lat]")
    xy = as_positions([g.coords], g.cpath)
    return circle_fence(g.fence_id, float(xy[0, 0]), float(xy[0, 1]), radius, name=g.name, crs=g.crs)


_GEOJSON_BUILDERS: dict[str, Callable[[_GeoJSONShape], Fence]] = {
    "Polygon": _geojson_polygon,
    "MultiPolygon": _geojson_multipolygon,
    "LineString": _geojson_corridor,
    "Point": _geojson_circle,
}


def _feature_id(feature: Mapping[str, Any], props: Mapping[str, Any], default: str) -> str:
    fid = feature.get("id")
    if fid in (None, ""):
        found = _lookup(props, _ID_KEYS)
        fid = found[1] if found else None
    return str(fid) if fid not in (None, "") else default


def _fence_from_feature(feature: Mapping[str, Any], crs: str, default_id: str, path: str) -> Fence:
    props = feature.get("properties") or {}
    if not isinstance(props, Mapping):
        raise _invalid_geojson(f"{path}.properties", "properties 必须是对象", "properties must be an object")
    fence_id = _feature_id(feature, props, default_id)
    return _fence_from_geometry(feature.get("geometry"), props, fence_id, crs, f"{path}.geometry", path)


def _geometry_positions(geometry: Any) -> int:
    return _count_positions(geometry.get("coordinates")) if isinstance(geometry, Mapping) else 0


def fences_from_geojson(
    obj: Any, crs: str = "wgs84", *, id_prefix: str = "fence-", limits: ImportLimits = NO_LIMITS
) -> list[Fence]:
    """All fences in a GeoJSON FeatureCollection, Feature or geometry (dict or JSON text).

    Ids come from ``feature.id``, else ``properties.id``/``fence_id``, else
    ``{id_prefix}{n}`` (n counts from 1).  ``limits`` bounds the features and vertices
    (checked before any fence is built).
    """
    _check_crs(crs)
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except ValueError as exc:
            raise _invalid_geojson("", "不是有效的 JSON", f"Not valid JSON: {exc}") from None
    if not isinstance(obj, Mapping):
        raise _invalid_geojson("", "GeoJSON 必须是对象", "GeoJSON must be an object")
    gtype = obj.get("type")
    if gtype == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise _invalid_geojson("features", "features 必须是数组", "features must be an array")
        limits.check_features(len(features), "features")
        budget = _VertexBudget(limits)
        for i, feature in enumerate(features):
            if isinstance(feature, Mapping):
                budget.spend(_geometry_positions(feature.get("geometry")), f"features[{i}].geometry")
        out = []
        for i, feature in enumerate(features):
            if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
                raise _invalid_geojson(f"features[{i}]", "不是 Feature 对象", "Not a Feature object")
            out.append(_fence_from_feature(feature, crs, f"{id_prefix}{i + 1}", f"features[{i}]"))
        return out
    if gtype == "Feature":
        _VertexBudget(limits).spend(_geometry_positions(obj.get("geometry")), "feature.geometry")
        return [_fence_from_feature(obj, crs, f"{id_prefix}1", "feature")]
    if gtype in ("Polygon", "MultiPolygon", "LineString", "Point"):
        _VertexBudget(limits).spend(_geometry_positions(obj), "geometry")
        return [_fence_from_geometry(obj, {}, f"{id_prefix}1", crs, "geometry")]
    if gtype in ("MultiLineString", "MultiPoint", "GeometryCollection"):
        raise FenceError(
            "unsupported_geometry",
            "type",
            f"不支持的几何类型 {gtype!r}（支持 Polygon、MultiPolygon、LineString、Point）",
            f"Unsupported geometry type {gtype!r} (use Polygon, MultiPolygon, LineString or Point)",
        )
    raise _invalid_geojson("type", f"不支持的 GeoJSON 类型 {gtype!r}", f"Unsupported GeoJSON type {gtype!r}")


def fence_from_geojson(
    obj: Any, crs: str = "wgs84", *, fence_id: str | None = None, limits: ImportLimits = NO_LIMITS
) -> Fence:
    """Exactly one fence from a Feature, a geometry or a one-feature FeatureCollection.

    ``fence_id`` overrides the id found in the input (a bare geometry has none: it
    then becomes ``fence-1``).  ``limits`` as in :func:`fences_from_geojson`.
    """
    fences = fences_from_geojson(obj, crs, limits=limits)
    if len(fences) != 1:
        raise _invalid_geojson(
            "features",
            f"应只包含 1 个围栏，实际 {len(fences)} 个（请用 fences_from_geojson）",
            f"Expected exactly one fence, found {len(fences)} (use fences_from_geojson)",
        )
    fence = fences[0]
    if fence_id is not None and fence_id != fence.id:
        return Fence(fence_id, fence.kind, fence.geometry, fence.radius_m, fence.width_m, fence.name, fence.repaired)
    return fence


# --- KML in -------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _descendants(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el.iter() if _local(c.tag) == name and c is not el]


def _kml_positions(el: ET.Element | None, field: str) -> list[list[float]]:
    coords = None if el is None else _child(el, "coordinates")
    if coords is None or not (coords.text or "").strip():
        raise FenceError("invalid_kml", field, "缺少坐标", "Missing <coordinates>")
    text = re.sub(r"\s*,\s*", ",", coords.text.strip())
    out: list[list[float]] = []
    for i, token in enumerate(text.split()):
        parts = token.split(",")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            out.append([float(parts[0]), float(parts[1])])
        except ValueError:
            raise FenceError(
                "invalid_coordinates",
                f"{field}[{i}]",
                f"无法解析坐标 {token!r}（应为 经度,纬度[,高度]）",
                f"Cannot parse coordinate {token!r} (expected lon,lat[,alt])",
            ) from None
    return out


def _kml_polygon_rings(poly: ET.Element, field: str) -> tuple[list[list[float]], list[list[list[float]]]]:
    outer = _child(poly, "outerBoundaryIs")
    ring = None if outer is None else _child(outer, "LinearRing")
    if ring is None:
        raise FenceError(
            "invalid_kml", f"{field}.outerBoundaryIs", "多边形缺少外边界", "Polygon without outerBoundaryIs"
        )
    shell = _kml_positions(ring, f"{field}.outerBoundaryIs")
    holes = []
    for h, inner in enumerate(c for c in poly if _local(c.tag) == "innerBoundaryIs"):
        for r in (c for c in inner if _local(c.tag) == "LinearRing"):
            holes.append(_kml_positions(r, f"{field}.innerBoundaryIs[{h}]"))
    return shell, holes


def _kml_data(pm: ET.Element) -> dict[str, str]:
    data: dict[str, str] = {}
    ext = _child(pm, "ExtendedData")
    if ext is None:
        return data
    for el in ext.iter():
        tag = _local(el.tag)
        if tag == "Data" and el.get("name"):
            value = _child(el, "value")
            data[el.get("name", "")] = (value.text or "").strip() if value is not None else ""
        elif tag == "SimpleData" and el.get("name"):
            data[el.get("name", "")] = (el.text or "").strip()
    return data


def _kml_number(
    data: dict[str, str], description: str, keys: tuple[str, ...], pattern: re.Pattern[str]
) -> tuple[str, Any] | None:
    found = _lookup(data, keys)
    if found is not None:
        return found
    match = pattern.search(description)
    return ("description", match.group(1)) if match else None


def _kml_vertex_count(pm: ET.Element) -> int:
    return sum(
        len(re.sub(r"\s*,\s*", ",", el.text or "").split()) for el in pm.iter() if _local(el.tag) == "coordinates"
    )


def fences_from_kml(
    text: str | bytes, crs: str = "wgs84", *, id_prefix: str = "kml-", limits: ImportLimits = NO_LIMITS
) -> list[Fence]:
    """Every Placemark of a KML document as a fence (KMZ: unzip ``doc.kml`` first).

    Ids come from the Placemark's ``id`` attribute, else ExtendedData ``id``/``fence_id``,
    else ``{id_prefix}{n}``; names from ``<name>``.  A DTD (hence any entity) is refused by
    the parser after decoding, in whatever encoding the document declares.  ``limits``
    bounds the placemarks and vertices (checked before any fence is built).
    """
    _check_crs(crs)
    placemarks = _kml_placemarks(_parse_kml(text))
    limits.check_features(len(placemarks), "Placemark")
    budget = _VertexBudget(limits)
    for i, pm in enumerate(placemarks):
        budget.spend(_kml_vertex_count(pm), f"Placemark[{i}]")
    return [_fence_from_placemark(pm, crs, f"{id_prefix}{i + 1}", f"Placemark[{i}]") for i, pm in enumerate(placemarks)]


def _parse_kml(text: str | bytes) -> ET.Element:
    try:
        return DET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise FenceError("invalid_kml", "", "KML 文件不能包含 DTD 或实体", "KML with a DTD or entities is refused") from None
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise FenceError("invalid_kml", "", f"KML 解析失败：{exc}", f"Cannot parse KML: {exc}") from None


def _kml_placemarks(root: ET.Element) -> list[ET.Element]:
    placemarks = [el for el in root.iter() if _local(el.tag) == "Placemark"]
    if not placemarks:
        raise FenceError("invalid_kml", "", "KML 中没有 Placemark", "The KML has no Placemark")
    return placemarks


@dataclass(frozen=True, slots=True)
class _Placemark:
    """What a Placemark says about its fence besides the geometry."""

    fence_id: str
    name: str
    description: str
    data: dict[str, str]  # ExtendedData


def _placemark_meta(pm: ET.Element, default_id: str) -> _Placemark:
    name_el = _child(pm, "name")
    desc_el = _child(pm, "description")
    data = _kml_data(pm)
    found_id = _lookup(data, _ID_KEYS)
    return _Placemark(
        fence_id=pm.get("id") or (str(found_id[1]) if found_id else default_id),
        name=(name_el.text or "").strip() if name_el is not None else "",
        description=(desc_el.text or "") if desc_el is not None else "",
        data=data,
    )


def _fence_from_placemark(pm: ET.Element, crs: str, default_id: str, path: str) -> Fence:
    meta = _placemark_meta(pm, default_id)
    geoms = [c for c in pm if _local(c.tag) in ("Polygon", "LineString", "Point", "MultiGeometry")]
    if not geoms:
        raise FenceError(
            "unsupported_geometry", path, "Placemark 中没有多边形、线或点", "Placemark has no Polygon, LineString or Point"
        )
    try:
        return _kml_fence(geoms[0], meta, crs)
    except FenceError as err:
        raise _prefixed(err, path) from None


def _kml_fence(geom: ET.Element, meta: _Placemark, crs: str) -> Fence:
    """The fence of a Placemark's first geometry (error fields relative to the Placemark)."""
    if _local(geom.tag) == "MultiGeometry":
        members = [c for c in geom if _local(c.tag) in ("Polygon", "LineString", "Point")]
        if members and all(_local(m.tag) == "Polygon" for m in members):
            return _kml_multipolygon(members, meta, crs)
        if len(members) != 1:
            raise FenceError(
                "unsupported_geometry",
                "MultiGeometry",
                "MultiGeometry 只能包含多个多边形或一个几何",
                "A MultiGeometry must hold polygons only, or a single geometry",
            )
        geom = members[0]
    return _KML_BUILDERS[_local(geom.tag)](geom, meta, crs)


def _kml_multipolygon(members: list[ET.Element], meta: _Placemark, crs: str) -> Fence:
    polygons = [_kml_polygon_rings(m, f"Polygon[{k}]") for k, m in enumerate(members)]
    for k, (shell, holes) in enumerate(polygons):
        for r, ring in enumerate([shell, *holes]):
            check_positions(as_positions(ring, f"Polygon[{k}][{r}]"), f"Polygon[{k}][{r}]")
    multi = MultiPolygon([Polygon(s, h) for s, h in polygons])
    return polygon_fence(meta.fence_id, multi, name=meta.name, crs=crs)


def _kml_polygon(geom: ET.Element, meta: _Placemark, crs: str) -> Fence:
    shell, holes = _kml_polygon_rings(geom, "Polygon")
    return polygon_fence(meta.fence_id, shell, holes, name=meta.name, crs=crs)


def _kml_corridor(geom: ET.Element, meta: _Placemark, crs: str) -> Fence:
    found = _kml_number(meta.data, meta.description, _WIDTH_KEYS, _WIDTH_RE)
    if found is None:
        raise FenceError(
            "missing_width",
            "ExtendedData.width_m",
            "线状围栏需要宽度（ExtendedData 的 width_m，或描述中的“宽度 30 米”）",
            "A LineString needs a width (ExtendedData width_m, or 'width: 30' in the description)",
        )
    width = _number(found[1], found[0], "invalid_width", "宽度", "Width")
    return corridor_fence(meta.fence_id, _kml_positions(geom, "LineString"), width, name=meta.name, crs=crs)


def _kml_circle(geom: ET.Element, meta: _Placemark, crs: str) -> Fence:
    found = _kml_number(meta.data, meta.description, _RADIUS_KEYS, _RADIUS_RE)
    if found is None:
        raise FenceError(
            "missing_radius",
            "ExtendedData.radius_m",
            "点状围栏需要半径（ExtendedData 的 radius_m，或描述中的“半径 100 米”）",
            "A Point needs a radius (ExtendedData radius_m, or 'radius: 100' in the description)",
        )
    radius = _number(found[1], found[0], "invalid_radius", "半径", "Radius")
    pos = _kml_positions(geom, "Point")
    if len(pos) != 1:
        raise FenceError("invalid_kml", "Point", "点只能有一个坐标", "A Point has exactly one coordinate")
    return circle_fence(meta.fence_id, pos[0][0], pos[0][1], radius, name=meta.name, crs=crs)


_KML_BUILDERS: dict[str, Callable[[ET.Element, _Placemark, str], Fence]] = {
    "Polygon": _kml_polygon,
    "LineString": _kml_corridor,
    "Point": _kml_circle,
}


# --- out: map, storage -------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Tuples → lists, numpy floats → float (JSON-safe GeoJSON coordinates)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.floating):
        return float(value)
    return value


def geometry_to_geojson(geometry: BaseGeometry) -> dict[str, Any]:
    """A shapely geometry as a GeoJSON geometry dict (full float precision, lists)."""
    return _plain(shapely.geometry.mapping(geometry))


def display_polygon(fence: Fence, *, simplify_m: float = 0.1) -> Polygon | MultiPolygon:
    """The fence's area as a WGS-84 polygon (circle and corridor approximated), for maps.

    Arcs are drawn in the fence's local projection and simplified to ``simplify_m``.
    """
    if fence.kind is FenceKind.POLYGON:
        return fence.geometry  # type: ignore[return-value]
    area = fence.area_polygon_m()
    if simplify_m > 0:
        area = shapely.simplify(area, simplify_m)
    transformer = fence._prepared.transformer

    def inverse(xy: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(xy[:, 0], xy[:, 1], direction=TransformDirection.INVERSE)
        return np.column_stack([lon, lat])

    return shapely.transform(area, inverse)  # type: ignore[return-value]


def to_geojson(fence: Fence, *, crs: str = "wgs84", as_polygon: bool = False) -> dict[str, Any]:
    """A GeoJSON Feature for the map.

    Circle → Point + ``properties.radius_m``; corridor → LineString + ``properties.width_m``;
    polygon → Polygon/MultiPolygon.  ``as_polygon=True`` exports the area polygon
    instead (``properties.display_only = true``).  ``crs="gcj02"`` converts the
    (densified) coordinates for Amap/Tencent tiles; distances stay in metres.
    """
    _check_crs(crs)
    geometry: BaseGeometry = display_polygon(fence) if as_polygon else fence.geometry
    if crs == "gcj02":
        if isinstance(geometry, Point):
            geometry = Point(*wgs84_to_gcj02(geometry.x, geometry.y))
        else:
            geometry = geometry_wgs84_to_gcj02(geometry)
    props: dict[str, Any] = {"id": fence.id, "kind": fence.kind.value, "name": fence.name, "crs": crs}
    if fence.radius_m is not None:
        props["radius_m"] = fence.radius_m
    if fence.width_m is not None:
        props["width_m"] = fence.width_m
    if fence.repaired:
        props["repaired"] = True
    if as_polygon:
        props["display_only"] = True
    return {"type": "Feature", "id": fence.id, "geometry": geometry_to_geojson(geometry), "properties": props}


def fence_to_dict(fence: Fence) -> dict[str, Any]:
    """The storage form of a fence (for a JSON column): WGS-84, full precision, versioned."""
    return {
        "schema": STORAGE_SCHEMA,
        "id": fence.id,
        "kind": fence.kind.value,
        "name": fence.name,
        "geometry": geometry_to_geojson(fence.geometry),
        "radius_m": fence.radius_m,
        "width_m": fence.width_m,
        "repaired": fence.repaired,
    }


def fence_from_dict(data: Mapping[str, Any]) -> Fence:
    """Inverse of :func:`fence_to_dict` (re-validates; exact round trip)."""
    if not isinstance(data, Mapping):
        raise FenceError("invalid_fence_data", "", "围栏数据必须是对象", "Fence data must be an object")
    schema = data.get("schema", STORAGE_SCHEMA)
    if schema != STORAGE_SCHEMA:
        raise FenceError(
            "invalid_fence_data", "schema", f"不支持的数据版本 {schema!r}", f"Unsupported fence schema {schema!r}"
        )
    try:
        geometry = shapely.geometry.shape(data["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
        raise FenceError("invalid_fence_data", "geometry", "几何数据无效", f"Invalid geometry: {exc}") from None
    if isinstance(geometry, (LineString, Point, Polygon, MultiPolygon)):
        return Fence(
            id=data.get("id"),  # type: ignore[arg-type]
            kind=data.get("kind"),  # type: ignore[arg-type]
            geometry=geometry,
            radius_m=data.get("radius_m"),
            width_m=data.get("width_m"),
            name=data.get("name") or "",
            repaired=bool(data.get("repaired", False)),
        )
    raise FenceError(
        "unsupported_geometry", "geometry", f"不支持的几何类型 {geometry.geom_type}", "Unsupported geometry"
    )


def version_to_dict(version: FenceVersion) -> dict[str, Any]:
    """Storage form of a :class:`FenceVersion` (ISO 8601 datetimes with offset)."""
    return {
        "fence": fence_to_dict(version.fence),
        "valid_from": version.valid_from.isoformat(),
        "valid_to": version.valid_to.isoformat() if version.valid_to is not None else None,
        "version": version.version,
    }


def version_from_dict(data: Mapping[str, Any]) -> FenceVersion:
    def when(value: Any, field: str) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            raise FenceError("invalid_fence_data", field, "时间格式无效", f"Invalid datetime {value!r}") from None

    valid_from = when(data.get("valid_from"), "valid_from")
    if valid_from is None:
        raise FenceError("invalid_fence_data", "valid_from", "缺少生效时间", "valid_from is required")
    return FenceVersion(
        fence=fence_from_dict(data["fence"]),
        valid_from=valid_from,
        valid_to=when(data.get("valid_to"), "valid_to"),
        version=int(data.get("version", 1)),
    )


__all__ = [
    "CRS_VALUES",
    "ImportLimits",
    "display_polygon",
    "fence_from_dict",
    "fence_from_geojson",
    "fence_to_dict",
    "fences_from_geojson",
    "fences_from_kml",
    "geometry_to_geojson",
    "to_geojson",
    "version_from_dict",
    "version_to_dict",
]
