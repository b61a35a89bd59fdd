from __future__ import annotations

from backend.org.schemas import Strict


class LoginIn(Strict):
    username: str
    password: str


class PasswordChangeIn(Strict):
    old_password: str
    new_password: str


class UserIn(Strict):
    username: str
    password: str
    role: str
    display_name: str | None = None
    phone: str | None = None
    district_ids: list[int] = []
    project_ids: list[int] = []
    enterprise_id: int | None = None
    vendor_id: int | None = None
    person_id: int | None = None
