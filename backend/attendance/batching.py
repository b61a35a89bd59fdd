"""Group commit for gate punches (issue 18): punches that arrive within a few milliseconds share one
transaction, one commit (one fsync) and a handful of queries, and each caller is answered after that commit.

    batcher = PunchBatcher(feed=app_feed)          # one per process (the gate server's TerminalDomain)
    verdict = await batcher.submit(punch_in)       # returns after the batch's COMMIT, or raises

What a batch does, in order (``_flush``):

1. the facts of every punch, for the whole batch at once and fresh from the database — projects with their
   status, time zone and district rules (one query), roster membership on each capture day (one query per
   distinct day, through THE roster predicate ``workforce.services.on_roster``), people and their names (one
   query; the three at once, as fixed SQL texts prepared once per connection).  Nothing is cached across
   batches, so a roster, project or rule change committed before a batch starts is seen by it — in this process
   and in every other (no invalidation to miss);
2. ``attendance.services.judge`` on each punch (the same pure rules as the single path);
3. the batch's photos into the photo store (``backend.photostore.put_packed``: one pack file on the file store,
   one write and one sync), durable before the write below, so that a committed row never points at a missing
   photo;
4. one write transaction: one multi-row ``INSERT … ON CONFLICT (idempotency_key, local_date) DO NOTHING
   RETURNING`` for the punches (with their photo's hash), one for the upload outbox (``outbox.enqueue_many``) —
   on PostgreSQL both in ONE statement — and one look-up of the rows that already held a key (a re-sent punch
   answers with its first verdict, as ``record_punch`` does).  The key is unique per capture day (the punch table
   is partitioned by month of ``local_date`` on PostgreSQL); a re-sent punch has the same capture, so the same day;
5. after the COMMIT: each caller's future gets its verdict, then the live feed and one NOTIFY query publish the
   new punches.

A failure of the transaction fails every caller of the batch (no acknowledgement; the terminal resends, the key
makes the resend idempotent) and stores nothing.  A punch whose project or person does not exist fails alone
(its caller gets ``NotFound``) before the transaction, so it cannot take the others of its batch down.  A key
twice in one batch is stored once; the second caller gets the first's verdict marked ``duplicate``.

Flushing: a batch goes when ``max_rows`` punches wait or ``wait_ms`` after the first one arrived (settings
``gate_batch_max_rows`` / ``gate_batch_wait_ms``); ``max_inflight`` batches may be committing at once (SQLite: 1,
it has one writer).  Punches that arrive while the batches in flight commit wait for the next one, so the batch
grows with the load by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from piccolo.engine.postgres import PostgresEngine
from piccolo.utils.encoding import dump_json

from backend import photostore
from backend.attendance import live
from backend.attendance.services import (
    PunchFacts,
    PunchIn,
    Verdict,
    _aware,
    _check_request,
    event_for,
    find_by_keys,
    judge,
    local_day,
)
from backend.attendance.tables import Punch
from backend.db import dollar_placeholders, engine, fetch, in_list, write_transaction
from backend.errors import NotFound
from backend.outbox import enqueue_from_sql_pg, enqueue_many
from backend.rules import BASELINE, Rules, rules_for
from backend.settings import get_settings
from backend.vocabulary import PunchVerdict, Source

log = logging.getLogger("smz.attendance.batching")

# The punch table's columns a punch writes, in the order of the rows built by ``_row``.
_COLUMNS = ("project", "person", "source", "idempotency_key", "terminal", "direction", "captured_at", "received_at",
            "latency_s", "local_date", "verdict", "reasons", "flags", "lon", "lat", "accuracy_m", "fence_id",
            "fence_distance_m", "face_distance", "liveness_passed", "makeup_request", "photo_sha256", "photo_type",
            "photo_loc")
# PostgreSQL types of those columns.  A batch travels as ONE jsonb parameter — an array of rows, each an array of
# the values in ``_COLUMNS`` order — taken apart in SQL: one statement text whatever the batch size, prepared once
# per connection, and encoded by msgspec in microseconds (issue 18: asyncpg's encoding of an array parameter per
# column checked every element's type, ≈ 40 isinstance calls a punch).  reasons/flags are JSON values in the row.
_PG_TYPES = ("int", "int", "text", "text", "int", "text", "timestamptz", "timestamptz", "float8", "text", "text",
             "json", "json", "float8", "float8", "float8", "int", "float8", "float8", "bool", "int", "text", "text",
             "text")


def _pg_write_sql() -> str:
    """The whole write of a batch on PostgreSQL as ONE statement (one round trip, atomic on its own): the punches
    (with their photo's hash: the photos are in backend.photostore already), then — from the rows actually
    inserted — their upload tasks; returns the inserted keys."""
    cols = ", ".join(_COLUMNS)
    select = ", ".join(f"(e->{i})::{t}" if t == "json" else f"(e->>{i})::{t}" for i, t in enumerate(_PG_TYPES))
    return (
        f"WITH ins AS (INSERT INTO punch ({cols}) SELECT {select} FROM jsonb_array_elements({{}}::jsonb) AS e "
        "ON CONFLICT (idempotency_key, local_date) DO NOTHING RETURNING id, idempotency_key, project), "
        "uploads AS (SELECT ins.id AS entity_id, ins.project AS project_id FROM ins "
        "JOIN unnest({}::text[]) AS y(k) ON y.k = ins.idempotency_key), "
        f"queued AS ({enqueue_from_sql_pg('attendance', 'uploads')}) "
        "SELECT id, idempotency_key FROM ins"
    )


_PG_WRITE = _pg_write_sql()
_SQLITE_ROW = "(" + ", ".join("{}" for _ in _COLUMNS) + ")"


@dataclass(slots=True)
class _Item:
    punch: PunchIn
    future: asyncio.Future[Verdict]


@dataclass(frozen=True, slots=True)
class _Judged:
    item: _Item
    facts: PunchFacts
    verdict: str
    reasons: list[str]
    flags: list[str]
    name: str | None


class PunchBatcher:
    """One per process and event loop (created on the loop that uses it).  ``submit`` is safe to call from any
    number of tasks at once; the flushing task starts with the first punch and is stopped by ``close``."""

    def __init__(self, *, max_rows: int | None = None, wait_ms: float | None = None, max_inflight: int | None = None,
                 feed: live.LiveFeed | None = None) -> None:
        if max_rows is None or wait_ms is None or max_inflight is None:
            s = get_settings()
            max_rows = s.gate_batch_max_rows if max_rows is None else max_rows
            wait_ms = s.gate_batch_wait_ms if wait_ms is None else wait_ms
            if max_inflight is None:
                max_inflight = s.gate_batch_inflight if s.is_postgres else 1
        self.max_rows = max(1, max_rows)
        self.wait_s = max(0.0, wait_ms / 1000)
        self.max_inflight = max(1, max_inflight)
        self.feed = feed
        self._pending: list[_Item] = []
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_inflight)
        self._runner: asyncio.Task[None] | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._zones: dict[int, str] = {}  # project id → time zone as last read (a guess; see _judge_batch)
        self.batches = 0  # committed batches (tests, benchmarks)
        self.rows = 0  # punches answered through them

    async def submit(self, p: PunchIn) -> Verdict:
        """Judge, store once, publish — as ``record_punch``, sharing a transaction with the punches around it.
        Returns after the commit; raises if the punch was not stored (then nothing of it was)."""
        if p.source == Source.makeup:
            raise ValueError("make-up punches take the single path (record_punch)")
        _check_request(p)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="punch-batcher")
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # a caller that left (cancelled) leaves no "never retrieved" noise
        self._pending.append(_Item(p, future))
        if len(self._pending) == 1:
            self._wake.set()
        if len(self._pending) >= self.max_rows:
            self._full.set()
        return await asyncio.shield(future)  # a cancelled caller does not cancel the batch of the others

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
            if len(self._pending) < self.max_rows and self.wait_s > 0:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.wait_s)
            await self._slots.acquire()
            batch, self._pending = self._pending[:self.max_rows], self._pending[self.max_rows:]
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)

    async def close(self) -> None:
        """Commit what waits, then stop (a server's shutdown)."""
        while self._pending or self._flushes:
            if self._pending:
                self._wake.set()
                self._full.set()
            await asyncio.sleep(0.005)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    # --- one batch ---------------------------------------------------------------------------

    async def _flush(self, batch: list[_Item]) -> None:
        try:
            judged = await _judge_batch(batch, self._zones)
            results = await _store_batch(judged) if judged else {}
        except BaseException as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("batch cancelled"))
            if not isinstance(exc, Exception):
                raise
            log.warning("punch batch of %d failed, none stored: %s", len(batch), exc)
            return
        finally:
            self._slots.release()  # committed (or failed): the next batch may go while this one publishes
        self.batches += 1
        self.rows += len(judged)
        events = []
        for j in judged:
            v = results[id(j.item)]
            if not j.item.future.done():
                j.item.future.set_result(v)
            if not v.duplicate:
                p = j.item.punch
                log.info("punch %s %s project=%s person=%s %s %s latency=%.1fs", v.punch_id, p.source, p.project_id,
                         p.person_id, v.verdict, ",".join(v.reasons + v.flags), v.latency_s)
                events.append(event_for(v.punch_id, p, v, j.name))
        for event in events:
            if self.feed is not None:
                self.feed.publish(event)
        await notify_many(events)


def _retrieved(future: asyncio.Future[Verdict]) -> None:
    if not future.cancelled():
        future.exception()


async def _judge_batch(batch: list[_Item], zones: dict[int, str]) -> list[_Judged]:
    """The facts of the whole batch in a few queries, then the verdict of each punch.  A punch whose project or
    person does not exist fails alone here (its future gets NotFound).  ``zones``: the batcher's record of each
    project's time zone as last read — only a guess of the capture day, so that the roster can be asked together
    with the project; the fresh row decides, and a wrong guess costs one more query."""
    project_ids = sorted({i.punch.project_id for i in batch})
    person_ids = sorted({i.punch.person_id for i in batch if i.punch.person_id is not None})
    # One round trip of waiting: the projects, the people and the roster are asked at once, the roster for the
    # capture days under each project's time zone as last seen (a guess, checked below against the fresh row).
    guessed = {(i.punch.person_id, i.punch.project_id, local_day(i.punch.captured_at, zones[i.punch.project_id]))
               for i in batch if i.punch.person_id is not None and i.punch.project_id in zones}
    project_rows, person_rows, rostered = await asyncio.gather(
        fetch(*_where_in(_PROJECTS_SQL, "p.id", project_ids)),
        fetch(*_where_in(_PEOPLE_SQL, "id", person_ids or [-1])),
        _rostered(guessed),
    )
    projects = {r["id"]: r for r in project_rows}
    names: dict[int, str] = {r["id"]: r["name"] for r in person_rows}
    for pid, row in projects.items():
        zones[pid] = row["timezone"]
    ready: list[tuple[_Item, dict[str, Any], datetime, datetime, date]] = []
    for item in batch:
        p = item.punch
        project = projects.get(p.project_id)
        if project is None:
            item.future.set_exception(NotFound("项目不存在", "Project not found", field="project_id"))
            continue
        if p.person_id is not None and p.person_id not in names:
            item.future.set_exception(NotFound("人员不存在", "Person not found", field="person_id"))
            continue
        captured = _aware(p.captured_at).astimezone(UTC)
        received = _aware(p.received_at).astimezone(UTC) if p.received_at else datetime.now(UTC)
        ready.append((item, project, captured, received, local_day(captured, project["timezone"])))
    # a project first seen, or whose time zone changed since: its roster on the right day, asked now
    unguessed = {(item.punch.person_id, item.punch.project_id, day) for item, _, _, _, day in ready
                 if item.punch.person_id is not None} - guessed
    if unguessed:
        rostered |= await _rostered(unguessed)
    out: list[_Judged] = []
    for item, project, captured, received, day in ready:
        p = item.punch
        facts = PunchFacts(
            project_status=project["status"], rules=_rules(project["rule_profile"], project["rule_overrides"]),
            captured=captured, received=received, latency=(received - captured).total_seconds(), day=day,
            rostered=(p.person_id, p.project_id, day) in rostered, manager=False,
        )
        verdict, reasons, flags = judge(p, facts)
        out.append(_Judged(item, facts, verdict, reasons, flags, names.get(p.person_id) if p.person_id else None))
    return out


# The facts a batch reads, as fixed SQL texts (prepared once per connection on PostgreSQL): Piccolo rebuilt and
# recompiled the joined select for every batch — a third of a millisecond of CPU each (issue 18).
_PROJECTS_SQL = ("SELECT p.id, p.status, p.timezone, d.rule_profile, d.rule_overrides FROM project p "
                 "JOIN district d ON d.id = p.district WHERE ")
_PEOPLE_SQL = "SELECT id, name FROM person WHERE "
# Who of them is on the roster on a day: ``workforce.services.on_roster`` (THE roster predicate) written out —
# entered on or before the day, not exited before it (the exit day counts); the day's two placeholders come last.
# tests/integration/test_roster_predicate.py holds the two to the same answers.
_ROSTERED_SQL = "SELECT person, project FROM roster_entry WHERE "
_ROSTERED_DAY = " AND entered_on <= {} AND (exited_on IS NULL OR exited_on >= {})"


def _where_in(sql: str, column: str, values: list[int]) -> tuple[Any, ...]:
    """``sql`` + "column IN values" as ``db.fetch``'s arguments (``db.in_list``)."""
    fragment, args = in_list(column, values)
    return (sql + fragment, *args)


def _rostered_query(projects: list[int], people: list[int], day: date) -> tuple[Any, ...]:
    """``_ROSTERED_SQL`` for these projects and people on ``day``, as ``db.fetch``'s arguments."""
    project_in, project_args = in_list("project", projects)
    person_in, person_args = in_list("person", people)
    return (f"{_ROSTERED_SQL}{project_in} AND {person_in}{_ROSTERED_DAY}", *project_args, *person_args, day, day)


async def _rostered(wanted: set[tuple[int, int, date]]) -> set[tuple[int, int, date]]:
    """Which (person, project, day) are on the roster: one query per distinct day (a batch has one, two around
    midnight), each through THE roster predicate."""
    found: set[tuple[int, int, date]] = set()
    days: dict[date, set[tuple[int, int]]] = {}
    for person, project, day in wanted:
        days.setdefault(day, set()).add((person, project))
    for day, pairs in days.items():
        rows = await fetch(*_rostered_query(sorted({pr for _, pr in pairs}), sorted({pe for pe, _ in pairs}), day))
        found.update((r["person"], r["project"], day) for r in rows if (r["person"], r["project"]) in pairs)
    return found


def _rules(profile: str | None, overrides: Any) -> Rules:
    """``org.services.rules_for_district`` from the district's row (read with the project)."""
    text = overrides if isinstance(overrides, str) else json.dumps(overrides or {}, sort_keys=True)
    return _parsed_rules(profile or BASELINE, text or "{}")


@functools.lru_cache(maxsize=1024)
def _parsed_rules(profile: str, overrides: str) -> Rules:
    """Memoised by the district row's values (a changed override is another key: never stale)."""
    return rules_for(profile, json.loads(overrides))


def _row(j: _Judged, photo: tuple[str, str | None] | None = None, *, json_text: bool = True) -> tuple[Any, ...]:
    """The punch's values in ``_COLUMNS`` order; reasons and flags as JSON text, or as lists (``json_text=False``:
    inside the PostgreSQL batch's own JSON)."""
    p, f = j.item.punch, j.facts
    photo_sha256, photo_loc = photo or (None, None)
    reasons, flags = (dump_json(j.reasons), dump_json(j.flags)) if json_text else (j.reasons, j.flags)
    return (p.project_id, p.person_id, str(p.source), p.idempotency_key, p.terminal_id, p.direction, f.captured,
            f.received, f.latency, f.day.isoformat(), str(j.verdict), reasons, flags, p.lon,
            p.lat, p.accuracy_m, p.fence_id, p.fence_distance_m, p.face_distance, p.liveness_passed,
            p.makeup_request_id, photo_sha256, (p.photo_type or photostore.DEFAULT_TYPE) if photo_sha256 else None,
            photo_loc)


async def _store_batch(judged: list[_Judged]) -> dict[int, Verdict]:
    """One transaction for the batch.  Returns each item's verdict (by ``id(item)``)."""
    first: dict[str, _Judged] = {}
    for j in judged:
        first.setdefault(j.item.punch.idempotency_key, j)
    unique = list(first.values())
    # The photos first, durably, in the photo store — the batch's in one pack file (a committed row never points at
    # a missing photo); a pack whose rows then fail to commit is removed once the database says none names it.
    with_photo = [j for j in unique if j.item.punch.photo]
    shas = dict(zip((id(j) for j in with_photo), await photostore.put_packed(
        [(j.item.punch.photo, j.item.punch.photo_type) for j in with_photo]), strict=True))
    try:
        ids = await _write_rows(unique, shas)
    except Exception:
        await _drop_unnamed_pack(shas, list(first))
        raise
    missing = [k for k in first if k not in ids]
    earlier = await find_by_keys(missing) if missing else {}
    stored: dict[str, Verdict] = {}
    for key, j in first.items():
        if key in earlier:  # stored before this batch (a re-sent punch): its first verdict
            stored[key] = earlier[key]
        else:
            stored[key] = Verdict(
                punch_id=ids[key], verdict=j.verdict, reasons=tuple(j.reasons), flags=tuple(j.flags),
                latency_s=j.facts.latency, captured_at=j.facts.captured, received_at=j.facts.received)
    # a key twice in this batch: the later callers get the first one's verdict, marked duplicate
    return {id(j.item): stored[j.item.punch.idempotency_key] if first[j.item.punch.idempotency_key] is j
            else dataclasses.replace(stored[j.item.punch.idempotency_key], duplicate=True) for j in judged}


async def _write_rows(unique: list[_Judged], shas: dict[int, tuple[str, str | None]]) -> dict[str, int]:
    """The batch's rows and, for each kept punch that is not rejected, its platform upload task (backend.outbox)
    in one transaction; the id of each key inserted now (a key stored before is missing)."""
    uploads = [j.item.punch.idempotency_key for j in unique
               if j.verdict != PunchVerdict.rejected and j.item.punch.person_id is not None]
    if isinstance(engine(), PostgresEngine):
        batch = msgspec.json.encode([_row(j, shas.get(id(j)), json_text=False) for j in unique]).decode()
        return {r["idempotency_key"]: r["id"] for r in await fetch(_PG_WRITE, batch, uploads)}
    rows = [_row(j, shas.get(id(j))) for j in unique]
    project = {j.item.punch.idempotency_key: j.item.punch.project_id for j in unique}
    async with write_transaction():
        inserted = await Punch.raw(
            f"INSERT INTO punch ({', '.join(_COLUMNS)}) VALUES {', '.join(_SQLITE_ROW for _ in rows)} "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key",
            *(v for row in rows for v in row))
        ids = {r["idempotency_key"]: r["id"] for r in inserted}
        new_uploads = [(ids[k], project[k]) for k in uploads if k in ids]
        if new_uploads:
            await enqueue_many("attendance", new_uploads)
    return ids


async def _drop_unnamed_pack(shas: dict[int, tuple[str, str | None]], keys: list[str]) -> None:
    """After a failed write: remove the batch's pack once the database says no row names it.  Asked, not assumed —
    an error can come after the commit (the connection lost on the way back).  Never raises: a pack left here is a
    few KB no row names."""
    packs = {loc.split(":")[0] for _, loc in shas.values() if loc}
    if not packs:
        return
    [pack] = packs
    try:
        keys_in, args = in_list("idempotency_key", keys, "text")
        named = await fetch(f"SELECT 1 FROM punch WHERE {keys_in} AND photo_loc LIKE {{}} LIMIT 1", *args,
                            pack + ":%")
        if not named:
            await photostore.discard_pack(pack)
    except Exception as exc:
        log.warning("the pack %s of a failed batch was left in the photo store: %s", pack, exc)


async def warm_up() -> int:
    """Before a gate server takes terminals (PostgreSQL): run the batch's statements once, with nothing to read or
    write, on each connection the pool holds open — each gets them prepared, and its PostgreSQL backend has the
    tables (every partition of ``punch``) in its caches.  Otherwise the first second after a start paid that on
    every connection at once while every terminal sent its first punch (issue 18: ack p99 of that second ≈ 150 ms).
    Returns how many connections were warmed; never raises (a cold start is slower, not wrong)."""
    eng = engine()
    if not isinstance(eng, PostgresEngine) or eng.pool is None:
        return 0
    # the statement texts the batches send (built by the same code), with nothing in them
    statements = [(_PG_WRITE, "[]", []), _where_in(_PROJECTS_SQL, "p.id", []), _where_in(_PEOPLE_SQL, "id", []),
                  _rostered_query([], [], date(2000, 1, 1))]
    conns = []
    try:
        for _ in range(eng.pool.get_idle_size()):
            conns.append(await eng.pool.acquire())
        for conn in conns:
            for sql, *args in statements:
                await conn.fetch(dollar_placeholders(sql), *args)
    except Exception as exc:
        log.warning("gate warm-up stopped: %s", exc)
    finally:
        for conn in conns:
            await eng.pool.release(conn)
    return len(conns)


async def notify_many(events: Iterable[dict[str, Any]]) -> None:
    """``live.notify_committed`` for many events in one query (PostgreSQL; nothing on SQLite).  Never raises."""
    if not isinstance(engine(), PostgresEngine):
        return
    payloads = []
    for event in events:
        payload = json.dumps(event, ensure_ascii=False, default=str)
        if len(payload.encode()) > live.NOTIFY_MAX_BYTES:
            payload = json.dumps({"type": event.get("type"), "id": event.get("id"),
                                  "project_id": event.get("project_id"), "ref": True})
        payloads.append(payload)
    if not payloads:
        return
    try:
        await fetch("SELECT pg_notify({}, x) FROM unnest({}::text[]) AS x", live.LIVE_CHANNEL, payloads)
    except Exception as exc:
        log.warning("live NOTIFY failed for %d punches: %s", len(payloads), exc)
