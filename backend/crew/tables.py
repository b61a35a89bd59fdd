"""Crew registration on the foreman's tablet: registrations (ID check → 人证核验 → roster),
uploaded documents, labour contracts, exit confirmations, import jobs and the face-index version.

Files (ID-card photos, contracts, exit confirmations) are stored in the database (``CrewFile.data``,
Bytea), so one backup holds everything and several app processes need no shared disk; their size is
capped by ``rules.crew_document_max_bytes``.  Biometric data kept: the ID-card portrait crop and the
enrolment face photo (small JPEGs) and the 512-byte template — never the liveness frame burst.
"""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, Bytea, Date, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import Project
from backend.vocabulary import ImportStatus, RegistrationStatus, ReviewKind, width
from backend.workforce.tables import (
    IdAccessLog as IdAccessLog,  # defined in workforce (issue 20 B.3); migrations: crew's
)
from backend.workforce.tables import Person, RosterEntry


class CrewFile(Table, tablename="crew_file"):
    """An uploaded document; ``content_type`` is what the bytes are (sniffed), not what was declared."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    kind = Varchar(length=24)  # id_front | id_back | contract | exit_confirmation
    content_type = Varchar(length=40)  # image/jpeg | image/png | application/pdf
    size = Integer()
    sha256 = Varchar(length=64)
    filename = Varchar(length=200, default="")
    data = Bytea()
    uploaded_by = Integer(null=True, default=None)  # user id
    uploaded_at = Timestamptz(default=TimestamptzNow())


class Registration(Table, tablename="crew_registration"):
    """One registration of a person for a project, step by step (see dictionaries.REG_STATUS)."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.restrict)
    status = Varchar(length=width(RegistrationStatus, 24), default="id_checked")
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    # ID card (front: portrait side is the back in Chinese usage; we say front = 人像面, back = 国徽面)
    id_front = ForeignKey(references=CrewFile, null=True, default=None, on_delete=OnDelete.restrict)
    id_back = ForeignKey(references=CrewFile, null=True, default=None, on_delete=OnDelete.restrict)
    id_valid_from = Date(null=True, default=None)
    id_valid_until = Date(null=True, default=None)
    id_long_term = Boolean(default=False)
    id_photo = Bytea(null=True, default=None)  # portrait crop of the ID card (≤ gate_id_photo_max_bytes)
    id_template = Bytea(null=True, default=None)  # 512-byte template of that portrait
    # Existing roster entry on this project (a person imported without a face gets enrolled here).
    existing_entry = Integer(null=True, default=None)
    elsewhere = JSON(default="[]")  # snapshot of the "active on another project" warning
    # 人证核验 (live selfie with liveness vs the ID-card portrait)
    face_photo = Bytea(null=True, default=None)  # enrolment photo (≤ gate_punch_photo_max_bytes)
    face_template = Bytea(null=True, default=None)
    face_distance = DoublePrecision(null=True, default=None)
    face_tolerance = DoublePrecision(null=True, default=None)
    face_matched = Boolean(null=True, default=None)
    liveness_passed = Boolean(null=True, default=None)
    liveness_attempts = Integer(default=0)
    liveness_reasons = JSON(default="[]")  # reasons of the last failed attempt
    face_checked_at = Timestamptz(null=True, default=None)
    duplicate_person = Integer(null=True, default=None)  # another person with the same face
    duplicate_distance = DoublePrecision(null=True, default=None)
    # Supervisor's decision on a face mismatch or a duplicate face
    review_kind = Varchar(length=width(ReviewKind, 16), null=True, default=None)  # face_mismatch | duplicate_face
    review_decision = Varchar(length=10, null=True, default=None)  # approved | rejected
    reviewed_by = Integer(null=True, default=None)
    reviewed_at = Timestamptz(null=True, default=None)
    review_note = Text(default="")
    # Result
    roster_entry = Integer(null=True, default=None)
    account_user = Integer(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)


class LabourContract(Table, tablename="crew_contract"):
    """劳动合同 of a person on a project, with its signed copy (PDF or photo)."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.restrict)
    roster_entry = ForeignKey(references=RosterEntry, null=False, index=True, on_delete=OnDelete.restrict)
    contract_no = Varchar(length=60, default="")
    contract_type = Varchar(length=16)  # fixed_term | task | open_ended
    signed_on = Date(null=True, default=None)
    starts_on = Date()
    ends_on = Date(null=True, default=None)
    file = ForeignKey(references=CrewFile, null=False, on_delete=OnDelete.restrict)
    uploaded_by = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # 计量单位 / 计量单价 (seed 001 §2.9): vocabulary.WageUnit ("" = not stated) and the rate in fen (backend/wages)
    wage_unit = Varchar(length=8, default="")
    wage_rate_fen = Integer(null=True, default=None)


class ExitConfirmation(Table, tablename="crew_exit"):
    """退场确认书 (seed 004 §三(五)): the signed confirmation kept with the exit."""

    roster_entry = ForeignKey(references=RosterEntry, null=False, unique=True, on_delete=OnDelete.restrict)
    file = ForeignKey(references=CrewFile, null=False, on_delete=OnDelete.restrict)
    exited_on = Date()
    note = Text(default="")
    # what the foreman affirmed with the person (seed 004 §三(五)); both required since 2026-12-02
    workload_confirmed = Boolean(default=False)
    wages_settled = Boolean(default=False)
    recorded_by = Integer(null=True, default=None)
    recorded_at = Timestamptz(default=TimestamptzNow())


class ImportJob(Table, tablename="crew_import_job"):
    """A bulk .xlsx import: validated row by row, written all at once or not at all."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    created_by = Integer(null=True, default=None)
    filename = Varchar(length=200, default="")
    status = Varchar(length=width(ImportStatus, 12), default="queued")  # queued | validating | writing | done | failed
    total = Integer(default=0)
    done = Integer(default=0)
    imported = Integer(default=0)
    errors = JSON(default="[]")  # [{row, column, message, message_en}]
    warnings = JSON(default="[]")
    message = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class FaceIndexState(Table, tablename="crew_face_index"):
    """One row: a counter bumped in the same transaction as every enrolment change made here, so that
    each app process knows when its in-memory 1:N template matrix is stale."""

    version = Integer(default=0)
