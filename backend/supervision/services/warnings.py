"""Warnings (seed 000 §三 黄灯/红灯, §五 闭环销号; seed 001 §2.11.2 管理人员到岗预警): detecting the conditions
and the nightly evaluation that opens, updates, escalates, rectifies and reopens cases.

``detect_findings`` runs one small pure function per rule over the key-manager month, the recent attendance
and the offline terminals.  ``evaluate_warnings`` reconciles the findings with the stored cases: a pure plan
(what to open, reopen, update), then the lifecycle rule per case (escalate / rectify), then batched writes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend.attendance.counting import non_face_sql
from backend.attendance.tables import Punch
from backend.db import write_transaction
from backend.devices.tables import Terminal
from backend.rules import Rules
from backend.supervision import metrics
from backend.supervision.days import days_between, month_of, parse_month
from backend.supervision.services.cases import MONTHLY_KINDS, OPEN_STATES
from backend.supervision.services.common import POST_SHORT, _aware, _ids_in, _int_list, _iso, _json, local_today
from backend.supervision.services.counts import person_day_counts
from backend.supervision.services.managers import ProjectManagers, managers_month
from backend.supervision.services.monthly import manager_counting_start
from backend.supervision.services.notifications import notify_cases
from backend.supervision.services.projects import ProjectCtx
from backend.supervision.sms import SmsSender
from backend.supervision.tables import WarningCase, WarningEvent
from backend.vocabulary import WarningAction, WarningKind, WarningLevel, WarningStatus

BATCH = 500  # rows per bulk INSERT
# Kinds another domain detects and reconciles itself (``apply_findings``); the nightly attendance evaluation
# leaves their cases alone.
EXTERNAL_KINDS = frozenset({WarningKind.wage_account_missing, WarningKind.wage_deposit_missing, WarningKind.wage_unpaid,
                            WarningKind.wage_mismatch})


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


# --- Rules (pure): one function per kind of finding --------------------------------------------------


def missing_post_findings(s: ProjectManagers, period: str) -> list[Finding]:
    ctx = s.ctx
    return [Finding(
        kind=WarningKind.post_missing, project_id=ctx.id, district_id=ctx.district_id, subject=post, period=period,
        post=post, message=f"{ctx.name}：未设置{POST_SHORT[post]}（关键岗位人员须按施工许可证准确设置）",
        detail={"post": post}) for post in s.missing]


def manager_valid_days_findings(s: ProjectManagers, period: str, as_of: date) -> list[Finding]:
    """Key managers below 80 % of the month (seed 000 §五), judged on the whole month: during the month only
    once the 80 % can no longer be reached (``cannot_be_met``), after it when the month ended below
    (``failed``).  A rate that can still be met is no finding (issue 14 item 3)."""
    ctx, rules = s.ctx, s.ctx.rules
    out = []
    for p in s.people:
        v = p.verdict
        if not v.is_finding:
            continue
        if v.month_ended:
            text = (f"{period} 有效考勤 {v.valid_days}/{v.construction_days} 天（{metrics.pct(v.month_rate)}），低于 "
                    f"{metrics.pct(rules.manager_valid_days_ratio, 0)}（应不少于 {v.required_days} 天）")
        else:
            text = (f"{period} 已无法达到 {metrics.pct(rules.manager_valid_days_ratio, 0)}：截至 {_iso(as_of)} 有效考勤 "
                    f"{v.valid_days}/{v.days_so_far} 天，本月剩余可出勤 {v.days_remaining} 天，最多 "
                    f"{v.max_possible}/{v.construction_days} 天（应不少于 {v.required_days} 天）")
        out.append(Finding(
            kind=WarningKind.manager_valid_days, project_id=ctx.id, district_id=ctx.district_id,
            subject=f"{p.person_id}:{p.post}", period=period, post=p.post, person_id=p.person_id,
            message=f"{ctx.name}：{POST_SHORT[p.post]}{p.name} {text}",
            detail={"verdict": v.verdict, "valid_days": v.valid_days, "days_so_far": v.days_so_far,
                    "days_remaining": v.days_remaining, "construction_days": v.construction_days,
                    "needed": v.required_days, "threshold": rules.manager_valid_days_ratio, "as_of": _iso(as_of)}))
    return out


def composite_rate_finding(s: ProjectManagers, period: str, as_of: date) -> Finding | None:
    """The composite on-duty rate below 60 % (seed 000 §五), judged on the whole month in person-days like the
    80 % rule."""
    ctx, rules, v = s.ctx, s.ctx.rules, s.composite_verdict
    if not v.is_finding:
        return None
    ratio = metrics.pct(rules.manager_composite_on_duty_ratio, 0)
    if v.month_ended:
        text = (f"{period} 关键岗位管理人员综合到岗率 {metrics.pct(v.month_rate)}（{v.valid_days}/"
                f"{v.construction_days} 人·天），低于 {ratio}")
    else:
        text = (f"{period} 关键岗位管理人员综合到岗率已无法达到 {ratio}：截至 {_iso(as_of)} {v.valid_days}/"
                f"{v.days_so_far} 人·天，本月最多 {v.max_possible}/{v.construction_days} 人·天"
                f"（应不少于 {v.required_days}）")
    return Finding(
        kind=WarningKind.composite_rate, project_id=ctx.id, district_id=ctx.district_id, subject="composite", period=period,
        message=f"{ctx.name}：{text}",
        detail={"verdict": v.verdict, "valid_days": v.valid_days, "days_so_far": v.days_so_far,
                "days_remaining": v.days_remaining, "construction_days": v.construction_days, "needed": v.required_days,
                "threshold": rules.manager_composite_on_duty_ratio, "as_of": _iso(as_of)})


def manager_findings(s: ProjectManagers, period: str, as_of: date) -> list[Finding]:
    """Key-post findings of a project whose managers are being counted: unset posts, holders below the
    valid-days ratio, the composite rate."""
    if not s.counting:
        return []
    found = missing_post_findings(s, period) + manager_valid_days_findings(s, period, as_of)
    composite = composite_rate_finding(s, period, as_of)
    return [*found, composite] if composite else found


def no_attendance_finding(ctx: ProjectCtx, attended: set[str], as_of: date, period: str) -> Finding | None:
    """No attendance at all on the last N construction days (N from the district rules), once attendance is
    managed: seed 004 §四(一) "拟开工日期起10天后开始对施工现场管理人员进行考勤管理，对…无考勤记录等未落实实名制
    管理制度的…扣分" — the no-attendance check is part of that 考勤管理, so every day of the window must be on or
    after the counting start (``Rules.manager_counting_start``)."""
    n = max(1, ctx.rules.no_attendance_warning_days)
    window = days_between(as_of - timedelta(days=n - 1), as_of)
    start = manager_counting_start(ctx)
    if start is None or window[0] < start:
        return None
    if not all(ctx.calendar.is_construction(d) for d in window) or attended & {_iso(d) for d in window}:
        return None
    return Finding(
        kind=WarningKind.no_attendance, project_id=ctx.id, district_id=ctx.district_id, subject="project", period=period,
        message=f"{ctx.name}：{_iso(window[0])}{'' if n == 1 else ' 至 ' + _iso(as_of)} 在建但无任何考勤数据",
        detail={"days": [_iso(d) for d in window]})


def non_face_finding(ctx: ProjectCtx, day: date, punches: int, people: int, period: str) -> Finding | None:
    """Seed 000 §六: "采用指纹、门禁卡等其他方式进入施工现场的，视为未落实实名制管理" — people entered by card,
    fingerprint … on the statistics day.  A state: found again every day it happens, rectified by a day without,
    red when still found ``warning_red_after_days`` days after it opened (seed 000 §三)."""
    if punches <= 0:
        return None
    return Finding(
        kind=WarningKind.non_face_punch, project_id=ctx.id, district_id=ctx.district_id, subject="project",
        period=period,
        message=(f"{ctx.name}：{_iso(day)} 有 {people} 人 {punches} 次采用非人脸方式（门禁卡、指纹等）进场打卡，"
                 "视为未落实实名制管理（不计入考勤）"),
        detail={"day": _iso(day), "punches": punches, "people": people})


def device_outage_finding(ctx: ProjectCtx, t: dict[str, Any], now: datetime, period: str) -> Finding | None:
    """A terminal offline longer than the district allows (seed 001 §六(十八): 不得超过 2 天)."""
    since = _aware(t["last_seen_at"]) or _aware(t["created_at"])
    if since is None or now - since <= timedelta(days=ctx.rules.device_outage_max_days):
        return None
    return Finding(
        kind=WarningKind.device_outage, project_id=ctx.id, district_id=ctx.district_id, subject=t["serial"], period=period,
        terminal_id=t["id"],
        message=(f"{ctx.name}：考勤设备 {t['serial']} 已离线 {(now - since).days} 天（超过 "
                 f"{ctx.rules.device_outage_max_days} 天）"),
        detail={"serial": t["serial"], "since": since.isoformat()})


# --- Detection queries -------------------------------------------------------------------------------


async def fetch_attended_days(ctxs: Iterable[ProjectCtx], as_of: date) -> dict[int, set[str]]:
    """project → days with a punch that counts (``backend.attendance.counting``), over the longest no-attendance
    window among the projects."""
    ctxs = list(ctxs)
    longest = max(c.rules.no_attendance_warning_days for c in ctxs)
    lo = as_of - timedelta(days=max(1, longest) - 1)
    attended: dict[int, set[str]] = defaultdict(set)
    for project, _person, day, ok, _t, _r in await person_day_counts({c.id for c in ctxs}, lo, as_of):
        if ok > 0:
            attended[project].add(day)
    return attended


async def fetch_non_face_punches(project_ids: Iterable[int], day: date) -> dict[int, tuple[int, int]]:
    """project → (punches, people) made in a non-face mode on ``day`` (one grouped query)."""
    rows = await Punch.raw(
        "SELECT project, COUNT(*) AS punches, COUNT(DISTINCT person) AS people FROM punch "
        f"WHERE local_date = {{}} AND project IN ({_int_list(project_ids)}) AND {non_face_sql()} GROUP BY project",
        _iso(day))
    return {r["project"]: (int(r["punches"]), int(r["people"] or 0)) for r in rows}


async def fetch_offline_terminals(project_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Enabled terminals of the projects that are offline now."""
    return await Terminal.select(Terminal.id, Terminal.serial, Terminal.project, Terminal.last_seen_at,
                                 Terminal.created_at).where(
        _ids_in(Terminal.project, project_ids) & (Terminal.enabled == True)  # noqa: E712
        & (Terminal.online == False))  # noqa: E712


async def detect_findings(today: date, project_ids: set[int] | None = None) -> tuple[list[Finding],
                                                                                dict[int, ProjectCtx]]:
    """Conditions that warrant a warning, judged on the data up to yesterday (统计截止前一日), for projects under
    construction (在建) yesterday.  Returns the findings and the projects that were evaluated."""
    as_of = today - timedelta(days=1)
    period = month_of(as_of)
    stats = await managers_month(project_ids, period, as_of=as_of)
    evaluated = {s.ctx.id: s.ctx for s in stats if s.ctx.calendar.is_construction(as_of)}
    findings = [f for s in stats if s.ctx.id in evaluated for f in manager_findings(s, period, as_of)]
    if evaluated:
        attended = await fetch_attended_days(evaluated.values(), as_of)
        findings += [f for ctx in evaluated.values()
                     if (f := no_attendance_finding(ctx, attended[ctx.id], as_of, period))]
        non_face = await fetch_non_face_punches(evaluated, as_of)
        findings += [f for pid, (n, people) in non_face.items()
                     if (f := non_face_finding(evaluated[pid], as_of, n, people, period))]
        now = datetime.now(UTC)
        findings += [f for t in await fetch_offline_terminals(evaluated)
                     if (f := device_outage_finding(evaluated[t["project"]], t, now, period))]
    return findings, evaluated


# --- Evaluation: reconcile findings with the stored cases ----------------------------------------------


@dataclass(slots=True)
class CasePlan:
    """What the findings ask of the stored cases (decided before any write)."""

    new: list[Finding] = field(default_factory=list)  # findings without a live case: open yellow cases
    reopen: list[tuple[int, Finding]] = field(default_factory=list)  # rectified cases whose condition persists
    changed: list[tuple[int, Finding]] = field(default_factory=list)  # live cases whose message or detail moved


class EventLog:
    """The system's case events of one evaluation, inserted in bulk at the end (in the order they happen)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.rows: list[WarningEvent] = []

    def add(self, case_id: int, action: str, level: str, status: str, note: str) -> None:
        self.rows.append(WarningEvent(warning=case_id, action=action, level=level, status=status, actor=None,
                                      actor_name="系统", note=note, at=self.now))


def plan_cases(by_topic: dict[str, Finding], live: dict[str, dict[str, Any]], closed_topics: set[str]) -> CasePlan:
    """New, reopened and changed cases.  A monthly tally whose case was closed this month stays closed
    (闭环销号)."""
    plan = CasePlan()
    for topic, f in by_topic.items():
        c = live.get(topic)
        if c is None:
            if not (f.kind in MONTHLY_KINDS and topic in closed_topics):
                plan.new.append(f)
            continue
        if c["status"] == WarningStatus.rectified:
            plan.reopen.append((c["id"], f))
        if c["message"] != f.message or _json(c["detail"], {}) != f.detail:
            plan.changed.append((c["id"], f))
    return plan


def lifecycle_step(c: dict[str, Any], found: bool, today: date, period: str, rules: Rules) -> str | None:
    """The system's step for a live case: ``escalate`` a yellow case still found on ``rules.red_on(opened_on)``
    (the day after the 5 days that follow the opening day, 民法典 §201); ``rectify`` an open case no longer found
    (monthly tallies: only this month's)."""
    if found:
        # Seed 000 §三's 5-day escalation is for missing data and unrectified findings; a monthly rate is raised only
        # once it cannot be met (or the month failed) and goes to investigation and 销号 (seed 000 §五): no
        # escalation by days.
        if (c["status"] in OPEN_STATES and c["level"] == WarningLevel.yellow and c["kind"] not in MONTHLY_KINDS
                and today >= rules.red_on(c["opened_on"])):
            return "escalate"
        return None
    if c["status"] in OPEN_STATES and (c["kind"] not in MONTHLY_KINDS or c["period"] == period):
        return "rectify"
    return None


def held_by_backdating(c: dict[str, Any], ctx: ProjectCtx) -> bool:
    """A case the system may not rectify: it was raised by the day of a change's request and is about days the
    approver back-dated that change over (issue 14 item 2: a status change never clears a warning for days before
    its request; seed 000 §三: no status change to escape supervision).  Monthly tallies are about their month,
    no-attendance cases about the days they list; the others do not depend on past days' status.  A person may
    still rectify or close such a case."""
    if not ctx.backdated:
        return False
    if c["kind"] in MONTHLY_KINDS:
        first, last = parse_month(c["period"])
        days = (first, last)
    elif c["kind"] == WarningKind.no_attendance:
        listed = sorted(_json(c.get("detail"), {}).get("days") or [])
        if not listed:
            return False
        days = (date.fromisoformat(listed[0]), date.fromisoformat(listed[-1]))
    else:
        return False
    return any(c["opened_on"] <= hi + timedelta(days=1) and days[0] <= hi and lo <= days[1]
               for lo, hi in ctx.backdated)


def _new_case(f: Finding, today: date, now: datetime) -> WarningCase:
    return WarningCase(
        key=f"{f.topic}:{_iso(today)}", topic=f.topic, project=f.project_id, district=f.district_id, kind=f.kind,
        post=f.post, person=f.person_id, terminal=f.terminal_id, period=f.period, level=WarningLevel.yellow, status=WarningStatus.open,
        message=f.message, detail=f.detail, opened_on=today, created_at=now, updated_at=now)


async def fetch_cases(ctxs: dict[int, ProjectCtx]) -> list[dict[str, Any]]:
    """Every stored case of the evaluated projects."""
    if not ctxs:
        return []
    return await WarningCase.select(
        WarningCase.id, WarningCase.topic, WarningCase.status, WarningCase.level, WarningCase.opened_on,
        WarningCase.project, WarningCase.kind, WarningCase.period, WarningCase.message, WarningCase.detail,
    ).where(_ids_in(WarningCase.project, ctxs))


async def _set_cases(ids: list[int], values: dict[Any, Any]) -> None:
    if ids:
        await WarningCase.update(values).where(_ids_in(WarningCase.id, ids))


async def _open_cases(findings: list[Finding], today: date, now: datetime) -> list[tuple[int, Finding]]:
    """Insert yellow cases for the findings (in batches); (case id, finding) in insertion order."""
    by_topic = {f.topic: f for f in findings}
    cases = [_new_case(f, today, now) for f in findings]
    out = []
    for i in range(0, len(cases), BATCH):
        for r in await WarningCase.insert(*cases[i:i + BATCH]).returning(WarningCase.id, WarningCase.topic):
            out.append((r["id"], by_topic[r["topic"]]))
    return out


async def _reconcile(plan: CasePlan, live: dict[str, dict[str, Any]], today: date, now: datetime,
                     summary: EvaluationSummary, events: EventLog) -> None:
    """Carry out the plan: reopen, refresh changed messages, open new yellow cases (added to ``live``)."""
    for case_id, f in plan.reopen:
        events.add(case_id, WarningAction.reopened, live[f.topic]["level"], WarningStatus.open, f"条件仍存在：{f.message}")
        live[f.topic]["status"] = WarningStatus.open
    for case_id, f in plan.changed:
        await WarningCase.update({WarningCase.message: f.message, WarningCase.detail: f.detail,
                                  WarningCase.updated_at: now}).where(WarningCase.id == case_id)
    for case_id, f in await _open_cases(plan.new, today, now):
        events.add(case_id, WarningAction.opened, WarningLevel.yellow, WarningStatus.open, f.message)
        summary.opened.append(case_id)
        live[f.topic] = {"id": case_id, "status": WarningStatus.open, "level": WarningLevel.yellow, "opened_on": today,
                         "project": f.project_id, "topic": f.topic, "kind": f.kind, "period": f.period}
    reopen = [case_id for case_id, _f in plan.reopen]
    await _set_cases(reopen, {WarningCase.status: WarningStatus.open, WarningCase.updated_at: now})
    summary.reopened += reopen


async def _advance(live: dict[str, dict[str, Any]], found: set[str], ctxs: dict[int, ProjectCtx], today: date,
                   now: datetime, summary: EvaluationSummary, events: EventLog) -> None:
    """The lifecycle step of every live case: escalate to red, or rectify."""
    period = month_of(summary.as_of)
    escalate: list[int] = []
    rectify: list[int] = []
    for topic, c in live.items():
        rules = ctxs[c["project"]].rules
        days = rules.warning_red_after_days
        step = lifecycle_step(c, topic in found, today, period, rules)
        if step == "rectify" and held_by_backdating(c, ctxs[c["project"]]):
            step = None  # a back-dated change never clears a warning for days before its request
        if step == "escalate":
            escalate.append(c["id"])
            events.add(c["id"], WarningAction.escalated, WarningLevel.red, c["status"], f"{days} 日内未整改到位，转为红灯预警")
        elif step == "rectify":
            rectify.append(c["id"])
            events.add(c["id"], WarningAction.rectified, c["level"], WarningStatus.rectified, "数据已符合要求（系统核验）")
    await _set_cases(escalate, {WarningCase.level: WarningLevel.red, WarningCase.red_on: today, WarningCase.updated_at: now})
    summary.escalated += escalate
    await _set_cases(rectify, {WarningCase.status: WarningStatus.rectified, WarningCase.updated_at: now})
    summary.rectified += rectify


async def evaluate_warnings(today: date | None = None, project_ids: set[int] | None = None, *,
                            notify: bool = True, sender: SmsSender | None = None) -> EvaluationSummary:
    """Nightly detection: open yellow cases for new findings, update the open ones, rectify the ones whose
    condition cleared, reopen rectified ones whose condition persists, turn yellow to red when not fixed within
    ``warning_red_after_days`` days after the opening day (opened on the 22nd → red on the 28th with the default 5;
    seed 000 §三 read with 民法典 §201, ``Rules.red_on``); then
    notify (seed 001 §2.11.2).  Cases of projects not under construction yesterday are left as they are
    (停工期间不记录…指标, seed 001 §五(十三)).  Writes are batched: one transaction, bulk inserts and updates."""
    today = today or local_today()
    findings, ctxs = await detect_findings(today, project_ids)
    summary = EvaluationSummary(today=today, as_of=today - timedelta(days=1), projects=len(ctxs),
                                findings=len(findings))
    events = EventLog(datetime.now(UTC))
    by_topic = {f.topic: f for f in findings}
    async with write_transaction():
        cases = [c for c in await fetch_cases(ctxs) if c["kind"] not in EXTERNAL_KINDS]
        live = {c["topic"]: c for c in cases if c["status"] != WarningStatus.closed}
        closed_topics = {c["topic"] for c in cases if c["status"] == WarningStatus.closed}
        await _reconcile(plan_cases(by_topic, live, closed_topics), live, today, events.now, summary, events)
        await _advance(live, set(by_topic), ctxs, today, events.now, summary, events)
        for i in range(0, len(events.rows), BATCH):
            await WarningEvent.insert(*events.rows[i:i + BATCH])
    if notify:
        if summary.opened:
            summary.notifications += await notify_cases(summary.opened, reason=WarningAction.opened, sender=sender)
        if summary.escalated:
            summary.notifications += await notify_cases(summary.escalated, reason=WarningAction.escalated,
                                                          sender=sender)
    return summary


async def apply_findings(findings: list[Finding], ctxs: dict[int, ProjectCtx], today: date, *, kinds: frozenset[str],
                         notify: bool = True, sender: SmsSender | None = None) -> EvaluationSummary:
    """The case lifecycle of ``evaluate_warnings`` for findings of ``kinds`` that another domain detected (wages):
    the cases of those kinds of the projects in ``ctxs`` are opened, updated, escalated (seed 000 §三: red when not
    fixed within ``warning_red_after_days``), rectified or reopened against ``findings``."""
    summary = EvaluationSummary(today=today, as_of=today - timedelta(days=1), projects=len(ctxs),
                                findings=len(findings))
    events = EventLog(datetime.now(UTC))
    by_topic = {f.topic: f for f in findings if f.project_id in ctxs}
    async with write_transaction():
        cases = [c for c in await fetch_cases(ctxs) if c["kind"] in kinds]
        live = {c["topic"]: c for c in cases if c["status"] != WarningStatus.closed}
        closed_topics = {c["topic"] for c in cases if c["status"] == WarningStatus.closed}
        await _reconcile(plan_cases(by_topic, live, closed_topics), live, today, events.now, summary, events)
        await _advance(live, set(by_topic), ctxs, today, events.now, summary, events)
        for i in range(0, len(events.rows), BATCH):
            await WarningEvent.insert(*events.rows[i:i + BATCH])
    if notify:
        if summary.opened:
            summary.notifications += await notify_cases(summary.opened, reason=WarningAction.opened, sender=sender)
        if summary.escalated:
            summary.notifications += await notify_cases(summary.escalated, reason=WarningAction.escalated,
                                                          sender=sender)
    return summary
