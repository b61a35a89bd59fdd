"""JSON API of the platform upload (issue 17): the upload states of entities and 重新上传."""

from __future__ import annotations

from litestar import Controller, get, post

from backend.accounts.services import require_project, visible_project_ids
from backend.auth import AuthUser
from backend.errors import Forbidden, NotFound, invalid
from backend.platform import services
from backend.platform.pages import RETRY_ROLES, VIEW_ROLES
from backend.platform.schemas import RetryOut, UploadStateOut
from backend.platform.wire import ENTITY_KINDS


class PlatformController(Controller):
    path = "/api/platform"
    tags = ["platform"]

    @get("/states/{kind:str}")
    async def states(self, user: AuthUser, kind: str, ids: str = "") -> list[UploadStateOut]:
        """Upload states of entities of one kind (comma-separated ids, at most 1000; outside the caller's
        projects: left out)."""
        if kind not in ENTITY_KINDS:
            raise invalid("kind", "未知的上传类型", "Unknown kind")
        if user.role not in VIEW_ROLES:
            raise Forbidden("当前角色不能查看上传状态", "Your role may not see upload states", code="role_forbidden")
        try:
            wanted = [int(i) for i in ids.split(",") if i.strip()][:1000]
        except ValueError:
            raise invalid("ids", "编号应为数字", "ids must be numbers") from None
        scope = await visible_project_ids(user)
        allowed = set(wanted) if scope is None else await services.entities_in_projects(kind, wanted, scope)
        found = await services.states_of(kind, [i for i in wanted if i in allowed])
        return [UploadStateOut(kind=kind, id=i, state=c["state"], label=c["label"], reason=c["why"],
                               updated=c["updated"]) for i, c in found.items()]

    @post("/retry/{kind:str}/{entity_id:int}", status_code=202)
    async def retry(self, user: AuthUser, kind: str, entity_id: int) -> RetryOut:
        """重新上传 one entity (a new upload task; the uploader sends it in dependency order)."""
        if kind not in ENTITY_KINDS:
            raise invalid("kind", "未知的上传类型", "Unknown kind")
        if user.role not in RETRY_ROLES:
            raise Forbidden("当前角色不能重新上传", "Your role may not re-upload", code="role_forbidden")
        project_id = await services.project_of_entity(kind, entity_id)  # type: ignore[arg-type]
        if project_id is None:
            raise NotFound("记录不存在", "Entity not found", field="entity_id")
        await require_project(user, project_id, write=True)
        await services.retry_upload(kind, entity_id)  # type: ignore[arg-type]
        c = (await services.states_of(kind, [entity_id]))[entity_id]
        return RetryOut(kind=kind, id=entity_id, state=c["state"], label=c["label"])
