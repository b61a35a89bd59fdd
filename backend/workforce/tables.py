"""Workforce: people (encrypted ID numbers), roster entries, enrolments."""

from __future__ import annotations

from piccolo.columns import Bytea, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import Project, ProjectUnit, Team
from backend.vocabulary import EnrolmentSource, WorkRole, width


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
