"""The Litestar application factory: routes, the one error handler, templates, static files, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import pass_context
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from backend import db
from backend.accounts.controllers import AuthController, UserController
from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser
from backend.auth import auth_middleware, current_user
from backend.clockin.controllers import ClockInController, MakeupController
from backend.clockin.pages import CLOCKIN_PAGES
from backend.devices.controllers import TerminalController, VendorController
from backend.errors import AppError, InvalidJSON, NotAuthenticated, PasswordChangeRequired
from backend.org.controllers import (
    ChangeRequestController,
    DistrictController,
    EnterpriseController,
    ProjectController,
)
from backend.pages import PAGE_HANDLERS
from backend.routes import discover_routes
from backend.runtime import SERVICE_DEPENDENCIES, AppServices
from backend.static_assets import static_file, static_url
from backend.vocabulary import LOCAL_TIME_FORMAT, Role, label, labels_of, local_time
from backend.workforce.controllers import RosterController

log = logging.getLogger("smz.app")
PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")


def _error_response(request: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    if isinstance(exc, NotAuthenticated) and _wants_html(request) and request.method == "GET":
        return Redirect(f"/login?next={request.url.path}")
    if isinstance(exc, PasswordChangeRequired) and _wants_html(request) and request.method == "GET":
        return Redirect(f"/password?next={request.url.path}")
    if request.headers.get("hx-request") == "true":
        # htmx fragments: a small message box the page swaps in (htmx swaps 4xx when configured to).
        html = f'<div class="error" role="alert">{_escape(exc.zh)}</div>'
        return Response(html, status_code=exc.status_code, media_type="text/html")
    if _wants_html(request):
        return _error_page(request, exc)
    return Response(exc.to_dict(), status_code=exc.status_code)


# A browser navigation that fails gets a page, in Chinese with the English line, and a way back.
_ERROR_TITLES = {400: "请求内容有误", 401: "请先登录", 403: "无权访问", 404: "页面不存在", 405: "不支持的操作",
                 409: "操作冲突", 413: "上传内容过大", 500: "服务器出错了"}
_ERROR_HINTS = {403: "此页面不属于您可以查看的项目或功能。如需访问，请联系项目管理员。",
                404: "网址可能有误，或该记录已被删除，或不在您可以查看的范围内。",
                409: "数据已被他人修改或状态已变化，请返回刷新后再试。",
                500: "请稍后重试；如果一直出现，请联系系统管理员。"}


def _same_origin_referer(request: Request[Any, Any, Any]) -> str | None:
    """The page the browser came from, as a path — only when it is this site's and not this very page."""
    ref = request.headers.get("referer", "")
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.url.netloc:
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or parts.path == request.url.path:
        return None
    return path


def _error_page(request: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    status = exc.status_code
    user = request.scope.get("user")
    user = user if isinstance(user, CurrentUser) else None
    role_label = ROLES.get(user.role) if user is not None else None
    home = "/m/" if request.url.path.startswith("/m/") or (user is not None and user.role == Role.worker) else "/"
    return Template("error.html", status_code=status, context={
        "status": status, "code": exc.code, "zh": exc.zh, "en": exc.en,
        "title": _ERROR_TITLES.get(status, "请求无法完成"), "hint": _ERROR_HINTS.get(status),
        "back": _same_origin_referer(request), "home": home, "user": user, "role_label": role_label,
    }, headers={"Cache-Control": "no-store"})


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def app_error_handler(request: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    log.info("%s %s → %s", request.method, request.url.path, exc)
    return _error_response(request, exc)


def validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar/msgspec validation errors → our bilingual format, naming the field."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    field = None
    detail = exc.detail
    if extra and isinstance(extra[0], dict):
        field = str(extra[0].get("key") or "") or None
        detail = str(extra[0].get("message") or detail)
    if "`$." in detail:
        field = detail.split("`$.", 1)[1].split("`", 1)[0]
    elif "field `" in detail:  # "Object missing required field `x`", "Object contains unknown field `x`"
        field = detail.split("field `", 1)[1].split("`", 1)[0]
    if field in ("data", ""):
        field = None
        if detail.strip("'\" ") == "data" or "data" == str(exc.detail).strip("'\" "):
            detail = "请求体为空或不是有效的 JSON / empty or invalid JSON body"
    where = f"字段 {field} " if field else "请求内容"
    err = AppError(f"{where}格式不正确：{detail}", f"Invalid {'field ' + field if field else 'request'}: {detail}",
                   field=field, code="invalid_input")
    return _error_response(request, err)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    zh = {404: "页面或资源不存在", 405: "不支持的请求方法", 413: "上传内容过大", 401: "请先登录", 403: "无权访问"}.get(
        exc.status_code, "请求无法处理"
    )
    if exc.status_code == 400 and str(exc.detail).startswith("JSON is malformed"):  # litestar decode_json
        return _error_response(request, InvalidJSON(en=f"The request body is not valid JSON: {exc.detail}"))
    err = AppError(zh, exc.detail or "Request failed", code=f"http_{exc.status_code}")
    err.status_code = exc.status_code  # type: ignore[misc]
    return _error_response(request, err)


def _is_input_data_error(exc: Exception) -> bool:
    """Numbers beyond 64 bits or text beyond a column: the database refused what the client sent."""
    if isinstance(exc, OverflowError):
        return True
    try:
        import asyncpg

        return isinstance(exc, asyncpg.exceptions.DataError)
    except ImportError:  # pragma: no cover
        return False


# Where Litestar decodes a request body: an exception raised inside one of these is the client's bad body
# (msgspec raises RecursionError for deep nesting and UnicodeDecodeError for invalid UTF-8, which Litestar
# does not turn into a 400 itself).
_BODY_DECODERS = frozenset({"decode_json", "decode_msgpack"})


def _is_body_decode_error(exc: Exception) -> bool:
    if not isinstance(exc, RecursionError | ValueError):  # UnicodeDecodeError is a ValueError
        return False
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name in _BODY_DECODERS and "litestar" in code.co_filename:
            return True
        tb = tb.tb_next
    return False


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _is_body_decode_error(exc):
        log.info("%s %s → unreadable request body: %s", request.method, request.url.path, type(exc).__name__)
        return _error_response(request, InvalidJSON())
    if _is_input_data_error(exc):
        log.info("%s %s → value out of range: %s", request.method, request.url.path, exc)
        return _error_response(request, AppError("数值或文本超出允许范围", "A number or text is out of range",
                                                 code="out_of_range"))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    err = AppError("服务器内部错误，请稍后重试", "Internal server error", code="internal_error")
    err.status_code = 500  # type: ignore[misc]
    return _error_response(request, err)


def provide_user(request: Request[Any, Any, Any]) -> CurrentUser:
    return current_user(request)


@get("/health", sync_to_thread=False, include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def page_zone(context: Mapping[str, Any]) -> str | None:
    """The zone a page's times are shown in: the page's ``tz``, else its project's (``project.timezone``),
    else None (the default zone)."""
    tz = context.get("tz")
    if tz:
        return str(tz)
    project = context.get("project")
    zone = project.get("timezone") if isinstance(project, Mapping) else getattr(project, "timezone", None)
    return str(zone) if zone else None


@pass_context
def local_time_filter(context: Mapping[str, Any], at: datetime | None, fmt: str = LOCAL_TIME_FORMAT,
                      tz: str | None = None) -> str:
    """``at|local_time``: in the zone given, else the page's project's zone (``page_zone``)."""
    return local_time(at, tz or page_zone(context), fmt=fmt)


def template_helpers(engine: JinjaTemplateEngine) -> None:
    """Jinja additions: ``code|label("WarningStatus")`` (or ``label(code, "WarningStatus")``) shows a code's Chinese
    (backend/vocabulary.py); ``at|local_time`` shows a stored (UTC) time in the project's zone.  Templates never
    print a raw code or a UTC time to a person."""
    engine.engine.filters["label"] = label
    engine.engine.filters["local_time"] = local_time_filter
    engine.engine.globals["label"] = label
    engine.engine.globals["labels_of"] = labels_of  # label maps a page's script needs (as JSON, one copy)
    engine.engine.globals["static_url"] = static_url  # content-hashed /static URLs (backend/static_assets.py)


def create_app(*, services: AppServices | None = None,
               extra_lifespan: list[Callable[[Litestar], Any]] | None = None) -> Litestar:
    """The app.  ``services``: the app's services, built and closed by the caller (tests); by default the
    lifespan builds them at start-up and closes them at shutdown (``backend.runtime.AppServices``)."""

    @asynccontextmanager
    async def app_services(app: Litestar) -> AsyncIterator[None]:
        if services is not None:  # the caller's: it closes them
            yield
            return
        built = app.state["services"] = AppServices.build()
        built.limiter_link.start()  # hear the other processes' login failures from the start
        try:
            yield
        finally:
            await built.aclose()

    @asynccontextmanager
    async def database(_: Litestar) -> AsyncIterator[None]:
        await db.start_pool()
        try:
            yield
        finally:
            await db.close_pool()

    return Litestar(
        route_handlers=[
            health, AuthController, UserController, DistrictController, EnterpriseController, ProjectController,
            ChangeRequestController,
            RosterController, VendorController, TerminalController, ClockInController, MakeupController,
            *PAGE_HANDLERS, *CLOCKIN_PAGES, *discover_routes(),
            static_file,
        ],
        middleware=[auth_middleware],
        dependencies={"user": Provide(provide_user, sync_to_thread=False), **SERVICE_DEPENDENCIES},
        state=State({"services": services} if services is not None else {}),
        exception_handlers={
            AppError: app_error_handler,
            ValidationException: validation_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
        template_config=TemplateConfig(directory=PWA_DIR / "templates", engine=JinjaTemplateEngine,
                                       engine_callback=template_helpers),
        openapi_config=OpenAPIConfig(title="工地实名制考勤 API", version="0.1.0", path="/schema"),
        lifespan=[database, app_services, *(extra_lifespan or [])],
        request_max_body_size=8 * 1024 * 1024,
    )
