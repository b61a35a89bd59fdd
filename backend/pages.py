"""Server-rendered pages (Jinja + htmx).  Thin: data comes from the domain services."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from backend.accounts import services as accounts
from backend.accounts.controllers import client_address, session_cookie
from backend.accounts.pages import landing, safe_next
from backend.accounts.roles import ROLES
from backend.accounts.services import require_project, visible_project_ids
from backend.auth import AuthUser, LoginLimiterDep, check_same_origin
from backend.devices import services as devices
from backend.devices.controllers import SERIAL_ROLES
from backend.errors import AppError
from backend.org import services as org
from backend.org.dictionaries import UNIT_TYPE
from backend.vocabulary import Role
from backend.workforce import services as workforce


@get("/login", include_in_schema=False)
async def login_page(next: str | None = None) -> Template:
    return Template("login.html", context={"next": safe_next(next), "error": None})


@post("/login", include_in_schema=False)
async def login_submit(
    request: Request[Any, Any, Any],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    login_limiter: LoginLimiterDep,
) -> Template | Redirect:
    target = safe_next(data.get("next"))
    try:
        check_same_origin(request)  # it sets a session cookie: no login from a foreign page (login CSRF)
        user = await accounts.authenticate(data.get("username", ""), data.get("password", ""), client_address(request),
                                           limiter=login_limiter)
    except AppError as exc:
        return Template("login.html", context={"next": target, "error": exc.zh, "username": data.get("username", "")},
                        status_code=exc.status_code)
    token = await accounts.issue_token(user.id, "cookie")
    return Redirect(landing(user, target), cookies=[session_cookie(token)])


@post("/logout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    if isinstance(request.auth, str):
        await accounts.revoke_token(request.auth)
    return Redirect("/login", cookies=[session_cookie("")])


@get("/", include_in_schema=False)
async def home(user: AuthUser) -> Template | Redirect:
    if user.role == Role.worker:
        return Redirect("/m/")
    projects = await org.list_projects(await visible_project_ids(user))
    return Template("home.html", context={"user": user, "role_label": ROLES[user.role], "projects": projects})


@get("/projects/{project_id:int}", include_in_schema=False)
async def project_page(project_id: int, user: AuthUser) -> Template:
    await require_project(user, project_id)
    project = await org.get_project(project_id)
    return Template("project.html", context={
        "user": user,
        "role_label": ROLES[user.role],
        "project": project,
        "units": await org.list_units(project_id),
        "teams": await org.list_teams(project_id),
        "roster": await workforce.list_roster(project_id, active_only=True) if user.role != Role.worker else [],
        # serials only for the roles that may see terminals (never foremen, workers)
        "terminals": await devices.list_terminals({project_id}) if user.role in SERIAL_ROLES else [],
        "history": await org.status_history(project_id),
        # change requests awaiting approval (seed 004 §三(八)–(十) 二级审批): not in effect yet
        "pending_changes": await org.list_change_requests(project_id, open_only=True),
        "unit_types": UNIT_TYPE,
    })


PAGE_HANDLERS = [login_page, login_submit, logout, home, project_page]
