"""Requests and responses of the approvals API (项目申报)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from backend.schemas import Out


class UnitIn(msgspec.Struct):
    name: str = ""
    uscc: str = ""
    unit_type: str = ""


class ApplicationIn(msgspec.Struct):
    """Loosely typed on purpose: every check (and its Chinese message) is the service's, the same as the browser's."""

    name: str = ""
    permit_no: str = ""
    category: str = ""
    district_id: int | str | None = None
    address: str = ""
    lon: float | str | None = None
    lat: float | str | None = None
    planned_start: str = ""
    planned_finish: str = ""
    floor_area_m2: float | str | None = None
    contract_value_yuan: float | str | None = None
    applicant_name: str = ""
    applicant_phone: str = ""
    units: list[UnitIn] = msgspec.field(default_factory=list)


class ReturnIn(msgspec.Struct):
    reason: str = ""


class UnitOut(Out):
    name: str
    uscc: str
    unit_type: str
    unit_type_label: str = ""


class RoundOut(Out):
    round_no: int
    action: str
    action_label: str
    by_name: str
    at: datetime
    at_local: str
    reason: str


class ApplicationSummaryOut(Out):
    id: int
    name: str
    status: str
    status_label: str
    category: str
    category_label: str
    district: int
    district_name: str
    enterprise_name: str | None
    round_no: int
    submitted_at: datetime
    submitted_at_local: str
    decided_at: datetime | None
    decided_at_local: str
    reason: str
    project: int | None


class ApplicationPageOut(Out):
    items: list[ApplicationSummaryOut]
    total: int
    page: int
    page_size: int


class ApplicationOut(ApplicationSummaryOut):
    permit_no: str | None
    address: str | None
    lon: float | None
    lat: float | None
    planned_start: date
    planned_finish: date
    floor_area_m2: float | None
    contract_value_yuan: float | None
    applicant_name: str
    applicant_phone: str | None
    units: list[UnitOut]
    rounds: list[RoundOut]
    can_decide: bool
    can_resubmit: bool


class PassedOut(Out):
    """The only response that carries the one-time password of the issued project-staff account."""

    project_id: int
    username: str
    password: str


class AuditEntryOut(Out):
    at: datetime
    at_local: str
    actor: str
    action_label: str
    from_value: str
    to_value: str
    reason_text: str
