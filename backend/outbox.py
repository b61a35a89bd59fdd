"""The upload outbox (issue 17): every change the provincial/national worker platform must know is written here,
as an ``upload_task`` row, in the same transaction as the change.

This module sits in the base layer on purpose: the services that make the changes (org, workforce, attendance,
crew) are below ``backend.platform`` (which reads their tables to build payloads), so they cannot import it.
They call :func:`enqueue` — one INSERT, nothing else — and ``backend.platform.uploader`` does the rest (order,
signing, sending, polling, retries).  The table belongs to the ``platform`` Piccolo app
(``backend/platform/piccolo_app.py``); its migration is there.

Coalescing: a task that has not been sent yet holds ``open_key`` = ``"<kind>:<entity_id>"`` (unique); a second
change of the same entity before the uploader picks the first up inserts nothing (``ON CONFLICT DO NOTHING``).
The uploader clears ``open_key`` when it starts sending, so a change made after that is a new task (an update).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

UploadKind = Literal["project", "project_unit", "team", "worker", "worker_entry", "worker_exit", "contract",
                     "attendance", "payroll"]
UploadOp = Literal["add", "update"]


class TaskState:
    """``upload_task.state`` (internal; people see ``vocabulary.UploadState`` of the entity).

    pending  → not sent yet (or due again after a dependency wait)
    waiting  → held until a parent entity is 上传成功
    sending  → a request went out without a definite answer (crash, timeout, lost reply): the next attempt
               asks the platform first (``client.lookup``) and resends only when the platform does not have it
    polling  → accepted with a serial code; polling AsyncHandleResult.Query
    done / failed / cancelled → finished (failed waits for a human fix and a new task)"""

    pending = "pending"
    waiting = "waiting"
    sending = "sending"
    polling = "polling"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


OPEN_STATES = (TaskState.pending, TaskState.waiting, TaskState.sending, TaskState.polling)


class UploadTask(Table, tablename="upload_task"):
    """One thing to tell the platform: ``op`` on entity ``kind``/``entity_id``."""

    kind = Varchar(length=20)
    entity_id = Integer()
    op = Varchar(length=8, default="add")
    project_id = Integer(null=True, default=None)  # for the pages' filters; plain id (no FK: one cheap insert)
    idem_key = Varchar(length=40, unique=True)  # the task's own idempotency key (never reused)
    open_key = Varchar(length=40, null=True, default=None, unique=True)  # "<kind>:<id>" while not yet sent
    state = Varchar(length=12, default=TaskState.pending, index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    sent_at = Timestamptz(null=True, default=None)  # the first send of this task (polling give-up counts from it)
    serial = Varchar(length=80, null=True, default=None)  # the platform's requestSerialCode
    last_reason = Text(null=True, default=None)
    parent_kind = Varchar(length=20, null=True, default=None)  # the entity this task waits for
    parent_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


def open_key(kind: str, entity_id: int) -> str:
    return f"{kind}:{entity_id}"


async def enqueue(kind: UploadKind, entity_id: int, op: UploadOp = "add", *, project_id: int | None = None) -> None:
    """Record that the platform must learn of this change.  Call it inside the caller's write transaction (it
    joins it: committed or rolled back with the change).  One INSERT; a task for the same entity that is not
    sent yet absorbs it.  ``op`` is the caller's intent; the uploader sends an update once the entity is
    上传成功 and an add before, whatever was asked."""
    now = datetime.now(UTC)
    await UploadTask.insert(UploadTask(
        kind=kind, entity_id=entity_id, op=op, project_id=project_id, idem_key=uuid.uuid4().hex,
        open_key=open_key(kind, entity_id), state=TaskState.pending, next_attempt_at=now, created_at=now,
        updated_at=now,
    )).on_conflict(target=UploadTask.open_key, action="DO NOTHING")


async def enqueue_many(kind: UploadKind, entities: list[tuple[int, int | None]], op: UploadOp = "add") -> None:
    """:func:`enqueue` for many entities at once — ``(entity_id, project_id)`` pairs — in one multi-row INSERT
    (the gate's group commit, ``backend.attendance.batching``).  Same rules: inside the caller's transaction, a
    task for an entity that is not sent yet absorbs the new one.  Plain SQL: building a Piccolo row per entity
    cost more than the insert itself (benchmarks/gate.py profile)."""
    if not entities:
        return
    from piccolo.engine.postgres import PostgresEngine

    now = datetime.now(UTC)
    cols = "kind, entity_id, op, project_id, idem_key, open_key, state, attempts, next_attempt_at, created_at, updated_at"
    rows = [(entity_id, project_id, uuid.uuid4().hex, open_key(kind, entity_id)) for entity_id, project_id in entities]
    if isinstance(UploadTask._meta.db, PostgresEngine):
        await UploadTask.raw(
            f"INSERT INTO upload_task ({cols}) SELECT {{}}, u.e, {{}}, u.p, u.i, u.o, {{}}, 0, {{}}, {{}}, {{}} "
            "FROM unnest({}::int[], {}::int[], {}::text[], {}::text[]) AS u(e, p, i, o) "
            "ON CONFLICT (open_key) DO NOTHING",
            kind, op, TaskState.pending, now, now, now, *(list(c) for c in zip(*rows, strict=True)))
        return
    values = ", ".join("({}, {}, {}, {}, {}, {}, {}, 0, {}, {}, {})" for _ in rows)
    await UploadTask.raw(f"INSERT INTO upload_task ({cols}) VALUES {values} ON CONFLICT (open_key) DO NOTHING",
                         *(v for e, pr, i, o in rows for v in (kind, e, op, pr, i, o, TaskState.pending, now, now, now)))


def enqueue_from_sql_pg(kind: UploadKind, source: str, op: UploadOp = "add") -> str:
    """PostgreSQL: the INSERT of :func:`enqueue_many` reading ``(entity_id, project_id)`` from the relation
    ``source`` (a CTE of the caller's statement) — for a caller that writes its rows and their tasks in one
    statement (the gate's group commit).  The same rows as ``enqueue``: open key ``"<kind>:<id>"``, a fresh
    idempotency key, pending now; an open task for the entity absorbs it."""
    if kind not in UploadKind.__args__ or op not in UploadOp.__args__:  # type: ignore[attr-defined]
        raise ValueError(f"unknown upload kind/op {kind}/{op}")
    return ("INSERT INTO upload_task (kind, entity_id, op, project_id, idem_key, open_key, state, attempts, "
            "next_attempt_at, created_at, updated_at) "
            f"SELECT '{kind}', s.entity_id, '{op}', s.project_id, replace(gen_random_uuid()::text, '-', ''), "
            f"'{kind}:' || s.entity_id, '{TaskState.pending}', 0, now(), now(), now() FROM {source} AS s "
            "ON CONFLICT (open_key) DO NOTHING")
