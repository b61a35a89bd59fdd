"""Login, logout, tokens, the current user, user administration."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie

from backend.accounts import services
from backend.accounts.roles import ROLES
from backend.accounts.schemas import LoginIn, PasswordChangeIn, UserIn
from backend.auth import COOKIE_NAME, AuthUser, roles
from backend.errors import Forbidden
from backend.settings import get_settings


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def user_dict(user: AuthUser) -> dict[str, Any]:
    return {
        "id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
        "role_label": ROLES[user.role], "district_ids": sorted(user.district_ids),
        "must_change_password": user.must_change_password,
    }


def session_cookie(token: str) -> Cookie:
    s = get_settings()
    return Cookie(key=COOKIE_NAME, value=token, httponly=True, samesite="lax", secure=s.cookie_secure,
                  max_age=s.session_hours * 3600, path="/")


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/login", status_code=200)
    async def login(self, data: LoginIn, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        user = await services.authenticate(data.username, data.password, client_address(request))
        token = await services.issue_token(user.id, "cookie")
        return Response(user_dict(user), cookies=[session_cookie(token)])

    @post("/token", status_code=200)
    async def token(self, data: LoginIn, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Bearer token for API clients: ``Authorization: Bearer <token>``."""
        user = await services.authenticate(data.username, data.password, client_address(request))
        return {"access_token": await services.issue_token(user.id, "bearer"), "token_type": "bearer"}

    @post("/logout", status_code=200)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        if isinstance(request.auth, str):
            await services.revoke_token(request.auth)
        return Response({"status": "logged_out"}, cookies=[Cookie(key=COOKIE_NAME, value="", max_age=0, path="/")])

    @post("/password", status_code=200)
    async def password(self, data: PasswordChangeIn, user: AuthUser) -> dict[str, str]:
        await services.change_password(user.id, data.old_password, data.new_password)
        return {"status": "changed"}


class UserController(Controller):
    path = "/api"
    tags = ["users"]

    @get("/me")
    async def me(self, user: AuthUser) -> dict[str, Any]:
        return user_dict(user)

    @post("/users", guards=[roles("supervisor", "enterprise", "project_staff")])
    async def create(self, data: UserIn, user: AuthUser) -> dict[str, int]:
        # Who may create whom: admin anyone; a supervisor staff of their districts' projects; project
        # staff and enterprises create foremen and workers for their own projects.
        if user.role != "admin":
            if data.role in ("admin", "supervisor", "vendor") and not (
                user.role == "supervisor" and data.role == "supervisor" and set(data.district_ids) <= user.district_ids
            ):
                raise Forbidden("不能创建该角色的账号", "You may not create accounts of this role", field="role")
            for pid in data.project_ids:
                await services.require_project(user, pid, write=user.role != "supervisor")
        uid = await services.create_user(
            data.username, data.password, data.role, display_name=data.display_name, phone=data.phone,
            person_id=data.person_id, enterprise_id=data.enterprise_id, vendor_id=data.vendor_id,
            district_ids=data.district_ids, project_ids=data.project_ids, must_change_password=True,
        )
        return {"id": uid}
