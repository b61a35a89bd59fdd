"""Authentication middleware (cookie session for the PWA, bearer token for API clients) and guards."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from backend.accounts.services import CurrentUser, LoginLimiter, user_for_token
from backend.attendance.live import LiveFeed
from backend.bounded import BoundedRunner
from backend.crew.services.imports import ImportTasks
from backend.devices.gate import GateRegistry
from backend.devices.services import TerminalChanges
from backend.errors import Forbidden, NotAuthenticated, PasswordChangeRequired
from backend.face.service import FaceService
from backend.settings import get_settings
from backend.supervision.live_bridge import LiveBridge
from backend.supervision.services.live import FenceSource
from backend.supervision.sms import SmsSender
from backend.vocabulary import Role

COOKIE_NAME = "smz_session"
PUBLIC_PATHS = [
    "^/static/",
    "^/login",
    "^/api/auth/login",
    "^/api/auth/token",
    "^/schema",
    "^/health",
    "^/manifest.webmanifest",
    "^/sw.js",
    "^/favicon.ico",
]
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# What an account that must change its password (new account, reset by someone else) may still reach:
# change the password, log out, and read who it is.  Everything else answers 403 password_change_required
# (pages redirect to the password form).
PASSWORD_CHANGE_PATHS = frozenset({"/api/auth/password", "/api/auth/logout", "/api/me", "/password", "/logout"})


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        token = bearer_token(connection)
        via_cookie = False
        if token is None:
            token = connection.cookies.get(COOKIE_NAME)
            via_cookie = token is not None
        if not token:
            raise NotAuthenticated()
        # The app's who-is-asking cache (backend.runtime.AppServices.principals), once the app's services exist.
        cache = getattr(connection.app.state.get("services"), "principals", None)
        user = await user_for_token(token, cache)
        if user is None:
            raise NotAuthenticated("登录已过期，请重新登录", "Session expired, please log in again")
        if via_cookie and connection.scope.get("method") in _UNSAFE:
            check_same_origin(connection)
        if user.must_change_password and connection.scope.get("path", "") not in PASSWORD_CHANGE_PATHS:
            raise PasswordChangeRequired()
        return AuthenticationResult(user=user, auth=token)


def check_same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """CSRF defence for cookie sessions: an unsafe request must come from our own origin.

    The cookie is SameSite=Lax as well; this catches the rest (Origin/Referer of another site).  The login
    endpoints that set a session cookie call it too (login CSRF: a foreign page logging the victim in to the
    attacker's account)."""
    origin = connection.headers.get("origin") or connection.headers.get("referer")
    if not origin:
        return  # non-browser clients (curl, tests) send neither; browsers always send Origin on POST
    host = connection.headers.get("host", "")
    if urlparse(origin).netloc != host:
        raise Forbidden("跨站请求被拒绝", "Cross-site request refused", code="cross_site")


auth_middleware = DefineMiddleware(AuthMiddleware, exclude=PUBLIC_PATHS)


# --- The client's address (login limiter, logs) ---------------------------------------------

@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _is_trusted_proxy(host: str, trusted: tuple[str, ...]) -> bool:
    if not trusted or not host:
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


def _strip_port(value: str) -> str:
    """``1.2.3.4:5678`` → ``1.2.3.4``, ``[::1]:80`` → ``::1``; anything else unchanged."""
    if value.startswith("[") and "]" in value:
        return value[1 : value.index("]")]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address of the client, as uvicorn derives it (``backend.cli``): the peer, unless the peer is one
    of ``SMZ_TRUSTED_PROXIES``; then the right-most ``X-Forwarded-For`` entry that is not a trusted proxy.

    With no trusted proxy configured (the default) the header is ignored, so a client cannot pick the
    address the login limiter counts against.  When uvicorn has already replaced the peer by the forwarded
    address, that address is not a trusted proxy and is returned as it is."""
    peer = connection.client.host if connection.client else ""
    trusted = get_settings().trusted_proxies
    if not _is_trusted_proxy(peer, trusted):
        return peer or "unknown"
    hops = [h.strip() for v in connection.headers.getall("x-forwarded-for", []) for h in v.split(",") if h.strip()]
    for hop in reversed(hops):
        host = _strip_port(hop)
        if not _is_trusted_proxy(host, trusted):
            return host[:64]
    return _strip_port(hops[0])[:64] if hops else peer


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    user = connection.scope.get("user")
    if not isinstance(user, CurrentUser):
        raise NotAuthenticated()
    return user


def roles(*allowed: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """Guard: only these roles (admin always passes)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user.role != Role.admin and user.role not in allowed:
            raise Forbidden("当前角色无权执行此操作", "Your role may not do this", code="role_forbidden")

    return guard


def only_roles(*allowed: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """Guard: only these roles — the admin does *not* pass (decisions the rules give to one body alone,
    e.g. make-up punches confirmed by the district authority, seed 000 §六)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if current_user(connection).role not in allowed:
            raise Forbidden("当前角色无权执行此操作", "Your role may not do this", code="role_forbidden")

    return guard


# Handlers declare ``user: AuthUser`` to receive the logged-in user (provided app-wide in backend.app).
AuthUser = NamedDependency[CurrentUser]

# The app's services (``backend.runtime.AppServices``, one set per app), by parameter name
# (``backend.runtime.SERVICE_DEPENDENCIES``): ``login_limiter: LoginLimiterDep``, ``runner: RunnerDep`` …
LoginLimiterDep = NamedDependency[LoginLimiter]
FaceDep = NamedDependency[FaceService]
LiveFeedDep = NamedDependency[LiveFeed]
RunnerDep = NamedDependency[BoundedRunner]
ImportTasksDep = NamedDependency[ImportTasks]
SmsDep = NamedDependency[SmsSender]
LiveMapDep = NamedDependency[LiveBridge]
TerminalChangesDep = NamedDependency[TerminalChanges]
GatesDep = NamedDependency[GateRegistry]
FenceSourceDep = NamedDependency[FenceSource | None]
