"""The password page: change one's own password (required after a new account or a reset by someone else;
``backend.auth`` sends every other page there until it is done)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from backend.accounts import services
from backend.accounts.roles import ROLES
from backend.auth import AuthUser
from backend.errors import AppError, invalid
from backend.vocabulary import Role


def safe_next(target: str | None) -> str:
    """A ``next`` to go to after logging in or changing the password: a page of this site, never elsewhere
    (``//host`` and ``/\\host`` leave the site in a browser)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return "/" if any(c in target for c in "\\\t\r\n ") else target


def landing(user: AuthUser, target: str) -> str:
    """Where a login or a password change ends: workers' home is the phone app."""
    return "/m/" if user.role == Role.worker and target == "/" else target


def _next_after_password(target: str | None) -> str:
    """Never back to the password page itself."""
    target = safe_next(target)
    return "/" if target.startswith("/password") else target


def _context(user: AuthUser, next_: str, error: str | None = None) -> dict[str, Any]:
    return {"user": user, "role_label": ROLES[user.role], "next": next_, "error": error,
            "required": user.must_change_password, "min_length": services.PASSWORD_MIN_LENGTH}


@get("/password", include_in_schema=False)
async def password_page(user: AuthUser, next: str | None = None) -> Template:
    return Template("password.html", context=_context(user, _next_after_password(next)))


@post("/password", include_in_schema=False)
async def password_submit(
    request: Request[Any, Any, Any],
    user: AuthUser,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    target = _next_after_password(data.get("next"))
    try:
        if data.get("new_password", "") != data.get("new_password2", ""):
            raise invalid("new_password2", "两次输入的新密码不一致", "The two new passwords differ")
        current = request.auth if isinstance(request.auth, str) else None
        await services.change_password(user.id, data.get("old_password", ""), data.get("new_password", ""),
                                       current_token=current)
    except AppError as exc:
        return Template("password.html", context=_context(user, target, exc.zh), status_code=exc.status_code)
    return Redirect(landing(user, target))


PASSWORD_PAGES = [password_page, password_submit]
