"""Service results → JSON-ready dicts and table rows (API, pages and .xlsx share them).  Pure."""

from __future__ import annotations

from typing import Any

from backend.supervision import charts
from backend.supervision.metrics import pct
from backend.supervision.services import (
    KEY_POST_LIST,
    POST_SHORT,
    SEED_TABLE_POSTS,
    DistrictExecution,
    LatencyRow,
    ManagerPerson,
    Matrix,
    ProjectExecution,
    ProjectManagers,
    VendorSupport,
)
from backend.workforce.dictionaries import KEY_POSTS

DUTY_ZH = {"present": "到岗", "absent": "未到岗", "missing": "未设置", "not_counted": "未到计算日"}


def matrix_json(m: Matrix) -> dict[str, Any]:
    return {
        "month": m.month, "as_of": m.as_of.isoformat(), "days": [d.isoformat() for d in m.days],
        "day_valid": m.day_valid, "day_required": m.day_required, "day_suspended": m.day_suspended,
        "updated_at": m.updated_at.isoformat() if m.updated_at else None,
        "rows": [{
            "project_id": r.project_id, "project_name": r.project_name, "person_id": r.person_id, "name": r.name,
            "id_masked": r.id_masked, "team_id": r.team_id, "team_name": r.team_name, "work_role": r.work_role,
            "post": r.post, "job_label": r.job_label, "cells": r.cells, "valid_days": r.valid_days,
            "required_days": r.required_days, "rate": r.rate, "meets": r.meets,
        } for r in m.rows],
    }


def _person_json(p: ManagerPerson) -> dict[str, Any]:
    m = p.month
    return {"person_id": p.person_id, "name": p.name, "id_masked": p.id_masked, "post": p.post, "active": p.active,
            "required_days": m.required_days, "valid_days": m.valid_days, "absent_days": m.absent_days,
            "rate": m.rate, "meets": m.meets, "summary": p.summary, "verdict": p.verdict.verdict,
            "verdict_label": p.verdict.label, "projection": p.verdict.projection_zh}


def managers_json(s: ProjectManagers) -> dict[str, Any]:
    c = s.composite
    return {
        "project_id": s.ctx.id, "project_name": s.ctx.name, "district": s.ctx.district_name,
        "status": s.ctx.status, "status_label": s.ctx.status_label, "contractors": s.contractors,
        "supervisors": s.supervisors, "first": s.first.isoformat(), "stat_last": s.stat_last.isoformat(),
        "construction_days": s.construction_days, "suspended_days": s.suspended_days,
        "manager_days": s.manager_days, "manager_start": s.manager_start.isoformat() if s.manager_start else None,
        "posts": {post: {"count": sum(1 for p in s.by_post(post) if p.active),
                         "people": [_person_json(p) for p in s.by_post(post)]} for post in KEY_POST_LIST},
        "missing": s.missing, "absent": s.absent, "below": s.below,
        "composite": {"valid_days": c.valid_days, "required_days": c.required_days, "rate": c.rate,
                      "threshold": c.threshold, "meets": c.meets, "verdict": s.composite_verdict.verdict,
                      "verdict_label": s.composite_verdict.label, "projection": s.composite_verdict.projection_zh},
    }


MANAGER_TABLE_HEADERS = [
    "序号", "项目名称", "项目所在地", "项目状态", "施工总承包单位",
    "施工总承包单位项目经理人数", "施工总承包单位项目经理本月到岗情况",
    "施工总承包单位安全员人数", "施工总承包单位安全员本月到岗情况",
    "施工总承包单位技术负责人人数", "施工总承包单位技术负责人本月到岗情况",
    "监理单位", "监理单位总监理工程师人数", "监理单位总监理工程师本月到岗情况",
    *[f"{POST_SHORT[p]}人数/到岗情况" for p in KEY_POST_LIST if p not in SEED_TABLE_POSTS],
    "综合到岗率", "综合到岗率是否达标",
]


def _post_cells(s: ProjectManagers, post: str) -> tuple[int, str]:
    people = s.by_post(post)
    return sum(1 for p in people if p.active), "；".join(p.summary for p in people) or "-"


def manager_table_row(i: int, s: ProjectManagers) -> list[Any]:
    """The columns of seed 001 §2.11.3, then the other key posts of seed 000 §五 and the composite rate."""
    pm, safety, tech, cse = (_post_cells(s, p) for p in SEED_TABLE_POSTS)
    others = []
    for post in KEY_POST_LIST:
        if post not in SEED_TABLE_POSTS:
            n, text = _post_cells(s, post)
            others.append(f"{n}人：{text}")
    return [i, s.ctx.name, s.ctx.district_name, s.ctx.status_label, "、".join(s.contractors) or "-",
            pm[0], pm[1], safety[0], safety[1], tech[0], tech[1], "、".join(s.supervisors) or "-", cse[0], cse[1],
            *others, pct(s.composite.rate),
            "-" if s.composite_verdict.verdict is None else s.composite_verdict.label]


def trend_svg(s: ProjectManagers) -> str:
    points = [(f"{d.month}/{d.day}", present / required if required else None) for d, present, required in s.daily]
    return charts.line_chart(points, title=f"{s.ctx.name}：关键岗位管理人员每日到岗率",
                             threshold=s.ctx.rules.manager_composite_on_duty_ratio,
                             threshold_label=f"综合到岗率要求 {pct(s.ctx.rules.manager_composite_on_duty_ratio, 0)}")


def attendance_svg(m: Matrix) -> str:
    """The month's bars up to the statistics day; "" when nobody has a valid day yet (the page says so)."""
    if not any(n for d, n in zip(m.days, m.day_valid, strict=True) if d <= m.as_of):
        return ""
    bars = []
    for i, d in enumerate(m.days):
        if d > m.as_of:
            break
        bars.append((f"{d.day}日", float(m.day_valid[i]), "suspended" if m.day_suspended[i] else ""))
    return charts.bar_chart(bars, title=f"{m.month} 每日有效考勤人数")


def district_json(d: DistrictExecution) -> dict[str, Any]:
    return {
        "district_id": d.district_id, "name": d.name, "projects": d.projects, "uploaded": d.uploaded,
        "failed": d.failed, "upload_rate": d.upload_rate, "with_attendance": d.with_attendance,
        "without_attendance": d.without_attendance, "update_rate": d.update_rate, "people": d.people,
        "avg_people": d.avg_people, "pm_registration": d.pm_registration, "pm_on_duty": d.pm_on_duty,
        "cse_registration": d.cse_registration, "cse_on_duty": d.cse_on_duty,
    }


DISTRICT_HEADERS = ["序号", "地区", "在建项目总数", "上传成功项目数", "上传失败项目数", "上传成功率", "有考勤项目数", "无考勤项目数",
                    "更新率", "考勤人数", "平均考勤人数", "项目经理登记比例", "项目经理到岗率", "总监理工程师登记比例",
                    "总监理工程师到岗率"]


def district_row(i: int | str, d: DistrictExecution) -> list[Any]:
    avg = "-" if d.avg_people is None else f"{d.avg_people:.1f}"
    return [i, d.name, d.projects, d.uploaded, d.failed, pct(d.upload_rate), d.with_attendance,
            d.without_attendance, pct(d.update_rate), d.people, avg, pct(d.pm_registration), pct(d.pm_on_duty),
            pct(d.cse_registration), pct(d.cse_on_duty)]


def project_exec_json(p: ProjectExecution) -> dict[str, Any]:
    return {"project_id": p.ctx.id, "name": p.ctx.name, "district": p.ctx.district_name,
            "status_label": p.ctx.status_label, "qualified": p.qualified, "problems": p.problems,
            "roster": p.roster, "attended": p.attended, "has_attendance": p.has_attendance,
            "pm": p.pm, "pm_label": DUTY_ZH[p.pm], "cse": p.cse, "cse_label": DUTY_ZH[p.cse]}


def vendor_json(v: VendorSupport) -> dict[str, Any]:
    return {"vendor_id": v.vendor_id, "name": v.name, "projects": v.projects, "uploaded": v.uploaded,
            "failed": v.failed, "upload_rate": v.upload_rate, "with_attendance": v.with_attendance,
            "without_attendance": v.without_attendance, "update_rate": v.update_rate, "terminals": v.terminals,
            "online": v.online}


def latency_json(r: LatencyRow) -> dict[str, Any]:
    return {"project_id": r.project_id, "project_name": r.project_name, "terminal_id": r.terminal_id,
            "terminal_serial": r.terminal_serial, "source": r.source, "limit_s": r.limit_s, "total": r.total,
            "within": r.within, "share": r.share, "avg_s": round(r.avg_s, 2), "max_s": round(r.max_s, 2)}


def post_options() -> list[tuple[str, str]]:
    return list(KEY_POSTS.items())
