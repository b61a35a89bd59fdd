"""Workers' phone accounts: usernames and one-time initial passwords."""

from __future__ import annotations

import secrets
from typing import Any

from backend.accounts.services import CurrentUser, create_user, reset_password
from backend.accounts.tables import User
from backend.crew.services.common import _editor
from backend.db import write_transaction
from backend.errors import NotFound
from backend.vocabulary import Role
from backend.workforce import services as workforce
from backend.workforce.tables import RosterEntry

_PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def initial_password() -> str:
    """A one-time password that is easy to read out and type (no 0/o/1/l/i), 10 characters, with letters
    and digits both (the password rule refuses a single character class)."""
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(10))
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


async def _free_username(phone: str | None, person_id: int) -> str:
    candidates = [c for c in (phone, f"w{person_id:06d}") if c]
    for c in candidates:
        if not await User.exists().where(User.username == c):
            return c
    return f"w{person_id:06d}-{secrets.token_hex(2)}"


async def reset_worker_password(user: CurrentUser, project_id: int, person_id: int) -> dict[str, Any]:
    """Issue (or re-issue) the worker's phone account with a new one-time initial password."""
    await _editor(user, project_id)
    if not await RosterEntry.exists().where((RosterEntry.project == project_id) & (RosterEntry.person == person_id)):
        raise NotFound("此人不在本项目花名册中", "This person is not on the project's roster", field="person_id")
    person = await workforce.get_person(person_id)
    password = initial_password()
    async with write_transaction():
        account = await User.select(User.id, User.username).where(
            (User.person == person_id) & (User.role == Role.worker)).first()
        if account is None:
            username = await _free_username(person["phone"], person_id)
            await create_user(username, password, Role.worker, display_name=person["name"], phone=person["phone"],
                              person_id=person_id, must_change_password=True)
        else:
            username = account["username"]
            await reset_password(account["id"], password)  # ends the account's sessions and tokens too
    return {"person_id": person_id, "name": person["name"], "username": username, "initial_password": password}


