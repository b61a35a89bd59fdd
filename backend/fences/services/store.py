"""The fence store: create, edit (a new version), delete, list, history."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import geofence
from backend.bounded import BoundedRunner
from backend.db import write_transaction
from backend.errors import Conflict, NotFound
from backend.fences.services.common import _MAX_ID, _aware, _check_crs, _iso, _project
from backend.fences.services.features import _feature, _summary
from backend.fences.services.spec import FenceSpec, build_fence_bounded
from backend.fences.services.versions import _FENCES, _VERSION_COLUMNS, _active, fences_for
from backend.fences.tables import ProjectFence, ProjectFenceVersion
from backend.fences.upload import fence_warnings
from backend.org.services import ensure_project_writable, rules_for_project

log = logging.getLogger("smz.fences")

async def create_fence(project_id: int, *, name: str, kind: str, geometry: dict[str, Any], crs: str = "wgs84",
                       radius_m: float | None = None, width_m: float | None = None, created_by: int | None = None,
                       valid_from: datetime | None = None, note: str = "created",
                       runner: BoundedRunner | None = None) -> dict[str, Any]:
    """Store a new fence (version 1, valid from now or ``valid_from``).  Returns its summary with
    ``warnings`` (a repaired polygon, a fence far from the project's location)."""
    project = await _project(project_id)
    spec = FenceSpec(name=name, kind=kind, geometry=geometry, crs=crs, radius_m=radius_m, width_m=width_m)
    fence = await build_fence_bounded(spec, await rules_for_project(project_id), runner=runner)
    return (await _store_new(project, [(spec, fence)], created_by, valid_from, note))[0]


async def _store_new(project: dict[str, Any], items: list[tuple[FenceSpec, geofence.Fence]], created_by: int | None,
                     valid_from: datetime | None, note: str) -> list[dict[str, Any]]:
    await ensure_project_writable(project["id"], "修改电子围栏")
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
                       note: str = "edited", runner: BoundedRunner | None = None) -> dict[str, Any]:
    """Close the current version (valid_to = now) and open the next one.  ``expected_version`` (the
    version the editor started from) turns a concurrent edit into 409 instead of a silent overwrite."""
    project = await _project(project_id)
    await ensure_project_writable(project_id, "修改电子围栏")
    spec = FenceSpec(name=name, kind=kind, geometry=geometry, crs=crs, radius_m=radius_m, width_m=width_m)
    fence = await build_fence_bounded(spec, await rules_for_project(project_id), str(fence_id), runner=runner)
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
    await ensure_project_writable(project_id, "修改电子围栏")
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


