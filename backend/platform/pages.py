"""Pages of the platform upload (issue 17; Jinja + htmx).

- ``/platform/results`` — 上传省厅结果查询 (seed 001 §2.9): entities of the caller's projects with their upload state,
  filtered by district, project, kind, state (default 上传失败, as the seed's page opens) and day, paged; a
  one-click 重新上传 on a failed one; the banner "省平台不可用 since …" when the district's platform is down.
- ``/platform/states`` — the upload-state cells of a list page (enterprises, projects, units, teams, people):
  one request per table fills every cell (htmx out-of-band swaps; macro ``pwa/templates/platform/_state.html``).
- ``POST /platform/retry/{kind}/{entity_id}`` — 重新上传 of one entity (roles that change project data).

Who sees what: the caller's projects (``visible_project_ids``): admin all, supervisors their districts, enterprise
and project staff their projects; foremen, workers and vendors have no upload pages.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import get, post
from litestar.params import QueryParameter
from litestar.response import Template

from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.auth import AuthUser
from backend.errors import Forbidden, invalid
from backend.org import services as org
from backend.platform import services
from backend.platform.adapter import KIND_ZH
from backend.platform.wire import ENTITY_KINDS
from backend.vocabulary import UPLOAD_STATE_ZH, Role

VIEW_ROLES = frozenset({Role.admin, Role.supervisor, Role.enterprise, Role.project_staff})
RETRY_ROLES = frozenset({Role.admin, Role.enterprise, Role.project_staff})
LIST_KINDS = frozenset({*ENTITY_KINDS, "enterprise"})
MAX_IDS = 1000


def _need_view(user: CurrentUser) -> None:
    if user.role not in VIEW_ROLES:
        raise Forbidden("当前角色不能查看上传省厅结果", "Your role may not see the platform upload results",
                        code="role_forbidden")


def _opt_int(raw: str | None, field: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(field, "应为数字", "Must be a number") from None


@get("/platform/results", include_in_schema=False)
async def results_page(user: AuthUser, district_id: str | None = None, project_id: str | None = None,
                       kind: str | None = None,
                       upload_state: Annotated[str | None, QueryParameter(name="state")] = None,
                       day: str | None = None, page: int = 1) -> Template:
    _need_view(user)
    scope = await visible_project_ids(user)
    did, pid = _opt_int(district_id, "district_id"), _opt_int(project_id, "project_id")
    if pid is not None:
        await require_project(user, pid)
    if kind and kind not in ENTITY_KINDS:
        raise invalid("kind", "未知的上传类型", "Unknown kind")
    chosen_state = "failed" if upload_state is None else upload_state  # the seed's page opens on 上传失败
    if chosen_state and chosen_state not in UPLOAD_STATE_ZH:
        raise invalid("state", "未知的上传状态", "Unknown state")
    try:
        on = date.fromisoformat(day) if day else None
    except ValueError:
        raise invalid("day", "日期格式应为 YYYY-MM-DD", "Day must be YYYY-MM-DD") from None
    found = await services.search_results(services.ResultFilter(
        project_ids=scope, district_id=did, project_id=pid, kind=kind or None, state=chosen_state or None, day=on,
        page=page))
    projects = await org.list_projects(scope)
    districts = sorted({(p["district"], p["district_name"]) for p in projects})
    query = {"district_id": district_id or "", "project_id": project_id or "", "kind": kind or "",
             "state": chosen_state, "day": day or ""}
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return Template("platform/results.html", context={
        "user": user, "role_label": ROLES[user.role], **found, "filters": query, "qs": qs,
        "kinds": KIND_ZH, "states": UPLOAD_STATE_ZH, "projects": projects, "districts": districts,
        "platforms": await services.district_platforms({d for d, _ in districts} if scope is not None else None),
        "can_retry": user.role in RETRY_ROLES,
    })


@get("/platform/states", include_in_schema=False)
async def state_cells(user: AuthUser, kind: str, ids: str = "") -> Template:
    """The state cells of one list (out-of-band swaps by element id ``up-<kind>-<id>``)."""
    if kind not in LIST_KINDS:
        raise invalid("kind", "未知的上传类型", "Unknown kind")
    try:
        wanted = [int(i) for i in ids.split(",") if i.strip()][:MAX_IDS]
    except ValueError:
        raise invalid("ids", "编号应为数字", "ids must be numbers") from None
    if user.role not in VIEW_ROLES:
        return Template("platform/_cells.html", context={"cells": [], "can_retry": False})
    if kind == "enterprise":
        cells = list((await services.enterprise_states(wanted)).values())
    else:
        scope = await visible_project_ids(user)
        cells = list((await services.states_of(kind, wanted)).values())
        if scope is not None:  # never a state of an entity outside the caller's projects
            allowed = await services.entities_in_projects(kind, wanted, scope)
            cells = [c for c in cells if c["id"] in allowed]
    return Template("platform/_cells.html", context={"cells": cells, "can_retry": user.role in RETRY_ROLES})


@post("/platform/retry/{kind:str}/{entity_id:int}", include_in_schema=False, status_code=200)
async def retry(user: AuthUser, kind: str, entity_id: int) -> Template:
    """重新上传: a new upload task for a failed entity (after its data was fixed); answers its new state cell."""
    if kind not in ENTITY_KINDS:
        raise invalid("kind", "未知的上传类型", "Unknown kind")
    if user.role not in RETRY_ROLES:
        raise Forbidden("当前角色不能重新上传", "Your role may not re-upload", code="role_forbidden")
    project_id = await services.project_of_entity(kind, entity_id)  # type: ignore[arg-type]
    if project_id is None:
        raise invalid("entity_id", "记录不存在", "Entity not found")
    await require_project(user, project_id, write=True)
    await services.retry_upload(kind, entity_id)  # type: ignore[arg-type]
    cell = (await services.states_of(kind, [entity_id]))[entity_id]
    return Template("platform/_cells.html", context={"cells": [cell], "can_retry": True, "inline": True})


PLATFORM_PAGES: list[Any] = [results_page, state_cells, retry]
