"""Monthly partitions of ``punch`` on PostgreSQL (issue 18, backend/attendance/partitions.py, migration
2026-12-03T05:30): the table is partitioned by RANGE on ``local_date`` after migrations; a punch lands in its
month's partition; a re-sent punch (same key, same capture) is still stored once, through the group commit and
through ``record_punch``; a capture far in the future waits in DEFAULT until ``ensure_month_partitions`` creates its
month and moves it; a month's report reads one partition; ``smz partitions drop`` refuses a month that holds a
punch of a project not past the 用工管理台账's keeping.  SQLite keeps one plain table."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.attendance import partitions
from backend.attendance.batching import PunchBatcher
from backend.attendance.services import PunchIn, record_punch
from backend.attendance.tables import Punch
from backend.org import services as org
from backend.supervision.services import counts as sup_counts
from backend.supervision.services.explain_monthly import _month_punches
from backend.supervision.services.projects import project_contexts
from backend.vocabulary import local_today
from backend.workforce import services as workforce

pytestmark = pytest.mark.integration

ON_PG = bool(os.environ.get("SMZ_TEST_DATABASE_URL"))
pg_only = pytest.mark.skipif(not ON_PG, reason="monthly partitions exist on PostgreSQL only")
ROOT = Path(__file__).resolve().parents[2]
PART = re.compile(r"\bpunch_(?:\d{4}_\d{2}|default)\b")


async def _on_roster(world, project: int | None = None) -> int:
    project = project or world.project_a
    person = await workforce.upsert_person(id_number=world.id_number(), name="分区工人")
    await workforce.enter_roster(
        project_id=project, person_id=person, unit_id=world.units[project]["general_contractor"],
        team_id=world.teams[project]["钢筋班组"], work_role="worker", entered_on=date.today() - timedelta(days=30))
    return person


def _gate(world, person: int, *, key: str | None = None, at: datetime | None = None) -> PunchIn:
    now = datetime.now(UTC)
    return PunchIn(source="gate", project_id=world.project_a, person_id=person,
                   idempotency_key=key or f"g:part:{uuid.uuid4().hex}", captured_at=at or now - timedelta(seconds=1),
                   received_at=now, direction="in")


async def _home(punch_id: int) -> list[str]:
    """The partition(s) holding the punch with this id."""
    rows = await Punch.raw("SELECT tableoid::regclass::text AS t FROM punch WHERE id = {}", punch_id)
    return [r["t"] for r in rows]


async def _plan(sql: str, *args: Any) -> str:
    rows = await Punch.raw("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, *args)
    return "\n".join(r["QUERY PLAN"] for r in rows)


@pytest.mark.skipif(ON_PG, reason="SQLite only: PostgreSQL is partitioned")
async def test_sqlite_keeps_one_plain_punch_table_and_maintenance_does_nothing(world):
    assert not await partitions.is_partitioned()
    assert await partitions.list_partitions() == []
    assert (await partitions.ensure_month_partitions()).created == []


@pg_only
async def test_punch_is_partitioned_by_month_on_local_date_after_migrations(world):
    assert await partitions.is_partitioned()
    key = await Punch.raw("SELECT pg_get_partkeydef(to_regclass('punch')) AS k")
    assert key[0]["k"] == "RANGE (local_date)"
    parts = await partitions.list_partitions()
    months = [p.month for p in parts if p.month]
    today = local_today()
    for n in range(-partitions.BACK_MONTHS, partitions.AHEAD_MONTHS + 1):
        y, m = partitions.shift_month(today.year, today.month, n)
        assert f"{y:04d}-{m:02d}" in months
    assert [p.name for p in parts if p.is_default] == [partitions.DEFAULT_PARTITION]
    assert all(p.end == partitions.month_bounds(*partitions.parse_month(p.month))[1] for p in parts if p.month)
    keys = {r["conname"]: r["def"] for r in await Punch.raw(
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = to_regclass('punch') "
        "AND contype IN ('p', 'u')")}
    assert keys == {"punch_pkey": "PRIMARY KEY (id, local_date)",
                    "punch_idempotency_key_key": "UNIQUE (idempotency_key, local_date)"}
    assert await Punch.raw("SELECT conname FROM pg_constraint WHERE confrelid = to_regclass('punch')") == []
    # the other indexes and the foreign keys are on the parent (every partition has them)
    indexes = {r["indexname"] for r in await Punch.raw(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'punch'")}
    assert {"punch_project", "punch_person", "punch_local_date"} <= indexes
    fks = {r["conname"] for r in await Punch.raw(
        "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass('punch') AND contype = 'f'")}
    assert {"punch_project_fkey", "punch_person_fkey", "punch_terminal_fkey"} <= fks
    # nothing is missing: maintenance does nothing
    assert (await partitions.ensure_month_partitions()).created == []


@pg_only
async def test_a_punch_lands_in_the_partition_of_its_local_month(world):
    person = await _on_roster(world)
    v = await record_punch(_gate(world, person))
    day = (await Punch.select(Punch.local_date).where(Punch.id == v.punch_id).first())["local_date"]
    assert await _home(v.punch_id) == [f"punch_{day[:4]}_{day[5:7]}"]
    # a capture just before local midnight of the 1st belongs to the previous month (the project's zone)
    last_month = local_today().replace(day=1) - timedelta(days=1)
    at = datetime(last_month.year, last_month.month, last_month.day, 15, 59, 0, tzinfo=UTC)  # 23:59 in Shanghai
    early = await record_punch(_gate(world, person, at=at))
    assert await _home(early.punch_id) == [f"punch_{last_month:%Y_%m}"]


@pg_only
async def test_a_resent_punch_is_stored_once_through_the_batch_and_record_punch(world):
    person = await _on_roster(world)
    batcher, other = PunchBatcher(max_rows=10, wait_ms=1), PunchBatcher(max_rows=10, wait_ms=1)
    try:
        p = _gate(world, person)
        first = await batcher.submit(p)
        again = await batcher.submit(p)  # the terminal did not hear the ack: the same record again
        by_single = await record_punch(p)
        assert again.duplicate and by_single.duplicate
        assert again.punch_id == by_single.punch_id == first.punch_id
        assert (again.verdict, by_single.verdict) == (first.verdict, first.verdict)
        # stored by record_punch first, re-sent through the batch
        q = _gate(world, person)
        single = await record_punch(q)
        through_batch = await batcher.submit(q)
        assert through_batch.duplicate and through_batch.punch_id == single.punch_id
        # two copies racing through record_punch: the unique (idempotency_key, local_date) decides, the loser
        # answers with the winner's verdict
        r = _gate(world, person)
        a, b = await asyncio.gather(record_punch(r), record_punch(r))
        assert a.punch_id == b.punch_id and sorted([a.duplicate, b.duplicate]) == [False, True]
        # two copies racing through the batch, in two batches at once
        s = _gate(world, person)
        c, d = await asyncio.gather(batcher.submit(s), other.submit(s))
        assert c.punch_id == d.punch_id and sorted([c.duplicate, d.duplicate]) == [False, True]
        for key in (p.idempotency_key, q.idempotency_key, r.idempotency_key, s.idempotency_key):
            assert await Punch.count().where(Punch.idempotency_key == key) == 1
    finally:
        await batcher.close()
        await other.close()


@pg_only
async def test_a_far_future_capture_waits_in_default_until_its_month_is_created(world):
    person = await _on_roster(world)
    at = datetime(2031, 6, 15, 2, 0, tzinfo=UTC)  # a device clock years ahead: kept and flagged, never dropped
    p = _gate(world, person, at=at)
    v = await record_punch(p)
    assert "clock_skew" in v.flags
    assert await _home(v.punch_id) == [partitions.DEFAULT_PARTITION]
    done = await partitions.ensure_month_partitions(ahead=2, today=date(2031, 5, 20))
    assert done.created == ["punch_2031_05", "punch_2031_06", "punch_2031_07"] and done.moved == 1
    assert await _home(v.punch_id) == ["punch_2031_06"]  # the same row, the same id
    assert await Punch.raw(f"SELECT id FROM {partitions.DEFAULT_PARTITION}") == []
    # the re-sent punch still finds its first verdict; a second run has nothing to do
    assert (await record_punch(p)).punch_id == v.punch_id
    assert (await partitions.ensure_month_partitions(ahead=2, today=date(2031, 5, 20))).created == []


@pg_only
async def test_a_months_report_reads_one_partition(world, monkeypatch):
    person = await _on_roster(world)
    last_month = local_today().replace(day=1) - timedelta(days=1)
    first = last_month.replace(day=1)
    await record_punch(_gate(world, person, at=datetime(first.year, first.month, 10, 1, 0, tzinfo=UTC)))
    await record_punch(_gate(world, person))
    await Punch.raw("ANALYZE punch")
    # the statements the month's counts really run (person-day aggregates, the monthly matrix), captured
    seen: list[tuple[str, tuple[Any, ...]]] = []
    real = Punch.raw

    def capturing(sql: str, *args: Any):
        if " FROM punch " in sql:
            seen.append((sql, args))
        return real(sql, *args)

    monkeypatch.setattr(Punch, "raw", capturing)
    ctxs = await project_contexts({world.project_a})
    await sup_counts.person_day_counts({world.project_a}, first, last_month)
    await sup_counts.packed_day_marks(ctxs, first, last_month)
    monkeypatch.undo()
    assert seen
    for sql, args in seen:
        touched = set(PART.findall(await _plan(sql, *args)))
        assert touched == {f"punch_{first:%Y_%m}"}, (sql, touched)
    # the monthly explanation's select (a local_date range)
    query = Punch.select(Punch.person, Punch.local_date).where(
        (Punch.project == world.project_a) & (Punch.local_date >= first.isoformat())
        & (Punch.local_date <= last_month.isoformat()))
    assert set(PART.findall(await _plan(str(query)))) == {f"punch_{first:%Y_%m}"}
    assert await _month_punches(world.project_a, first, last_month)


async def _accepted_project(world, name: str, accepted_on: date) -> int:
    pid = await org.create_project(name=name, district_id=world.district_a, category="building",
                                   floor_area_m2=20_000)
    await org.change_status(pid, "under_construction", effective_on=accepted_on - timedelta(days=900), note="开工",
                            user_id=None)
    await org.change_status(pid, "finished", effective_on=accepted_on - timedelta(days=30), note="完工", user_id=None)
    await org.change_status(pid, "accepted", effective_on=accepted_on, note="竣工验收", user_id=None)
    return pid


async def _old_punch(project: int, day: date) -> int:
    at = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    row = Punch(project=project, person=None, source="gate", idempotency_key=f"old:{uuid.uuid4().hex}",
                captured_at=at, received_at=at, latency_s=0.5, local_date=day.isoformat(), verdict="rejected")
    await row.save()
    return int(row.id)


@pg_only
async def test_partition_drop_refuses_a_month_with_a_project_not_past_the_ledger_and_drops_the_other(world):
    from backend.privacy.retention import due_projects

    gone = await _accepted_project(world, "早已竣工的项目", date(2022, 1, 10))  # 台账 kept 3 years: past
    kept = await _accepted_project(world, "刚竣工的项目", local_today() - timedelta(days=200))  # not past
    old = await _old_punch(gone, date(2021, 6, 15))
    mixed = [await _old_punch(gone, date(2021, 7, 1)), await _old_punch(kept, date(2021, 7, 2))]
    assert await _home(old) == [partitions.DEFAULT_PARTITION]  # months that old were never created
    for y, m in ((2021, 6), (2021, 7)):
        async with partitions.write_transaction():
            await partitions.create_month(y, m)
    assert await _home(old) == ["punch_2021_06"]

    # the command's dry run: lists, drops nothing
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "partitions", "drop", "--before", "2021-08", cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()
    assert "将删除 punch_2021_06" in stdout.decode() and "保留 punch_2021_07" in stdout.decode()
    assert await _home(old) == ["punch_2021_06"]

    allowed = {d.project_id for d in await due_projects() if d.ledger_due}
    assert gone in allowed and kept not in allowed
    items = {i.name: i for i in await partitions.drop_partitions("2021-08", allowed)}
    assert items["punch_2021_06"].dropped and items["punch_2021_06"].rows == 1
    assert not items["punch_2021_07"].dropped and items["punch_2021_07"].blocking == [kept]
    assert await _home(old) == []
    assert await Punch.count().where(Punch.id.is_in(mixed)) == 2  # the month with a live project is whole
    assert "punch_2021_06" not in {p.name for p in await partitions.list_partitions()}
    # DEFAULT and months from the cut on are never candidates
    assert all(i.month < "2021-08" for i in await partitions.plan_drop("2021-08", allowed))
