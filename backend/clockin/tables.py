"""Phone clock-in: liveness challenges and make-up requests (补卡)."""

from __future__ import annotations

from piccolo.columns import JSON, Bytea, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import Project
from backend.vocabulary import Direction, MakeupReason, MakeupStatus, width
from backend.workforce.tables import Person


class LivenessChallenge(Table, tablename="liveness_challenge"):
    nonce = Varchar(length=64, unique=True)
    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.cascade)
    actions = JSON(default="[]")
    issued_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class MakeupRequest(Table, tablename="makeup_request"):
    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    requested_by = Integer()  # user id
    punch_time = Timestamptz()  # the time to be recorded (UTC)
    direction = Varchar(length=width(Direction, 4), null=True, default=None)
    reason = Varchar(length=width(MakeupReason, 32))  # rain | network_failure | device_failure | other
    note = Text(default="")
    evidence = Bytea(null=True, default=None)
    evidence_type = Varchar(length=40, null=True, default=None)
    status = Varchar(length=width(MakeupStatus, 10), default=MakeupStatus.pending)
    requested_at = Timestamptz(default=TimestamptzNow())
    decided_by = Integer(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    decision_note = Text(default="")
    punch = Integer(null=True, default=None)
    day = Date()
