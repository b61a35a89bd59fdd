from __future__ import annotations

from datetime import date

from backend.org.schemas import Id, Strict, Text
from backend.schemas import MaskedId, Out


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
    """退场 (seed 004 §三(五)): the exit date, the signed 退场确认书 (``confirmation_file_id``: uploaded first with
    ``POST /api/projects/{project_id}/crew/exit-documents``) and what the foreman affirms with the person —
    workload confirmed, wages settled.  Each is required; what is missing is named in the 400."""

    exited_on: date | None = None
    confirmation_file_id: Id | None = None
    workload_confirmed: bool = False
    wages_settled: bool = False
    note: Text(500) = ""
    # Wages still owed on the payroll (issue 16 item 5): the exit needs this reason and raises a finding.
    unpaid_reason: Text(500) = ""


# --- responses ---------------------------------------------------------------------------------------------


class RosterRowOut(Out):
    """A roster entry; the ID number only masked."""

    id: int
    person: int
    name: str
    id_masked: MaskedId
    gender: str
    unit: int
    team: int
    team_name: str
    work_role: str
    work_role_label: str
    post: str | None
    post_label: str
    work_type: str | None
    work_type_label: str
    entered_on: date | None
    exited_on: date | None


class ActiveElsewhereOut(Out):
    """An active entry on another project: ``project`` None and a generic name outside the caller's scope."""

    project: int | None
    project_name: str
    entered_on: date | None


class NoticeOut(Out):
    """A notice for the foreman that refuses nothing (the district's age notice; no contract → not on the
    gate whitelist)."""

    code: str
    message: str
    message_en: str


class RosterEnteredOut(Out):
    id: int
    person_id: int
    active_elsewhere: list[ActiveElsewhereOut]
    kept_fields: list[str]
    message: str
    notices: list[NoticeOut]


class RosterExitedOut(Out):
    """An exit (seed 004 §三(五)): the signed 退场确认书's file and what the foreman affirmed."""

    status: str
    entry_id: int
    exited_on: str
    file_id: int
    workload_confirmed: bool
    wages_settled: bool
