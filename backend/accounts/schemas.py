from __future__ import annotations

from backend.org.schemas import Id, Strict, Text
from backend.schemas import Out


class LoginIn(Strict):
    username: Text(64)
    password: Text(200)


class PasswordChangeIn(Strict):
    old_password: Text(200)
    new_password: Text(200)


class UserIn(Strict):
    username: Text(64)
    password: Text(200)
    role: Text(16)
    display_name: Text(60) | None = None
    phone: Text(20) | None = None
    district_ids: list[Id] = []
    project_ids: list[Id] = []
    enterprise_id: Id | None = None
    vendor_id: Id | None = None
    person_id: Id | None = None


class UserOut(Out):
    """The current user (``/api/me``, the login reply)."""

    id: int
    username: str
    display_name: str | None
    role: str
    role_label: str
    district_ids: list[int]
    must_change_password: bool


class TokenOut(Out):
    access_token: str
    token_type: str
