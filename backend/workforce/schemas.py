from __future__ import annotations

from datetime import date

from backend.org.schemas import Strict


class RosterIn(Strict):
    """Register a person (created if new) and enter them on the project's roster."""

    id_number: str
    name: str
    unit_id: int
    team_id: int
    work_role: str
    post: str | None = None
    work_type: str | None = None
    phone: str | None = None
    ethnicity: str = "01"
    birth_date: date | None = None
    gender: str | None = None
    entered_on: date | None = None


class RosterExitIn(Strict):
    exited_on: date
    note: str = ""
