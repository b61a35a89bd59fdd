"""Workforce: people (encrypted ID numbers), roster entries, enrolments, biometric consent, the full-ID access log
and corrections of a person's data (issue 20 B: usable by crew, wages and devices, so they live here)."""

from __future__ import annotations

from piccolo.columns import JSON, Bytea, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import Project, ProjectUnit, Team
from backend.vocabulary import ConsentAction, ConsentChannel, CorrectionField, EnrolmentSource, Role, WorkRole, width


class Person(Table, tablename="person"):
    name = Varchar(length=60)
    id_cipher = Text()  # AES-GCM of the ID number (backend/crypto.py)
    id_hash = Varchar(length=64, unique=True, index=True)  # keyed HMAC for look-ups
    id_masked = Varchar(length=18)  # 4407**********123X, safe to show
    gender = Varchar(length=1)  # M | F (derived from the ID number)
    birth_date = Date()
    ethnicity = Varchar(length=2, default="01")  # seed 001 民族字典 01–58
    phone = Varchar(length=20, null=True, default=None)
    address = Varchar(length=200, null=True, default=None)  # from the ID card, when captured
    id_issuer = Varchar(length=60, null=True, default=None)
    id_valid_until = Date(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class RosterEntry(Table, tablename="roster_entry"):
    """花名册: a person on a project, in a unit and team, entered and (later) exited."""

    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    unit = ForeignKey(references=ProjectUnit, null=False, on_delete=OnDelete.restrict)
    team = ForeignKey(references=Team, null=False, on_delete=OnDelete.restrict)
    work_role = Varchar(length=width(WorkRole, 8))  # manager | worker
    post = Varchar(length=40, null=True, default=None)  # key posts (backend/workforce/dictionaries.py)
    work_type = Varchar(length=8, null=True, default=None)  # national work type code
    entered_on = Date()
    exited_on = Date(null=True, default=None)
    exit_note = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Enrolment(Table, tablename="enrolment"):
    """采集: the face template (and photos) of a person, used by phones and gate whitelists."""

    person = ForeignKey(references=Person, null=False, unique=True, on_delete=OnDelete.restrict)
    face_template = Bytea(null=True, default=None)  # face embedding (see docs/face.md)
    face_photo = Bytea(null=True, default=None)
    id_photo = Bytea(null=True, default=None)
    source = Varchar(length=width(EnrolmentSource, 16), default="tablet")  # tablet | gate | import
    enrolled_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    face_version = Integer(default=1)


class ConsentRecord(Table, tablename="biometric_consent"):
    """单独同意 to biometric processing (PIPL §28–29; issue 20 B.1), one row per event, never updated: the person's
    answer (given / declined / withdrawn), the consent text's version shown (``workforce.consent.CONSENT_TEXTS``),
    the channel, the project and the account that recorded it.  The latest given/withdrawn row is the state."""

    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.restrict)
    action = Varchar(length=width(ConsentAction, 12))
    version = Varchar(length=16, default="")
    channel = Varchar(length=width(ConsentChannel, 16))
    project = Integer(null=True, default=None)  # no FK: the record outlives projects
    recorded_by = Integer(null=True, default=None)  # user id (None: the person on their phone or a terminal)
    recorded_by_name = Varchar(length=64, default="")
    note = Text(default="")
    recorded_at = Timestamptz(default=TimestamptzNow())


class PersonCorrection(Table, tablename="person_correction"):
    """A correction of a person's name, phone or ID number on their request (PIPL §46; issue 20 B.4): who, when,
    from, to (ID numbers masked), why."""

    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.restrict)
    field = Varchar(length=width(CorrectionField, 12))
    old_value = Varchar(length=60, default="")
    new_value = Varchar(length=60, default="")
    reason = Text(default="")
    project = Integer(null=True, default=None)
    user_id = Integer()
    username = Varchar(length=64)
    role = Varchar(length=width(Role, 16))
    corrected_at = Timestamptz(default=TimestamptzNow())


class IdAccessLog(Table, tablename="id_access_log"):
    """Every reading of full ID numbers by a person (full-ID roster export, bank file, a person's export): who,
    when, which project, which people and how many records, and why.  Written in the same transaction as the read;
    the district's supervisor reads it (``workforce.id_access``).  Its migrations are the crew app's (it was created
    there, crew_2026_12_02t10_41_17; person_ids: crew_2026_12_03t01_20_00): ``crew.tables`` re-exports it."""

    user_id = Integer()  # no FK: the log outlives accounts
    username = Varchar(length=64)
    role = Varchar(length=width(Role, 16))
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    kind = Varchar(length=24, default="roster_export")
    records = Integer(default=0)
    reason = Text(default="")
    accessed_at = Timestamptz(default=TimestamptzNow())
    person_ids = JSON(default="[]")  # the people whose numbers were read (capped: id_access.PERSON_IDS_MAX)
