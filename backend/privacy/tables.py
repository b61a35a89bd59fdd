"""Privacy tables owned by the retention job and the key rotation (issue 20 B.2, B.5).

``retention_run``: one row per project a real ``smz retention`` run worked on, with what it deleted or masked
(counts only — never the data).  ``key_rotation``: one row per ``smz rotate-key`` run, with the key id it
re-encrypted to and the rows it changed.
"""

from __future__ import annotations

from piccolo.columns import Date, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import Project


class RetentionRun(Table, tablename="retention_run"):
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    completed_on = Date()  # the 竣工 date the retention counted from
    retention_years = Integer()
    as_of = Date()  # the run's "today" (project time zone)
    status = Varchar(length=12, default="running")  # running | done (a crashed run is resumed by the next one)
    started_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    punch_photos = Integer(default=0)
    face_photos = Integer(default=0)
    face_templates = Integer(default=0)
    id_photos = Integer(default=0)
    id_files = Integer(default=0)
    id_numbers = Integer(default=0)
    bank_cards = Integer(default=0)


class KeyRotation(Table, tablename="key_rotation"):
    key_id = Varchar(length=16)  # the current key's id (backend.crypto.key_id)
    old_key_ids = Varchar(length=200, default="")  # the ids of SMZ_OLD_SECRET_KEYS then ("": nothing to retire)
    status = Varchar(length=12, default="running")  # running | done
    started_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    reencrypted = Integer(default=0)
    rehashed = Integer(default=0)
