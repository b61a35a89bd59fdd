"""Pages of vendor onboarding: public registration (供应商注册), the vendor's profile, scopes and access applications,
the district's queues and decisions.  Plain HTML forms (post → redirect); thin: every check is the service's."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Response, Template

from backend.accounts.roles import ROLES
from backend.auth import AuthUser, LoginLimiterDep, TerminalChangesDep, check_same_origin, client_address
from backend.errors import AppError, Forbidden
from backend.onboarding import services
from backend.onboarding.controllers import filed_warning
from backend.vocabulary import (
    ACCESS_STATUS_ZH,
    BIOMETRIC_MODE_ZH,
    BUSINESS_SCOPE_ZH,
    CAPTURE_METHOD_ZH,
    DIRECTION_ZH,
    SCOPE_STATUS_ZH,
    Role,
)

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
NO_STORE = {"Cache-Control": "no-store"}


def _base(user: AuthUser | None) -> dict[str, Any]:
    return {"user": user, "role_label": ROLES[user.role] if user else ""}


def _choices() -> dict[str, Any]:
    return {"device_types": {k: BUSINESS_SCOPE_ZH[k] for k in services.DEVICE_TYPES},
            "capture_methods": CAPTURE_METHOD_ZH, "biometric_modes": BIOMETRIC_MODE_ZH, "directions": DIRECTION_ZH,
            "scopes": BUSINESS_SCOPE_ZH}


def _is_authority(user: AuthUser) -> bool:
    return user.role in (Role.admin, Role.supervisor)


# --- Public registration ------------------------------------------------------------------------------------------


@get("/vendor/register", include_in_schema=False, exclude_from_auth=True)
async def register_page() -> Template:
    return Template("onboarding/register.html", context={**_base(None), "form": {}, "error": None})


@post("/vendor/register", include_in_schema=False, exclude_from_auth=True)
async def register_submit(request: Request[Any, Any, Any], data: Form, login_limiter: LoginLimiterDep) -> Template:
    """The reply shows the vendor code once (not cached); the password is never shown."""
    try:
        check_same_origin(request)
        made = await services.register_vendor(data, limiter=login_limiter, address=client_address(request))
    except AppError as exc:
        kept = {k: v for k, v in data.items() if k != "password"}
        return Template("onboarding/register.html", context={**_base(None), "form": kept, "error": exc.zh},
                        status_code=exc.status_code)
    return Template("onboarding/registered.html", context={**_base(None), "made": made}, headers=NO_STORE)


# --- The vendor's and the district's home of onboarding -----------------------------------------------------------


@get("/onboarding", include_in_schema=False)
async def onboarding_home(user: AuthUser, status: str | None = None) -> Template:
    return await _home(user, status, None)


async def _home(user: AuthUser, status: str | None, error: str | None, status_code: int = 200) -> Template:
    if user.role == Role.vendor:
        return Template("onboarding/vendor.html", context={
            **_base(user), "profile": await services.my_profile(user), "scopes": await services.list_scopes(user),
            "apps": await services.list_applications(user), "districts": await services.districts(),
            "choices": _choices(), "error": error,
        }, status_code=status_code)
    if not _is_authority(user):
        raise Forbidden("当前角色不能办理设备接入", "Your role may not see device onboarding")
    return Template("onboarding/queue.html", context={
        **_base(user), "scopes": await services.list_scopes(user),
        "apps": await services.list_applications(user, status=status or None), "statuses": ACCESS_STATUS_ZH,
        "scope_statuses": SCOPE_STATUS_ZH, "status": status or "", "error": error,
    }, status_code=status_code)


@get("/onboarding/profile", include_in_schema=False)
async def profile_page(user: AuthUser) -> Template:
    return Template("onboarding/profile.html", context={
        **_base(user), "profile": await services.my_profile(user), "form": None, "error": None})


@post("/onboarding/profile", include_in_schema=False)
async def profile_submit(user: AuthUser, data: Form) -> Template | Redirect:
    try:
        await services.update_profile(user, data)
    except AppError as exc:
        return Template("onboarding/profile.html", context={
            **_base(user), "profile": await services.my_profile(user), "form": data, "error": exc.zh},
            status_code=exc.status_code)
    return Redirect("/onboarding")


async def _home_with_error(user: AuthUser, exc: AppError) -> Template:
    return await _home(user, None, exc.zh, exc.status_code)


@post("/onboarding/scopes", include_in_schema=False)
async def scope_submit(user: AuthUser, data: Form) -> Template | Redirect:
    try:
        await services.apply_scope(user, data)
    except AppError as exc:
        return await _home_with_error(user, exc)
    return Redirect("/onboarding")


@post("/onboarding/scopes/{scope_id:int}/decide", include_in_schema=False)
async def scope_decide(user: AuthUser, scope_id: int, data: Form) -> Template | Redirect:
    try:
        await services.decide_scope(user, scope_id, approve=data.get("decision") == "approve",
                                    reason=data.get("reason", ""))
    except AppError as exc:
        return await _home_with_error(user, exc)
    return Redirect("/onboarding")


# --- Access applications ------------------------------------------------------------------------------------------


@get("/onboarding/applications/new", include_in_schema=False)
async def new_application_page(user: AuthUser) -> Template:
    return await _form_page(user, None, {}, None)


async def _form_page(user: AuthUser, app: dict[str, Any] | None, form: dict[str, Any], error: str | None,
                     status_code: int = 200) -> Template:
    projects = await services.projects_for_vendor(user)
    return Template("onboarding/form.html", context={
        **_base(user), "app": app, "form": form, "error": error, "projects": projects, "choices": _choices(),
    }, status_code=status_code)


@post("/onboarding/applications", include_in_schema=False)
async def application_submit(user: AuthUser, data: Form, terminal_changes: TerminalChangesDep) -> Template | Redirect:
    try:
        app_id = await services.file_application(user, data, changes=terminal_changes)
    except AppError as exc:
        return await _form_page(user, None, data, exc.zh, exc.status_code)
    return Redirect(f"/onboarding/applications/{app_id}")


@get("/onboarding/applications/{application_id:int}", include_in_schema=False)
async def application_page(user: AuthUser, application_id: int) -> Template:
    return await _detail(user, application_id, None)


async def _detail(user: AuthUser, application_id: int, error: str | None, status_code: int = 200) -> Template:
    app = await services.get_application(user, application_id)
    return Template("onboarding/detail.html", context={
        **_base(user), "app": app, "error": error, "choices": _choices(),
        "warning": filed_warning(app["channels_planned"], app["channels_required"]),
    }, headers=NO_STORE, status_code=status_code)


ACTIONS = ("test", "production", "report", "verify", "return", "resubmit")


@post("/onboarding/applications/{application_id:int}/{action:str}", include_in_schema=False)
async def application_action(user: AuthUser, application_id: int, action: str, data: Form,
                             terminal_changes: TerminalChangesDep) -> Template | Redirect | Response[str]:
    kw = {"changes": terminal_changes}
    try:
        if action == "test":
            await services.grant_test(user, application_id, data.get("remark", ""), **kw)
        elif action == "production":
            await services.grant_production(user, application_id, data.get("remark", ""), **kw)
        elif action == "report":
            await services.report_hookup(user, application_id, data.get("result", ""), **kw)
        elif action == "verify":
            await services.verify(user, application_id, data.get("remark", ""), **kw)
        elif action == "return":
            await services.return_application(user, application_id, data.get("reason", ""), **kw)
        elif action == "resubmit":
            await services.resubmit(user, application_id, data, **kw)
        else:
            return Response("未知操作", status_code=404, media_type="text/plain; charset=utf-8")
    except AppError as exc:
        return await _detail(user, application_id, exc.zh, exc.status_code)
    return Redirect(f"/onboarding/applications/{application_id}")


ONBOARDING_PAGES = [register_page, register_submit, onboarding_home, profile_page, profile_submit, scope_submit,
                    scope_decide, new_application_page, application_submit, application_page, application_action]
