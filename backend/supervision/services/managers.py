"""Key managers: monthly valid days and on-duty rates (seed 000 §五; seed 001 §2.11.3; seed 004 §四(一)),
and the filters of the key-manager table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from backend.errors import invalid
from backend.org.tables import ProjectUnit
from backend.supervision import metrics
from backend.supervision.days import days_between, parse_month, roster_days
from backend.supervision.month_verdict import MonthVerdict, judge_counts
from backend.supervision.services.common import KEY_POST_LIST, _ids_in, _iso, local_today
from backend.supervision.services.counts import _valid_index, person_day_counts
from backend.supervision.services.monthly import manager_counting_start
from backend.supervision.services.people import _person_filter
from backend.supervision.services.projects import ProjectCtx, project_contexts
from backend.vocabulary import ProjectStatus, WorkRole
from backend.workforce.dictionaries import KEY_POSTS
from backend.workforce.services import on_roster_between
from backend.workforce.tables import RosterEntry


@dataclass(slots=True)
class ManagerPerson:
    person_id: int
    name: str
    id_masked: str
    post: str
    month: metrics.PersonMonth  # month to date (up to the statistics day)
    active: bool  # on the roster on the statistics day
    verdict: MonthVerdict  # the 80 % rule on the whole month (seed 000 §五): projection, or final once it ended

    @property
    def below(self) -> bool:
        """…月出勤不达标: the 80 % can no longer be reached this month, or the month ended below it."""
        return self.verdict.is_finding

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
    manager_days: int  # construction days from the counting start, up to the statistics day
    manager_start: date | None  # the counting start (Rules.manager_counting_start)
    people: list[ManagerPerson]
    filled: set[str]
    composite: metrics.Composite
    daily: list[tuple[date, int, int]]  # (day, key managers present, key managers required)
    contractors: list[str]
    supervisors: list[str]
    composite_verdict: MonthVerdict  # the 60 % rule on the whole month, in person-days
    month_ended: bool

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
        """Posts with a holder who can no longer reach (or, the month over, did not reach) the valid-days ratio
        (…月出勤不达标)."""
        return [post for post in KEY_POST_LIST if any(p.below for p in self.by_post(post))]

    @property
    def composite_below(self) -> bool:
        return self.composite_verdict.is_finding


# --- Queries ---------------------------------------------------------------------------------------


async def fetch_key_manager_entries(ids: list[int], first: date, stat_last: date) -> list[dict[str, Any]]:
    """Key-post roster entries of managers overlapping [first, statistics day]."""
    return await RosterEntry.select(
        RosterEntry.project, RosterEntry.person, RosterEntry.person.name.as_alias("name"),
        RosterEntry.person.id_masked.as_alias("id_masked"), RosterEntry.post, RosterEntry.entered_on,
        RosterEntry.exited_on,
    ).where(
        _ids_in(RosterEntry.project, ids) & (RosterEntry.work_role == WorkRole.manager) & RosterEntry.post.is_in(KEY_POST_LIST)
        & on_roster_between(first, max(stat_last, first))
    ).order_by(RosterEntry.id)


async def fetch_unit_names(ids: list[int], first: date) -> dict[int, dict[str, list[str]]]:
    """project → unit type → enterprise names of its general contractors and supervision firms."""
    units = await ProjectUnit.select(
        ProjectUnit.project, ProjectUnit.unit_type, ProjectUnit.enterprise.name.as_alias("enterprise_name"),
    ).where(
        _ids_in(ProjectUnit.project, ids) & ProjectUnit.unit_type.is_in(["general_contractor", "supervision_firm"])
        & (ProjectUnit.exited_on.is_null() | (ProjectUnit.exited_on >= first))
    ).order_by(ProjectUnit.id)
    names: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for u in units:
        names[u["project"]][u["unit_type"]].append(u["enterprise_name"])
    return names


# --- Steps (pure) ----------------------------------------------------------------------------------


def _in_active_span(ctx: ProjectCtx, first: date, stat_last: date) -> bool:
    return any(ctx.calendar.status_on(d) in (ProjectStatus.under_construction, ProjectStatus.suspended) for d in days_between(first, stat_last))


def group_post_holders(entries: Sequence[dict[str, Any]], stat_last: date) -> dict[int, dict[tuple[int, str],
                                                                                           dict[str, Any]]]:
    """project → (person, post) → the first entry's fields, every interval, and ``active`` on the statistics day."""
    held: dict[int, dict[tuple[int, str], dict[str, Any]]] = defaultdict(dict)
    for e in entries:
        slot = held[e["project"]].setdefault((e["person"], e["post"]), {**e, "intervals": [], "active": False})
        slot["intervals"].append((e["entered_on"], e["exited_on"]))
        if e["entered_on"] <= stat_last and (e["exited_on"] is None or e["exited_on"] >= stat_last):
            slot["active"] = True
    return held


def _projected_days(ctx: ProjectCtx, start: date | None, after: date, last: date) -> set[date]:
    """Counted days still to come in the month (after the statistics day): 在建 as the status history stands now,
    from the counting start on."""
    if start is None:
        return set()
    return set(ctx.calendar.construction_days(max(after + timedelta(days=1), start), last))


def project_managers(ctx: ProjectCtx, first: date, stat_last: date, held: dict[tuple[int, str], dict[str, Any]],
                     valid: dict[tuple[int, int], dict[str, bool]], units: dict[str, list[str]],
                     last: date | None = None) -> ProjectManagers:
    """One project's key managers for the month: each holder's required and valid days, the per-day presence,
    the composite rate, and the whole-month verdicts (seed 000 §五) with the days still possible."""
    rules = ctx.rules
    last = last or parse_month(f"{first:%Y-%m}")[1]
    month_ended = stat_last >= last
    start = manager_counting_start(ctx)
    in_month = days_between(first, stat_last)
    mdays = set(ctx.calendar.construction_days(max(first, start), stat_last)) if start else set()
    future = _projected_days(ctx, start, max(stat_last, first - timedelta(days=1)), last)
    people: list[ManagerPerson] = []
    per_day_required: dict[date, int] = defaultdict(int)
    per_day_present: dict[date, int] = defaultdict(int)
    so_far = valid_sum = remaining = 0
    for (person, post), h in held.items():
        required = mdays & roster_days(h["intervals"], first, stat_last)
        still = future & roster_days(h["intervals"], first, last)
        marks = valid.get((ctx.id, person), {})
        valid_days = 0
        for d in required:
            per_day_required[d] += 1
            if marks.get(_iso(d)):
                valid_days += 1
                per_day_present[d] += 1
        so_far, valid_sum, remaining = so_far + len(required), valid_sum + valid_days, remaining + len(still)
        people.append(ManagerPerson(
            person_id=person, name=h["name"], id_masked=h["id_masked"], post=post, active=h["active"],
            month=metrics.PersonMonth(person_id=person, post=post, required_days=len(required),
                                      valid_days=valid_days, threshold=rules.manager_valid_days_ratio),
            verdict=judge_counts(len(required), valid_days, len(still), rules.manager_valid_days_ratio, month_ended),
        ))
    people.sort(key=lambda p: (KEY_POST_LIST.index(p.post), p.name, p.person_id))
    return ProjectManagers(
        ctx=ctx, first=first, stat_last=stat_last,
        construction_days=sum(1 for d in in_month if ctx.calendar.is_construction(d)),
        suspended_days=sum(1 for d in in_month if ctx.calendar.is_suspended(d)),
        manager_days=len(mdays), manager_start=start, people=people,
        filled={p.post for p in people if p.active},
        composite=metrics.composite((p.month for p in people), rules.manager_composite_on_duty_ratio),
        daily=[(d, per_day_present[d], per_day_required[d]) for d in sorted(mdays)],
        contractors=units["general_contractor"], supervisors=units["supervision_firm"],
        composite_verdict=judge_counts(so_far, valid_sum, remaining, rules.manager_composite_on_duty_ratio,
                                       month_ended),
        month_ended=month_ended,
    )


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
        ctxs = {pid: c for pid, c in ctxs.items() if _in_active_span(c, first, stat_last)}
    if not ctxs:
        return []
    ids = sorted(ctxs)
    entries = await fetch_key_manager_entries(ids, first, stat_last)
    units = await fetch_unit_names(ids, first)
    valid = _valid_index(
        await person_day_counts(set(ids), first, stat_last, key_managers_only=True) if stat_last >= first else [],
        ctxs)
    held = group_post_holders(entries, stat_last)
    return [project_managers(ctxs[pid], first, stat_last, held[pid], valid, units[pid], last) for pid in ids]


# --- Filters of the key-manager table --------------------------------------------------------------


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


def _matches_text(s: ProjectManagers, f: ManagerFilters, pf: tuple[str, Any] | None) -> bool:
    if f.project and f.project not in s.ctx.name:
        return False
    if f.enterprise and not any(f.enterprise in n for n in s.contractors + s.supervisors):
        return False
    if pf and pf[0] == "id" and not any(p.person_id == pf[1] for p in s.people):
        return False
    return not (pf and pf[0] == "name" and not any(pf[1] in p.name for p in s.people))


def _matches_boxes(s: ProjectManagers, f: ManagerFilters) -> bool:
    if not (f.missing or f.absent or f.below or f.composite_below):
        return True
    return bool((f.missing & set(s.missing)) or (f.absent & set(s.absent)) or (f.below & set(s.below))
                or (f.composite_below and s.composite_below))


async def filter_managers(stats: list[ProjectManagers], f: ManagerFilters) -> list[ProjectManagers]:
    f.check()
    pf = await _person_filter(f.person)
    return [s for s in stats if _matches_text(s, f, pf) and _matches_boxes(s, f)]
