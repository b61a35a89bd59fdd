"""Daily rollups: the stored per person-day aggregate of punches (``sup_person_day``), the nightly run, and
which stored days are still current.  The SQL aggregate here is the one ``counts`` computes live."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from backend.attendance.counting import COUNTED_SQL
from backend.attendance.tables import Punch
from backend.db import write_transaction
from backend.errors import invalid
from backend.supervision.days import days_between, parse_month
from backend.supervision.services.common import _aware, _iso, _placeholders, local_today
from backend.supervision.tables import PersonDay, RollupDay, RollupRun

ProgressFn = Callable[[str, int], None]

# "ok" counts the punches that count as attendance (``backend.attendance.counting``: not rejected, made by face —
# seed 000 §六); "rejected" counts the others (rejected, or made by card / fingerprint …), which are kept and shown
# but never make a day valid.
_AGG_COLUMNS = (
    "SELECT project, person, local_date AS day, "
    f"SUM(CASE WHEN {COUNTED_SQL} THEN 1 ELSE 0 END) AS ok, "
    f"SUM(CASE WHEN {COUNTED_SQL} AND CAST(flags AS TEXT) NOT LIKE '%late_upload%' THEN 1 ELSE 0 END)"
    " AS ok_on_time, "
    f"SUM(CASE WHEN {COUNTED_SQL} THEN 0 ELSE 1 END) AS rejected"
)
_AGG_TIMES = (
    f", MIN(CASE WHEN {COUNTED_SQL} THEN captured_at END) AS first_at"
    f", MAX(CASE WHEN {COUNTED_SQL} THEN captured_at END) AS last_at"
)
_AGG_GROUP = " GROUP BY project, person, local_date"


@dataclass(slots=True)
class RollupResult:
    days: int = 0
    rows: int = 0
    seconds: float = 0.0
    day_list: list[str] = field(default_factory=list)


def _check_past_days(days: list[date], today: date) -> None:
    for d in days:
        if d >= today:
            raise invalid("day", f"只能统计今天以前的日期（{d} 不早于今天 {today}）",
                          f"Only days before today can be rolled up ({d} is not before {today})")


async def _top_punch_id() -> int:
    top = await Punch.select(Punch.id).order_by(Punch.id, ascending=False).first()
    return top["id"] if top else 0


async def _roll_one_day(iso: str) -> int:
    """Replace the stored rollup of one day in one write transaction; the number of person-days stored."""
    async with write_transaction():
        top = await _top_punch_id()
        await PersonDay.raw("DELETE FROM sup_person_day WHERE day = {}", iso)
        await PersonDay.raw(
            "INSERT INTO sup_person_day (project, person, day, ok, ok_on_time, rejected, first_at, last_at) "
            + _AGG_COLUMNS + _AGG_TIMES + " FROM punch WHERE person IS NOT NULL AND local_date = {}" + _AGG_GROUP,
            iso,
        )
        n = await PersonDay.count().where(PersonDay.day == iso)
        await RollupDay.delete().where(RollupDay.day == iso)
        await RollupDay.insert(RollupDay(day=iso, rolled_at=datetime.now(UTC), rows=n, max_punch_id=top))
    return n


async def rollup_days(days: Iterable[date], *, today: date | None = None,
                      progress: ProgressFn | None = None) -> RollupResult:
    """Store the daily rollup of each day (all projects): one DELETE + one INSERT … SELECT … GROUP BY per day,
    in one write transaction per day.  Days from today on are refused: they are always computed live."""
    today = today or local_today()
    wanted = sorted(set(days))
    _check_past_days(wanted, today)
    result = RollupResult()
    started = time.perf_counter()
    for d in wanted:
        iso = _iso(d)
        n = await _roll_one_day(iso)
        result.days += 1
        result.rows += n
        result.day_list.append(iso)
        if progress:
            progress(iso, 1)
    result.seconds = time.perf_counter() - started
    return result


async def rollup_month(month: str, *, today: date | None = None, progress: ProgressFn | None = None) -> RollupResult:
    first, last = parse_month(month)
    today = today or local_today()
    return await rollup_days(days_between(first, min(last, today - timedelta(days=1))), today=today,
                             progress=progress)


async def days_to_roll(today: date) -> list[date]:
    """Nightly: yesterday, the days missed since the last stored day (server down), and every day that got a
    punch committed since the previous run (gate terminals upload stored records late, seed 002)."""
    yesterday = today - timedelta(days=1)
    days = {yesterday}
    last = await RollupDay.select(RollupDay.day).order_by(RollupDay.day, ascending=False).first()
    if last:
        gap_from = max(date.fromisoformat(last["day"]) + timedelta(days=1), today - timedelta(days=62))
        days.update(days_between(gap_from, yesterday))
    prev = await RollupRun.select(RollupRun.max_punch_id).order_by(RollupRun.id, ascending=False).first()
    if prev:  # punch ids only grow: the days of the punches committed since the previous run (a PK range scan)
        touched = await Punch.select(Punch.local_date).where(Punch.id > prev["max_punch_id"]).distinct()
        days.update(date.fromisoformat(r["local_date"]) for r in touched)
    return sorted(d for d in days if d < today)


async def nightly_rollup(today: date | None = None, *, trigger: str = "nightly",
                         progress: ProgressFn | None = None) -> RollupResult:
    today = today or local_today()
    top = await _top_punch_id()
    days = await days_to_roll(today)
    run = RollupRun(started_at=datetime.now(UTC), trigger=trigger, max_punch_id=top)
    await run.save()
    result = await rollup_days(days, today=today, progress=progress)
    await RollupRun.update({RollupRun.finished_at: datetime.now(UTC), RollupRun.days: result.days,
                            RollupRun.rows: result.rows}).where(RollupRun.id == run.id)
    return result


async def last_rollup_at() -> datetime | None:
    row = await RollupDay.select(RollupDay.rolled_at).order_by(RollupDay.rolled_at, ascending=False).first()
    return _aware(row["rolled_at"]) if row else None


async def fresh_rolled_days(first: date, last: date) -> set[str]:
    """Days in [first, last] whose stored rollup is current: rolled up, and no punch of that day arrived since
    (cheap: scans only punch ids above the lowest high-water mark)."""
    lo, hi = _iso(first), _iso(last)
    marks = {r["day"]: r["max_punch_id"] for r in await RollupDay.select(RollupDay.day, RollupDay.max_punch_id).where(
        (RollupDay.day >= lo) & (RollupDay.day <= hi))}
    if marks:
        days = sorted(marks)
        for r in await Punch.raw(
            f"SELECT local_date, MAX(id) AS top FROM punch WHERE id > {{}} AND local_date IN ({_placeholders(days)})"
            " GROUP BY local_date", min(marks.values()), *days):
            if r["top"] > marks[r["local_date"]]:
                del marks[r["local_date"]]
    return set(marks)
