"""Monthly partitions of ``punch`` on PostgreSQL (issue 18; docs/deployment.md "Monthly partitions of punch").

On PostgreSQL ``punch`` is partitioned by RANGE on ``local_date`` (the capture day in the project's zone,
'YYYY-MM-DD' text): one partition per month, ``punch_YYYY_MM`` holding ['YYYY-MM-01', first day of the next month),
and ``punch_default`` for whatever falls outside them (an absurd device clock, a month not created yet).  A monthly
report filters on ``local_date`` and so reads one partition.  SQLite keeps one plain table: everything here is a
no-op there.

- ``ensure_month_partitions(ahead)``: creates the missing months from this month to ``ahead`` months on (``smz
  nightly``, the start of ``smz serve`` / ``smz gate-server``, ``smz partitions ensure``).  Two catalog queries when
  nothing is missing.  Rows of a month being created that wait in the DEFAULT partition are moved into it in the
  same transaction (DELETE … RETURNING → INSERT, then ATTACH), under an advisory lock so that two processes
  starting together do not race.
- ``list_partitions()``: the partitions, their bounds and (optionally) their row counts.
- ``plan_drop(before, allowed)`` / ``drop_partitions(before, allowed)``: ``smz partitions drop --before YYYY-MM``.
  Retention keeps punch facts (backend/privacy/retention.py deletes photos only); a month is dropped only on that
  explicit command, and only when every punch in it belongs to a project in ``allowed`` — the projects past the
  用工管理台账's keeping (``Rules.ledger_retention_years`` after 竣工, wages all paid; the caller computes them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from piccolo.engine.postgres import PostgresEngine

from backend.attendance.tables import Punch
from backend.db import engine, write_transaction
from backend.vocabulary import local_today

PARENT = "punch"
DEFAULT_PARTITION = "punch_default"
AHEAD_MONTHS = 13  # months created ahead of the current one
BACK_MONTHS = 12  # months created behind the current one when the table is converted (migration)
OLDEST_YEARS = 10  # rows older than this many years at conversion wait in DEFAULT (no partition per month for them)
LOCK_KEY = 0x736D7A5F70617274  # advisory lock of partition maintenance ("smz_part")

_BOUND = re.compile(r"FROM \('(\d{4}-\d{2}-\d{2})'\) TO \('(\d{4}-\d{2}-\d{2})'\)")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class PartitionInfo:
    name: str
    start: str | None  # first local_date held ('YYYY-MM-DD'); None for DEFAULT
    end: str | None  # first local_date not held
    rows: int | None = None  # exact count when asked for
    approx_rows: int | None = None  # the planner's estimate (None: never analysed)

    @property
    def month(self) -> str | None:
        return self.start[:7] if self.start else None

    @property
    def is_default(self) -> bool:
        return self.start is None


@dataclass
class DropItem:
    """One monthly partition before the cut-off: its rows per project and the projects that keep it."""

    name: str
    month: str
    rows: int
    projects: dict[int, int] = field(default_factory=dict)  # project → rows
    blocking: list[int] = field(default_factory=list)  # projects not past the ledger's keeping
    dropped: bool = False

    @property
    def droppable(self) -> bool:
        return not self.blocking


# ---------------------------------------------------------------------------------------------- months


def shift_month(year: int, month: int, n: int) -> tuple[int, int]:
    """(year, month) plus ``n`` months (n may be negative)."""
    k = year * 12 + (month - 1) + n
    return k // 12, k % 12 + 1


def month_bounds(year: int, month: int) -> tuple[str, str]:
    """The local_date range of a month: ('YYYY-MM-01', first day of the next month)."""
    ny, nm = shift_month(year, month, 1)
    return f"{year:04d}-{month:02d}-01", f"{ny:04d}-{nm:02d}-01"


def partition_name(year: int, month: int) -> str:
    return f"{PARENT}_{year:04d}_{month:02d}"


def months_span(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    """Every (year, month) from ``first`` to ``last``, both included."""
    out, cur = [], first
    while cur <= last:
        out.append(cur)
        cur = shift_month(*cur, 1)
    return out


def parse_month(text: str) -> tuple[int, int]:
    """'YYYY-MM' → (year, month); ValueError otherwise."""
    if not _MONTH.match(text or ""):
        raise ValueError(f"expected YYYY-MM, got {text!r}")
    return int(text[:4]), int(text[5:7])


def parse_bound(expr: str) -> tuple[str | None, str | None]:
    """``pg_get_expr(relpartbound)`` → (start, end); (None, None) for DEFAULT."""
    m = _BOUND.search(expr or "")
    return (m.group(1), m.group(2)) if m else (None, None)


# ---------------------------------------------------------------------------------------------- catalog


def on_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


async def is_partitioned() -> bool:
    """``punch`` is a partitioned table (PostgreSQL after the 2026-12-03T05:30 migration)."""
    if not on_postgres():
        return False
    rows = await Punch.raw("SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass({})", PARENT)
    return bool(rows) and rows[0]["kind"] == "p"


async def list_partitions(*, counts: bool = False) -> list[PartitionInfo]:
    """The partitions of ``punch``, months in order then DEFAULT; empty on SQLite or an unpartitioned table.
    ``counts``: exact row counts (a full count of every partition: for tests and small tables)."""
    if not await is_partitioned():
        return []
    rows = await Punch.raw(
        "SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, c.reltuples AS est "
        "FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass({})", PARENT)
    out = []
    for r in rows:
        start, end = parse_bound(r["bound"])
        n = None
        if counts:
            n = int((await Punch.raw(f'SELECT COUNT(*) AS n FROM "{r["name"]}"'))[0]["n"])
        est = int(r["est"]) if r["est"] is not None and r["est"] >= 0 else None
        out.append(PartitionInfo(r["name"], start, end, n, est))
    return sorted(out, key=lambda p: (p.start is None, p.start or "", p.name))


# ---------------------------------------------------------------------------------------------- creating


async def _columns() -> str:
    rows = await Punch.raw(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass({}) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum", PARENT)
    return ", ".join(f'"{r["attname"]}"' for r in rows)


async def _default_exists() -> bool:
    rows = await Punch.raw("SELECT to_regclass({})::text AS t", DEFAULT_PARTITION)
    return bool(rows and rows[0]["t"])


async def create_month(year: int, month: int) -> int:
    """Create the month's partition (inside the caller's transaction); returns how many rows it took over from
    DEFAULT.  A month that DEFAULT holds rows of is built apart, filled from DEFAULT and then attached, because
    PostgreSQL refuses a new partition whose rows still sit in DEFAULT."""
    start, end = month_bounds(year, month)
    name = partition_name(year, month)
    waiting = 0
    if await _default_exists():
        # no punch may reach DEFAULT between this count and the new partition (PostgreSQL would refuse it)
        await Punch.raw(f'LOCK TABLE "{DEFAULT_PARTITION}" IN EXCLUSIVE MODE')
        waiting = int((await Punch.raw(
            f'SELECT COUNT(*) AS n FROM "{DEFAULT_PARTITION}" WHERE local_date >= {{}} AND local_date < {{}}',
            start, end))[0]["n"])
    if not waiting:
        await Punch.raw(f'CREATE TABLE "{name}" PARTITION OF "{PARENT}" FOR VALUES FROM (\'{start}\') TO (\'{end}\')')
        return 0
    cols = await _columns()
    await Punch.raw(f'CREATE TABLE "{name}" (LIKE "{PARENT}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    await Punch.raw(
        f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" WHERE local_date >= {{}} AND local_date < {{}} '
        f'RETURNING {cols}) INSERT INTO "{name}" ({cols}) SELECT {cols} FROM moved', start, end)
    await Punch.raw(f'ALTER TABLE "{PARENT}" ATTACH PARTITION "{name}" FOR VALUES FROM (\'{start}\') TO (\'{end}\')')
    return waiting


def wanted_months(today: date, ahead: int, back: int = 0) -> list[tuple[int, int]]:
    return months_span(shift_month(today.year, today.month, -back), shift_month(today.year, today.month, ahead))


@dataclass(frozen=True)
class EnsureResult:
    created: list[str]
    moved: int  # rows taken over from DEFAULT


async def ensure_month_partitions(ahead: int = AHEAD_MONTHS, *, today: date | None = None) -> EnsureResult:
    """Create every missing monthly partition from this month (China's today, or ``today``) to ``ahead`` months
    on.  Nothing on SQLite or an unpartitioned table; two catalog queries when nothing is missing."""
    if not await is_partitioned():
        return EnsureResult([], 0)
    wanted = wanted_months(today or local_today(), max(0, ahead))
    have = {p.month for p in await list_partitions() if p.month}
    if all(f"{y:04d}-{m:02d}" in have for y, m in wanted):
        return EnsureResult([], 0)
    created, moved = [], 0
    async with write_transaction():
        await Punch.raw("SELECT pg_advisory_xact_lock({})", LOCK_KEY)  # another process may be at it too
        have = {p.month for p in await list_partitions() if p.month}
        for y, m in wanted:
            if f"{y:04d}-{m:02d}" not in have:
                moved += await create_month(y, m)
                created.append(partition_name(y, m))
    return EnsureResult(created, moved)


# ---------------------------------------------------------------------------------------------- dropping


async def plan_drop(before: str, allowed: set[int]) -> list[DropItem]:
    """Monthly partitions wholly before month ``before`` ('YYYY-MM'), each with its rows per project and the
    projects that keep it (not in ``allowed``).  DEFAULT is never a candidate."""
    y, m = parse_month(before)
    cut = month_bounds(y, m)[0]
    out = []
    for p in await list_partitions():
        if p.is_default or (p.end or "") > cut:
            continue
        per = {int(r["project"]): int(r["n"]) for r in await Punch.raw(
            f'SELECT project, COUNT(*) AS n FROM "{p.name}" GROUP BY project')}
        out.append(DropItem(p.name, p.month or "", sum(per.values()), per,
                            sorted(pid for pid in per if pid not in allowed)))
    return out


async def drop_partitions(before: str, allowed: set[int]) -> list[DropItem]:
    """Drop the months ``plan_drop`` finds droppable, each checked again under the maintenance lock in the same
    transaction as its DROP (a punch arriving meanwhile for a live project keeps the month)."""
    items = await plan_drop(before, allowed)
    for item in items:
        if not item.droppable:
            continue
        async with write_transaction():
            await Punch.raw("SELECT pg_advisory_xact_lock({})", LOCK_KEY)
            await Punch.raw(f'LOCK TABLE "{item.name}" IN ACCESS EXCLUSIVE MODE')
            live = await Punch.raw(f'SELECT DISTINCT project FROM "{item.name}"')
            blocking = sorted(int(r["project"]) for r in live if int(r["project"]) not in allowed)
            if blocking:
                item.blocking = blocking
                continue
            if await Punch.raw("SELECT 1 FROM pg_class WHERE oid = to_regclass('punch_photo')"):
                # the legacy photo rows of these punches (retention deleted them at its earlier due day already)
                await Punch.raw(f'DELETE FROM punch_photo WHERE punch IN (SELECT id FROM "{item.name}")')
            await Punch.raw(f'DROP TABLE "{item.name}"')
            item.dropped = True
    return items


def ensure_line(result: EnsureResult) -> str:
    """A Chinese line for the command line and ``smz nightly``."""
    if not result.created:
        return "打卡表按月分区：无需新建"
    moved = f"，从默认分区移入 {result.moved} 条" if result.moved else ""
    return f"打卡表按月分区：新建 {len(result.created)} 个（{'、'.join(result.created)}）{moved}"


async def nightly_step() -> str:
    """``smz nightly``: the months ahead exist (PostgreSQL; a line saying so on SQLite)."""
    if not on_postgres():
        return "打卡表按月分区：SQLite 不分区"
    return ensure_line(await ensure_month_partitions())
