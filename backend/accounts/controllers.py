"""Login, logout, tokens, the current user, user administration."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import JSONBody

from backend.accounts import services
from backend.accounts.roles import ROLES
from backend.accounts.schemas import LoginIn, PasswordChangeIn, TokenOut, UserIn, UserOut
from backend.accounts.services import CurrentUser
from backend.auth import COOKIE_NAME, AuthUser, LoginLimiterDep, check_same_origin, roles
from backend.auth import client_address as _client_address
from backend.errors import Forbidden, invalid
from backend.schemas import Created, StatusOut
from backend.settings import get_settings
from backend.vocabulary import Role


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client's address, proxy-aware (``SMZ_TRUSTED_PROXIES``): backend.auth.client_address."""
    return _client_address(request)


def user_out(user: AuthUser) -> UserOut:
    return UserOut(
        id=user.id, username=user.username, display_name=user.display_name, role=user.role,
        role_label=ROLES[user.role], district_ids=sorted(user.district_ids),
        must_change_password=user.must_change_password,
    )


def session_cookie(token: str) -> Cookie:
    s = get_settings()
    return Cookie(key=COOKIE_NAME, value=token, httponly=True, samesite="lax", secure=s.cookie_secure,
                  max_age=s.session_hours * 3600, path="/")


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/login", status_code=200)
    async def login(self, data: JSONBody[LoginIn], request: Request[Any, Any, Any],
                    login_limiter: LoginLimiterDep) -> Response[UserOut]:
        check_same_origin(request)  # it sets a session cookie: no login from a foreign page (login CSRF)
        user = await services.authenticate(data.username, data.password, client_address(request),
                                           limiter=login_limiter)
        token = await services.issue_token(user.id, "cookie")
        return Response(user_out(user), cookies=[session_cookie(token)])

    @post("/token", status_code=200)
    async def token(self, data: JSONBody[LoginIn], request: Request[Any, Any, Any],
                    login_limiter: LoginLimiterDep) -> TokenOut:
        """Bearer token for API clients: ``Authorization: Bearer <token>``."""
        user = await services.authenticate(data.username, data.password, client_address(request),
                                           limiter=login_limiter)
        return TokenOut(access_token=await services.issue_token(user.id, "bearer"), token_type="bearer")

    @post("/logout", status_code=200)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[StatusOut]:
        if isinstance(request.auth, str):
            await services.revoke_token(request.auth)
        return Response(StatusOut(status="logged_out"), cookies=[Cookie(key=COOKIE_NAME, value="", max_age=0, path="/")])

    @post("/password", status_code=200)
    async def password(self, data: JSONBody[PasswordChangeIn], user: AuthUser,
                       request: Request[Any, Any, Any]) -> StatusOut:
        """Change one's own password: every other session and token of the account ends, this one stays."""
        current = request.auth if isinstance(request.auth, str) else None
        await services.change_password(user.id, data.old_password, data.new_password, current_token=current)
        return StatusOut(status="changed")


class UserController(Controller):
    path = "/api"
    tags = ["users"]

    @get("/me")
    async def me(self, user: AuthUser) -> UserOut:
        return user_out(user)

    @post("/users", guards=[roles(Role.supervisor, Role.enterprise, Role.project_staff)])
    async def create(self, data: JSONBody[UserIn], user: AuthUser) -> Created:
        await check_may_create(user, data)
        uid = await services.create_user(
            data.username, data.password, data.role, display_name=data.display_name, phone=data.phone,
            person_id=data.person_id, enterprise_id=data.enterprise_id, vendor_id=data.vendor_id,
            district_ids=data.district_ids, project_ids=data.project_ids, must_change_password=True,
        )
        return Created(id=uid)


# Which roles each non-admin role may create (admin may create any).
CREATABLE: dict[str, frozenset[str]] = {
    Role.supervisor: frozenset({Role.supervisor, Role.project_staff, Role.foreman}),
    Role.enterprise: frozenset({Role.enterprise, Role.project_staff, Role.foreman, Role.worker}),
    Role.project_staff: frozenset({Role.foreman, Role.worker}),
}


async def check_may_create(user: CurrentUser, data: UserIn) -> None:
    """A new account may never see more than its creator: same or narrower districts, projects the creator
    may change, the creator's own enterprise, people on the creator's projects; vendors only by admin."""
    if user.role == Role.admin:
        return
    if data.role not in CREATABLE.get(user.role, frozenset()):
        raise Forbidden("不能创建该角色的账号", "You may not create accounts of this role", field="role")
    if data.vendor_id is not None:
        raise Forbidden("只有系统管理员能创建厂商账号", "Only an admin creates vendor accounts", field="vendor_id")
    if not set(data.district_ids) <= user.district_ids or (data.district_ids and user.role != Role.supervisor):
        raise Forbidden("不能授予本人权限以外的区县", "You may not grant districts outside your own",
                        field="district_ids")
    if data.enterprise_id is not None and data.enterprise_id != user.enterprise_id:
        raise Forbidden("只能为本企业创建企业账号", "Enterprise accounts only for your own enterprise",
                        field="enterprise_id")
    if data.role == Role.enterprise and data.enterprise_id is None:
        raise invalid("enterprise_id", "企业账号须指定企业", "An enterprise account needs an enterprise")
    for pid in data.project_ids:
        await services.require_project(user, pid, write=user.role != Role.supervisor)
    if data.person_id is not None:
        allowed = await services.visible_project_ids(user)
        on = await services.person_project_ids(data.person_id)
        if allowed is not None and not (on & allowed):
            raise Forbidden("只能为本人项目花名册中的人员创建账号", "Only for people on your projects' rosters",
                            field="person_id")
