"""All queries of the supervision domain: rollups, monthly attendance, key managers, dashboards, map, warnings,
notifications.  Definitions: docs/supervision.md (and the docstrings of ``days`` and ``metrics``).

Rollups and reports are set-based: one grouped SQL statement per question, then one pass in Python over the
selected columns — never a query per person or per project.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.columns.combination import WhereRaw
from piccolo.query.functions.aggregate import Count

from backend.accounts.tables import User, UserProject
from backend.attendance.reasons import REASON_ZH
from backend.attendance.tables import Punch
from backend.db import write_transaction
from backend.devices.tables import Terminal, Vendor
from backend.errors import Conflict, Forbidden, NotFound, invalid
from backend.org.dictionaries import PROJECT_STATUS
from backend.org.tables import District, Project, ProjectStatusChange, ProjectUnit, Team
from backend.rules import DEFAULT_RULES, Rules
from backend.supervision import metrics
from backend.supervision.days import ProjectCalendar, days_between, month_of, parse_month, roster_days
from backend.supervision.tables import (
    InSiteMessage,
    NotifyRecipient,
    NotifySetting,
    PersonDay,
    RollupDay,
    RollupRun,
    SmsLog,
    WarningCase,
    WarningEvent,
)
from backend.workforce.dictionaries import KEY_POSTS, POSTS, WORK_ROLE, WORK_TYPES
from backend.workforce.tables import Enrolment, Person, RosterEntry

log = logging.getLogger("smz.supervision")

DEFAULT_TZ = "Asia/Shanghai"
KEY_POST_LIST = list(KEY_POSTS)
# The posts of seed 001 §2.11.3 (its columns and its 12 filters); the other key posts are shown after them.
SEED_TABLE_POSTS = ["project_manager", "safety_officer", "technical_lead", "chief_supervising_engineer"]
POST_SHORT: dict[str, str] = {
    "project_manager": "项目经理", "technical_lead": "技术负责人", "quality_officer": "质量员",
    "safety_officer": "安全员", "construction_officer": "施工员", "labour_officer": "劳务员",
    "chief_supervising_engineer": "总监理工程师",
}
ProgressFn = Callable[[str, int], None]


def local_today(tz: str = DEFAULT_TZ) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def _json(value: Any, empty: Any) -> Any:
    if value is None:
        return empty
    if isinstance(value, str):
        return json.loads(value or json.dumps(empty))
    return value


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("{}" for _ in values)


def _iso(day: date) -> str:
    return day.isoformat()


def _int_list(ids: Iterable[int]) -> str:
    """Ids as SQL integer literals ("1, 2, 3"; "-1" when empty).  Only for ids (ints, never user text): a
    thousand bound parameters cost Piccolo more than the query itself."""
    values = sorted({int(i) for i in ids})
    return ", ".join(map(str, values)) if values else "-1"


def _ids_in(column: Any, ids: Iterable[int]) -> WhereRaw:
    """``column IN (…ids…)`` for a column of the queried table (see ``_int_list``)."""
    table = column._meta.table._meta.tablename
    return WhereRaw(f'"{table}"."{column._meta.db_column_name}" IN ({_int_list(ids)})')


# --- Projects, their calendars and rules ------------------------------------------------------


@dataclass(slots=True)
class ProjectCtx:
    id: int
    name: str
    district_id: int
    district_name: str
    status: str
    category: str
    planned_start: date | None
    timezone: str
    lon: float | None
    lat: float | None
    calendar: ProjectCalendar
    rules: Rules

    @property
    def status_label(self) -> str:
        return PROJECT_STATUS.get(self.status, self.status)


async def district_rules(district_ids: Iterable[int]) -> dict[int, Rules]:
    ids = sorted(set(district_ids))
    if not ids:
        return {}
    rows = await District.select(District.id, District.rule_overrides).where(_ids_in(District.id, ids))
    return {r["id"]: DEFAULT_RULES.with_overrides(_json(r["rule_overrides"], {})) for r in rows}


async def project_contexts(project_ids: set[int] | None, *, district_id: int | None = None) -> dict[int, ProjectCtx]:
    """Projects in scope (None = all) with their status calendar and district rules: three queries."""
    if project_ids is not None and not project_ids:
        return {}
    q = Project.select(
        Project.id, Project.name, Project.district, Project.district.name.as_alias("district_name"), Project.status,
        Project.category, Project.planned_start, Project.timezone, Project.lon, Project.lat,
    ).order_by(Project.id)
    if project_ids is not None:
        q = q.where(_ids_in(Project.id, project_ids))
    if district_id is not None:
        q = q.where(Project.district == district_id)
    rows = await q
    if not rows:
        return {}
    ids = [r["id"] for r in rows]
    cq = ProjectStatusChange.select(
        ProjectStatusChange.project, ProjectStatusChange.effective_on, ProjectStatusChange.to_status
    ).order_by(ProjectStatusChange.id)
    if project_ids is not None or district_id is not None:
        cq = cq.where(_ids_in(ProjectStatusChange.project, ids))
    changes: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for c in await cq:
        changes[c["project"]].append((c["effective_on"], c["to_status"]))
    rules = await district_rules(r["district"] for r in rows)
    return {
        r["id"]: ProjectCtx(
            id=r["id"], name=r["name"], district_id=r["district"], district_name=r["district_name"],
            status=r["status"], category=r["category"], planned_start=r["planned_start"], timezone=r["timezone"],
            lon=r["lon"], lat=r["lat"], calendar=ProjectCalendar.build(changes[r["id"]], r["planned_start"]),
            rules=rules[r["district"]],
        )
        for r in rows
    }


# --- Daily rollups ---------------------------------------------------------------------------

_AGG_COLUMNS = (
    "SELECT project, person, local_date AS day, "
    "SUM(CASE WHEN verdict <> 'rejected' THEN 1 ELSE 0 END) AS ok, "
    "SUM(CASE WHEN verdict <> 'rejected' AND CAST(flags AS TEXT) NOT LIKE '%late_upload%' THEN 1 ELSE 0 END)"
    " AS ok_on_time, "
    "SUM(CASE WHEN verdict = 'rejected' THEN 1 ELSE 0 END) AS rejected"
)
_AGG_TIMES = (
    ", MIN(CASE WHEN verdict <> 'rejected' THEN captured_at END) AS first_at"
    ", MAX(CASE WHEN verdict <> 'rejected' THEN captured_at END) AS last_at"
)
_AGG_GROUP = " GROUP BY project, person, local_date"


@dataclass(slots=True)
class RollupResult:
    days: int = 0
    rows: int = 0
    seconds: float = 0.0
    day_list: list[str] = field(default_factory=list)


async def rollup_days(days: Iterable[date], *, today: date | None = None,
                      progress: ProgressFn | None = None) -> RollupResult:
    """Store the daily rollup of each day (all projects): one DELETE + one INSERT … SELECT … GROUP BY per day,
    in one write transaction per day.  Days from today on are refused: they are always computed live."""
    import time

    today = today or local_today()
    wanted = sorted(set(days))
    for d in wanted:
        if d >= today:
            raise invalid("day", f"只能统计今天以前的日期（{d} 不早于今天 {today}）",
                          f"Only days before today can be rolled up ({d} is not before {today})")
    result = RollupResult()
    started = time.perf_counter()
    for d in wanted:
        iso = _iso(d)
        async with write_transaction():
            top = await Punch.select(Punch.id).order_by(Punch.id, ascending=False).first()
            await PersonDay.raw("DELETE FROM sup_person_day WHERE day = {}", iso)
            await PersonDay.raw(
                "INSERT INTO sup_person_day (project, person, day, ok, ok_on_time, rejected, first_at, last_at) "
                + _AGG_COLUMNS + _AGG_TIMES + " FROM punch WHERE person IS NOT NULL AND local_date = {}" + _AGG_GROUP,
                iso,
            )
            n = await PersonDay.count().where(PersonDay.day == iso)
            await RollupDay.delete().where(RollupDay.day == iso)
            await RollupDay.insert(RollupDay(day=iso, rolled_at=datetime.now(UTC), rows=n,
                                             max_punch_id=top["id"] if top else 0))
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
    top = await Punch.select(Punch.id).order_by(Punch.id, ascending=False).first()
    days = await days_to_roll(today)
    run = RollupRun(started_at=datetime.now(UTC), trigger=trigger, max_punch_id=top["id"] if top else 0)
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
) -> list[tuple[int, int, str, int, int, int]]:
    """(project, person, day, ok, ok_on_time, rejected) for every person-day with a punch in [first, last]:
    stored rollups for rolled days, the same aggregate computed live for the others (today, unrolled days)."""
    if project_ids is not None and not project_ids:
        return []
    rolled = await fresh_rolled_days(first, last)
    live_days = [_iso(d) for d in days_between(first, last) if _iso(d) not in rolled]
    filters, args = _count_filters(project_ids, person_ids, key_managers_only)
    out: list[tuple[int, int, str, int, int, int]] = []
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
    from piccolo.engine.postgres import PostgresEngine

    from backend.db import engine

    rolled = sorted(await fresh_rolled_days(first, last))
    live = [_iso(d) for d in days_between(first, last) if _iso(d) not in rolled]
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
    source = " UNION ALL ".join(parts)
    pg = isinstance(engine(), PostgresEngine)
    groups: dict[tuple[bool, int], list[int]] = defaultdict(list)
    for pid, c in ctxs.items():
        groups[(c.rules.late_upload_counts_as_valid, max(1, c.rules.valid_day_min_punches))].append(pid)
    out: dict[tuple[int, int], str] = {}
    for (use_ok, least), pids in groups.items():
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


def _valid_index(counts: Iterable[tuple[int, int, str, int, int, int]],
                 projects: dict[int, ProjectCtx]) -> dict[tuple[int, int], dict[str, bool]]:
    """(project, person) → {day: valid?} using each project's district rules."""
    out: dict[tuple[int, int], dict[str, bool]] = defaultdict(dict)
    for project, person, day, ok, ok_on_time, _rejected in counts:
        ctx = projects.get(project)
        if ctx is None:
            continue
        out[(project, person)][day] = metrics.is_valid_day(ok, ok_on_time, ctx.rules)
    return out


# --- People search --------------------------------------------------------------------------

_ID_LIKE = __import__("re").compile(r"\d{17}[\dXx]")


async def _person_filter(q: str | None) -> tuple[str, Any] | None:
    """A name fragment or a full ID number (looked up by its keyed hash; never stored or shown in full)."""
    text = (q or "").strip()
    if not text:
        return None
    if _ID_LIKE.fullmatch(text):
        from backend.crypto import lookup_hash

        row = await Person.select(Person.id).where(Person.id_hash == lookup_hash(text.upper())).first()
        return ("id", row["id"] if row else -1)
    if len(text) > 60:
        raise invalid("q", "姓名过长", "Name too long")
    return ("name", text)


# --- Monthly attendance (seed 001 §2.8.1 项目月考勤, §2.11.1 管理人员考勤情况) ----------------------

CELL_VALID = "√"  # counted day with a valid attendance
CELL_REJECTED = "×"  # counted day with only rejected punches
CELL_SUSPENDED = "停"  # 停工 day: excluded from every rate (seed 001 §五(十三))
CELL_UNCOUNTED = "○"  # attended on a day that does not count (not 在建, before managers' start, not on roster)
CELL_LEGEND = {
    CELL_VALID: "有效考勤", CELL_REJECTED: "仅有被拒打卡", CELL_SUSPENDED: "停工日（不计入考勤率）",
    CELL_SUSPENDED + CELL_VALID: "停工日有打卡（不计入）", CELL_UNCOUNTED: "有打卡但不计入（非施工日或未到计算日）",
}


@dataclass(slots=True)
class MatrixRow:
    project_id: int
    project_name: str
    person_id: int
    name: str
    id_masked: str
    team_id: int
    team_name: str
    work_role: str
    post: str | None
    job_label: str  # post (managers) or work type (workers)
    cells: list[str]
    valid_days: int
    required_days: int
    threshold: float | None  # managers: valid-days ratio of the district

    @property
    def role_label(self) -> str:
        return WORK_ROLE.get(self.work_role, self.work_role)

    @property
    def rate(self) -> float | None:
        return metrics.rate(self.valid_days, self.required_days)

    @property
    def meets(self) -> bool | None:
        if self.threshold is None:
            return None
        return metrics.meets(self.valid_days, self.required_days, self.threshold)


@dataclass(slots=True)
class Matrix:
    month: str
    first: date
    last: date
    as_of: date
    days: list[date]
    rows: list[MatrixRow]
    day_valid: list[int]
    day_required: list[int]
    day_suspended: list[bool]  # every project in the matrix was 停工 that day
    updated_at: datetime | None
    projects: dict[int, str]


def _job_label(work_role: str, post: str | None, work_type: str | None) -> str:
    if work_role == "manager":
        return POSTS.get(post or "", post or "")
    return WORK_TYPES.get(work_type or "", "")


async def monthly_matrix(
    project_ids: set[int] | None, month: str, *, team_id: int | None = None, work_role: str | None = None,
    post: str | None = None, q: str | None = None, as_of: date | None = None,
) -> Matrix:
    """Person × day matrix: roster of the month (one row per person and project), a cell per day."""
    first, last = parse_month(month)
    as_of = as_of or local_today()
    if work_role is not None and work_role not in WORK_ROLE:
        raise invalid("work_role", "人员类型应为 manager 或 worker", "work_role must be manager or worker")
    if post is not None and post not in POSTS:
        raise invalid("post", f"未知岗位：{post}", f"Unknown post: {post}")
    ctxs = await project_contexts(project_ids)
    days = days_between(first, last)
    empty = Matrix(month=month, first=first, last=last, as_of=as_of, days=days, rows=[], day_valid=[0] * len(days),
                   day_required=[0] * len(days), day_suspended=[False] * len(days), updated_at=None,
                   projects={p.id: p.name for p in ctxs.values()})
    if not ctxs:
        return empty
    ids = sorted(ctxs)
    rq = RosterEntry.select(
        RosterEntry.project, RosterEntry.person, RosterEntry.person.name.as_alias("name"),
        RosterEntry.person.id_masked.as_alias("id_masked"), RosterEntry.team, RosterEntry.team.name.as_alias("team_name"),
        RosterEntry.work_role, RosterEntry.post, RosterEntry.work_type, RosterEntry.entered_on, RosterEntry.exited_on,
    ).where(
        _ids_in(RosterEntry.project, ids) & (RosterEntry.entered_on <= last)
        & (RosterEntry.exited_on.is_null() | (RosterEntry.exited_on >= first))
    ).order_by(RosterEntry.id)
    if team_id is not None:
        rq = rq.where(RosterEntry.team == team_id)
    if work_role is not None:
        rq = rq.where(RosterEntry.work_role == work_role)
    if post is not None:
        rq = rq.where(RosterEntry.post == post)
    pf = await _person_filter(q)
    if pf and pf[0] == "id":
        rq = rq.where(RosterEntry.person == pf[1])
    elif pf:
        rq = rq.where(RosterEntry.person.name.like(f"%{pf[1]}%"))
    entries = await rq

    people: dict[tuple[int, int], dict[str, Any]] = {}
    for e in entries:
        key = (e["project"], e["person"])
        p = people.get(key)
        if p is None:
            p = people[key] = {"intervals": [], **e}
        p.update({k: e[k] for k in ("team", "team_name", "work_role", "post", "work_type")})  # latest entry wins
        p["intervals"].append((e["entered_on"], e["exited_on"]))
    last_counted = min(last, as_of)
    n = len(days)
    upto = sum(1 for d in days if d <= last_counted)  # cells after the statistics day stay empty
    packed = await packed_day_marks(ctxs, first, last_counted)
    marks: dict[tuple[int, int], dict[int, tuple[bool, bool]]] = {}
    for key, text in packed.items():
        if key in people and text:
            m = marks[key] = {}
            for token in map(int, text.split(",")):
                m[(token >> 2) - 1] = (bool(token & 1), bool(token & 2))

    # Per project: the status code per day and the counted days (workers; managers from start + offset).
    status_codes: dict[int, list[str]] = {}
    worker_mask: dict[int, list[bool]] = {}
    manager_mask: dict[int, list[bool]] = {}
    for pid, ctx in ctxs.items():
        status_codes[pid] = [ctx.calendar.status_on(d) for d in days]
        start = ctx.calendar.manager_start(ctx.rules.manager_attendance_start_offset_days)
        worker_mask[pid] = [i < upto and code == "under_construction" for i, code in enumerate(status_codes[pid])]
        manager_mask[pid] = [w and start is not None and d >= start
                             for w, d in zip(worker_mask[pid], days, strict=True)]
    roster_masks: dict[tuple[tuple[date, date | None], ...], list[bool]] = {}
    rows: list[MatrixRow] = []
    day_valid = [0] * n
    day_required = [0] * n
    for key, p in people.items():
        pid, person = key
        ctx = ctxs[pid]
        intervals = tuple(p["intervals"])
        on_roster = roster_masks.get(intervals)
        if on_roster is None:
            covered = roster_days(intervals, first, last)
            on_roster = roster_masks[intervals] = [d in covered for d in days]
        counted = manager_mask[pid] if p["work_role"] == "manager" else worker_mask[pid]
        codes = status_codes[pid]
        m = marks.get(key, {})
        cells = [""] * n
        valid_days = required = 0
        for i in range(upto):
            v = m.get(i)
            if codes[i] == "suspended":
                cells[i] = CELL_SUSPENDED + CELL_VALID if v and v[0] else CELL_SUSPENDED
            elif counted[i] and on_roster[i]:
                required += 1
                day_required[i] += 1
                if v is not None:
                    if v[0]:
                        valid_days += 1
                        day_valid[i] += 1
                        cells[i] = CELL_VALID
                    elif v[1]:
                        cells[i] = CELL_REJECTED
            elif v is not None and v[0]:
                cells[i] = CELL_UNCOUNTED
        rows.append(MatrixRow(
            project_id=pid, project_name=ctx.name, person_id=person, name=p["name"], id_masked=p["id_masked"],
            team_id=p["team"], team_name=p["team_name"], work_role=p["work_role"], post=p["post"],
            job_label=_job_label(p["work_role"], p["post"], p["work_type"]), cells=cells, valid_days=valid_days,
            required_days=required,
            threshold=ctx.rules.manager_valid_days_ratio if p["work_role"] == "manager" else None,
        ))
    rows.sort(key=lambda r: (r.project_id, r.team_name, r.work_role != "manager", r.name, r.person_id))
    suspended = [all(status_codes[pid][i] == "suspended" for pid in ctxs) for i in range(n)]
    empty.rows, empty.day_valid, empty.day_required, empty.day_suspended = rows, day_valid, day_required, suspended
    empty.updated_at = await last_rollup_at()
    return empty


# --- Per-punch detail (seed 001 §2.8.2 考勤明细) -------------------------------------------------

SOURCE_ZH = {"gate": "闸机", "mobile": "手机", "makeup": "补卡"}
DIRECTION_ZH = {"in": "进", "out": "出"}


async def punch_detail(
    project_ids: set[int] | None, first: date, last: date, *, team_id: int | None = None, q: str | None = None,
    verdict: str | None = None, source: str | None = None, late_only: bool = False, limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Punches with filters, newest first, and the total count (for paging)."""
    if project_ids is not None and not project_ids:
        return [], 0
    if last < first:
        raise invalid("day_to", "结束日期早于开始日期", "End date is before start date")
    if verdict is not None and verdict not in ("accepted", "flagged", "rejected"):
        raise invalid("verdict", "结果应为 accepted、flagged 或 rejected", "verdict must be accepted|flagged|rejected")
    if source is not None and source not in SOURCE_ZH:
        raise invalid("source", "来源应为 gate、mobile 或 makeup", "source must be gate|mobile|makeup")
    where = (Punch.local_date >= _iso(first)) & (Punch.local_date <= _iso(last))
    if project_ids is not None:
        where &= _ids_in(Punch.project, project_ids)
    if team_id is not None:
        where &= Punch.person.is_in(RosterEntry.select(RosterEntry.person).where(RosterEntry.team == team_id))
    pf = await _person_filter(q)
    if pf and pf[0] == "id":
        where &= Punch.person == pf[1]
    elif pf:
        where &= Punch.person.name.like(f"%{pf[1]}%")
    if verdict is not None:
        where &= Punch.verdict == verdict
    if source is not None:
        where &= Punch.source == source
    if late_only:
        where &= WhereRaw("CAST(punch.flags AS TEXT) LIKE {}", "%late_upload%")
    total = await Punch.count().where(where)
    rows = await Punch.select(
        Punch.id, Punch.project, Punch.project.name.as_alias("project_name"),
        Punch.project.timezone.as_alias("timezone"), Punch.person, Punch.person.name.as_alias("name"),
        Punch.person.id_masked.as_alias("id_masked"), Punch.source, Punch.direction, Punch.captured_at,
        Punch.received_at, Punch.latency_s, Punch.local_date, Punch.verdict, Punch.reasons, Punch.flags,
        Punch.terminal.serial.as_alias("terminal_serial"),
    ).where(where).order_by(Punch.captured_at, ascending=False).limit(max(1, min(limit, 200_000))).offset(
        max(0, offset))
    teams = await _team_names({(r["project"], r["person"]) for r in rows if r["person"] is not None})
    for r in rows:
        tz = ZoneInfo(r.pop("timezone") or DEFAULT_TZ)
        r["captured_local"] = _aware(r["captured_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        r["received_local"] = _aware(r["received_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        r["reasons"] = list(_json(r["reasons"], []))
        r["flags"] = list(_json(r["flags"], []))
        r["reason_labels"] = [REASON_ZH.get(c, c) for c in r["reasons"] + r["flags"]]
        r["source_label"] = SOURCE_ZH.get(r["source"], r["source"])
        r["direction_label"] = DIRECTION_ZH.get(r["direction"] or "", "")
        r["verdict_label"] = {"accepted": "成功", "flagged": "成功（待复核）", "rejected": "失败"}[r["verdict"]]
        r["team_name"] = teams.get((r["project"], r["person"]), "")
        r["name"] = r["name"] or "（未识别）"
        r["id_masked"] = r["id_masked"] or ""
    return rows, total


async def _team_names(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
    if not pairs:
        return {}
    projects = sorted({p for p, _ in pairs})
    persons = sorted({q for _, q in pairs})
    rows = await RosterEntry.select(RosterEntry.project, RosterEntry.person, RosterEntry.team.name.as_alias("team")).where(
        _ids_in(RosterEntry.project, projects) & _ids_in(RosterEntry.person, persons)
    ).order_by(RosterEntry.id)
    return {(r["project"], r["person"]): r["team"] for r in rows}


# --- Key managers: monthly on-duty (seed 000 §五; seed 001 §2.11.3; seed 004 §四(一)) ----------------


@dataclass(slots=True)
class ManagerPerson:
    person_id: int
    name: str
    id_masked: str
    post: str
    month: metrics.PersonMonth
    active: bool  # on the roster on the statistics day

    @property
    def post_label(self) -> str:
        return KEY_POSTS.get(self.post, self.post)

    @property
    def summary(self) -> str:
        """"未到岗 3 天 到岗率 85.0%" as in seed 001 §2.11.3."""
        if self.month.required_days == 0:
            return f"{self.name}：未到计算日"
        return f"{self.name}：未到岗 {self.month.absent_days} 天 到岗率 {metrics.pct(self.month.rate)}"


@dataclass(slots=True)
class ProjectManagers:
    ctx: ProjectCtx
    first: date
    stat_last: date  # statistics run to this day (yesterday for the current month)
    construction_days: int
    suspended_days: int
    manager_days: int  # construction days from planned start + offset: the denominator of managers
    manager_start: date | None
    people: list[ManagerPerson]
    filled: set[str]
    composite: metrics.Composite
    daily: list[tuple[date, int, int]]  # (day, key managers present, key managers required)
    contractors: list[str]
    supervisors: list[str]

    def by_post(self, post: str) -> list[ManagerPerson]:
        return [p for p in self.people if p.post == post]

    @property
    def counting(self) -> bool:
        """Managers' attendance is being counted on the statistics day (在建 and past the start offset)."""
        start = self.manager_start
        return start is not None and start <= self.stat_last and self.ctx.calendar.is_construction(self.stat_last)

    @property
    def missing(self) -> list[str]:
        return [p for p in KEY_POST_LIST if p not in self.filled]

    @property
    def absent(self) -> list[str]:
        """Filled posts whose holders had required days but not one valid day (本月…未在岗)."""
        out = []
        for post in KEY_POST_LIST:
            held = [p for p in self.by_post(post) if p.month.required_days > 0]
            if held and all(p.month.valid_days == 0 for p in held):
                out.append(post)
        return out

    @property
    def below(self) -> list[str]:
        """Posts with a holder below the valid-days ratio (…月出勤不达标)."""
        return [post for post in KEY_POST_LIST if any(p.month.meets is False for p in self.by_post(post))]


async def managers_month(
    project_ids: set[int] | None, month: str, *, as_of: date | None = None, district_id: int | None = None,
    active_only: bool = True,
) -> list[ProjectManagers]:
    """Key managers of each project for a month, up to ``as_of`` (default: yesterday, "统计截止前一日").

    Four queries whatever the number of projects: projects (+ status history, rules), key-post roster, units,
    person-day counts of key managers."""
    first, last = parse_month(month)
    as_of = as_of or local_today() - timedelta(days=1)
    stat_last = min(last, as_of)
    ctxs = await project_contexts(project_ids, district_id=district_id)
    if active_only:
        ctxs = {pid: c for pid, c in ctxs.items()
                if any(c.calendar.status_on(d) in ("under_construction", "suspended")
                       for d in days_between(first, stat_last))}
    if not ctxs:
        return []
    ids = sorted(ctxs)
    entries = await RosterEntry.select(
        RosterEntry.project, RosterEntry.person, RosterEntry.person.name.as_alias("name"),
        RosterEntry.person.id_masked.as_alias("id_masked"), RosterEntry.post, RosterEntry.entered_on,
        RosterEntry.exited_on,
    ).where(
        _ids_in(RosterEntry.project, ids) & (RosterEntry.work_role == "manager") & RosterEntry.post.is_in(KEY_POST_LIST)
        & (RosterEntry.entered_on <= max(stat_last, first))
        & (RosterEntry.exited_on.is_null() | (RosterEntry.exited_on >= first))
    ).order_by(RosterEntry.id)
    units = await ProjectUnit.select(
        ProjectUnit.project, ProjectUnit.unit_type, ProjectUnit.enterprise.name.as_alias("enterprise_name"),
    ).where(
        _ids_in(ProjectUnit.project, ids) & ProjectUnit.unit_type.is_in(["general_contractor", "supervision_firm"])
        & (ProjectUnit.exited_on.is_null() | (ProjectUnit.exited_on >= first))
    ).order_by(ProjectUnit.id)
    valid = _valid_index(
        await person_day_counts(set(ids), first, stat_last, key_managers_only=True) if stat_last >= first else [],
        ctxs)

    held: dict[int, dict[tuple[int, str], dict[str, Any]]] = defaultdict(dict)
    for e in entries:
        slot = held[e["project"]].setdefault((e["person"], e["post"]), {**e, "intervals": [], "active": False})
        slot["intervals"].append((e["entered_on"], e["exited_on"]))
        if e["entered_on"] <= stat_last and (e["exited_on"] is None or e["exited_on"] >= stat_last):
            slot["active"] = True
    names: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for u in units:
        names[u["project"]][u["unit_type"]].append(u["enterprise_name"])

    out: list[ProjectManagers] = []
    for pid in ids:
        ctx = ctxs[pid]
        rules = ctx.rules
        offset = rules.manager_attendance_start_offset_days
        in_month = days_between(first, stat_last)
        mdays = set(ctx.calendar.manager_days(first, stat_last, offset))
        people: list[ManagerPerson] = []
        per_day_required: dict[date, int] = defaultdict(int)
        per_day_present: dict[date, int] = defaultdict(int)
        for (person, post), h in held[pid].items():
            required = mdays & roster_days(h["intervals"], first, stat_last)
            marks = valid.get((pid, person), {})
            valid_days = 0
            for d in required:
                per_day_required[d] += 1
                if marks.get(_iso(d)):
                    valid_days += 1
                    per_day_present[d] += 1
            people.append(ManagerPerson(
                person_id=person, name=h["name"], id_masked=h["id_masked"], post=post, active=h["active"],
                month=metrics.PersonMonth(person_id=person, post=post, required_days=len(required),
                                          valid_days=valid_days, threshold=rules.manager_valid_days_ratio),
            ))
        people.sort(key=lambda p: (KEY_POST_LIST.index(p.post), p.name, p.person_id))
        out.append(ProjectManagers(
            ctx=ctx, first=first, stat_last=stat_last,
            construction_days=sum(1 for d in in_month if ctx.calendar.is_construction(d)),
            suspended_days=sum(1 for d in in_month if ctx.calendar.is_suspended(d)),
            manager_days=len(mdays), manager_start=ctx.calendar.manager_start(offset), people=people,
            filled={p.post for p in people if p.active},
            composite=metrics.composite((p.month for p in people), rules.manager_composite_on_duty_ratio),
            daily=[(d, per_day_present[d], per_day_required[d]) for d in sorted(mdays)],
            contractors=names[pid]["general_contractor"], supervisors=names[pid]["supervision_firm"],
        ))
    return out


@dataclass(frozen=True, slots=True)
class ManagerFilters:
    """Filters of seed 001 §2.11.3: text fields and the 12 check boxes (未设置…, 本月…未在岗, …月出勤不达标),
    generalised to every key post.  Checked boxes combine with OR (a project with any checked problem)."""

    project: str = ""
    enterprise: str = ""
    person: str = ""
    missing: frozenset[str] = frozenset()
    absent: frozenset[str] = frozenset()
    below: frozenset[str] = frozenset()
    composite_below: bool = False

    def check(self) -> None:
        for name, posts in (("missing", self.missing), ("absent", self.absent), ("below", self.below)):
            for post in posts:
                if post not in KEY_POSTS:
                    raise invalid(name, f"未知关键岗位：{post}", f"Unknown key post: {post}")


async def filter_managers(stats: list[ProjectManagers], f: ManagerFilters) -> list[ProjectManagers]:
    f.check()
    pf = await _person_filter(f.person)
    out = []
    for s in stats:
        if f.project and f.project not in s.ctx.name:
            continue
        if f.enterprise and not any(f.enterprise in n for n in s.contractors + s.supervisors):
            continue
        if pf and pf[0] == "id" and not any(p.person_id == pf[1] for p in s.people):
            continue
        if pf and pf[0] == "name" and not any(pf[1] in p.name for p in s.people):
            continue
        boxes = f.missing or f.absent or f.below or f.composite_below
        if boxes and not (
            (f.missing & set(s.missing)) or (f.absent & set(s.absent)) or (f.below & set(s.below))
            or (f.composite_below and s.composite.meets is False)
        ):
            continue
        out.append(s)
    return out


# --- Project qualification rule (seed 001 §2.3 项目合格规则) -------------------------------------


@dataclass(slots=True)
class Qualification:
    """Seed 001 §2.3: a project is 合格 when (1) the project and its units, (2) all its active teams and (3) all
    its active people are "上传成功".  There is no provincial upload yet: an entity counts as uploadable when its
    record here is complete enough for the platform (docs/supervision.md §5)."""

    project_id: int
    project_ok: bool
    teams_ok: bool
    people_ok: bool
    people_active: int
    people_enrolled: int
    problems: list[str]

    @property
    def qualified(self) -> bool:
        return self.project_ok and self.teams_ok and self.people_ok


async def qualification(project_ids: Iterable[int], day: date | None = None) -> dict[int, Qualification]:
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    day = day or local_today()
    projects = await Project.select(Project.id, Project.permit_no, Project.planned_start, Project.lon,
                                    Project.lat).where(_ids_in(Project.id, ids))
    units = await ProjectUnit.select(ProjectUnit.project, ProjectUnit.unit_type, ProjectUnit.entered_on).where(
        _ids_in(ProjectUnit.project, ids) & ProjectUnit.exited_on.is_null())
    teams = await Team.select(Team.project, Team.name, Team.entered_on, Team.unit.exited_on.as_alias("unit_exited")
                              ).where(_ids_in(Team.project, ids) & Team.exited_on.is_null())
    active = (_ids_in(RosterEntry.project, ids) & (RosterEntry.entered_on <= day)
              & (RosterEntry.exited_on.is_null() | (RosterEntry.exited_on >= day)))
    on_roster = {r["project"]: r["count"] for r in await RosterEntry.select(RosterEntry.project, Count()).where(
        active).group_by(RosterEntry.project)}
    enrolled = {r["project"]: r["count"] for r in await RosterEntry.select(RosterEntry.project, Count()).where(
        active & RosterEntry.person.is_in(Enrolment.select(Enrolment.person).where(Enrolment.face_template.is_not_null()))
    ).group_by(RosterEntry.project)}
    unit_types: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for u in units:
        unit_types[u["project"]].append(u)
    team_rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in teams:
        team_rows[t["project"]].append(t)
    out: dict[int, Qualification] = {}
    for p in projects:
        pid = p["id"]
        problems: list[str] = []
        if not p["permit_no"]:
            problems.append("项目未填写施工许可证编号")
        if not p["planned_start"]:
            problems.append("项目未填写计划开工日期")
        if p["lon"] is None:
            problems.append("项目未定位")
        kinds = {u["unit_type"] for u in unit_types[pid]}
        if "general_contractor" not in kinds:
            problems.append("无在场施工总承包单位")
        if "supervision_firm" not in kinds:
            problems.append("无在场监理单位")
        if any(u["entered_on"] is None for u in unit_types[pid]):
            problems.append("参建单位缺少进场日期")
        project_ok = not problems
        bad_teams = [t["name"] for t in team_rows[pid] if t["entered_on"] is None or t["unit_exited"] is not None]
        if bad_teams:
            problems.append("班组信息不完整：" + "、".join(bad_teams[:5]) + ("等" if len(bad_teams) > 5 else ""))
        n, m = on_roster.get(pid, 0), enrolled.get(pid, 0)
        if m < n:
            problems.append(f"在职人员未采集人脸：{n - m} 人")
        out[pid] = Qualification(project_id=pid, project_ok=project_ok, teams_ok=not bad_teams, people_ok=m >= n,
                                 people_active=n, people_enrolled=m, problems=problems)
    return out


# --- Execution dashboards (seed 001 §2.10.1 县区执行情况, §2.10.2 各项目执行情况) -----------------------


@dataclass(slots=True)
class ProjectExecution:
    ctx: ProjectCtx
    qualified: bool
    problems: list[str]
    roster: int  # 在职人数
    attended: int  # 考勤人数 (valid day)
    punches_ok: int
    pm: str  # present | absent | missing | not_counted
    cse: str

    @property
    def has_attendance(self) -> bool:
        return self.punches_ok > 0


class ProjectCounts:
    """Upload and update counts over a set of projects (the shared columns of seed 001 §2.10.1 and §2.10.3)."""

    __slots__ = ()
    projects: int
    uploaded: int
    with_attendance: int

    @property
    def failed(self) -> int:
        return self.projects - self.uploaded

    @property
    def without_attendance(self) -> int:
        return self.projects - self.with_attendance

    @property
    def upload_rate(self) -> float | None:
        return metrics.rate(self.uploaded, self.projects)

    @property
    def update_rate(self) -> float | None:
        return metrics.rate(self.with_attendance, self.projects)


@dataclass(slots=True)
class DistrictExecution(ProjectCounts):
    district_id: int | None
    name: str
    projects: int = 0
    uploaded: int = 0
    with_attendance: int = 0
    people: int = 0
    pm_registered: int = 0
    pm_counted: int = 0
    pm_present: int = 0
    cse_registered: int = 0
    cse_counted: int = 0
    cse_present: int = 0


    @property
    def avg_people(self) -> float | None:
        return self.people / self.with_attendance if self.with_attendance else None

    @property
    def pm_registration(self) -> float | None:
        return metrics.rate(self.pm_registered, self.projects)

    @property
    def pm_on_duty(self) -> float | None:
        return metrics.rate(self.pm_present, self.pm_counted)

    @property
    def cse_registration(self) -> float | None:
        return metrics.rate(self.cse_registered, self.projects)

    @property
    def cse_on_duty(self) -> float | None:
        return metrics.rate(self.cse_present, self.cse_counted)

    def add(self, p: ProjectExecution) -> None:
        self.projects += 1
        self.uploaded += p.qualified
        self.with_attendance += p.has_attendance
        self.people += p.attended
        for post, value in (("pm", p.pm), ("cse", p.cse)):
            if value != "missing":
                setattr(self, f"{post}_registered", getattr(self, f"{post}_registered") + 1)
            if value in ("present", "absent"):
                setattr(self, f"{post}_counted", getattr(self, f"{post}_counted") + 1)
            if value == "present":
                setattr(self, f"{post}_present", getattr(self, f"{post}_present") + 1)


async def project_execution(project_ids: set[int] | None, day: date, *, district_id: int | None = None,
                            ctxs: dict[int, ProjectCtx] | None = None) -> list[ProjectExecution]:
    """Projects under construction (在建) on ``day`` with that day's figures: a handful of queries in all."""
    if ctxs is None:
        ctxs = await project_contexts(project_ids, district_id=district_id)
    ctxs = {pid: c for pid, c in ctxs.items() if c.calendar.is_construction(day)}
    if not ctxs:
        return []
    ids = sorted(ctxs)
    quals = await qualification(ids, day)
    totals = await project_day_totals(ctxs, day)
    active = (_ids_in(RosterEntry.project, ids) & (RosterEntry.entered_on <= day)
              & (RosterEntry.exited_on.is_null() | (RosterEntry.exited_on >= day)))
    roster = {r["project"]: r["count"] for r in await RosterEntry.select(RosterEntry.project, Count()).where(
        active).group_by(RosterEntry.project)}
    holders: dict[tuple[int, str], set[int]] = defaultdict(set)
    for r in await RosterEntry.select(RosterEntry.project, RosterEntry.person, RosterEntry.post).where(
            active & RosterEntry.post.is_in(["project_manager", "chief_supervising_engineer"])):
        holders[(r["project"], r["post"])].add(r["person"])
    attended: dict[int, set[int]] = defaultdict(set)  # the holders with a valid day
    people = {p for ps in holders.values() for p in ps}
    if people:
        for project, person, _d, ok, ok_on_time, _rej in await person_day_counts(set(ids), day, day, person_ids=people):
            if metrics.is_valid_day(ok, ok_on_time, ctxs[project].rules):
                attended[project].add(person)
    out = []
    for pid in ids:
        ctx = ctxs[pid]
        start = ctx.calendar.manager_start(ctx.rules.manager_attendance_start_offset_days)
        counting = start is not None and day >= start

        def state(post: str, pid: int = pid, counting: bool = counting) -> str:
            who = holders.get((pid, post), set())
            if not who:
                return "missing"
            if not counting:
                return "not_counted"
            return "present" if who & attended[pid] else "absent"

        q = quals[pid]
        valid, punches = totals.get(pid, (0, 0))
        out.append(ProjectExecution(ctx=ctx, qualified=q.qualified, problems=q.problems, roster=roster.get(pid, 0),
                                    attended=valid, punches_ok=punches,
                                    pm=state("project_manager"), cse=state("chief_supervising_engineer")))
    return out


async def district_execution(project_ids: set[int] | None, day: date) -> tuple[list[DistrictExecution],
                                                                                DistrictExecution]:
    """One row per district and the total row (汇总), from ``project_execution``."""
    ctxs = await project_contexts(project_ids)
    rows = await project_execution(project_ids, day, ctxs=ctxs)
    scope_districts = await District.select(District.id, District.name).order_by(District.code)
    if project_ids is not None:
        ids = {c.district_id for c in ctxs.values()}
        scope_districts = [d for d in scope_districts if d["id"] in ids]
    by_district = {d["id"]: DistrictExecution(district_id=d["id"], name=d["name"]) for d in scope_districts}
    total = DistrictExecution(district_id=None, name="汇总")
    for p in rows:
        by_district.setdefault(p.ctx.district_id, DistrictExecution(district_id=p.ctx.district_id,
                                                                      name=p.ctx.district_name)).add(p)
        total.add(p)
    return list(by_district.values()), total


# --- Device vendors (seed 001 §2.10.3 设备商支撑情况) ---------------------------------------------


@dataclass(slots=True)
class VendorSupport(ProjectCounts):
    vendor_id: int
    name: str
    projects: int = 0
    uploaded: int = 0
    with_attendance: int = 0
    terminals: int = 0
    online: int = 0



async def vendor_support(project_ids: set[int] | None, day: date) -> list[VendorSupport]:
    """Per vendor: projects its enabled terminals serve, how many are 合格, how many got a gate punch through
    its terminals on ``day`` (更新), terminals and how many are online now."""
    vendors = {v["id"]: VendorSupport(vendor_id=v["id"], name=v["name"])
               for v in await Vendor.select(Vendor.id, Vendor.name).order_by(Vendor.id)}
    tq = Terminal.select(Terminal.id, Terminal.vendor, Terminal.project, Terminal.online).where(
        Terminal.enabled == True)  # noqa: E712 (Piccolo expression)
    if project_ids is not None:
        if not project_ids:
            return list(vendors.values())
        tq = tq.where(_ids_in(Terminal.project, project_ids))
    terminals = await tq
    if not terminals:
        return list(vendors.values())
    term_ids = [t["id"] for t in terminals]
    served: dict[int, set[int]] = defaultdict(set)
    for t in terminals:
        v = vendors[t["vendor"]]
        v.terminals += 1
        v.online += bool(t["online"])
        served[t["vendor"]].add(t["project"])
    quals = await qualification({t["project"] for t in terminals}, day)
    vendor_of = {t["id"]: t["vendor"] for t in terminals}
    updated: dict[int, set[int]] = defaultdict(set)
    for r in await Punch.select(Punch.terminal, Punch.project, Count()).where(
        (Punch.local_date == _iso(day)) & (Punch.source == "gate") & (Punch.verdict != "rejected")
        & _ids_in(Punch.terminal, term_ids)
    ).group_by(Punch.terminal, Punch.project):
        updated[vendor_of[r["terminal"]]].add(r["project"])
    for vid, projects in served.items():
        v = vendors[vid]
        v.projects = len(projects)
        v.uploaded = sum(1 for p in projects if quals[p].qualified)
        v.with_attendance = len(updated[vid] & projects)
    return list(vendors.values())


# --- Upload latency compliance (seed 000 附件3 §三.4: ≤ 30 s; seed 002: gate ≤ 5 s) --------------------


@dataclass(slots=True)
class LatencyRow:
    project_id: int
    project_name: str
    terminal_id: int | None
    terminal_serial: str
    source: str
    limit_s: float
    total: int = 0
    within: int = 0
    avg_s: float = 0.0
    max_s: float = 0.0

    @property
    def share(self) -> float | None:
        return metrics.rate(self.within, self.total)


async def latency_compliance(project_ids: set[int] | None, first: date, last: date) -> tuple[list[LatencyRow],
                                                                                             list[LatencyRow]]:
    """Share of punches uploaded within the limit, per project and source, and per gate terminal.  Make-up
    punches have no upload latency and are left out.  One grouped query per distinct pair of district limits."""
    ctxs = await project_contexts(project_ids)
    if not ctxs:
        return [], []
    groups: dict[tuple[float, float], list[int]] = defaultdict(list)
    for pid, c in ctxs.items():
        groups[(c.rules.gate_max_latency_s, c.rules.mobile_max_latency_s)].append(pid)
    serials = {t["id"]: t["serial"] for t in await Terminal.select(Terminal.id, Terminal.serial).where(
        _ids_in(Terminal.project, ctxs))}
    by_project: dict[tuple[int, str], LatencyRow] = {}
    by_terminal: dict[int, LatencyRow] = {}
    for (gate_s, mobile_s), pids in groups.items():
        rows = await Punch.raw(
            "SELECT project, terminal, source, COUNT(*) AS n, "
            "SUM(CASE WHEN (source = 'gate' AND latency_s <= {}) OR (source = 'mobile' AND latency_s <= {})"
            " THEN 1 ELSE 0 END) AS within, AVG(latency_s) AS avg_s, MAX(latency_s) AS max_s FROM punch "
            "WHERE source IN ('gate', 'mobile') AND local_date >= {} AND local_date <= {} "
            f"AND project IN ({_int_list(pids)}) GROUP BY project, terminal, source",
            gate_s, mobile_s, _iso(first), _iso(last))
        for r in rows:
            ctx = ctxs[r["project"]]
            limit = gate_s if r["source"] == "gate" else mobile_s
            n, within = int(r["n"]), int(r["within"] or 0)
            avg, mx = float(r["avg_s"] or 0), float(r["max_s"] or 0)
            pr = by_project.setdefault((r["project"], r["source"]), LatencyRow(
                project_id=r["project"], project_name=ctx.name, terminal_id=None, terminal_serial="",
                source=r["source"], limit_s=limit))
            pr.avg_s = (pr.avg_s * pr.total + avg * n) / (pr.total + n)
            pr.total += n
            pr.within += within
            pr.max_s = max(pr.max_s, mx)
            if r["source"] == "gate" and r["terminal"] is not None:
                by_terminal[r["terminal"]] = LatencyRow(
                    project_id=r["project"], project_name=ctx.name, terminal_id=r["terminal"],
                    terminal_serial=serials.get(r["terminal"], str(r["terminal"])), source="gate", limit_s=limit,
                    total=n, within=within, avg_s=avg, max_s=mx)
    return (sorted(by_project.values(), key=lambda r: (r.project_id, r.source)),
            sorted(by_terminal.values(), key=lambda r: (r.project_id, r.terminal_serial)))


# --- Live map ---------------------------------------------------------------------------------

FenceSource = Callable[[set[int] | None], Any]  # async (project_ids) -> list of GeoJSON Features
_fence_source: FenceSource | None = None


def set_fence_source(source: FenceSource | None) -> None:
    """HOOK for the fence store (backend/fences): an async callable giving the map's GeoJSON Features
    (WGS-84, ``properties.project_id`` set) of the projects' current fences.  See ``fence_features``."""
    global _fence_source
    _fence_source = source


async def fence_features(project_ids: set[int] | None) -> list[dict[str, Any]]:
    """The fences to draw on the map.

    HOOK: the fence store (backend/fences) was being built at the same time as this package.  When
    ``backend.fences.services`` offers ``map_features(project_ids)`` (GeoJSON Features, WGS-84) it is used;
    a source set with ``set_fence_source`` takes precedence (tests, other stores); otherwise no fences."""
    source = _fence_source
    if source is None:
        from backend.fences import services as fences

        source = getattr(fences, "map_features", None)
    if source is None:
        return []
    features = await source(project_ids)
    if project_ids is not None:
        features = [f for f in features if (f.get("properties") or {}).get("project_id") in project_ids]
    return list(features)


RECENT_PUNCHES = 20  # the live feed starts with the day's latest punches


async def map_overview(project_ids: set[int] | None, day: date) -> dict[str, Any]:
    """Projects (with today's counters), gate terminals (online state) and fences for the map."""
    ctxs = await project_contexts(project_ids)
    ids = sorted(ctxs)
    today: dict[int, dict[str, int]] = defaultdict(lambda: {"people": 0, "late": 0, "rejected": 0, "punches": 0})
    if ids:
        rows = await Punch.raw(
            "SELECT project, COUNT(DISTINCT CASE WHEN verdict <> 'rejected' THEN person END) AS people, "
            "SUM(CASE WHEN CAST(flags AS TEXT) LIKE '%late_upload%' THEN 1 ELSE 0 END) AS late, "
            "SUM(CASE WHEN verdict = 'rejected' THEN 1 ELSE 0 END) AS rejected, COUNT(*) AS punches "
            f"FROM punch WHERE local_date = {{}} AND project IN ({_int_list(ids)}) GROUP BY project",
            _iso(day))
        for r in rows:
            today[r["project"]] = {k: int(r[k] or 0) for k in ("people", "late", "rejected", "punches")}
    projects = [{
        "id": c.id, "name": c.name, "district": c.district_name, "status": c.status, "status_label": c.status_label,
        "lon": c.lon, "lat": c.lat, "today": today[c.id],
    } for c in ctxs.values()]
    terminals = []
    if ids:
        for t in await Terminal.select(
            Terminal.id, Terminal.serial, Terminal.project, Terminal.channel, Terminal.direction, Terminal.enabled,
            Terminal.online, Terminal.last_seen_at, Terminal.vendor.name.as_alias("vendor"),
        ).where(_ids_in(Terminal.project, ids)).order_by(Terminal.id):
            seen = _aware(t["last_seen_at"])
            terminals.append({**t, "last_seen_at": seen.isoformat() if seen else None})
    recent = await _punch_events(_ids_in(Punch.project, ids) & (Punch.local_date == _iso(day)), RECENT_PUNCHES) \
        if ids else []
    return {"day": _iso(day), "projects": projects, "terminals": terminals, "recent": recent[::-1],
            "fences": {"type": "FeatureCollection", "features": await fence_features(project_ids)}}


async def project_today(project_id: int, day: date) -> dict[str, Any]:
    """A project's day: people on site, late uploads, rejected punches with reasons (map side panel).

    On site = people whose last accepted punch of the day is not an exit (phones have no direction)."""
    ctxs = await project_contexts({project_id})
    ctx = ctxs.get(project_id)
    if ctx is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    tz = ZoneInfo(ctx.timezone or DEFAULT_TZ)
    rows = await Punch.select(
        Punch.id, Punch.person, Punch.person.name.as_alias("name"), Punch.source, Punch.direction,
        Punch.captured_at, Punch.latency_s, Punch.verdict, Punch.reasons, Punch.flags,
        Punch.terminal.serial.as_alias("terminal"),
    ).where((Punch.project == project_id) & (Punch.local_date == _iso(day))).order_by(Punch.captured_at)
    teams = await _team_names({(project_id, r["person"]) for r in rows if r["person"] is not None})
    last_ok: dict[int, dict[str, Any]] = {}
    first_ok: dict[int, datetime] = {}
    late: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for r in rows:
        r["time"] = _aware(r["captured_at"]).astimezone(tz).strftime("%H:%M:%S")
        r["name"] = r["name"] or "（未识别）"
        r["source_label"] = SOURCE_ZH.get(r["source"], r["source"])
        flags = list(_json(r["flags"], []))
        reasons = list(_json(r["reasons"], []))
        r["labels"] = [REASON_ZH.get(c, c) for c in reasons + flags]
        if r["verdict"] == "rejected":
            rejected.append(r)
        elif r["person"] is not None:
            last_ok[r["person"]] = r
            first_ok.setdefault(r["person"], r["captured_at"])
        if "late_upload" in flags:
            late.append(r)
    on_site = [{
        "person_id": pid, "name": r["name"], "team": teams.get((project_id, pid), ""), "last_time": r["time"],
        "first_time": _aware(first_ok[pid]).astimezone(tz).strftime("%H:%M:%S"), "source_label": r["source_label"],
    } for pid, r in last_ok.items() if r["direction"] != "out"]
    on_site.sort(key=lambda p: (p["team"], p["name"]))
    return {"project": {"id": ctx.id, "name": ctx.name, "status_label": ctx.status_label,
                        "district": ctx.district_name},
            "day": _iso(day), "on_site": on_site, "attended": len(last_ok), "late": late[::-1],
            "rejected": rejected[::-1], "punches": len(rows)}


async def _punch_events(where: Any, limit: int) -> list[dict[str, Any]]:
    """Committed punches as live events (the shape ``record_punch`` publishes), newest first."""
    rows = await Punch.select(
        Punch.id, Punch.project, Punch.person, Punch.person.name.as_alias("name"), Punch.source, Punch.verdict,
        Punch.reasons, Punch.flags, Punch.lon, Punch.lat, Punch.captured_at, Punch.received_at, Punch.latency_s,
        Punch.terminal,
    ).where(where).order_by(Punch.id, ascending=False).limit(limit)
    out = []
    for r in rows:
        reasons, flags = list(_json(r["reasons"], [])), list(_json(r["flags"], []))
        out.append({
            "type": "punch", "id": r["id"], "project_id": r["project"], "person_id": r["person"], "name": r["name"],
            "source": r["source"], "verdict": r["verdict"], "reasons": reasons, "flags": flags,
            "message": "；".join(REASON_ZH.get(c, c) for c in (reasons or flags)), "lon": r["lon"], "lat": r["lat"],
            "captured_at": _aware(r["captured_at"]).isoformat(), "received_at": _aware(r["received_at"]).isoformat(),
            "latency_s": round(r["latency_s"], 1), "terminal_id": r["terminal"],
        })
    return out


async def punch_event(punch_id: int) -> dict[str, Any] | None:
    """A committed punch as a live event (for NOTIFY payloads too large to carry the event itself)."""
    events = await _punch_events(Punch.id == punch_id, 1)
    return events[0] if events else None


LIVE_CHANNEL = "smz_live"
NOTIFY_MAX_BYTES = 7900  # PostgreSQL's NOTIFY payload limit is 8000 bytes


async def pg_notify(event: dict[str, Any]) -> None:
    """Publish a committed event to every process (PostgreSQL NOTIFY; nothing to do on SQLite, whose
    deployment is a single process).  Events too large for a payload travel as a reference."""
    from piccolo.engine.postgres import PostgresEngine

    from backend.db import engine

    if not isinstance(engine(), PostgresEngine):
        return
    payload = json.dumps(event, ensure_ascii=False, default=str)
    if len(payload.encode()) > NOTIFY_MAX_BYTES:
        payload = json.dumps({"type": event.get("type"), "id": event.get("id"),
                              "project_id": event.get("project_id"), "ref": True})
    await Punch.raw("SELECT pg_notify({}, {})", LIVE_CHANNEL, payload)


# --- Warnings (seed 000 §三 黄灯/红灯, §五 闭环销号; seed 001 §2.11.2 管理人员到岗预警) ---------------------

KIND_ZH = {
    "post_missing": "关键岗位未设置",
    "no_attendance": "无考勤数据",
    "manager_valid_days": "管理人员月出勤不达标",
    "composite_rate": "综合到岗率不达标",
    "device_outage": "考勤设备离线",
}
MONTHLY_KINDS = frozenset({"manager_valid_days", "composite_rate"})  # tallies of one month; the others are states
LEVEL_ZH = {"yellow": "黄灯", "red": "红灯"}
STATUS_ZH = {"open": "待通知", "notified": "已通知", "rectified": "已整改", "closed": "已销号"}
ACTION_ZH = {"opened": "产生预警", "escalated": "转为红灯", "notified": "已通知", "not_notified": "未通知",
             "rectified": "整改", "reopened": "重新打开", "closed": "销号", "updated": "数据更新"}
OPEN_STATES = ("open", "notified")


@dataclass(slots=True)
class Finding:
    kind: str
    project_id: int
    district_id: int
    subject: str  # post, person id, terminal serial …
    period: str
    message: str
    detail: dict[str, Any]
    post: str | None = None
    person_id: int | None = None
    terminal_id: int | None = None

    @property
    def topic(self) -> str:
        base = f"{self.kind}:{self.project_id}:{self.subject}"
        return f"{base}:{self.period}" if self.kind in MONTHLY_KINDS else base


@dataclass(slots=True)
class EvaluationSummary:
    today: date
    as_of: date
    projects: int = 0
    findings: int = 0
    opened: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    rectified: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)


async def detect_findings(today: date, project_ids: set[int] | None = None) -> tuple[list[Finding],
                                                                                dict[int, ProjectCtx]]:
    """Conditions that warrant a warning, judged on the data up to yesterday (统计截止前一日), for projects under
    construction (在建) yesterday.  Returns the findings and the projects that were evaluated."""
    as_of = today - timedelta(days=1)
    period = month_of(as_of)
    stats = await managers_month(project_ids, period, as_of=as_of)
    evaluated = {s.ctx.id: s for s in stats if s.ctx.calendar.is_construction(as_of)}
    findings: list[Finding] = []
    for s in evaluated.values():
        ctx, rules = s.ctx, s.ctx.rules
        if not s.counting:
            continue
        for post in s.missing:
            findings.append(Finding(
                kind="post_missing", project_id=ctx.id, district_id=ctx.district_id, subject=post, period=period,
                post=post, message=f"{ctx.name}：未设置{POST_SHORT[post]}（关键岗位人员须按施工许可证准确设置）",
                detail={"post": post}))
        for p in s.people:
            m = p.month
            if m.meets is False:
                need = metrics.days_needed(m.required_days, rules.manager_valid_days_ratio)
                findings.append(Finding(
                    kind="manager_valid_days", project_id=ctx.id, district_id=ctx.district_id,
                    subject=f"{p.person_id}:{p.post}", period=period, post=p.post, person_id=p.person_id,
                    message=(f"{ctx.name}：{POST_SHORT[p.post]}{p.name} {period} 有效考勤 {m.valid_days}/"
                             f"{m.required_days} 天（{metrics.pct(m.rate)}），低于 "
                             f"{metrics.pct(rules.manager_valid_days_ratio, 0)}（应不少于 {need} 天）"),
                    detail={"valid_days": m.valid_days, "required_days": m.required_days, "needed": need,
                            "threshold": rules.manager_valid_days_ratio, "as_of": _iso(as_of)}))
        c = s.composite
        if c.meets is False:
            findings.append(Finding(
                kind="composite_rate", project_id=ctx.id, district_id=ctx.district_id, subject="composite",
                period=period,
                message=(f"{ctx.name}：{period} 关键岗位管理人员综合到岗率 {metrics.pct(c.rate)}"
                         f"（{c.valid_days}/{c.required_days} 人·天），低于 "
                         f"{metrics.pct(rules.manager_composite_on_duty_ratio, 0)}"),
                detail={"valid_days": c.valid_days, "required_days": c.required_days,
                        "threshold": rules.manager_composite_on_duty_ratio, "as_of": _iso(as_of)}))
    if evaluated:
        # No attendance at all on the last N construction days (N from the district rules).
        longest = max(s.ctx.rules.no_attendance_warning_days for s in evaluated.values())
        lo = as_of - timedelta(days=max(1, longest) - 1)
        attended: dict[int, set[str]] = defaultdict(set)
        for project, _person, day, ok, _t, _r in await person_day_counts(set(evaluated), lo, as_of):
            if ok > 0:
                attended[project].add(day)
        for s in evaluated.values():
            ctx = s.ctx
            n = max(1, ctx.rules.no_attendance_warning_days)
            window = days_between(as_of - timedelta(days=n - 1), as_of)
            if all(ctx.calendar.is_construction(d) for d in window) and not (attended[ctx.id] & {_iso(d) for d in window}):
                findings.append(Finding(
                    kind="no_attendance", project_id=ctx.id, district_id=ctx.district_id, subject="project",
                    period=period,
                    message=f"{ctx.name}：{_iso(window[0])}{'' if n == 1 else ' 至 ' + _iso(as_of)} 在建但无任何考勤数据",
                    detail={"days": [_iso(d) for d in window]}))
        # Terminals offline longer than the district allows (seed 001 §六(十八): 不得超过 2 天).
        now = datetime.now(UTC)
        for t in await Terminal.select(Terminal.id, Terminal.serial, Terminal.project, Terminal.last_seen_at,
                                       Terminal.created_at).where(
                _ids_in(Terminal.project, evaluated) & (Terminal.enabled == True)  # noqa: E712
                & (Terminal.online == False)):  # noqa: E712
            ctx = evaluated[t["project"]].ctx
            since = _aware(t["last_seen_at"]) or _aware(t["created_at"])
            if since is not None and now - since > timedelta(days=ctx.rules.device_outage_max_days):
                days_off = (now - since).days
                findings.append(Finding(
                    kind="device_outage", project_id=ctx.id, district_id=ctx.district_id, subject=t["serial"],
                    period=period, terminal_id=t["id"],
                    message=(f"{ctx.name}：考勤设备 {t['serial']} 已离线 {days_off} 天（超过 "
                             f"{ctx.rules.device_outage_max_days} 天）"),
                    detail={"serial": t["serial"], "since": since.isoformat()}))
    return findings, {pid: s.ctx for pid, s in evaluated.items()}


async def _event(case_id: int, action: str, level: str, status: str, *, actor: int | None = None,
                 actor_name: str = "系统", note: str = "") -> None:
    await WarningEvent.insert(WarningEvent(warning=case_id, action=action, level=level, status=status, actor=actor,
                                           actor_name=actor_name, note=note, at=datetime.now(UTC)))


async def evaluate_warnings(today: date | None = None, project_ids: set[int] | None = None, *,
                            notify: bool = True) -> EvaluationSummary:
    """Nightly detection: open yellow cases for new findings, update the open ones, rectify the ones whose
    condition cleared, reopen rectified ones whose condition persists, turn yellow to red when not fixed within
    ``warning_red_after_days`` days (day 1 = opening day, red on day 6 with the default 5; seed 000 §三); then
    notify (seed 001 §2.11.2).  Cases of projects not under construction yesterday are left as they are
    (停工期间不记录…指标, seed 001 §五(十三)).  Writes are batched: one transaction, bulk inserts and updates."""
    today = today or local_today()
    findings, ctxs = await detect_findings(today, project_ids)
    summary = EvaluationSummary(today=today, as_of=today - timedelta(days=1), projects=len(ctxs),
                                findings=len(findings))
    period = month_of(summary.as_of)
    by_topic = {f.topic: f for f in findings}
    now = datetime.now(UTC)
    events: list[WarningEvent] = []

    def event(case_id: int, action: str, level: str, status: str, note: str) -> None:
        events.append(WarningEvent(warning=case_id, action=action, level=level, status=status, actor=None,
                                   actor_name="系统", note=note, at=now))

    async with write_transaction():
        cases = await WarningCase.select(
            WarningCase.id, WarningCase.topic, WarningCase.status, WarningCase.level, WarningCase.opened_on,
            WarningCase.project, WarningCase.kind, WarningCase.period, WarningCase.message, WarningCase.detail,
        ).where(_ids_in(WarningCase.project, ctxs)) if ctxs else []
        live = {c["topic"]: c for c in cases if c["status"] != "closed"}
        closed_topics = {c["topic"] for c in cases if c["status"] == "closed"}
        new_cases: list[WarningCase] = []
        reopen: list[int] = []
        for topic, f in by_topic.items():
            c = live.get(topic)
            if c is None:
                if f.kind in MONTHLY_KINDS and topic in closed_topics:
                    continue  # this month's case was investigated and closed (闭环销号)
                new_cases.append(WarningCase(
                    key=f"{topic}:{_iso(today)}", topic=topic, project=f.project_id, district=f.district_id,
                    kind=f.kind, post=f.post, person=f.person_id, terminal=f.terminal_id, period=f.period,
                    level="yellow", status="open", message=f.message, detail=f.detail, opened_on=today,
                    created_at=now, updated_at=now))
                continue
            if c["status"] == "rectified":
                reopen.append(c["id"])
                event(c["id"], "reopened", c["level"], "open", f"条件仍存在：{f.message}")
                c["status"] = "open"
            if c["message"] != f.message or _json(c["detail"], {}) != f.detail:
                await WarningCase.update({WarningCase.message: f.message, WarningCase.detail: f.detail,
                                          WarningCase.updated_at: now}).where(WarningCase.id == c["id"])
        for i in range(0, len(new_cases), 500):
            for r in await WarningCase.insert(*new_cases[i:i + 500]).returning(WarningCase.id, WarningCase.topic):
                f = by_topic[r["topic"]]
                event(r["id"], "opened", "yellow", "open", f.message)
                summary.opened.append(r["id"])
                live[r["topic"]] = {"id": r["id"], "status": "open", "level": "yellow", "opened_on": today,
                                    "project": f.project_id, "topic": r["topic"], "kind": f.kind, "period": f.period}
        if reopen:
            await WarningCase.update({WarningCase.status: "open", WarningCase.updated_at: now}).where(
                _ids_in(WarningCase.id, reopen))
            summary.reopened += reopen
        escalate: list[int] = []
        rectify: list[int] = []
        for topic, c in live.items():
            if topic in by_topic:
                if c["status"] in OPEN_STATES and c["level"] == "yellow":
                    days = ctxs[c["project"]].rules.warning_red_after_days
                    if today >= c["opened_on"] + timedelta(days=days):
                        escalate.append(c["id"])
                        event(c["id"], "escalated", "red", c["status"], f"{days} 日内未整改到位，转为红灯预警")
            elif c["status"] in OPEN_STATES and (c["kind"] not in MONTHLY_KINDS or c["period"] == period):
                rectify.append(c["id"])
                event(c["id"], "rectified", c["level"], "rectified", "数据已符合要求（系统核验）")
        if escalate:
            await WarningCase.update({WarningCase.level: "red", WarningCase.red_on: today,
                                      WarningCase.updated_at: now}).where(_ids_in(WarningCase.id, escalate))
            summary.escalated += escalate
        if rectify:
            await WarningCase.update({WarningCase.status: "rectified", WarningCase.updated_at: now}).where(
                _ids_in(WarningCase.id, rectify))
            summary.rectified += rectify
        for i in range(0, len(events), 500):
            await WarningEvent.insert(*events[i:i + 500])
    if notify:
        if summary.opened:
            summary.notifications += await notify_cases(summary.opened, reason="opened")
        if summary.escalated:
            summary.notifications += await notify_cases(summary.escalated, reason="escalated")
    return summary


async def list_cases(
    project_ids: set[int] | None, *, status: str | None = None, level: str | None = None, kind: str | None = None,
    project_id: int | None = None, period: str | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    if status is not None and status not in STATUS_ZH:
        raise invalid("status", f"未知状态：{status}", f"Unknown status: {status}")
    if level is not None and level not in LEVEL_ZH:
        raise invalid("level", f"未知预警级别：{level}", f"Unknown level: {level}")
    if kind is not None and kind not in KIND_ZH:
        raise invalid("kind", f"未知预警类型：{kind}", f"Unknown warning kind: {kind}")
    if project_ids is not None and not project_ids:
        return [], 0
    where = WarningCase.id > 0
    if project_ids is not None:
        where &= _ids_in(WarningCase.project, project_ids)
    if status:
        where &= WarningCase.status == status
    if level:
        where &= WarningCase.level == level
    if kind:
        where &= WarningCase.kind == kind
    if project_id is not None:
        where &= WarningCase.project == project_id
    if period:
        parse_month(period)
        where &= WarningCase.period == period
    total = await WarningCase.count().where(where)
    rows = await WarningCase.select(
        WarningCase.id, WarningCase.project, WarningCase.project.name.as_alias("project_name"),
        WarningCase.district.name.as_alias("district_name"), WarningCase.kind, WarningCase.post, WarningCase.period,
        WarningCase.level, WarningCase.status, WarningCase.message, WarningCase.opened_on, WarningCase.red_on,
        WarningCase.updated_at,
    ).where(where).order_by(WarningCase.updated_at, ascending=False).order_by(WarningCase.id, ascending=False).limit(
        max(1, min(limit, 1000))).offset(max(0, offset))
    for r in rows:
        _label_case(r)
    return rows, total


def _label_case(r: dict[str, Any]) -> None:
    r["kind_label"] = KIND_ZH.get(r["kind"], r["kind"])
    r["level_label"] = LEVEL_ZH.get(r["level"], r["level"])
    r["status_label"] = STATUS_ZH.get(r["status"], r["status"])


async def get_case(case_id: int, project_ids: set[int] | None) -> dict[str, Any]:
    row = await WarningCase.select(
        *WarningCase.all_columns(), WarningCase.project.name.as_alias("project_name"),
        WarningCase.district.name.as_alias("district_name"),
    ).where(WarningCase.id == case_id).first()
    if row is None or (project_ids is not None and row["project"] not in project_ids):
        raise NotFound("预警不存在或无权查看", "Warning not found or not in your scope", field="warning_id")
    _label_case(row)
    row["detail"] = _json(row["detail"], {})
    row["events"] = await WarningEvent.select().where(WarningEvent.warning == case_id).order_by(WarningEvent.id)
    for e in row["events"]:
        e["action_label"] = ACTION_ZH.get(e["action"], e["action"])
        e["at"] = _aware(e["at"])
    row["sms"] = await SmsLog.select().where(SmsLog.warning == case_id).order_by(SmsLog.id)
    return row


_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # action → (statuses it applies to, resulting status)
    "rectify": (OPEN_STATES, "rectified"),
    "reopen": (("rectified",), "open"),
    "close": (("open", "notified", "rectified"), "closed"),
}


async def act_on_case(case_id: int, action: str, *, user_id: int, user_name: str, role: str, note: str,
                      project_ids: set[int] | None) -> dict[str, Any]:
    """A person's step in the lifecycle: the project side reports a rectification (整改说明); the authority
    reopens it or closes the case after its investigation (闭环销号, seed 000 §五).  Every step is recorded."""
    if action not in _ACTIONS:
        raise invalid("action", f"未知操作：{action}", f"Unknown action: {action}")
    note = (note or "").strip()
    if not note:
        raise invalid("note", "请填写说明（整改情况或调查结果）", "A note is required (rectification or findings)")
    if len(note) > 2000:
        raise invalid("note", "说明不能超过 2000 字", "The note must not exceed 2000 characters")
    if action in ("reopen", "close") and role not in ("supervisor", "admin"):
        raise Forbidden("只有主管部门可以重新打开或销号", "Only the authority may reopen or close a warning",
                        code="role_forbidden")
    allowed, target = _ACTIONS[action]
    async with write_transaction():
        case = await get_case(case_id, project_ids)
        if case["status"] not in allowed:
            raise Conflict(f"当前状态「{STATUS_ZH[case['status']]}」不能执行此操作",
                           f"This action is not possible in status {case['status']}", field="action",
                           code="bad_warning_transition")
        await WarningCase.update({WarningCase.status: target, WarningCase.updated_at: datetime.now(UTC)}).where(
            WarningCase.id == case_id)
        await _event(case_id, {"rectify": "rectified", "reopen": "reopened", "close": "closed"}[action],
                     case["level"], target, actor=user_id, actor_name=user_name, note=note)
    return await get_case(case_id, project_ids)


# --- Notifications (seed 001 §2.11.2 实名管理相关规则) ---------------------------------------------

SETTING_FIELDS = ("in_site", "sms", "key_people", "to_project_manager", "to_chief_supervising_engineer",
                  "to_safety_officer", "others")
_DEFAULT_SETTING = {"in_site": True, "sms": False, "key_people": False, "to_project_manager": False,
                    "to_chief_supervising_engineer": False, "to_safety_officer": False, "others": False}


async def get_notify_setting(district_id: int) -> dict[str, Any]:
    if not await District.exists().where(District.id == district_id):
        raise NotFound("区县不存在", "District not found", field="district_id")
    row = await NotifySetting.select().where(NotifySetting.district == district_id).first()
    setting = {k: bool(row[k]) for k in SETTING_FIELDS} if row else dict(_DEFAULT_SETTING)
    setting["district_id"] = district_id
    setting["recipients"] = await NotifyRecipient.select(
        NotifyRecipient.id, NotifyRecipient.project, NotifyRecipient.project.name.as_alias("project_name"),
        NotifyRecipient.name, NotifyRecipient.phone, NotifyRecipient.note,
    ).where(NotifyRecipient.district == district_id).order_by(NotifyRecipient.id)
    for r in setting["recipients"]:
        r["phone_masked"] = mask_phone(r.pop("phone"))
    return setting


def check_notify_setting(s: dict[str, bool]) -> None:
    """The dependencies of the settings page: SMS only with in-site messages; the three key people only with
    【项目负责人】 switched on (seed 001 §2.11.2).  Contradictions are refused, not silently dropped."""
    if s["sms"] and not s["in_site"]:
        raise invalid("sms", "仅开启「站内短消息」后才可设置手机短信", "SMS needs in-site messages to be on")
    picked = [k for k in ("to_project_manager", "to_chief_supervising_engineer", "to_safety_officer") if s[k]]
    if picked and not s["key_people"]:
        raise invalid(picked[0], "须先开启「项目负责人」才可勾选接收人", "Switch on key people before picking them")
    if (s["key_people"] or s["others"]) and not s["sms"]:
        raise invalid("sms", "短信接收人须在开启「手机短信」后设置", "SMS recipients need SMS to be on")


async def save_notify_setting(district_id: int, values: dict[str, bool], user_id: int) -> dict[str, Any]:
    await get_notify_setting(district_id)
    s = {k: bool(values[k]) for k in SETTING_FIELDS}
    check_notify_setting(s)
    async with write_transaction():
        await NotifySetting.delete().where(NotifySetting.district == district_id)
        await NotifySetting.insert(NotifySetting(district=district_id, updated_by=user_id,
                                                 updated_at=datetime.now(UTC), **s))
    return await get_notify_setting(district_id)


async def add_recipient(district_id: int, project_id: int, name: str, phone: str, note: str = "") -> int:
    from backend.validators import parse_phone

    if not name.strip() or len(name.strip()) > 60:
        raise invalid("name", "姓名不能为空且不超过 60 字", "Name must be 1–60 characters")
    if len(note) > 100:
        raise invalid("note", "备注不能超过 100 字", "Note must not exceed 100 characters")
    number = parse_phone(phone)
    if number is None:
        raise invalid("phone", "请填写手机号", "A phone number is required")
    project = await Project.select(Project.district).where(Project.id == project_id).first()
    if project is None or project["district"] != district_id:
        raise invalid("project_id", "项目不属于该区县", "The project is not in this district")
    r = NotifyRecipient(district=district_id, project=project_id, name=name.strip(), phone=number, note=note)
    await r.save()
    return r.id


async def remove_recipient(district_id: int, recipient_id: int) -> None:
    n = await NotifyRecipient.delete().where(
        (NotifyRecipient.id == recipient_id) & (NotifyRecipient.district == district_id)).returning(NotifyRecipient.id)
    if not n:
        raise NotFound("接收人不存在", "Recipient not found", field="recipient_id")


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else phone[:2] + "****"


_KEY_PEOPLE = (("to_project_manager", "project_manager", "general_contractor", "总承包单位项目经理"),
               ("to_chief_supervising_engineer", "chief_supervising_engineer", "supervision_firm", "监理单位总监理工程师"),
               ("to_safety_officer", "safety_officer", "general_contractor", "总承包单位安全员"))


async def notify_cases(case_ids: Sequence[int], *, reason: str = "opened", sender: Any = None) -> list[dict[str, Any]]:
    """Send the in-site messages and SMS of the districts' settings for these cases; record everything (every
    SMS attempt in SmsLog, a ``notified`` event per case) and move ``open`` cases to ``notified``."""
    from backend.supervision.sms import get_sender

    sender = sender or get_sender()
    if not case_ids:
        return []
    cases = await WarningCase.select(
        *WarningCase.all_columns(), WarningCase.project.name.as_alias("project_name"),
    ).where(WarningCase.id.is_in(list(case_ids)))
    settings = {d: await get_notify_setting(d) for d in {c["district"] for c in cases}}
    rules = await district_rules(settings)
    today = local_today()
    out = []
    for c in cases:
        s = settings[c["district"]]
        pid = c["project"]
        level = LEVEL_ZH[c["level"]]
        days = rules[c["district"]].warning_red_after_days
        tail = "已转为红灯预警，请立即整改。" if c["level"] == "red" else f"请于 {days} 日内整改到位，逾期将转为红灯预警。"
        title = f"【{level}预警】{c['project_name']}：{KIND_ZH.get(c['kind'], c['kind'])}"
        body = f"{c['message']}。{tail}"
        in_site = sent = failed = skipped = 0
        if s["in_site"]:
            users = await _project_users(pid)
            if users:
                await InSiteMessage.insert(*[InSiteMessage(user=u, project=pid, warning=c["id"], title=title,
                                                           body=body, created_at=datetime.now(UTC)) for u in users])
            in_site = len(users)
        if s["in_site"] and s["sms"]:
            for name, role, phone in await _sms_recipients(pid, s, today):
                text = f"【实名制{level}预警】{body}"
                if not phone:
                    status, provider_id, error = "skipped", None, "无手机号"
                else:
                    result = await sender.send(phone, text)
                    status = "sent" if result.ok else "failed"
                    provider_id, error = result.provider_id, result.error or ""
                sent += status == "sent"
                failed += status == "failed"
                skipped += status == "skipped"
                await SmsLog.insert(SmsLog(warning=c["id"], project=pid, recipient_name=name, recipient_role=role,
                                           phone_masked=mask_phone(phone), status=status, provider_id=provider_id,
                                           error=error, at=datetime.now(UTC)))
        attempted = s["in_site"]
        note = (f"{'转红灯' if reason == 'escalated' else '新预警'}：站内消息 {in_site} 人"
                + (f"；短信 成功 {sent} 条，失败 {failed} 条，无号码 {skipped} 人" if s["sms"] else "")
                if attempted else "通知未开启（站内短消息已关闭）")
        async with write_transaction():
            status = "notified" if attempted and c["status"] == "open" else c["status"]
            if status != c["status"]:
                await WarningCase.update({WarningCase.status: status, WarningCase.updated_at: datetime.now(UTC)}).where(
                    WarningCase.id == c["id"])
            await _event(c["id"], "notified" if attempted else "not_notified", c["level"], status, note=note)
        out.append({"warning_id": c["id"], "in_site": in_site, "sms_sent": sent, "sms_failed": failed,
                    "sms_skipped": skipped, "notified": attempted})
    return out


async def _project_users(project_id: int) -> list[int]:
    """Users of the project side: those granted the project and the enterprise accounts of its active units."""
    ids = {r["user"] for r in await UserProject.select(UserProject.user).where(UserProject.project == project_id)}
    enterprises = [r["enterprise"] for r in await ProjectUnit.select(ProjectUnit.enterprise).where(
        (ProjectUnit.project == project_id) & ProjectUnit.exited_on.is_null())]
    if enterprises:
        ids |= {r["id"] for r in await User.select(User.id).where(
            (User.role == "enterprise") & User.enterprise.is_in(enterprises))}
    if not ids:
        return []
    return [r["id"] for r in await User.select(User.id).where(
        User.id.is_in(sorted(ids)) & (User.active == True) & (User.role != "worker"))]  # noqa: E712


async def _sms_recipients(project_id: int, s: dict[str, Any], day: date) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    if s["key_people"]:
        picked = [(post, unit, label) for flag, post, unit, label in _KEY_PEOPLE if s[flag]]
        if picked:
            rows = await RosterEntry.select(
                RosterEntry.post, RosterEntry.unit.unit_type.as_alias("unit_type"),
                RosterEntry.person.name.as_alias("name"), RosterEntry.person.phone.as_alias("phone"),
            ).where((RosterEntry.project == project_id) & RosterEntry.post.is_in([p for p, _u, _l in picked])
                    & (RosterEntry.entered_on <= day) & (RosterEntry.exited_on.is_null() | (RosterEntry.exited_on >= day)))
            for post, unit, label in picked:
                holders = [r for r in rows if r["post"] == post and r["unit_type"] == unit]
                if not holders:
                    out.append((f"（未设置{POST_SHORT[post]}）", label, None))
                out += [(r["name"], label, r["phone"]) for r in holders]
    if s["others"]:
        out += [(r["name"], "其他相关人员", r["phone"]) for r in await NotifyRecipient.select(
            NotifyRecipient.name, NotifyRecipient.phone).where(NotifyRecipient.project == project_id)]
    return out


# --- In-site messages ------------------------------------------------------------------------------


async def list_messages(user_id: int, *, unread_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    where = InSiteMessage.user == user_id
    if unread_only:
        where &= InSiteMessage.read_at.is_null()
    return await InSiteMessage.select(
        InSiteMessage.id, InSiteMessage.project, InSiteMessage.warning, InSiteMessage.title, InSiteMessage.body,
        InSiteMessage.created_at, InSiteMessage.read_at,
    ).where(where).order_by(InSiteMessage.id, ascending=False).limit(max(1, min(limit, 500)))


async def unread_count(user_id: int) -> int:
    return await InSiteMessage.count().where((InSiteMessage.user == user_id) & InSiteMessage.read_at.is_null())


async def mark_read(user_id: int, message_id: int | None = None) -> int:
    where = (InSiteMessage.user == user_id) & InSiteMessage.read_at.is_null()
    if message_id is not None:
        where &= InSiteMessage.id == message_id
    rows = await InSiteMessage.update({InSiteMessage.read_at: datetime.now(UTC)}).where(where).returning(
        InSiteMessage.id)
    return len(rows)


async def project_ids_in_district(district_id: int) -> set[int]:
    return {r["id"] for r in await Project.select(Project.id).where(Project.district == district_id)}


async def list_scope_districts(district_ids: set[int] | None) -> list[dict[str, Any]]:
    q = District.select(District.id, District.name, District.code).order_by(District.code)
    if district_ids is not None:
        if not district_ids:
            return []
        q = q.where(District.id.is_in(sorted(district_ids)))
    return await q


async def list_scope_teams(project_id: int) -> list[dict[str, Any]]:
    return await Team.select(Team.id, Team.name).where(Team.project == project_id).order_by(Team.name)
