"""HTTP API of the fence store (thin: bodies → services).

``/api/projects/{project_id}/fences``: list, create, import (GeoJSON / KML / KMZ upload), export
(GeoJSON, ``?crs=wgs84|gcj02``), one fence, update (a new version), delete (closes it), version history,
batch judgement and the re-judging report.  Everyone who sees the project reads; admin, enterprise and
project staff edit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import JSONBody

from backend.auth import AuthUser, RunnerDep
from backend.errors import Forbidden, invalid
from backend.fences import services
from backend.fences.schemas import (
    FeatureCollectionOut,
    FenceDeletedOut,
    FenceIn,
    FenceOut,
    FenceVersionOut,
    ImportOut,
    JudgeIn,
    JudgeOut,
    RejudgeIn,
    RejudgeOut,
)
from backend.org.services import rules_for_project
from backend.schemas import out
from backend.vocabulary import Role


def _flag(value: Any) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "on", "yes")


class FenceController(Controller):
    path = "/api/projects/{project_id:int}/fences"
    tags = ["fences"]

    @get("/")
    async def list_fences(self, project_id: int, user: AuthUser, crs: str = "wgs84",
                          include_deleted: bool = False) -> list[FenceOut]:
        await services.check_access(user, project_id)
        return out(list[FenceOut], await services.list_fences(project_id, crs=crs, include_deleted=include_deleted))

    @post("/", status_code=201)
    async def create(self, project_id: int, data: JSONBody[FenceIn], user: AuthUser, runner: RunnerDep) -> FenceOut:
        await services.check_access(user, project_id, write=True)
        if data.expected_version is not None:
            raise invalid("expected_version", "新建围栏不需要 expected_version", "expected_version is for updates")
        return out(FenceOut, await services.create_fence(
            project_id, name=data.name, kind=data.kind, geometry=data.geometry, crs=data.crs, radius_m=data.radius_m,
            width_m=data.width_m, created_by=user.id, runner=runner))

    @get("/export")
    async def export(self, project_id: int, user: AuthUser, crs: str = "wgs84",
                     as_polygon: bool = False) -> FeatureCollectionOut:
        await services.check_access(user, project_id)
        return out(FeatureCollectionOut, await services.export_geojson(project_id, crs=crs, as_polygon=as_polygon))

    @post("/import", status_code=201)
    async def import_file(self, project_id: int, request: Request[Any, Any, Any], user: AuthUser,
                          runner: RunnerDep) -> ImportOut:
        """multipart: ``file`` (.geojson / .json / .kml / .kmz), ``crs`` (wgs84 | gcj02), ``preview`` (1 =
        parse and return what would be created, store nothing).  All fences of the file or none."""
        await services.check_access(user, project_id, write=True)
        form = await request.form()
        item = form.get("file")
        if not isinstance(item, UploadFile):
            raise invalid("file", "请选择要导入的文件", "Choose a file to import", code="missing_file")
        rules = await rules_for_project(project_id)
        data = await item.read(rules.fence_import_max_bytes + 1)
        crs = str(form.get("crs") or "wgs84")
        return out(ImportOut, await services.import_fences(project_id, data, item.filename or "", crs=crs,
                                                           created_by=user.id, preview=_flag(form.get("preview")),
                                                           runner=runner))

    @post("/judge", status_code=200)
    async def judge(self, project_id: int, data: JSONBody[JudgeIn], user: AuthUser) -> JudgeOut:
        await services.check_access(user, project_id)
        if len(data.points) > services.JUDGE_MAX_POINTS:
            raise invalid("points", f"一次最多 {services.JUDGE_MAX_POINTS} 个点",
                          f"At most {services.JUDGE_MAX_POINTS} points per request")
        at = None
        if data.at:
            try:
                at = datetime.fromisoformat(data.at.replace("Z", "+00:00"))
            except ValueError:
                raise invalid("at", "时间格式应为 ISO 8601", "at must be ISO 8601") from None
            if at.tzinfo is None:
                raise invalid("at", "时间须带时区", "at needs a time zone")
        rules = await rules_for_project(project_id)
        r = await services.judge_many(project_id, [p.lon for p in data.points], [p.lat for p in data.points],
                                      [p.accuracy_m for p in data.points], rules=rules, crs=data.crs, at=at)
        return out(JudgeOut, {"fences": r.fences, "results": [
            {"code": c, "label": services.CODE_ZH.get(c, c), "distance_m": d, "fence_id": f}
            for c, d, f in zip(r.codes, r.distance_m, r.fence_id, strict=True)]})

    @post("/rejudge", status_code=200)
    async def rejudge(self, project_id: int, data: JSONBody[RejudgeIn], user: AuthUser) -> RejudgeOut:
        await services.check_access(user, project_id)
        if user.role == Role.worker:
            raise Forbidden("工人不能复核考勤", "Workers may not re-judge punches", code="role_forbidden")
        return out(RejudgeOut, await services.rejudge(project_id, data.date_from, data.date_to))

    @get("/{fence_id:int}")
    async def detail(self, project_id: int, fence_id: int, user: AuthUser, crs: str = "wgs84") -> FenceOut:
        await services.check_access(user, project_id)
        return out(FenceOut, await services.get_fence(project_id, fence_id, crs=crs))

    @put("/{fence_id:int}")
    async def update(self, project_id: int, fence_id: int, data: JSONBody[FenceIn], user: AuthUser,
                     runner: RunnerDep) -> FenceOut:
        await services.check_access(user, project_id, write=True)
        return out(FenceOut, await services.update_fence(project_id, fence_id, name=data.name, kind=data.kind,
                                           geometry=data.geometry, crs=data.crs, radius_m=data.radius_m,
                                           width_m=data.width_m, expected_version=data.expected_version,
                                           updated_by=user.id, runner=runner))

    @delete("/{fence_id:int}", status_code=200)
    async def remove(self, project_id: int, fence_id: int, user: AuthUser) -> FenceDeletedOut:
        await services.check_access(user, project_id, write=True)
        return out(FenceDeletedOut, await services.delete_fence(project_id, fence_id, deleted_by=user.id))

    @get("/{fence_id:int}/versions")
    async def versions(self, project_id: int, fence_id: int, user: AuthUser, crs: str = "wgs84") -> list[FenceVersionOut]:
        await services.check_access(user, project_id)
        return out(list[FenceVersionOut], await services.fence_history(project_id, fence_id, crs=crs))
