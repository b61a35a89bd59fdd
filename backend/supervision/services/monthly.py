"""Monthly attendance matrix (seed 001 §2.8.1 项目月考勤, §2.11.1 管理人员考勤情况): person × day.

``monthly_matrix`` composes named steps: check the filters, fetch the month's roster, merge a person's
entries, unpack the day marks, work out each project's counted days, then one pure pass per person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from backend.errors import invalid
from backend.supervision import metrics
from backend.supervision.days import days_between, parse_month, roster_days
from backend.supervision.month_verdict import MonthVerdict, MonthVerdictCode, judge_counts
from backend.supervision.services.common import _ids_in, local_today
from backend.supervision.services.counts import packed_day_marks
from backend.supervision.services.people import _person_filter
from backend.supervision.services.projects import ProjectCtx, project_contexts
from backend.supervision.services.rollups import last_rollup_at
from backend.vocabulary import ProjectStatus, WorkRole
from backend.workforce.dictionaries import POSTS, WORK_ROLE, WORK_TYPES
from backend.workforce.services import on_roster_between
from backend.workforce.tables import RosterEntry

CELL_VALID = "√"  # counted day with a valid attendance
CELL_REJECTED = "×"  # counted day with only punches that do not count (rejected, or non-face: seed 000 §六)
CELL_SUSPENDED = "停"  # 停工 day: excluded from every rate (seed 001 §五(十三))
CELL_UNCOUNTED = "○"  # attended on a day that does not count (not 在建, before managers' start, not on roster)
CELL_LEGEND = {
    CELL_VALID: "有效考勤", CELL_REJECTED: "仅有不计入的打卡（被拒或非人脸方式）", CELL_SUSPENDED: "停工日（不计入考勤率）",
    CELL_SUSPENDED + CELL_VALID: "停工日有打卡（不计入）", CELL_UNCOUNTED: "有打卡但不计入（非施工日或未到计算日）",
}

PersonKey = tuple[int, int]  # (project, person)
DayMark = tuple[bool, bool]  # (valid, any rejected) of a day with a punch
Intervals = tuple[tuple[date, date | None], ...]


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
    verdict: MonthVerdict | None = None  # managers: the 80 % rule on the whole month (seed 000 §五)

    @property
    def role_label(self) -> str:
        return WORK_ROLE.get(self.work_role, self.work_role)

    @property
    def rate(self) -> float | None:
        return metrics.rate(self.valid_days, self.required_days)

    @property
    def meets(self) -> bool | None:
        """Managers: the whole-month verdict — True once met, False when it can no longer be (or was not) met,
        None while still open or not counted.  Workers: no threshold."""
        if self.threshold is None or self.verdict is None or self.verdict.verdict is None:
            return None
        if self.verdict.is_finding:
            return False
        return True if self.verdict.verdict == MonthVerdictCode.met else None


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


@dataclass(slots=True)
class ProjectDays:
    """One project's month: the status code per day and which days count (cells up to the statistics day)."""

    codes: list[str]
    worker: list[bool]  # 在建 days up to the statistics day
    manager: list[bool]  # the same, from the managers' counting start on
    manager_later: list[bool]  # every day from the counting start on (for the projection of the month)

    def counted(self, work_role: str) -> list[bool]:
        return self.manager if work_role == WorkRole.manager else self.worker


@dataclass(slots=True)
class PersonCells:
    cells: list[str]
    required: list[int]  # day indexes that count for this person
    valid: list[int]  # day indexes with a valid attendance among them
    remaining: int = 0  # counted days after the statistics day (projection: status and roster as they stand)


def _job_label(work_role: str, post: str | None, work_type: str | None) -> str:
    if work_role == WorkRole.manager:
        return POSTS.get(post or "", post or "")
    return WORK_TYPES.get(work_type or "", "")


# --- Steps (pure) ----------------------------------------------------------------------------------


def check_matrix_filters(work_role: str | None, post: str | None) -> None:
    if work_role is not None and work_role not in WORK_ROLE:
        raise invalid("work_role", "人员类型应为 manager 或 worker", "work_role must be manager or worker")
    if post is not None and post not in POSTS:
        raise invalid("post", f"未知岗位：{post}", f"Unknown post: {post}")


def merge_roster_entries(entries: Sequence[dict[str, Any]]) -> dict[PersonKey, dict[str, Any]]:
    """One record per (project, person): the first entry's fields, the latest entry's team / role / post, and
    every entry's (entered, exited) interval."""
    people: dict[PersonKey, dict[str, Any]] = {}
    for e in entries:
        key = (e["project"], e["person"])
        p = people.get(key)
        if p is None:
            p = people[key] = {"intervals": [], **e}
        p.update({k: e[k] for k in ("team", "team_name", "work_role", "post", "work_type")})  # latest entry wins
        p["intervals"].append((e["entered_on"], e["exited_on"]))
    return people


def unpack_day_marks(packed: dict[PersonKey, str], people: dict[PersonKey, Any]) -> dict[PersonKey, dict[int, DayMark]]:
    """"t,t,…" tokens (see ``packed_day_marks``) → day index → (valid, any rejected), for the people shown."""
    marks: dict[PersonKey, dict[int, DayMark]] = {}
    for key, text in packed.items():
        if key in people and text:
            m = marks[key] = {}
            for token in map(int, text.split(",")):
                m[(token >> 2) - 1] = (bool(token & 1), bool(token & 2))
    return marks


def manager_counting_start(ctx: ProjectCtx) -> date | None:
    """First day key managers' attendance is counted (seed 004 §四(一) / seed 001 §二(一), per the district's rule
    profile: ``Rules.manager_counting_start``).  The actual start is the project's first 在建 day in its status
    history.  Nothing about managers' attendance is judged or warned before it."""
    return ctx.rules.manager_counting_start(ctx.planned_start, ctx.calendar.first_construction_day())


def project_days(ctx: ProjectCtx, days: list[date], upto: int) -> ProjectDays:
    codes = [ctx.calendar.status_on(d) for d in days]
    start = manager_counting_start(ctx)
    worker = [i < upto and code == ProjectStatus.under_construction for i, code in enumerate(codes)]
    manager = [w and start is not None and d >= start for w, d in zip(worker, days, strict=True)]
    later = [start is not None and d >= start for d in days]
    return ProjectDays(codes=codes, worker=worker, manager=manager, manager_later=later)


def person_cells(codes: list[str], counted: list[bool], on_roster: list[bool], marks: dict[int, DayMark],
                 upto: int, counted_later: list[bool] | None = None) -> PersonCells:
    """A person's cells up to the statistics day: 停工 days are marked and never count; a day counts when it
    is counted for the role and the person is on the roster; attendance on other days shows as uncounted."""
    out = PersonCells(cells=[""] * len(codes), required=[], valid=[])
    counted_later = counted_later or [False] * len(codes)
    for i in range(upto):
        v = marks.get(i)
        if codes[i] == ProjectStatus.suspended:
            out.cells[i] = CELL_SUSPENDED + CELL_VALID if v and v[0] else CELL_SUSPENDED
        elif counted[i] and on_roster[i]:
            out.required.append(i)
            if v is not None:
                if v[0]:
                    out.valid.append(i)
                    out.cells[i] = CELL_VALID
                elif v[1]:
                    out.cells[i] = CELL_REJECTED
        elif v is not None and v[0]:
            out.cells[i] = CELL_UNCOUNTED
    out.remaining = sum(1 for i in range(upto, len(codes))
                        if codes[i] == ProjectStatus.under_construction and counted_later[i] and on_roster[i])
    return out


def matrix_row(ctx: ProjectCtx, person_id: int, p: dict[str, Any], c: PersonCells,
               month_ended: bool = True) -> MatrixRow:
    manager = p["work_role"] == WorkRole.manager
    verdict = judge_counts(len(c.required), len(c.valid), c.remaining, ctx.rules.manager_valid_days_ratio,
                           month_ended) if manager else None
    return MatrixRow(
        project_id=ctx.id, project_name=ctx.name, person_id=person_id, name=p["name"], id_masked=p["id_masked"],
        team_id=p["team"], team_name=p["team_name"], work_role=p["work_role"], post=p["post"],
        job_label=_job_label(p["work_role"], p["post"], p["work_type"]), cells=c.cells, valid_days=len(c.valid),
        required_days=len(c.required), threshold=ctx.rules.manager_valid_days_ratio if manager else None,
        verdict=verdict,
    )


def _row_order(r: MatrixRow) -> tuple[Any, ...]:
    return (r.project_id, r.team_name, r.work_role != WorkRole.manager, r.name, r.person_id)


def fill_matrix(matrix: Matrix, ctxs: dict[int, ProjectCtx], people: dict[PersonKey, dict[str, Any]],
                marks: dict[PersonKey, dict[int, DayMark]], upto: int) -> None:
    """One row per person and the per-day totals, into ``matrix``."""
    days = matrix.days
    n = len(days)
    calendars = {pid: project_days(ctx, days, upto) for pid, ctx in ctxs.items()}
    roster_masks: dict[Intervals, list[bool]] = {}  # people share entry dates: one mask per distinct interval set
    rows: list[MatrixRow] = []
    day_valid = [0] * n
    day_required = [0] * n
    for (pid, person), p in people.items():
        intervals = tuple(p["intervals"])
        on_roster = roster_masks.get(intervals)
        if on_roster is None:
            covered = roster_days(intervals, matrix.first, matrix.last)
            on_roster = roster_masks[intervals] = [d in covered for d in days]
        cal = calendars[pid]
        manager = p["work_role"] == WorkRole.manager
        c = person_cells(cal.codes, cal.counted(p["work_role"]), on_roster, marks.get((pid, person), {}), upto,
                         cal.manager_later if manager else None)
        for i in c.required:
            day_required[i] += 1
        for i in c.valid:
            day_valid[i] += 1
        rows.append(matrix_row(ctxs[pid], person, p, c, month_ended=matrix.as_of > matrix.last))
    rows.sort(key=_row_order)
    matrix.rows, matrix.day_valid, matrix.day_required = rows, day_valid, day_required
    matrix.day_suspended = [all(calendars[pid].codes[i] == ProjectStatus.suspended for pid in ctxs) for i in range(n)]


# --- Queries ---------------------------------------------------------------------------------------


async def fetch_month_roster(
    project_ids: list[int], first: date, last: date, *, team_id: int | None, work_role: str | None,
    post: str | None, q: str | None,
) -> list[dict[str, Any]]:
    """Roster entries of the projects overlapping the month, with the page's filters, in entry order."""
    rq = RosterEntry.select(
        RosterEntry.project, RosterEntry.person, RosterEntry.person.name.as_alias("name"),
        RosterEntry.person.id_masked.as_alias("id_masked"), RosterEntry.team, RosterEntry.team.name.as_alias("team_name"),
        RosterEntry.work_role, RosterEntry.post, RosterEntry.work_type, RosterEntry.entered_on, RosterEntry.exited_on,
    ).where(
        _ids_in(RosterEntry.project, project_ids) & on_roster_between(first, last)
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
    return await rq


async def monthly_matrix(
    project_ids: set[int] | None, month: str, *, team_id: int | None = None, work_role: str | None = None,
    post: str | None = None, q: str | None = None, as_of: date | None = None,
) -> Matrix:
    """Person × day matrix: roster of the month (one row per person and project), a cell per day."""
    first, last = parse_month(month)
    as_of = as_of or local_today()
    check_matrix_filters(work_role, post)
    ctxs = await project_contexts(project_ids)
    days = days_between(first, last)
    n = len(days)
    matrix = Matrix(month=month, first=first, last=last, as_of=as_of, days=days, rows=[], day_valid=[0] * n,
                    day_required=[0] * n, day_suspended=[False] * n, updated_at=None,
                    projects={p.id: p.name for p in ctxs.values()})
    if not ctxs:
        return matrix
    entries = await fetch_month_roster(sorted(ctxs), first, last, team_id=team_id, work_role=work_role, post=post,
                                       q=q)
    people = merge_roster_entries(entries)
    last_counted = min(last, as_of)
    upto = sum(1 for d in days if d <= last_counted)  # cells after the statistics day stay empty
    marks = unpack_day_marks(await packed_day_marks(ctxs, first, last_counted), people)
    fill_matrix(matrix, ctxs, people, marks, upto)
    matrix.updated_at = await last_rollup_at()
    return matrix
