from __future__ import annotations

from datetime import date

from backend.org.schemas import Id, Strict, Text


class RosterIn(Strict):
    """Register a person (created if new) and enter them on the project's roster."""

    id_number: Text(18)
    name: Text(60)
    unit_id: Id
    team_id: Id
    work_role: Text(8)
    post: Text(40) | None = None
    work_type: Text(8) | None = None
    phone: Text(20) | None = None
    ethnicity: Text(8) = "01"
    birth_date: date | None = None
    gender: Text(1) | None = None
    entered_on: date | None = None


class RosterExitIn(Strict):
    exited_on: date
    note: Text(500) = ""
