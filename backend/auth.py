"""Authentication middleware (cookie session for the PWA, bearer token for API clients) and guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from backend.accounts.services import CurrentUser, user_for_token
from backend.errors import Forbidden, NotAuthenticated

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
        user = await user_for_token(token)
        if user is None:
            raise NotAuthenticated("登录已过期，请重新登录", "Session expired, please log in again")
        if via_cookie and connection.scope.get("method") in _UNSAFE:
            _check_same_origin(connection)
        return AuthenticationResult(user=user, auth=token)


def _check_same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """CSRF defence for cookie sessions: an unsafe request must come from our own origin.

    The cookie is SameSite=Lax as well; this catches the rest (Origin/Referer of another site)."""
    origin = connection.headers.get("origin") or connection.headers.get("referer")
    if not origin:
        return  # non-browser clients (curl, tests) send neither; browsers always send Origin on POST
    host = connection.headers.get("host", "")
    if urlparse(origin).netloc != host:
        raise Forbidden("跨站请求被拒绝", "Cross-site request refused", code="cross_site")


auth_middleware = DefineMiddleware(AuthMiddleware, exclude=PUBLIC_PATHS)


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    user = connection.scope.get("user")
    if not isinstance(user, CurrentUser):
        raise NotAuthenticated()
    return user


def roles(*allowed: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """Guard: only these roles (admin always passes)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user.role != "admin" and user.role not in allowed:
            raise Forbidden("当前角色无权执行此操作", "Your role may not do this", code="role_forbidden")

    return guard


# Handlers declare ``user: AuthUser`` to receive the logged-in user (provided app-wide in backend.app).
AuthUser = NamedDependency[CurrentUser]
