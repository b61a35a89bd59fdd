"""Reading person-day counts: stored rollups for days whose rollup is current, the same aggregate computed
live for the others (today, unrolled days).  Set-based: one grouped statement per question."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from backend.attendance.tables import Punch
from backend.db import engine
from backend.supervision import metrics
from backend.supervision.days import days_between
from backend.supervision.services.common import KEY_POST_LIST, _int_list, _iso, _placeholders
from backend.supervision.services.projects import ProjectCtx
from backend.supervision.services.rollups import _AGG_COLUMNS, _AGG_GROUP, fresh_rolled_days
from backend.supervision.tables import PersonDay

DayCount = tuple[int, int, str, int, int, int]  # (project, person, day, ok, ok_on_time, rejected)


def _count_filters(project_ids: set[int] | None, person_ids: Iterable[int] | None,
                   key_managers_only: bool) -> tuple[str, list[Any]]:
    filters, args = "", []
    if project_ids is not None:
        filters += f" AND project IN ({_int_list(project_ids)})"
    if person_ids is not None:
        filters += f" AND person IN ({_int_list(person_ids)})"
    if key_managers_only:
        filters += (" AND person IN (SELECT person FROM roster_entry WHERE work_role = 'manager'"
                    f" AND post IN ({_placeholders(KEY_POST_LIST)}))")
        args += KEY_POST_LIST
    return filters, args


async def person_day_counts(
    project_ids: set[int] | None, first: date, last: date, *, key_managers_only: bool = False,
    person_ids: Iterable[int] | None = None,
) -> list[DayCount]:
    """(project, person, day, ok, ok_on_time, rejected) for every person-day with a punch in [first, last]:
    stored rollups for rolled days, the same aggregate computed live for the others (today, unrolled days)."""
    if project_ids is not None and not project_ids:
        return []
    rolled = await fresh_rolled_days(first, last)
    live_days = [_iso(d) for d in days_between(first, last) if _iso(d) not in rolled]
    filters, args = _count_filters(project_ids, person_ids, key_managers_only)
    out: list[DayCount] = []
    if rolled:
        rolled_days = sorted(rolled)
        rows = await PersonDay.raw(
            "SELECT project, person, day, ok, ok_on_time, rejected FROM sup_person_day "
            f"WHERE day IN ({_placeholders(rolled_days)})" + filters, *rolled_days, *args)
        out.extend((r["project"], r["person"], r["day"], r["ok"], r["ok_on_time"], r["rejected"]) for r in rows)
    if live_days:
        rows = await Punch.raw(
            _AGG_COLUMNS + f" FROM punch WHERE person IS NOT NULL AND local_date IN ({_placeholders(live_days)})"
            + filters + _AGG_GROUP, *live_days, *args)
        out.extend((r["project"], r["person"], r["day"], int(r["ok"]), int(r["ok_on_time"]), int(r["rejected"]))
                   for r in rows)
    return out


def _day_source(rolled: list[str], live: list[str]) -> tuple[str, list[Any]]:
    """SQL of the person-day rows of a span (``{projects}`` left to fill in) and its arguments."""
    parts: list[str] = []
    args: list[Any] = []
    if rolled:
        parts.append("SELECT project, person, day, ok, ok_on_time, rejected FROM sup_person_day "
                     f"WHERE day IN ({_placeholders(rolled)}) AND project IN ({{projects}})")
        args += rolled
    if live:
        parts.append(_AGG_COLUMNS + f" FROM punch WHERE person IS NOT NULL AND local_date IN ({_placeholders(live)})"
                     " AND project IN ({projects})" + _AGG_GROUP)
        args += live
    return " UNION ALL ".join(parts), args


def _rule_groups(ctxs: dict[int, ProjectCtx]) -> dict[tuple[bool, int], list[int]]:
    """Projects grouped by their district's valid-day rule (late uploads count?, least punches)."""
    groups: dict[tuple[bool, int], list[int]] = defaultdict(list)
    for pid, c in ctxs.items():
        groups[(c.rules.late_upload_counts_as_valid, max(1, c.rules.valid_day_min_punches))].append(pid)
    return groups


async def packed_day_marks(ctxs: dict[int, ProjectCtx], first: date, last: date) -> dict[tuple[int, int], str]:
    """For a span within one month: (project, person) → "t,t,…" with one integer token per day that has a punch,
    ``t = day_of_month * 4 + valid + 2 * (any rejected)``, validity judged in SQL with each district's rule.

    The monthly matrix reads 5,000 people × 31 days through this: one row per person instead of one per
    person-day (the row conversion, not the SQL, is what costs on 150,000 rows).  Same sources as
    ``person_day_counts``: fresh rollups, live aggregates for the other days."""
    if not ctxs or last < first:
        return {}
    if (first.year, first.month) != (last.year, last.month):
        raise ValueError("packed_day_marks works within one month")
    rolled = sorted(await fresh_rolled_days(first, last))
    live = [_iso(d) for d in days_between(first, last) if _iso(d) not in rolled]
    source, args = _day_source(rolled, live)
    pg = isinstance(engine(), PostgresEngine)
    out: dict[tuple[int, int], str] = {}
    for (use_ok, least), pids in _rule_groups(ctxs).items():
        token = (f"CAST(SUBSTR(day, 9, 2) AS INTEGER) * 4 + CASE WHEN {'ok' if use_ok else 'ok_on_time'} >= "
                 f"{int(least)} THEN 1 ELSE 0 END + CASE WHEN rejected > 0 THEN 2 ELSE 0 END")
        packed = f"STRING_AGG(CAST({token} AS TEXT), ',')" if pg else f"GROUP_CONCAT({token}, ',')"
        sql = (f"SELECT project, person, {packed} AS marks FROM ({source.replace('{projects}', _int_list(pids))}) "
               "AS t GROUP BY project, person")
        for r in await Punch.raw(sql, *args):
            out[(r["project"], r["person"])] = r["marks"]
    return out


async def project_day_totals(ctxs: dict[int, ProjectCtx], day: date) -> dict[int, tuple[int, int]]:
    """Per project on one day: (people with a valid day, punches not rejected) — aggregated in SQL (one row per
    project, not per person), one query per distinct valid-day rule among the projects' districts."""
    if not ctxs:
        return {}
    iso = _iso(day)
    if iso in await fresh_rolled_days(day, day):
        source, args = "SELECT project, person, ok, ok_on_time FROM sup_person_day WHERE day = {}", [iso]
    else:
        source = _AGG_COLUMNS + " FROM punch WHERE person IS NOT NULL AND local_date = {}" + _AGG_GROUP
        args = [iso]
    groups: dict[int, list[int]] = defaultdict(list)
    for pid, c in ctxs.items():
        groups[max(1, c.rules.valid_day_min_punches)].append(pid)
    out: dict[int, tuple[int, int]] = {}
    for least, pids in groups.items():
        rows = await Punch.raw(
            "SELECT project, SUM(ok) AS punches, SUM(CASE WHEN ok >= {} THEN 1 ELSE 0 END) AS valid_ok, "
            "SUM(CASE WHEN ok_on_time >= {} THEN 1 ELSE 0 END) AS valid_on_time "
            f"FROM ({source}) AS t WHERE project IN ({_int_list(pids)}) GROUP BY project", least, least, *args)
        for r in rows:
            rules = ctxs[r["project"]].rules
            valid = r["valid_ok"] if rules.late_upload_counts_as_valid else r["valid_on_time"]
            out[r["project"]] = (int(valid or 0), int(r["punches"] or 0))
    return out


def _valid_index(counts: Iterable[DayCount],
                 projects: dict[int, ProjectCtx]) -> dict[tuple[int, int], dict[str, bool]]:
    """(project, person) → {day: valid?} using each project's district rules."""
    out: dict[tuple[int, int], dict[str, bool]] = defaultdict(dict)
    for project, person, day, ok, ok_on_time, _rejected in counts:
        ctx = projects.get(project)
        if ctx is None:
            continue
        out[(project, person)][day] = metrics.is_valid_day(ok, ok_on_time, ctx.rules)
    return out
