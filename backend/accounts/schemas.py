from __future__ import annotations

from backend.org.schemas import Id, Strict, Text


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
