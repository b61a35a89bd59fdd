"""Execution dashboards (seed 001 §2.10.1 县区执行情况, §2.10.2 各项目执行情况) and device vendor support
(seed 001 §2.10.3 设备商支撑情况)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from piccolo.query.functions.aggregate import Count

from backend.attendance.tables import Punch
from backend.devices.services import offline_since
from backend.devices.tables import Terminal, Vendor
from backend.org.tables import District
from backend.supervision import metrics
from backend.supervision.services.common import _ids_in, _iso
from backend.supervision.services.counts import person_day_counts, project_day_totals
from backend.supervision.services.monthly import manager_counting_start
from backend.supervision.services.projects import ProjectCtx, project_contexts
from backend.supervision.services.qualification import active_on, count_on_roster, qualification
from backend.vocabulary import PunchVerdict, Source
from backend.workforce.tables import RosterEntry

DUTY_POSTS = ["project_manager", "chief_supervising_engineer"]  # the two posts of the execution dashboards


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


# --- Project execution -----------------------------------------------------------------------------


async def fetch_duty_holders(ids: list[int], day: date) -> dict[tuple[int, str], set[int]]:
    """(project, post) → people on the roster on ``day`` holding a project-manager / chief-engineer post."""
    holders: dict[tuple[int, str], set[int]] = defaultdict(set)
    for r in await RosterEntry.select(RosterEntry.project, RosterEntry.person, RosterEntry.post).where(
            active_on(day, ids) & RosterEntry.post.is_in(DUTY_POSTS)):
        holders[(r["project"], r["post"])].add(r["person"])
    return holders


async def fetch_valid_holders(ctxs: dict[int, ProjectCtx], ids: list[int], day: date,
                              holders: dict[tuple[int, str], set[int]]) -> dict[int, set[int]]:
    """project → the holders with a valid day on ``day``."""
    attended: dict[int, set[int]] = defaultdict(set)
    people = {p for ps in holders.values() for p in ps}
    if people:
        for project, person, _d, ok, ok_on_time, _rej in await person_day_counts(set(ids), day, day, person_ids=people):
            if metrics.is_valid_day(ok, ok_on_time, ctxs[project].rules):
                attended[project].add(person)
    return attended


def duty_state(who: set[int], counting: bool, attended: set[int]) -> str:
    """present | absent | missing (nobody holds the post) | not_counted (before the managers' start)."""
    if not who:
        return "missing"
    if not counting:
        return "not_counted"
    return "present" if who & attended else "absent"


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
    roster = await count_on_roster(active_on(day, ids))
    holders = await fetch_duty_holders(ids, day)
    attended = await fetch_valid_holders(ctxs, ids, day, holders)
    out = []
    for pid in ids:
        ctx = ctxs[pid]
        start = manager_counting_start(ctx)  # Rules.manager_counting_start, as every manager statistic
        counting = start is not None and day >= start
        q = quals[pid]
        valid, punches = totals.get(pid, (0, 0))
        out.append(ProjectExecution(
            ctx=ctx, qualified=q.qualified, problems=q.problems, roster=roster.get(pid, 0), attended=valid,
            punches_ok=punches,
            pm=duty_state(holders.get((pid, "project_manager"), set()), counting, attended[pid]),
            cse=duty_state(holders.get((pid, "chief_supervising_engineer"), set()), counting, attended[pid])))
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


# --- Device vendors --------------------------------------------------------------------------------


@dataclass(slots=True)
class VendorSupport(ProjectCounts):
    vendor_id: int
    name: str
    projects: int = 0
    uploaded: int = 0
    with_attendance: int = 0
    terminals: int = 0
    online: int = 0


async def fetch_gate_updates(day: date, term_ids: list[int], vendor_of: dict[int, int]) -> dict[int, set[int]]:
    """vendor → projects with a gate punch (not rejected) through its terminals on ``day``."""
    updated: dict[int, set[int]] = defaultdict(set)
    for r in await Punch.select(Punch.terminal, Punch.project, Count()).where(
        (Punch.local_date == _iso(day)) & (Punch.source == Source.gate) & (Punch.verdict != PunchVerdict.rejected)
        & _ids_in(Punch.terminal, term_ids)
    ).group_by(Punch.terminal, Punch.project):
        updated[vendor_of[r["terminal"]]].add(r["project"])
    return updated


async def vendor_support(project_ids: set[int] | None, day: date) -> list[VendorSupport]:
    """Per vendor: projects its enabled terminals serve, how many are 合格, how many got a gate punch through
    its terminals on ``day`` (更新), terminals and how many are online now (``devices.services.offline_since``).
    The service figures — terminals by state, alarms, repair tickets and times, acceptances — are
    ``upkeep.services.vendor_service`` (shown beside these on the execution page)."""
    now = datetime.now(UTC)
    vendors = {v["id"]: VendorSupport(vendor_id=v["id"], name=v["name"])
               for v in await Vendor.select(Vendor.id, Vendor.name).order_by(Vendor.id)}
    tq = Terminal.select(Terminal.id, Terminal.vendor, Terminal.project, Terminal.online, Terminal.last_seen_at,
                         Terminal.last_offline_at, Terminal.created_at).where(
        Terminal.enabled == True)  # noqa: E712 (Piccolo expression)
    if project_ids is not None:
        if not project_ids:
            return list(vendors.values())
        tq = tq.where(_ids_in(Terminal.project, project_ids))
    terminals = await tq
    if not terminals:
        return list(vendors.values())
    served: dict[int, set[int]] = defaultdict(set)
    for t in terminals:
        v = vendors[t["vendor"]]
        v.terminals += 1
        # online as the device pages and the upkeep figures count it: connected and seen within the stale limit
        # (a terminal still flagged online by a server that died is not; issue 20 A.5)
        v.online += offline_since(t, now) is None
        served[t["vendor"]].add(t["project"])
    quals = await qualification({t["project"] for t in terminals}, day)
    updated = await fetch_gate_updates(day, [t["id"] for t in terminals], {t["id"]: t["vendor"] for t in terminals})
    for vid, projects in served.items():
        v = vendors[vid]
        v.projects = len(projects)
        v.uploaded = sum(1 for p in projects if quals[p].qualified)
        v.with_attendance = len(updated[vid] & projects)
    return list(vendors.values())
