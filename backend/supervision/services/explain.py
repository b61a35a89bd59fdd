"""``smz rules explain PROJECT [--month YYYY-MM]``: which rules judged a project, with their inputs and verdicts.

An ``Explanation`` is the project's rule profile plus a list of ``RuleLine`` — one per rule applied: the rule's
name (a field of ``backend.rules.Rules`` or a derived rule), the clause it comes from under this profile
(``backend.rules_catalog.clause_for``), the inputs it was applied to, and the verdict in plain Chinese.

Sections (each a function returning lines, appended in order by ``explain_project_month``):

- ``profile_lines``  scope verdict, counting start of key managers and its base, upload latency limits
- ``month_lines``    the monthly part (valid days, on-duty rates, non-face punches): ``explain_monthly``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from backend.org import services as org
from backend.rules import Rules, profile_label
from backend.rules_catalog import clause_for
from backend.supervision.days import parse_month
from backend.supervision.services.explain_monthly import monthly_lines
from backend.vocabulary import Source


class RuleLine(msgspec.Struct):
    """One rule applied to the project: what, where from, on what, with what result."""

    rule: str  # a Rules field or a derived rule, e.g. "scope_rule", "manager_counting_start"
    clause: str  # seed NNN §… under the project's profile
    inputs: dict[str, Any]
    verdict: str  # plain Chinese


class Explanation(msgspec.Struct):
    project_id: int
    project_name: str
    district_name: str
    profile: str
    profile_label: str
    month: str | None  # YYYY-MM, or None when no month was asked for
    lines: list[RuleLine] = msgspec.field(default_factory=list)


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def profile_lines(project: dict[str, Any], rules: Rules) -> list[RuleLine]:
    """The rules the profile decides for every month: scope, managers' counting start, latency limits."""
    p = rules.profile
    in_scope = rules.in_scope(project["category"], project["floor_area_m2"], project["contract_value_yuan"])
    start = rules.manager_counting_start(project["planned_start"], project["actual_start"])
    lines = [
        RuleLine(
            rule="scope_rule", clause=clause_for("scope_rule", p),
            inputs={"scope_rule": rules.scope_rule, "category": project["category"],
                    "floor_area_m2": project["floor_area_m2"], "contract_value_yuan": project["contract_value_yuan"],
                    "scope_min_floor_area_m2": rules.scope_min_floor_area_m2,
                    "scope_min_contract_value_yuan": rules.scope_min_contract_value_yuan},
            verdict=("纳入实名制管理范围" if in_scope else "不纳入实名制管理范围") + f"（{rules.scope_label()}）",
        ),
        RuleLine(
            rule="manager_counting_start", clause=clause_for("manager_start_base", p),
            inputs={"manager_start_base": rules.manager_start_base,
                    "manager_attendance_start_offset_days": rules.manager_attendance_start_offset_days,
                    "planned_start": _iso(project["planned_start"]), "actual_start": _iso(project["actual_start"])},
            verdict=(f"管理人员考勤自 {start.isoformat()} 起计算（{rules.manager_start_label()}）" if start
                     else f"开工日期未知，管理人员考勤尚未开始计算（{rules.manager_start_label()}）"),
        ),
    ]
    for source, field in ((Source.mobile, "mobile_max_latency_s"), (Source.gate, "gate_max_latency_s")):
        limit = rules.max_latency_s(source)
        lines.append(RuleLine(
            rule=field, clause=clause_for(field, p), inputs={"source": str(source)},
            verdict=f"{'手机打卡' if source == Source.mobile else '闸机打卡'}上传延时不超过 {limit:g} 秒，超时记录保留并标记",
        ))
    return lines


async def month_lines(project: dict[str, Any], rules: Rules, first: date, last: date) -> list[RuleLine]:
    """The monthly verdicts of ``first``..``last``: construction days, each key manager's valid days with the
    punches counted and not counted (and why), the composite rate, non-face punches — ``explain_monthly``."""
    return [RuleLine(rule=m.rule, clause=clause_for(m.clause_of, rules.profile), inputs=m.inputs, verdict=m.verdict)
            for m in await monthly_lines(project["id"], first, last)]


async def explain_project_month(project_id: int, month: str | None = None) -> Explanation:
    """Which rule profile judged the project and every rule line it applied (for ``month`` too, when given)."""
    first = last = None
    if month is not None:
        first, last = parse_month(month)  # a bilingual 400 on a malformed month
    project = await org.get_project(project_id)  # NotFound for an unknown project
    rules = await org.rules_for_project(project_id)
    lines = profile_lines(project, rules)
    if first is not None and last is not None:
        lines.extend(await month_lines(project, rules, first, last))
    return Explanation(
        project_id=project_id, project_name=project["name"], district_name=project["district_name"],
        profile=rules.profile, profile_label=profile_label(rules.profile), month=month, lines=lines,
    )
