"""Fence file import: parsed in a bounded worker, stored all or nothing."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any

import geofence
from backend.bounded import BoundedRunner
from backend.db import write_transaction
from backend.fences.services.common import CRS_LABELS, KINDS, _check_crs, _project
from backend.fences.services.features import _summary
from backend.fences.services.versions import _FENCES
from backend.fences.tables import ProjectFence, ProjectFenceVersion
from backend.fences.upload import PreparedFence, UploadLimits, decode_upload, prepare_import
from backend.org.services import ensure_project_writable, rules_for_project

log = logging.getLogger("smz.fences")

# The parsing itself is pure and lives in backend.fences.upload (it runs in a worker process);
# re-exported here for callers of the service.
_decode_upload = decode_upload


async def import_fences(project_id: int, data: bytes, filename: str, *, crs: str = "wgs84",
                        created_by: int | None = None, preview: bool = False,
                        runner: BoundedRunner) -> dict[str, Any]:
    """Create one fence per feature / placemark, all or nothing.  ``preview`` only parses and returns
    what would be created (the page shows it on the map before the user confirms).

    Parsing, validation and the per-fence work (storage form, map feature, warnings) run in a worker
    process with a time and memory cap (``backend.bounded``; security issue item 4): the event loop only
    awaits, then writes the rows.  ``runner``: the app's parse workers (``AppServices.runner``)."""
    project = await _project(project_id)
    rules = await rules_for_project(project_id)
    _check_crs(crs)
    where = {"lon": project.get("lon"), "lat": project.get("lat")}
    prepared: list[PreparedFence] = await runner.run(
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
    await ensure_project_writable(project["id"], "修改电子围栏")
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


