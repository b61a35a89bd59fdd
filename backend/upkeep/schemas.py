"""Input and output Structs of the upkeep API (repair tickets, removal notices, findings, vendor service)."""

from __future__ import annotations

from datetime import date, datetime

from backend.org.schemas import Strict, Text
from backend.schemas import Out


class FaultReportIn(Strict):
    detail: Text(1000)


class TicketCloseIn(Strict):
    note: Text(1000)


class NoticeIn(Strict):
    terminal_id: int
    action: Text(8)  # remove | move
    planned_on: date
    reason: Text(1000) = ""
    new_location: Text(1000) = ""


class NoticeDoneIn(Strict):
    done_on: date


class AcceptanceIn(Strict):
    note: Text(1000)


class TicketOut(Out):
    id: int
    terminal: int
    serial: str
    project: int
    project_name: str
    vendor: int
    vendor_name: str
    kind: str
    kind_label: str
    detail: str
    status: str
    status_label: str
    opened_at: datetime
    due_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    close_note: str
    escalated_at: datetime | None
    overdue: bool
    opened_local: str
    due_local: str
    closed_local: str


class TicketClosedOut(Out):
    id: int
    late: bool


class NoticeOut(Out):
    id: int
    terminal: int
    serial: str
    project: int
    project_name: str
    vendor: int
    vendor_name: str
    action: str
    action_label: str
    reason: str
    new_location: str
    planned_on: date
    filed_on: date
    notice_on_time: bool
    status: str
    status_label: str
    done_on: date | None
    acceptance_due_on: date | None
    accepted_on: date | None
    acceptance_note: str
    acceptance_on_time: bool | None


class NoticeFiledOut(Out):
    id: int
    on_time: bool
    earliest_on_time: date


class NoticeDoneOut(Out):
    id: int
    acceptance_due_on: date


class AcceptanceOut(Out):
    id: int
    on_time: bool


class FindingOut(Out):
    id: int
    kind: str
    kind_label: str
    project: int
    project_name: str
    vendor: int | None
    vendor_name: str | None
    terminal: int | None
    ticket: int | None
    notice: int | None
    message: str
    at: datetime
    at_local: str


class VendorServiceOut(Out):
    vendor_id: int
    name: str
    terminals: int
    online: int
    offline: int
    never: int
    disabled: int
    alarms_24h: int
    tickets_open: int
    tickets_overdue: int
    tickets_closed: int
    closed_on_time: int
    median_repair_h: float | None
    p90_repair_h: float | None
    acceptances_due: int
    acceptances_on_time: int
    acceptance_rate: float | None
    notices_late: int
