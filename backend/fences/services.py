"""Electronic fences of projects (stored, versioned) and the decisions against them.

* Store: ``create_fence`` / ``update_fence`` / ``delete_fence`` / ``import_fences``.  An edit closes the
  current version (``valid_to = now``) and opens the next in one write transaction; a delete closes it.
  Definitions are ``geofence.fence_to_dict`` (WGS-84); GCJ-02 input is converted on the way in.
* One fix: ``judge_fix`` (called by the phone clock-in) judges against the versions active at the
  capture time, then adds the spoofing review flags over the person's recent mobile punches.
* Many fixes: ``judge_many`` / ``rejudge`` (vectorised ``geofence.FenceIndex``) and ``map_features``
  (the supervisor map's GeoJSON, hooked by ``backend.supervision.services.fence_features``).

Caching: a version row never changes after it is written (except for closing it), so a built
``geofence.Fence`` is cached per (fence id, version) in every process.  Each judgement asks the
database which (fence id, version) pairs were active at the capture time — one small indexed query,
the "version stamp" — and builds only pairs it has not seen.  An edit in another process therefore
shows up at the next judgement, and nothing stale can be served.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

import geofence
from backend.accounts.services import CurrentUser, require_project
from backend.attendance.tables import Punch
from backend.bounded import get_runner
from backend.db import write_transaction
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound, invalid
from backend.fences.tables import ProjectFence, ProjectFenceVersion
from backend.fences.upload import (  # noqa: F401 - re-exported: the service's own names
    FAR_FROM_PROJECT_M,
    NAME_MAX,
    PreparedFence,
    UploadLimits,
    decode_upload,
    fence_warnings,
    parse_import,
    prepare_import,
)
from backend.org.services import rules_for_project
from backend.org.tables import Project
from backend.rules import Rules
from backend.vocabulary import FENCE_KIND_ZH, Role, Source

log = logging.getLogger("smz.fences")

KINDS: dict[str, str] = FENCE_KIND_ZH  # backend/vocabulary.py
CRS_LABELS: dict[str, str] = {"wgs84": "WGS-84", "gcj02": "GCJ-02"}
EDITOR_ROLES = frozenset({Role.admin, Role.enterprise, Role.project_staff})
JUDGE_MAX_POINTS = 10_000

# Codes the fence check can put on a punch, in decide()'s order of precedence.
FENCE_REJECTIONS = ("invalid_coordinates", "invalid_accuracy", "no_fence", "low_gps_accuracy", "outside_fence")
FENCE_FLAGS = ("near_edge",)
CODE_ZH: dict[str, str] = {**geofence.REASON_ZH, "accepted": "围栏内（通过）"}
VERDICT_ZH = {"accepted": "通过", "flagged": "通过（待复核）", "rejected": "拒绝"}


# ============================================================================ results


@dataclass(frozen=True, slots=True)
class FixJudgement:
    reasons: tuple[str, ...]
    flags: tuple[str, ...]
    lon: float  # WGS-84
    lat: float
    fence_id: int | None = None
    distance_m: float | None = None
    message_zh: str = ""
    # Added by the fence store (defaults keep the placeholder's shape).
    fence_version: int | None = None
    code: str = ""  # accepted | near_edge | the first reason
    message_en: str = ""
    fences_checked: int = 0


# ============================================================================ helpers


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _iso(dt: datetime | None) -> str | None:
    dt = _aware(dt)
    return dt.astimezone(UTC).isoformat() if dt is not None else None


def _check_crs(crs: str, field_name: str = "crs") -> str:
    if crs not in CRS_LABELS:
        raise invalid(field_name, "坐标系应为 wgs84（GPS/天地图）或 gcj02（高德/腾讯）",
                      "crs must be wgs84 or gcj02", code="invalid_crs")
    return crs


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


def build_fence(spec: FenceSpec, fence_id: str = "new") -> geofence.Fence:
    """Validate ``spec`` and build the (WGS-84) fence; bad input → InvalidInput naming the field."""
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
    try:
        return geofence.fence_from_geojson(
            {"type": "Feature", "geometry": geometry, "properties": props}, spec.crs, fence_id=fence_id
        )
    except geofence.FenceError as err:
        raise fence_error(err) from None


# ============================================================================ cache


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)

    def clear(self) -> None:
        self.data.clear()


_FENCES = _Lru(4096)  # (fence id, version) → geofence.Fence (projection cached on the object)
_INDEXES = _Lru(64)  # tuple of (fence id, version) → geofence.FenceIndex
_FEATURES = _Lru(4096)  # (fence id, version, crs) → GeoJSON Feature for maps


def clear_caches() -> None:
    """Drop every cached fence, index and map feature of this process (tests, benchmarks)."""
    _FENCES.clear()
    _INDEXES.clear()
    _FEATURES.clear()


@dataclass(frozen=True, slots=True)
class ActiveVersion:
    row_id: int
    fence_id: int
    version: int
    project_id: int
    valid_from: datetime
    valid_to: datetime | None

    @property
    def key(self) -> tuple[int, int]:
        return (self.fence_id, self.version)


def _active(row: dict[str, Any]) -> ActiveVersion:
    return ActiveVersion(row["id"], row["fence"], row["version"], row["project"], _aware(row["valid_from"]),  # type: ignore[arg-type]
                         _aware(row["valid_to"]))


_VERSION_COLUMNS = (ProjectFenceVersion.id, ProjectFenceVersion.fence, ProjectFenceVersion.version,
                    ProjectFenceVersion.project, ProjectFenceVersion.valid_from, ProjectFenceVersion.valid_to)


async def active_versions(project_ids: Iterable[int] | None, at: datetime | None = None) -> list[ActiveVersion]:
    """The version of every fence of these projects (None = all) active at ``at`` (None = now:
    the current versions).  Ordered by fence id."""
    q = ProjectFenceVersion.select(*_VERSION_COLUMNS).order_by(ProjectFenceVersion.fence)
    if at is None:
        where = ProjectFenceVersion.valid_to.is_null()
    else:
        at = _aware(at).astimezone(UTC)  # type: ignore[union-attr]
        where = (ProjectFenceVersion.valid_from <= at) & (
            ProjectFenceVersion.valid_to.is_null() | (ProjectFenceVersion.valid_to > at))
    if project_ids is not None:
        ids = sorted(set(project_ids))
        if not ids:
            return []
        where = where & (ProjectFenceVersion.project.is_in(ids) if len(ids) > 1
                         else ProjectFenceVersion.project == ids[0])
    return [_active(r) for r in await q.where(where)]


async def fences_for(versions: Sequence[ActiveVersion]) -> list[geofence.Fence]:
    """Built fences for these versions, from the cache; missing definitions in one query."""
    missing = [v for v in versions if _FENCES.get(v.key) is None]
    if missing:
        rows = await ProjectFenceVersion.select(
            ProjectFenceVersion.fence, ProjectFenceVersion.version, ProjectFenceVersion.definition
        ).where(ProjectFenceVersion.id.is_in([v.row_id for v in missing]))
        for r in rows:
            fence = geofence.fence_from_dict(_json(r["definition"]))
            _FENCES.put((r["fence"], r["version"]), fence)
    out = []
    for v in versions:
        fence = _FENCES.get(v.key)
        if fence is None:  # evicted between the two steps (cache smaller than the set): build again
            row = await ProjectFenceVersion.select(ProjectFenceVersion.definition).where(
                ProjectFenceVersion.id == v.row_id).first()
            fence = geofence.fence_from_dict(_json(row["definition"]))  # type: ignore[index]
        out.append(fence)
    return out


async def fences_at(project_id: int, at: datetime) -> tuple[list[ActiveVersion], list[geofence.Fence]]:
    versions = await active_versions([project_id], at)
    return versions, await fences_for(versions)


def index_for(versions: Sequence[ActiveVersion], fences: Sequence[geofence.Fence]) -> geofence.FenceIndex:
    key = tuple(v.key for v in versions)
    index = _INDEXES.get(key)
    if index is None:
        # A project's few fences: a coarser grid that resolves fixes up to 500 m away in one lookup (the
        # library's defaults, 50 / 100 m, suit city-wide sets; far fixes then take its slower ring search).
        index = geofence.FenceIndex(fences, cell_m=100.0, search_m=500.0)
        _INDEXES.put(key, index)
    return index


# ============================================================================ one fix


async def _previous_fixes(person_id: int, at: datetime, rules: Rules) -> list[geofence.Fix]:
    """The person's mobile punches with a position near ``at``: the last ``spoof_history_fixes`` before
    it and the first two after it (a fix that arrives late from the offline outbox), within
    ``spoof_history_hours``."""
    span = timedelta(hours=rules.spoof_history_hours)
    base = (Punch.person == person_id) & (Punch.source == Source.mobile) & Punch.lon.is_not_null() & \
        Punch.lat.is_not_null() & Punch.accuracy_m.is_not_null()
    cols = (Punch.lon, Punch.lat, Punch.accuracy_m, Punch.captured_at)
    before = await Punch.select(*cols).where(
        base & (Punch.captured_at >= at - span) & (Punch.captured_at <= at)
    ).order_by(Punch.captured_at, ascending=False).limit(max(rules.spoof_history_fixes, 0))
    after = await Punch.select(*cols).where(
        base & (Punch.captured_at > at) & (Punch.captured_at <= at + span)
    ).order_by(Punch.captured_at).limit(2)
    fixes = []
    for r in [*before, *after]:
        lon, lat, acc = float(r["lon"]), float(r["lat"]), float(r["accuracy_m"])
        if geofence.in_china(lon, lat) and math.isfinite(acc) and acc >= 0:
            fixes.append(geofence.Fix(lon, lat, acc, _aware(r["captured_at"])))  # type: ignore[arg-type]
    return fixes


async def judge_fix(project_id: int, lon: float, lat: float, accuracy_m: float, captured_at: datetime, *,
                    rules: Rules, coord_system: str = "wgs84", person_id: int | None = None,
                    device_sent_at: datetime | None = None, server_now: datetime | None = None) -> FixJudgement:
    """Judge one phone fix against the project's fences active at ``captured_at``.

    ``coord_system="gcj02"`` (Amap SDK positions) is converted to WGS-84 first; the returned lon/lat
    are WGS-84.  Reasons (rejections) and flags (review) are codes of ``geofence.REASON_ZH``; with a
    ``person_id`` the spoofing signals over the person's recent mobile punches are added as flags.
    ``device_sent_at`` (the phone's clock when it sent the request) lets the clock-skew signal tell a
    wrong device clock from an upload that waited in the offline outbox; without it only a clock that
    runs ahead of the server is flagged (a late upload is ``late_upload``, added by the attendance path).
    """
    _check_crs(coord_system, "coord_system")
    captured = _aware(captured_at).astimezone(UTC)  # type: ignore[union-attr]
    lon, lat, accuracy_m = float(lon), float(lat), float(accuracy_m)
    if coord_system == "gcj02" and math.isfinite(lon) and math.isfinite(lat):
        lon, lat = geofence.gcj02_to_wgs84(lon, lat)
    versions, fences = await fences_at(project_id, captured)
    d = geofence.decide(fences, lon, lat, accuracy_m, max_accuracy_m=rules.gps_max_accuracy_m,
                        edge_margin_m=rules.fence_edge_margin_m)
    flags = list(d.flags)
    if person_id is not None and "invalid_coordinates" not in d.reasons and "invalid_accuracy" not in d.reasons:
        now = _aware(server_now).astimezone(UTC) if server_now else datetime.now(UTC)  # type: ignore[union-attr]
        sent = _aware(device_sent_at) if device_sent_at is not None else max(captured, now)
        fix = geofence.Fix(lon, lat, accuracy_m, captured)
        previous = await _previous_fixes(person_id, captured, rules)
        flags.extend(geofence.spoof_signals(
            fix, previous, now, clock_skew_max_s=rules.clock_skew_max_s, max_speed_kmh=rules.max_travel_speed_kmh,
            device_sent_at=sent,
        ))
    fence_id = int(d.fence_id) if d.fence_id is not None else None
    version = next((v.version for v in versions if v.fence_id == fence_id), None)
    return FixJudgement(
        reasons=d.reasons, flags=tuple(dict.fromkeys(flags)), lon=lon, lat=lat, fence_id=fence_id,
        distance_m=None if d.distance_m is None else round(float(d.distance_m), 2), message_zh=d.message_zh,
        fence_version=version, code=d.code, message_en=d.message_en, fences_checked=len(fences),
    )


# ============================================================================ the store


async def _project(project_id: int) -> dict[str, Any]:
    row = await Project.select(Project.id, Project.name, Project.lon, Project.lat, Project.timezone,
                               Project.planned_start, Project.actual_start).where(Project.id == project_id).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    return row


_MAX_ID = 2**63 - 1


async def check_access(user: CurrentUser, project_id: int, *, write: bool = False) -> None:
    """Everyone who sees the project reads its fences; admin, enterprise and project staff edit them."""
    if not 0 < project_id <= _MAX_ID:  # beyond a database integer: unknown, not a 500
        raise NotFound("项目不存在或无权查看", "Project not found or not in your scope", field="project_id")
    await require_project(user, project_id)
    if write and user.role not in EDITOR_ROLES:
        raise Forbidden("当前角色不能修改电子围栏（仅项目管理人员、企业人员可以）",
                        "Only project staff and enterprise users may change fences", code="role_forbidden")


def _summary(row: dict[str, Any], version: dict[str, Any] | None, fence: geofence.Fence | None,
             crs: str = "wgs84") -> dict[str, Any]:
    out = {
        "id": row["id"], "project_id": row["project"], "name": row["name"], "kind": row["kind"],
        "kind_label": KINDS.get(row["kind"], row["kind"]), "version": row["current_version"],
        "deleted": bool(row["deleted"]), "created_at": _iso(row.get("created_at")),
        "updated_at": _iso(row.get("updated_at")),
    }
    if version is not None:
        out.update({"valid_from": _iso(version["valid_from"]), "valid_to": _iso(version["valid_to"]),
                    "input_crs": version["input_crs"], "repaired": bool(version["repaired"])})
    if fence is not None:
        out["radius_m"] = fence.radius_m
        out["width_m"] = fence.width_m
        out["feature"] = _feature(row["id"], row["current_version"], row["project"], fence, crs)
    return out


def _feature(fence_id: int, version: int, project_id: int, fence: geofence.Fence, crs: str) -> dict[str, Any]:
    """GeoJSON Feature for maps: the fence's own geometry (circle → Point + radius_m, corridor →
    LineString + width_m) in ``crs``, with ``properties.outline`` (the area as a polygon) for circles and
    corridors.  Cached per (fence, version, crs)."""
    key = (fence_id, version, crs)
    cached = _FEATURES.get(key)
    if cached is None:
        cached = geofence.to_geojson(fence, crs=crs)
        cached["id"] = fence_id
        props = cached["properties"]
        props.update({"id": fence_id, "fence_id": fence_id, "version": version, "project_id": project_id,
                      "kind_label": KINDS[fence.kind.value], "crs_label": CRS_LABELS[crs]})
        if fence.kind is not geofence.FenceKind.POLYGON:
            props["outline"] = geofence.to_geojson(fence, crs=crs, as_polygon=True)["geometry"]
        _FEATURES.put(key, cached)
    return json.loads(json.dumps(cached))  # callers may change their copy


async def create_fence(project_id: int, *, name: str, kind: str, geometry: dict[str, Any], crs: str = "wgs84",
                       radius_m: float | None = None, width_m: float | None = None, created_by: int | None = None,
                       valid_from: datetime | None = None, note: str = "created") -> dict[str, Any]:
    """Store a new fence (version 1, valid from now or ``valid_from``).  Returns its summary with
    ``warnings`` (a repaired polygon, a fence far from the project's location)."""
    project = await _project(project_id)
    spec = FenceSpec(name=name, kind=kind, geometry=geometry, crs=crs, radius_m=radius_m, width_m=width_m)
    fence = build_fence(spec)
    return (await _store_new(project, [(spec, fence)], created_by, valid_from, note))[0]


async def _store_new(project: dict[str, Any], items: list[tuple[FenceSpec, geofence.Fence]], created_by: int | None,
                     valid_from: datetime | None, note: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    start = _aware(valid_from).astimezone(UTC) if valid_from is not None else now  # type: ignore[union-attr]
    out = []
    async with write_transaction():
        for spec, fence in items:
            row = ProjectFence(project=project["id"], name=fence.name, kind=fence.kind.value, current_version=1,
                               deleted=False, created_by=created_by, created_at=now, updated_at=now)
            await row.save()
            stored = _with_id(fence, row.id)
            version = ProjectFenceVersion(
                fence=row.id, project=project["id"], version=1, definition=geofence.fence_to_dict(stored),
                input_crs=spec.crs, repaired=stored.repaired, valid_from=start, valid_to=None, created_by=created_by,
                created_at=now, note=note[:200])
            await version.save()
            _FENCES.put((row.id, 1), stored)
            summary = _summary(
                {"id": row.id, "project": project["id"], "name": fence.name, "kind": fence.kind.value,
                 "current_version": 1, "deleted": False, "created_at": now, "updated_at": now},
                {"valid_from": start, "valid_to": None, "input_crs": spec.crs, "repaired": stored.repaired}, stored)
            summary["warnings"] = fence_warnings(stored, project)
            out.append(summary)
    for s in out:
        log.info("fence %s created in project %s (%s, %s)", s["id"], project["id"], s["kind"], note)
    return out


def _with_id(fence: geofence.Fence, fence_id: int) -> geofence.Fence:
    return geofence.Fence(str(fence_id), fence.kind, fence.geometry, fence.radius_m, fence.width_m, fence.name,
                          fence.repaired)


async def _fence_row(project_id: int, fence_id: int) -> dict[str, Any]:
    if not 0 < fence_id <= _MAX_ID:
        raise NotFound("电子围栏不存在", "Fence not found", field="fence_id")
    row = await ProjectFence.select().where((ProjectFence.id == fence_id) & (ProjectFence.project == project_id)).first()
    if row is None:
        raise NotFound("电子围栏不存在", "Fence not found", field="fence_id")
    return row


async def update_fence(project_id: int, fence_id: int, *, name: str, kind: str, geometry: dict[str, Any],
                       crs: str = "wgs84", radius_m: float | None = None, width_m: float | None = None,
                       expected_version: int | None = None, updated_by: int | None = None,
                       note: str = "edited") -> dict[str, Any]:
    """Close the current version (valid_to = now) and open the next one.  ``expected_version`` (the
    version the editor started from) turns a concurrent edit into 409 instead of a silent overwrite."""
    project = await _project(project_id)
    spec = FenceSpec(name=name, kind=kind, geometry=geometry, crs=crs, radius_m=radius_m, width_m=width_m)
    fence = build_fence(spec, fence_id=str(fence_id))
    now = datetime.now(UTC)
    async with write_transaction():
        row = await _fence_row(project_id, fence_id)
        if row["deleted"]:
            raise Conflict("该电子围栏已删除，不能修改", "The fence was deleted", field="fence_id", code="fence_deleted")
        current = row["current_version"]
        if expected_version is not None and expected_version != current:
            raise Conflict(f"该围栏已被他人修改（当前第 {current} 版，您编辑的是第 {expected_version} 版），请刷新后重试",
                           f"The fence changed meanwhile (now version {current}, you edited {expected_version})",
                           field="expected_version", code="version_conflict")
        old = await ProjectFenceVersion.select(ProjectFenceVersion.valid_from).where(
            (ProjectFenceVersion.fence == fence_id) & (ProjectFenceVersion.version == current)).first()
        start = now
        if old is not None and _aware(old["valid_from"]) >= start:  # type: ignore[operator]
            start = _aware(old["valid_from"]) + timedelta(microseconds=1)  # type: ignore[operator]
        bumped = await ProjectFence.update({
            ProjectFence.current_version: current + 1, ProjectFence.name: fence.name, ProjectFence.kind: kind,
            ProjectFence.updated_at: now,
        }).where((ProjectFence.id == fence_id) & (ProjectFence.current_version == current)).returning(ProjectFence.id)
        if not bumped:
            raise Conflict("该围栏正被他人修改，请刷新后重试", "The fence is being changed by someone else",
                           field="fence_id", code="version_conflict")
        await ProjectFenceVersion.update({ProjectFenceVersion.valid_to: start}).where(
            (ProjectFenceVersion.fence == fence_id) & (ProjectFenceVersion.version == current)
            & ProjectFenceVersion.valid_to.is_null())
        new_version = current + 1
        await ProjectFenceVersion(
            fence=fence_id, project=project_id, version=new_version, definition=geofence.fence_to_dict(fence),
            input_crs=crs, repaired=fence.repaired, valid_from=start, valid_to=None, created_by=updated_by,
            created_at=now, note=note[:200]).save()
    _FENCES.put((fence_id, new_version), fence)
    log.info("fence %s of project %s: version %s → %s", fence_id, project_id, current, new_version)
    summary = _summary({**row, "name": fence.name, "kind": kind, "current_version": new_version, "updated_at": now},
                       {"valid_from": start, "valid_to": None, "input_crs": crs, "repaired": fence.repaired}, fence)
    summary["warnings"] = fence_warnings(fence, project)
    summary["previous_version"] = current
    return summary


async def delete_fence(project_id: int, fence_id: int, *, deleted_by: int | None = None) -> dict[str, Any]:
    """Close the current version; the fence stays in the history (punches before now keep being judged
    against it)."""
    now = datetime.now(UTC)
    async with write_transaction():
        row = await _fence_row(project_id, fence_id)
        if row["deleted"]:
            raise Conflict("该电子围栏已删除", "The fence was already deleted", field="fence_id", code="fence_deleted")
        old = await ProjectFenceVersion.select(ProjectFenceVersion.valid_from).where(
            (ProjectFenceVersion.fence == fence_id) & (ProjectFenceVersion.version == row["current_version"])).first()
        end = now
        if old is not None and _aware(old["valid_from"]) >= end:  # type: ignore[operator]
            end = _aware(old["valid_from"]) + timedelta(microseconds=1)  # type: ignore[operator]
        await ProjectFence.update({ProjectFence.deleted: True, ProjectFence.updated_at: now}).where(
            ProjectFence.id == fence_id)
        await ProjectFenceVersion.update({ProjectFenceVersion.valid_to: end}).where(
            (ProjectFenceVersion.fence == fence_id) & ProjectFenceVersion.valid_to.is_null())
    log.info("fence %s of project %s deleted (by user %s)", fence_id, project_id, deleted_by)
    return {"id": fence_id, "project_id": project_id, "deleted": True, "version": row["current_version"],
            "valid_to": _iso(end)}


async def list_fences(project_id: int, *, crs: str = "wgs84", include_deleted: bool = False) -> list[dict[str, Any]]:
    """The project's fences with their current version (and, for deleted ones, the last)."""
    _check_crs(crs)
    q = ProjectFence.select().where(ProjectFence.project == project_id).order_by(ProjectFence.id)
    if not include_deleted:
        q = q.where(ProjectFence.deleted.eq(False))
    rows = await q
    if not rows:
        return []
    versions = await ProjectFenceVersion.select(
        ProjectFenceVersion.id, ProjectFenceVersion.fence, ProjectFenceVersion.version, ProjectFenceVersion.project,
        ProjectFenceVersion.valid_from, ProjectFenceVersion.valid_to, ProjectFenceVersion.input_crs,
        ProjectFenceVersion.repaired,
    ).where(ProjectFenceVersion.fence.is_in([r["id"] for r in rows]))
    by_key = {(v["fence"], v["version"]): v for v in versions}
    wanted = [by_key[(r["id"], r["current_version"])] for r in rows if (r["id"], r["current_version"]) in by_key]
    built = await fences_for([_active(v) for v in wanted])
    fences = {(v["fence"], v["version"]): f for v, f in zip(wanted, built, strict=True)}
    out = []
    for r in rows:
        key = (r["id"], r["current_version"])
        out.append(_summary(r, by_key.get(key), fences.get(key), crs))
    return out


async def get_fence(project_id: int, fence_id: int, *, crs: str = "wgs84") -> dict[str, Any]:
    _check_crs(crs)
    row = await _fence_row(project_id, fence_id)
    v = await ProjectFenceVersion.select(*_VERSION_COLUMNS, ProjectFenceVersion.input_crs,
                                         ProjectFenceVersion.repaired).where(
        (ProjectFenceVersion.fence == fence_id) & (ProjectFenceVersion.version == row["current_version"])).first()
    fence = (await fences_for([_active(v)]))[0] if v else None
    return _summary(row, v, fence, crs)


async def fence_history(project_id: int, fence_id: int, *, crs: str = "wgs84") -> list[dict[str, Any]]:
    """Every version of a fence, newest first, with its validity and geometry."""
    _check_crs(crs)
    row = await _fence_row(project_id, fence_id)
    rows = await ProjectFenceVersion.select(*_VERSION_COLUMNS, ProjectFenceVersion.input_crs,
                                            ProjectFenceVersion.repaired, ProjectFenceVersion.created_by,
                                            ProjectFenceVersion.created_at, ProjectFenceVersion.note).where(
        ProjectFenceVersion.fence == fence_id).order_by(ProjectFenceVersion.version, ascending=False)
    fences = await fences_for([_active(v) for v in rows])
    return [{
        "fence_id": fence_id, "version": v["version"], "valid_from": _iso(v["valid_from"]),
        "valid_to": _iso(v["valid_to"]), "active": v["valid_to"] is None, "input_crs": v["input_crs"],
        "repaired": bool(v["repaired"]), "created_by": v["created_by"], "created_at": _iso(v["created_at"]),
        "note": v["note"], "name": f.name, "kind": f.kind.value, "radius_m": f.radius_m, "width_m": f.width_m,
        "feature": _feature(fence_id, v["version"], row["project"], f, crs),
    } for v, f in zip(rows, fences, strict=True)]


async def export_geojson(project_id: int, *, crs: str = "wgs84", as_polygon: bool = False) -> dict[str, Any]:
    """The project's current fences as a FeatureCollection (``crs`` for the base map: GCJ-02 on
    Amap/Tencent tiles).  ``as_polygon`` exports every fence's area as a polygon."""
    _check_crs(crs)
    versions = await active_versions([project_id])
    fences = await fences_for(versions)
    features = []
    for v, f in zip(versions, fences, strict=True):
        if as_polygon:
            feat = geofence.to_geojson(f, crs=crs, as_polygon=True)
            feat["id"] = v.fence_id
            feat["properties"].update({"fence_id": v.fence_id, "version": v.version, "project_id": project_id})
        else:
            feat = _feature(v.fence_id, v.version, project_id, f, crs)
        features.append(feat)
    return {"type": "FeatureCollection", "crs_name": crs, "crs_label": CRS_LABELS[crs], "features": features}


async def map_features(project_ids: set[int] | None, crs: str = "wgs84") -> list[dict[str, Any]]:
    """Current fences of these projects (None = all) as GeoJSON Features for the supervisor map:
    ``properties.project_id`` set; circles and corridors carry ``properties.outline`` (their area)."""
    versions = await active_versions(project_ids)
    fences = await fences_for(versions)
    return [_feature(v.fence_id, v.version, v.project_id, f, crs) for v, f in zip(versions, fences, strict=True)]


# ============================================================================ import


# The parsing itself is pure and lives in backend.fences.upload (it runs in a worker process);
# re-exported here for callers of the service.
_decode_upload = decode_upload


async def import_fences(project_id: int, data: bytes, filename: str, *, crs: str = "wgs84",
                        created_by: int | None = None, preview: bool = False) -> dict[str, Any]:
    """Create one fence per feature / placemark, all or nothing.  ``preview`` only parses and returns
    what would be created (the page shows it on the map before the user confirms).

    Parsing, validation and the per-fence work (storage form, map feature, warnings) run in a worker
    process with a time and memory cap (``backend.bounded``; security issue item 4): the event loop only
    awaits, then writes the rows."""
    project = await _project(project_id)
    rules = await rules_for_project(project_id)
    _check_crs(crs)
    where = {"lon": project.get("lon"), "lat": project.get("lat")}
    prepared: list[PreparedFence] = await get_runner().run(
        prepare_import, data, filename, crs, rules.fence_import_max_bytes, UploadLimits.from_rules(rules), where,
        timeout_s=rules.fence_import_max_seconds, what_zh="围栏文件", what_en="fence file")
    if preview:
        out = []
        for p in prepared:
            f = p.fence
            p.feature["properties"]["crs_label"] = CRS_LABELS["wgs84"]
            out.append({"source_id": f.id, "name": f.name, "kind": f.kind.value, "kind_label": KINDS[f.kind.value],
                        "repaired": f.repaired, "warnings": p.warnings, "feature": p.feature})
        return {"preview": True, "count": len(out), "fences": out}
    created = await _store_prepared(project, prepared, crs, created_by, f"imported from {filename or 'file'}"[:200])
    for p, c in zip(prepared, created, strict=True):
        c["source_id"] = p.fence.id
    return {"preview": False, "count": len(created), "fences": created}


def _relabelled(fence: geofence.Fence, fence_id: str) -> geofence.Fence:
    """The same (already validated) fence under another id, without validating it again."""
    out = copy.copy(fence)  # __getstate__/__setstate__: fields only, no __post_init__
    object.__setattr__(out, "id", fence_id)
    return out


async def _store_prepared(project: dict[str, Any], prepared: list[PreparedFence], crs: str, created_by: int | None,
                          note: str) -> list[dict[str, Any]]:
    """Like ``_store_new`` for fences the worker prepared: only the rows are written here."""
    now = datetime.now(UTC)
    out = []
    async with write_transaction():
        for p in prepared:
            f = p.fence
            row = ProjectFence(project=project["id"], name=f.name, kind=f.kind.value, current_version=1,
                               deleted=False, created_by=created_by, created_at=now, updated_at=now)
            await row.save()
            version = ProjectFenceVersion(
                fence=row.id, project=project["id"], version=1, definition={**p.definition, "id": str(row.id)},
                input_crs=crs, repaired=f.repaired, valid_from=now, valid_to=None, created_by=created_by,
                created_at=now, note=note[:200])
            await version.save()
            _FENCES.put((row.id, 1), _relabelled(f, str(row.id)))
            summary = _summary(
                {"id": row.id, "project": project["id"], "name": f.name, "kind": f.kind.value,
                 "current_version": 1, "deleted": False, "created_at": now, "updated_at": now},
                {"valid_from": now, "valid_to": None, "input_crs": crs, "repaired": f.repaired}, None)
            feature = p.feature
            feature["id"] = row.id
            feature["properties"].update({
                "id": row.id, "fence_id": row.id, "version": 1, "project_id": project["id"],
                "kind_label": KINDS[f.kind.value], "crs_label": CRS_LABELS["wgs84"]})
            summary.update({"radius_m": f.radius_m, "width_m": f.width_m, "feature": feature, "warnings": p.warnings})
            out.append(summary)
    for s in out:
        log.info("fence %s created in project %s (%s, %s)", s["id"], project["id"], s["kind"], note)
    return out


# ============================================================================ many fixes


@dataclass(frozen=True)
class ManyJudgements:
    codes: list[str]
    distance_m: list[float | None]
    fence_id: list[int | None]
    fences: list[dict[str, Any]] = field(default_factory=list)


async def judge_many(project_id: int, lons: Sequence[float], lats: Sequence[float], accuracies: Sequence[float], *,
                     rules: Rules, crs: str = "wgs84", at: datetime | None = None) -> ManyJudgements:
    """Judge many fixes at once (vectorised, ``geofence.FenceIndex``) against the fences active at ``at``
    (None = the current ones) — for the supervisor map and what-if checks."""
    _check_crs(crs)
    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    acc = np.asarray(accuracies, dtype=np.float64)
    if crs == "gcj02":
        lon, lat = geofence.gcj02_to_wgs84_arrays(lon, lat)
    versions = await active_versions([project_id], at)
    fences = await fences_for(versions)
    index = index_for(versions, fences)
    r = index.judge(lon, lat, acc, max_accuracy_m=rules.gps_max_accuracy_m, edge_margin_m=rules.fence_edge_margin_m)
    ids = [v.fence_id for v in versions]
    return ManyJudgements(
        codes=[str(c) for c in r.codes()],
        distance_m=[None if not math.isfinite(d) else round(float(d), 2) for d in r.distance_m],
        fence_id=[ids[i] if i >= 0 else None for i in r.fence_idx],
        fences=[{"id": v.fence_id, "version": v.version, "name": f.name} for v, f in zip(versions, fences, strict=True)],
    )


def stored_fence_code(reasons: Sequence[str], flags: Sequence[str]) -> str:
    """The fence outcome a stored punch carries: its fence rejection, else near_edge, else accepted."""
    for code in FENCE_REJECTIONS:
        if code in reasons:
            return code
    return "near_edge" if "near_edge" in flags else "accepted"


def _overall(reasons: Sequence[str], flags: Sequence[str], fence_code: str) -> str:
    other_reasons = [r for r in reasons if r not in FENCE_REJECTIONS]
    other_flags = [f for f in flags if f not in FENCE_FLAGS and f not in FENCE_REJECTIONS]
    if other_reasons or fence_code in FENCE_REJECTIONS:
        return "rejected"
    if other_flags or fence_code == "near_edge":
        return "flagged"
    return "accepted"


def _local_dates(value: str | date, field_name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise invalid(field_name, "日期格式应为 YYYY-MM-DD", "Date must be YYYY-MM-DD") from None


REJUDGE_CHUNK = 20_000
REJUDGE_EXAMPLES = 50


async def rejudge(project_id: int, date_from: str | date, date_to: str | date) -> dict[str, Any]:
    """Re-judge the project's mobile punches of [date_from, date_to] (local capture days) against the
    CURRENT fences and count how their fence outcome would change.  A report only: stored verdicts are
    not rewritten (a punch's verdict is what applied when it was made)."""
    d0, d1 = _local_dates(date_from, "date_from"), _local_dates(date_to, "date_to")
    if d1 < d0:
        raise invalid("date_to", "结束日期不能早于开始日期", "date_to is before date_from")
    rules = await rules_for_project(project_id)
    if (d1 - d0).days + 1 > rules.fence_rejudge_max_days:
        raise invalid("date_to", f"一次最多复核 {rules.fence_rejudge_max_days} 天",
                      f"At most {rules.fence_rejudge_max_days} days at a time", code="range_too_long")
    versions = await active_versions([project_id])
    fences = await fences_for(versions)
    index = index_for(versions, fences)
    ids = [v.fence_id for v in versions]
    fence_moves: Counter[tuple[str, str]] = Counter()
    verdict_moves: Counter[tuple[str, str]] = Counter()
    examples: list[dict[str, Any]] = []
    total = changed = 0
    last_id = 0
    where = (Punch.project == project_id) & (Punch.source == Source.mobile) & (Punch.local_date >= d0.isoformat()) & (
        Punch.local_date <= d1.isoformat())
    while True:
        rows = await Punch.select(
            Punch.id, Punch.captured_at, Punch.lon, Punch.lat, Punch.accuracy_m, Punch.reasons, Punch.flags,
            Punch.verdict,
        ).where(where & (Punch.id > last_id)).order_by(Punch.id).limit(REJUDGE_CHUNK)
        if not rows:
            break
        last_id = rows[-1]["id"]
        n = len(rows)
        lon = np.fromiter((np.nan if r["lon"] is None else r["lon"] for r in rows), dtype=np.float64, count=n)
        lat = np.fromiter((np.nan if r["lat"] is None else r["lat"] for r in rows), dtype=np.float64, count=n)
        acc = np.fromiter((np.nan if r["accuracy_m"] is None else r["accuracy_m"] for r in rows), dtype=np.float64,
                          count=n)
        result = index.judge(lon, lat, acc, max_accuracy_m=rules.gps_max_accuracy_m,
                             edge_margin_m=rules.fence_edge_margin_m)
        codes = result.codes()
        for i, r in enumerate(rows):
            reasons = tuple(_json(r["reasons"]) or ())
            flags = tuple(_json(r["flags"]) or ())
            before = stored_fence_code(reasons, flags)
            after = str(codes[i])
            total += 1
            if before == after:
                continue
            changed += 1
            fence_moves[(before, after)] += 1
            new_verdict = _overall(reasons, flags, after)
            if new_verdict != r["verdict"]:
                verdict_moves[(r["verdict"], new_verdict)] += 1
            if len(examples) < REJUDGE_EXAMPLES:
                dist = float(result.distance_m[i])
                k = int(result.fence_idx[i])
                examples.append({
                    "punch_id": r["id"], "captured_at": _iso(r["captured_at"]), "from": before, "to": after,
                    "from_label": CODE_ZH.get(before, before), "to_label": CODE_ZH.get(after, after),
                    "verdict": r["verdict"], "new_verdict": new_verdict,
                    "distance_m": round(dist, 2) if math.isfinite(dist) else None,
                    "fence_id": ids[k] if k >= 0 else None,
                })
    log.info("rejudge project %s %s..%s: %d punches, %d would change", project_id, d0, d1, total, changed)
    return {
        "project_id": project_id, "date_from": d0.isoformat(), "date_to": d1.isoformat(),
        "fences": [{"id": v.fence_id, "version": v.version, "name": f.name} for v, f in zip(versions, fences,
                                                                                              strict=True)],
        "total": total, "changed": changed, "unchanged": total - changed,
        "fence_transitions": [{"from": a, "to": b, "from_label": CODE_ZH.get(a, a), "to_label": CODE_ZH.get(b, b),
                               "count": c} for (a, b), c in sorted(fence_moves.items(), key=lambda kv: -kv[1])],
        "verdict_transitions": [{"from": a, "to": b, "from_label": VERDICT_ZH.get(a, a),
                                 "to_label": VERDICT_ZH.get(b, b), "count": c}
                                for (a, b), c in sorted(verdict_moves.items(), key=lambda kv: -kv[1])],
        "examples": examples,
        "report_only": True,
        "message": "仅为复核报告：按当前电子围栏重新判定的结果，已保存的考勤结果未作任何修改",
        "message_en": "Report only: punches re-judged against the current fences; stored verdicts were not changed",
    }


# ============================================================================ demo


# A road of about 5 km through the project's location (113.0105, 22.6478), 杜阮 (west) → 棠下 (north-east).
DEMO_ROAD: list[tuple[float, float]] = [
    (112.9880, 22.6395), (112.9965, 22.6420), (113.0040, 22.6452), (113.0105, 22.6478), (113.0170, 22.6510),
    (113.0235, 22.6552), (113.0290, 22.6601), (113.0330, 22.6648),
]
DEMO_ROAD_WIDTH_M = 60.0


async def create_demo_fences(project_id: int) -> list[int]:
    """The demo corridor of the municipal road project 蓬江区杜阮至棠下连接线道路改造工程: ~5 km, 60 m
    wide, valid from the project's start (so back-dated demo punches are judged against it)."""
    project = await _project(project_id)
    start_day = project.get("actual_start") or project.get("planned_start")
    valid_from = None
    if start_day is not None:
        valid_from = datetime.combine(start_day, time(0, 0), tzinfo=ZoneInfo(project.get("timezone") or
                                                                             "Asia/Shanghai"))
    created = await create_fence(
        project_id, name="杜阮至棠下连接线施工路段", kind="corridor",
        geometry={"type": "LineString", "coordinates": [list(p) for p in DEMO_ROAD]}, crs="wgs84",
        width_m=DEMO_ROAD_WIDTH_M, valid_from=valid_from, note="demo")
    return [created["id"]]
