"""Parsing an uploaded fence file (GeoJSON / KML / KMZ) into ``geofence.Fence`` objects — pure and bounded.

No database and no asyncio: :func:`parse_import` runs in a worker process (``backend.bounded``, called by
``backend.fences.services.import_fences``) with a wall-time and a memory cap.  The file is bounded before
it is parsed (security issue item 4): its size, a KMZ's members (checked from the zip's directory before
anything is unpacked), then the number of fences and of vertices (``geofence.ImportLimits``, counted on the
raw input before any geometry is built).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geofence
from backend.bounded import check_zip
from backend.errors import InvalidInput, PayloadTooLarge, invalid
from geofence.coords import CRS_VALUES

NAME_MAX = 100
# A fence more than this far from the project's registered location is accepted with a warning.
FAR_FROM_PROJECT_M = 20_000.0
_SIZE_CODES = ("too_many_features", "too_many_vertices")


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Bounds of one fence upload (``backend.rules``: fence_import_*, upload_max_compression_ratio)."""

    max_unpacked_bytes: int | None = None  # a KMZ's .kml; None = 4 × the file limit
    max_ratio: float = 100.0
    max_members: int = 1000  # what a KMZ may hold besides doc.kml (icons, overlays): members in all
    max_features: int | None = None
    max_feature_vertices: int | None = None
    max_vertices: int | None = None

    @classmethod
    def from_rules(cls, rules: object) -> UploadLimits:
        r = rules
        return cls(max_unpacked_bytes=r.fence_import_max_unpacked_bytes,  # type: ignore[attr-defined]
                   max_ratio=r.upload_max_compression_ratio,  # type: ignore[attr-defined]
                   max_members=r.upload_max_zip_members,  # type: ignore[attr-defined]
                   max_features=r.fence_import_max_features,  # type: ignore[attr-defined]
                   max_feature_vertices=r.fence_import_max_feature_vertices,  # type: ignore[attr-defined]
                   max_vertices=r.fence_import_max_vertices)  # type: ignore[attr-defined]

    @property
    def geofence(self) -> geofence.ImportLimits:
        return geofence.ImportLimits(max_features=self.max_features, max_feature_vertices=self.max_feature_vertices,
                                     max_vertices=self.max_vertices)


NO_LIMITS = UploadLimits()


def _check_crs(crs: str) -> None:
    if crs not in CRS_VALUES:
        raise invalid("crs", "坐标系应为 wgs84（GPS/天地图）或 gcj02（高德/腾讯）",
                      "crs must be wgs84 or gcj02", code="invalid_crs")


def decode_upload(data: bytes, filename: str, limit: int, limits: UploadLimits = NO_LIMITS) -> tuple[str, bytes]:
    """(format, text bytes) of an uploaded GeoJSON / KML / KMZ file."""
    name = (filename or "").lower()
    unpacked = limits.max_unpacked_bytes if limits.max_unpacked_bytes is not None else limit * 4
    if data[:4] == b"PK\x03\x04" or name.endswith(".kmz"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                check_zip(z, max_total=max(unpacked, 1) * 2, max_member=unpacked, max_ratio=limits.max_ratio,
                          max_members=limits.max_members, what_zh="KMZ 文件", what_en="KMZ file")
                kmls = [i for i in z.infolist() if i.filename.lower().endswith(".kml")]
                if not kmls:
                    raise invalid("file", "KMZ 文件中没有 .kml", "The KMZ holds no .kml file", code="invalid_kml")
                doc = next((i for i in kmls if i.filename.lower() == "doc.kml"), kmls[0])
                return "kml", z.read(doc)  # zipfile never unpacks more than the declared (checked) size
        except (zipfile.BadZipFile, EOFError, OSError, ValueError):
            raise invalid("file", "KMZ 文件损坏，无法解压", "The KMZ file is not a valid zip", code="invalid_kml") from None
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if name.endswith(".kml") or head == b"<":
        return "kml", data
    if name.endswith((".geojson", ".json")) or head in (b"{", b"["):
        return "geojson", data
    raise invalid("file", "请上传 GeoJSON（.geojson/.json）、KML 或 KMZ 文件",
                  "Upload a GeoJSON, KML or KMZ file", code="unsupported_file")


def parse_import(data: bytes, filename: str, crs: str, limit: int,
                 limits: UploadLimits = NO_LIMITS) -> list[geofence.Fence]:
    """Every fence in the file (WGS-84); one bad feature refuses the whole file, naming it."""
    _check_crs(crs)
    if not data:
        raise invalid("file", "请选择要导入的文件", "Choose a file to import", code="missing_file")
    if len(data) > limit:
        raise PayloadTooLarge(f"文件过大（{len(data) // 1024} KB，上限 {limit // 1024} KB）",
                              f"File too large ({len(data)} bytes, limit {limit})", field="file")
    fmt, text = decode_upload(data, filename, limit, limits)
    try:
        if fmt == "kml":
            fences = geofence.fences_from_kml(text, crs, limits=limits.geofence)
        else:
            try:
                decoded = text.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise invalid("file", "GeoJSON 文件须为 UTF-8 编码", "GeoJSON must be UTF-8",
                              code="invalid_geojson") from None
            try:
                obj = json.loads(decoded)
            except (ValueError, RecursionError) as exc:
                raise geofence.FenceError("invalid_geojson", "", "不是有效的 JSON", f"Not valid JSON: {exc}") from None
            fences = geofence.fences_from_geojson(obj, crs, limits=limits.geofence)
    except geofence.FenceError as err:
        where = f"（位置：{err.field}）" if err.field else ""
        cls = PayloadTooLarge if err.code in _SIZE_CODES else InvalidInput
        raise cls(f"{err.message_zh}{where}", f"{err.message_en}" + (f" (at {err.field})" if err.field else ""),
                  field="file", code=err.code, extra={"path": err.field}) from None
    if not fences:
        raise invalid("file", "文件中没有围栏", "The file holds no fence", code="empty_file")
    return fences


def build_feature_fence(feature: dict[str, Any], crs: str, fence_id: str,
                        limits: geofence.ImportLimits) -> geofence.Fence:
    """One fence of the JSON API (the Feature ``services.spec.fence_feature`` checked), built in the worker:
    a request body may hold hundreds of thousands of vertices (GCJ-02 densifies them)."""
    return geofence.fence_from_geojson(feature, crs, fence_id=fence_id, limits=limits)


# ============================================================================ per-fence work (in the worker too)


def fence_warnings(fence: geofence.Fence, project: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """What to tell the user about a valid fence: a repaired polygon, a fence far from the project."""
    out: list[dict[str, str]] = []
    if fence.repaired:
        out.append({
            "code": "polygon_repaired", "field": "geometry",
            "message": "多边形边线自相交，已自动修复为有效区域（可能拆分为多块），请在地图上核对",
            "message_en": "The polygon intersected itself and was repaired (possibly split into parts); check it",
        })
    if project and project.get("lon") is not None and project.get("lat") is not None:
        try:
            d = geofence.distance_m(fence, float(project["lon"]), float(project["lat"]))
        except geofence.FenceError:
            d = 0.0
        if d > FAR_FROM_PROJECT_M:
            out.append({
                "code": "far_from_project", "field": "geometry",
                "message": f"围栏距项目登记位置 {d / 1000:.1f} 公里，请确认坐标与坐标系是否正确",
                "message_en": f"The fence is {d / 1000:.1f} km from the project's location; check coordinates and crs",
            })
    return out


@dataclass(frozen=True, slots=True)
class PreparedFence:
    """One imported fence with everything the service needs to show or store it."""

    fence: geofence.Fence  # WGS-84, validated, named
    definition: dict[str, Any]  # geofence.fence_to_dict (the id is replaced when stored)
    feature: dict[str, Any]  # map feature (geofence.to_geojson; properties.outline for circle / corridor)
    warnings: list[dict[str, str]]


def prepare_import(data: bytes, filename: str, crs: str, limit: int, limits: UploadLimits,
                   project: Mapping[str, Any] | None) -> list[PreparedFence]:
    """:func:`parse_import` plus the per-fence work, so that the event loop only writes rows."""
    out = []
    for i, f in enumerate(parse_import(data, filename, crs, limit, limits)):
        name = (f.name or "").strip()[:NAME_MAX] or f"导入围栏 {i + 1}"
        named = geofence.Fence(f.id, f.kind, f.geometry, f.radius_m, f.width_m, name, f.repaired)
        feature = geofence.to_geojson(named)
        if named.kind is not geofence.FenceKind.POLYGON:
            feature["properties"]["outline"] = geofence.to_geojson(named, as_polygon=True)["geometry"]
        out.append(PreparedFence(named, geofence.fence_to_dict(named), feature, fence_warnings(named, project)))
    return out
