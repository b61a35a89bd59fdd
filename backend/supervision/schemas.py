"""Input structs of the supervision API (unknown fields are refused)."""

from __future__ import annotations

from datetime import date

from backend.org.schemas import Strict


class ActionIn(Strict):
    action: str  # rectify | reopen | close
    note: str


class EvaluateIn(Strict):
    today: date | None = None
    notify: bool = True


class RollupIn(Strict):
    day: date | None = None
    month: str | None = None


class NotifySettingIn(Strict):
    in_site: bool
    sms: bool = False
    key_people: bool = False
    to_project_manager: bool = False
    to_chief_supervising_engineer: bool = False
    to_safety_officer: bool = False
    others: bool = False


class RecipientIn(Strict):
    project_id: int
    name: str
    phone: str
    note: str = ""


class ReadIn(Strict):
    message_id: int | None = None
