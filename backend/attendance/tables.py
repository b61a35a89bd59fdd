"""Punches: the one attendance model every source (gate, mobile, make-up) writes."""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, Bytea, DoublePrecision, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from backend.devices.tables import Terminal
from backend.org.tables import Project
from backend.vocabulary import Direction, PunchVerdict, Source, width
from backend.workforce.tables import Person


class Punch(Table, tablename="punch"):
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    person = ForeignKey(references=Person, null=True, index=True, on_delete=OnDelete.restrict)  # null only when rejected as unknown
    source = Varchar(length=width(Source, 8))  # gate | mobile | makeup
    idempotency_key = Varchar(length=128, unique=True)
    terminal = ForeignKey(references=Terminal, null=True, on_delete=OnDelete.restrict)
    direction = Varchar(length=width(Direction, 4), null=True, default=None)  # in | out
    captured_at = Timestamptz()  # device clock (UTC)
    received_at = Timestamptz()  # server clock at commit (UTC)
    latency_s = DoublePrecision()
    local_date = Varchar(length=10, index=True)  # capture day in the project's time zone (YYYY-MM-DD)
    verdict = Varchar(length=width(PunchVerdict, 10))  # accepted | flagged | rejected
    reasons = JSON(default="[]")  # rejection codes
    flags = JSON(default="[]")  # review flags (late_upload, near_edge, clock_skew, ...)
    lon = DoublePrecision(null=True, default=None)
    lat = DoublePrecision(null=True, default=None)
    accuracy_m = DoublePrecision(null=True, default=None)
    fence_id = Integer(null=True, default=None)
    fence_distance_m = DoublePrecision(null=True, default=None)
    face_distance = DoublePrecision(null=True, default=None)
    liveness_passed = Boolean(null=True, default=None)
    makeup_request = Integer(null=True, default=None)
    # The punch photo (issue 18): SHA-256 hex of its bytes in backend.photostore, and its content type; null = none
    # (or, before ``smz photos migrate``, a legacy ``punch_photo`` row).
    photo_sha256 = Varchar(length=64, null=True, default=None, index=True)
    photo_type = Varchar(length=32, null=True, default=None)
    # where a gate batch's photo is: its slice of a pack file (backend.photostore ``put_packed``); null = a file
    # of its own, found by the hash
    photo_loc = Varchar(length=96, null=True, default=None)


class PunchPhoto(Table, tablename="punch_photo"):
    """Legacy (before issue 18): photos now live in backend.photostore, the hash in ``Punch.photo_sha256``.  Rows
    left here are read as a fallback and moved by ``smz photos migrate`` (backend.attendance.photo_migration)."""

    punch = ForeignKey(references=Punch, null=False, unique=True, on_delete=OnDelete.cascade)
    content_type = Varchar(length=32, default="image/jpeg")
    data = Bytea()
