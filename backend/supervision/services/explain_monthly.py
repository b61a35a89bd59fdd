"""The monthly part of ``smz rules explain`` (and of the project page): for one project and month, every key
manager's inputs to the 80 % rule — construction days, valid days, punches counted and not counted with the
reason — the composite 60 % rule and the non-face finding, each with its verdict (seed 000 §五, §六;
seed 004 §四(一); docs/supervision.md §3).  A supervisor can redo each verdict by hand from these lines.

``monthly_lines`` returns ``MonthlyLine`` values; ``explain.month_lines`` turns them into its ``RuleLine`` (with
the clause of ``clause_of`` under the project's rule profile).  Three queries: the project's context, its
key-post roster, the month's punches of those people."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from backend.attendance.counting import not_counted_code
from backend.attendance.tables import Punch
from backend.errors import NotFound
from backend.supervision.days import days_between, parse_month, roster_days
from backend.supervision.services.common import POST_SHORT, _json, local_today
from backend.supervision.services.counts import _valid_index, person_day_counts
from backend.supervision.services.managers import (
    ManagerPerson,
    ProjectManagers,
    fetch_key_manager_entries,
    group_post_holders,
    project_managers,
)
from backend.supervision.services.monthly import manager_counting_start
from backend.supervision.services.projects import ProjectCtx, project_contexts
from backend.vocabulary import PROJECT_STATUS_ZH, REASON_ZH, VERDICT_ZH, ProjectStatus, Reason

# Why a punch that was accepted still did not count on its day (beside the punch's own codes).
NOT_COUNTED_DAY_ZH: dict[str, str] = {
    "before_counting_start": "未到管理人员考勤计算日（起算日见本月施工时间一行，按本区县判定规则）",
    "suspended": "停工日不计（江门 §五(十三)）",
    "not_construction": "非在建日不计",
    "not_on_roster": "当日不在本项目关键岗位花名册",
    "after_statistics_day": "统计截止前一日之后（尚未统计）",
    "late_upload": "上传超时（本区设定超时记录不计）",
}


@dataclass(frozen=True, slots=True)
class MonthlyLine:
    rule: str  # the rule applied, e.g. "manager_valid_days_ratio"
    clause_of: str  # the Rules field whose clause (under the profile) this line cites
    inputs: dict[str, Any]
    verdict: str  # plain Chinese


def day_reason(ctx: ProjectCtx, start: date | None, day: date, on_roster: bool, stat_last: date) -> str | None:
    """Why a day does not count for a key manager (None when it counts)."""
    if day > stat_last:
        return "after_statistics_day"
    status = ctx.calendar.status_on(day)
    if status == ProjectStatus.suspended:
        return "suspended"
    if status != ProjectStatus.under_construction:
        return "not_construction"
    if start is None or day < start:
        return "before_counting_start"
    if not on_roster:
        return "not_on_roster"
    return None


def classify_punches(ctx: ProjectCtx, start: date | None, stat_last: date, intervals: list[tuple[date, date | None]],
                     punches: list[dict[str, Any]], first: date, last: date) -> tuple[int, Counter[str]]:
    """(punches counted, not-counted punches by Chinese reason) for one person's month.  A punch counts when it
    counts as attendance (``backend.attendance.counting``; the district's late-upload setting) and its day is a
    counted day of this person."""
    on_roster = roster_days(intervals, first, last)
    counted = 0
    why: Counter[str] = Counter()
    for p in punches:
        flags, reasons = _json(p["flags"], []), _json(p["reasons"], [])
        code = not_counted_code(p["verdict"], flags, reasons)
        if code is not None:
            why[REASON_ZH.get(code) or VERDICT_ZH.get(code, code)] += 1
            continue
        if Reason.late_upload in flags and not ctx.rules.late_upload_counts_as_valid:
            why[NOT_COUNTED_DAY_ZH["late_upload"]] += 1
            continue
        day = date.fromisoformat(p["local_date"])
        reason = day_reason(ctx, start, day, day in on_roster, stat_last)
        if reason is None:
            counted += 1
        else:
            why[NOT_COUNTED_DAY_ZH[reason]] += 1
    return counted, why


def _status_days(ctx: ProjectCtx, first: date, last: date) -> dict[str, int]:
    counts: Counter[str] = Counter(ctx.calendar.status_on(d) for d in days_between(first, last))
    return {PROJECT_STATUS_ZH.get(s, s): n for s, n in counts.items()}


def calendar_line(s: ProjectManagers, first: date, last: date) -> MonthlyLine:
    ctx = s.ctx
    start = s.manager_start
    counted = ctx.calendar.construction_days(max(first, start), last) if start else []
    return MonthlyLine(
        rule="construction_days", clause_of="manager_valid_days_ratio",
        inputs={"month": f"{first:%Y-%m}", "days_in_month": (last - first).days + 1,
                "status_days": _status_days(ctx, first, last),
                "manager_counting_start": start.isoformat() if start else None,
                "statistics_day": s.stat_last.isoformat(), "month_ended": s.month_ended,
                "counted_days": len(counted)},
        verdict=(f"本月施工时间（在建且自管理人员考勤计算日起的日历天数，含周末节假日）{len(counted)} 天"
                 + (f"，自 {start.isoformat()} 起计算" if start else "，开工日期未知，尚未开始计算")
                 + ("；本月已结束，按整月判定" if s.month_ended else f"；统计至 {s.stat_last.isoformat()}，其后按现状预计")),
    )


def person_line(s: ProjectManagers, p: ManagerPerson, counted: int, why: Counter[str]) -> MonthlyLine:
    v = p.verdict
    return MonthlyLine(
        rule="manager_valid_days_ratio", clause_of="manager_valid_days_ratio",
        inputs={"person_id": p.person_id, "name": p.name, "id_masked": p.id_masked, "post": p.post,
                "post_label": POST_SHORT.get(p.post, p.post), "construction_days": v.construction_days,
                "days_so_far": v.days_so_far, "valid_days": v.valid_days, "days_remaining": v.days_remaining,
                "required_days": v.required_days, "ratio": v.ratio, "punches_counted": counted,
                "punches_not_counted": dict(why), "verdict": v.verdict},
        verdict=f"{POST_SHORT.get(p.post, p.post)}{p.name}：{v.projection_zh}",
    )


def composite_line(s: ProjectManagers) -> MonthlyLine:
    v = s.composite_verdict
    return MonthlyLine(
        rule="manager_composite_on_duty_ratio", clause_of="manager_composite_on_duty_ratio",
        inputs={"person_days_so_far": v.days_so_far, "valid_person_days": v.valid_days,
                "person_days_remaining": v.days_remaining, "person_days": v.construction_days,
                "required_person_days": v.required_days, "ratio": v.ratio, "holders": len(s.people),
                "verdict": v.verdict},
        verdict="综合到岗率（人·天）：" + v.projection_zh.replace(" 天", " 人·天"),
    )


def non_face_line(non_face: list[dict[str, Any]]) -> MonthlyLine:
    days = sorted({p["local_date"] for p in non_face})
    people = {p["person"] for p in non_face}
    return MonthlyLine(
        rule="non_face_mode", clause_of="manager_valid_days_ratio",
        inputs={"punches": len(non_face), "people": len(people), "days": days},
        verdict=(f"本月 {len(people)} 人 {len(non_face)} 次采用非人脸方式（门禁卡、指纹等）进场，视为未落实实名制管理"
                 "（赣建建〔2022〕9号 §六），均不计入考勤" if non_face else "本月无非人脸方式打卡"),
    )


async def _month_punches(project_id: int, first: date, last: date) -> list[dict[str, Any]]:
    return await Punch.select(Punch.person, Punch.local_date, Punch.verdict, Punch.reasons, Punch.flags).where(
        (Punch.project == project_id) & (Punch.local_date >= first.isoformat())
        & (Punch.local_date <= last.isoformat())).order_by(Punch.id)


async def monthly_lines(project_id: int, first: date, last: date, *, today: date | None = None) -> list[MonthlyLine]:
    """Every monthly rule line of one project and month (statistics to yesterday, in the project's zone)."""
    ctxs = await project_contexts({project_id})
    ctx = ctxs.get(project_id)
    if ctx is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    parse_month(f"{first:%Y-%m}")
    today = today or local_today(ctx.timezone)
    stat_last = min(last, today - timedelta(days=1))
    entries = await fetch_key_manager_entries([project_id], first, stat_last) if stat_last >= first else []
    held = group_post_holders(entries, stat_last)[project_id]
    punches = await _month_punches(project_id, first, last)
    by_person: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for p in punches:
        if p["person"] is not None:
            by_person[p["person"]].append(p)
    # The valid days exactly as the key-manager table computes them (same counts, same district rules).
    valid = _valid_index(await person_day_counts({project_id}, first, stat_last, key_managers_only=True)
                         if stat_last >= first else [], ctxs)
    s = project_managers(ctx, first, max(stat_last, first - timedelta(days=1)), held, valid,
                         {"general_contractor": [], "supervision_firm": []}, last)
    start = manager_counting_start(ctx)
    lines = [calendar_line(s, first, last)]
    intervals = {person: h["intervals"] for (person, _post), h in held.items()}
    for p in s.people:
        counted, why = classify_punches(ctx, start, s.stat_last, intervals[p.person_id],
                                        by_person.get(p.person_id, []), first, last)
        lines.append(person_line(s, p, counted, why))
    lines.append(composite_line(s))
    lines.append(non_face_line([p for p in punches if not_counted_code(
        p["verdict"], _json(p["flags"], []), _json(p["reasons"], [])) == Reason.non_face_mode]))
    return lines

