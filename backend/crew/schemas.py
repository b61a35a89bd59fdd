"""JSON inputs of the crew API (most steps are multipart uploads, parsed in controllers.forms)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from msgspec import UNSET, UnsetType

from backend.org.schemas import Strict
from backend.schemas import MaskedId, Out
from backend.workforce.schemas import NoticeOut


class ReviewIn(Strict):
    """A supervisor's decision on a face mismatch or a duplicate face; the note is required."""

    approve: bool
    note: str



class JobOut(Out):
    """A background job started (poll its status)."""

    job_id: int


# --- responses (ID numbers only masked) ----------------------------------------------------------------------


class ElsewhereOut(Out):
    """The person is active on another project; outside the caller's scope the project is not named."""

    project_id: int | None
    project_name: str
    team_name: str | None
    unit_name: str | None
    work_role: str
    work_role_label: str
    entered_on: str | None
    name: str
    id_masked: MaskedId


class RegistrationStartedOut(Out):
    id: int
    status: str
    status_label: str
    person_id: int
    name: str
    id_masked: MaskedId
    gender: str
    birth_date: str
    elsewhere: list[ElsewhereOut]
    existing_entry: int | None
    kept_fields: list[str]
    message: str
    notices: list[NoticeOut]


class PersonBriefOut(Out):
    """Who a duplicate face belongs to; outside the caller's scope only that someone exists (``hidden``)."""

    id: int | None
    name: str | UnsetType | None = UNSET
    id_masked: MaskedId | UnsetType | None = UNSET
    projects: list[dict[str, Any]] | UnsetType = UNSET
    hidden: bool | UnsetType = UNSET


class RegistrationOut(Out):
    """A registration (the ID step done, face and roster steps to come) with its review state."""

    id: int
    project: int
    project_name: str
    person: int
    name: str
    id_masked: MaskedId
    gender: str
    birth_date: date | None
    ethnicity: str | None
    phone: str | None
    status: str
    status_label: str
    created_at: datetime
    updated_at: datetime
    id_front: int | None
    id_back: int | None
    id_valid_from: date | None
    id_valid_until: date | None
    id_long_term: bool
    existing_entry: int | None
    elsewhere: list[ElsewhereOut]
    face_distance: float | None
    face_tolerance: float | None
    face_matched: bool | None
    liveness_passed: bool | None
    liveness_attempts: int
    liveness_reasons: list[dict[str, Any]]
    face_checked_at: datetime | None
    duplicate_person: int | None
    duplicate_distance: float | None
    review_kind: str | None
    review_kind_label: str
    review_decision: str | None
    reviewed_by: int | None
    reviewed_at: datetime | None
    review_note: str
    roster_entry: int | None
    account_user: int | None
    completed_at: datetime | None
    duplicate: PersonBriefOut | UnsetType = UNSET


class RegistrationChallengeOut(Out):
    nonce: str
    actions: list[str]
    labels: list[str]
    prompt: str
    expires_at: str
    ttl_s: float
    max_frames: int
    max_frame_bytes: int


class DuplicateFaceOut(Out):
    name: str | None
    id_masked: MaskedId | None
    distance: float


class FaceCheckedOut(Out):
    """The face step: match against the ID photo, liveness detail, a duplicate face if one was found."""

    id: int
    status: str
    status_label: str
    distance: float
    tolerance: float
    matched: bool
    liveness: dict[str, Any]
    duplicate: DuplicateFaceOut | UnsetType = UNSET


class RegistrationCompletedOut(Out):
    """The roster step: the entry made and the worker's phone account (initial password shown once)."""

    id: int
    status: str
    status_label: str
    roster_entry_id: int
    person_id: int
    name: str
    id_masked: MaskedId
    username: str | None
    initial_password: str | None
    account_created: bool
    kept_fields: list[str]
    message: str
    notices: list[NoticeOut]
    on_gate: bool  # sent to the project's gate whitelist (no contract → not: seed 001 §五(十一))


class OcrOut(Out):
    available: bool
    fields: dict[str, Any]


class CrewRosterRowOut(Out):
    """A roster entry with its contract state, enrolment and exit confirmation file."""

    id: int
    person: int
    name: str
    id_masked: MaskedId
    gender: str
    unit: int
    unit_name: str
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
    contract_state: str
    contract_label: str
    enrolled: bool
    on_gate: bool  # on the gate whitelist (not exited, enrolled, a contract in force or the district's grace)
    gate_note: str  # why not (e.g. 未签劳动合同，未下发到闸机), or what to know; "" when nothing
    exit_file: int | None


class ExitedOut(Out):
    """An exit (seed 004 §三(五)): the signed 退场确认书's file and what the foreman affirmed."""

    entry_id: int
    exited_on: str
    file_id: int | None
    workload_confirmed: bool
    wages_settled: bool


class ContractOut(Out):
    id: int
    roster_entry: int
    person: int
    name: str
    contract_no: str
    contract_type: str
    contract_type_label: str
    signed_on: date | None
    starts_on: date
    ends_on: date | None
    file: int
    content_type: str
    created_at: datetime
    current: bool
    wage_unit: str = ""  # 计量单位 (seed 001 §2.9), "" when not stated
    wage_rate_fen: int | None = None  # 计量单价 in fen
    wage_terms: str = ""  # e.g. "按日 350.00 元"


class AccountIssuedOut(Out):
    """A worker's phone account with a new one-time initial password."""

    person_id: int
    name: str
    username: str
    initial_password: str


class ImportWarningOut(Out):
    row: int
    name: str
    id_masked: MaskedId
    project_name: str
    entered_on: str
    message: str


class ImportJobOut(Out):
    """An .xlsx import: progress, then the report (row errors, people active elsewhere)."""

    id: int
    project: int
    created_by: int | None
    filename: str
    status: str
    status_label: str
    total: int
    done: int
    imported: int
    errors: list[dict[str, Any]]
    warnings: list[ImportWarningOut]
    message: str
    created_at: datetime
    updated_at: datetime
    finished: bool
    percent: int


class CrewLimitsOut(Out):
    crew_document_max_bytes: int
    crew_import_max_bytes: int
    crew_import_max_rows: int
    liveness_max_frames: int
    mobile_max_frame_bytes: int
    ocr_available: bool


class ReviewDecidedOut(Out):
    id: int
    status: str
    status_label: str


class IdAccessOut(Out):
    """One full-ID export (who, when, which project, how many records, why)."""

    id: int
    user_id: int
    username: str
    role: str
    project: int
    project_name: str
    kind: str
    records: int
    reason: str
    accessed_at: datetime
