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


def _safe_next(target: str | None) -> str:
    """Back to a page of this site after the change (never elsewhere, never the password page itself)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/password")):
        return "/"
    return "/" if any(c in target for c in "\\\t\r\n ") else target


def _context(user: AuthUser, next_: str, error: str | None = None) -> dict[str, Any]:
    return {"user": user, "role_label": ROLES[user.role], "next": next_, "error": error,
            "required": user.must_change_password, "min_length": services.PASSWORD_MIN_LENGTH}


@get("/password", include_in_schema=False)
async def password_page(user: AuthUser, next: str | None = None) -> Template:
    return Template("password.html", context=_context(user, _safe_next(next)))


@post("/password", include_in_schema=False)
async def password_submit(
    request: Request[Any, Any, Any],
    user: AuthUser,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    target = _safe_next(data.get("next"))
    try:
        if data.get("new_password", "") != data.get("new_password2", ""):
            raise invalid("new_password2", "两次输入的新密码不一致", "The two new passwords differ")
        current = request.auth if isinstance(request.auth, str) else None
        await services.change_password(user.id, data.get("old_password", ""), data.get("new_password", ""),
                                       current_token=current)
    except AppError as exc:
        return Template("password.html", context=_context(user, target, exc.zh), status_code=exc.status_code)
    if user.role == Role.worker and target == "/":
        target = "/m/"
    return Redirect(target)


PASSWORD_PAGES = [password_page, password_submit]
