"""Project qualification rule (seed 001 §2.3 项目合格规则)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.query.functions.aggregate import Count

from backend.org.tables import Project, ProjectUnit, Team
from backend.platform.services import upload_qualification
from backend.supervision.services.common import _ids_in, local_today
from backend.workforce.services import on_roster
from backend.workforce.tables import Enrolment, RosterEntry


@dataclass(slots=True)
class Qualification:
    """Seed 001 §2.3: a project is 合格 when (1) the project and its units, (2) all its active teams and (3) 1 % of
    its active people are "上传成功" — the real upload states of ``backend.platform`` (issue 17).  ``problems`` also
    lists what is incomplete here (why the platform may refuse it, docs/supervision.md §5)."""

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


def active_on(day: date, ids: Iterable[int]) -> Any:
    """Roster entries of the projects that are on the roster on ``day``."""
    return _ids_in(RosterEntry.project, ids) & on_roster(day)


async def count_on_roster(where: Any) -> dict[int, int]:
    """project → number of roster entries matching ``where``."""
    return {r["project"]: r["count"] for r in await RosterEntry.select(RosterEntry.project, Count()).where(
        where).group_by(RosterEntry.project)}


def project_problems(p: dict[str, Any], units: list[dict[str, Any]]) -> list[str]:
    """What keeps the project record and its units from being uploadable (part 1 of the rule)."""
    problems: list[str] = []
    if not p["permit_no"]:
        problems.append("项目未填写施工许可证编号")
    if not p["planned_start"]:
        problems.append("项目未填写计划开工日期")
    if p["lon"] is None:
        problems.append("项目未定位")
    kinds = {u["unit_type"] for u in units}
    if "general_contractor" not in kinds:
        problems.append("无在场施工总承包单位")
    if "supervision_firm" not in kinds:
        problems.append("无在场监理单位")
    if any(u["entered_on"] is None for u in units):
        problems.append("参建单位缺少进场日期")
    return problems


def bad_teams(teams: list[dict[str, Any]]) -> list[str]:
    return [t["name"] for t in teams if t["entered_on"] is None or t["unit_exited"] is not None]


def judge_project(p: dict[str, Any], units: list[dict[str, Any]], teams: list[dict[str, Any]], on_roster: int,
                  enrolled: int) -> Qualification:
    problems = project_problems(p, units)
    project_ok = not problems
    bad = bad_teams(teams)
    if bad:
        problems.append("班组信息不完整：" + "、".join(bad[:5]) + ("等" if len(bad) > 5 else ""))
    if enrolled < on_roster:
        problems.append(f"在职人员未采集人脸：{on_roster - enrolled} 人")
    return Qualification(project_id=p["id"], project_ok=project_ok, teams_ok=not bad, people_ok=enrolled >= on_roster,
                         people_active=on_roster, people_enrolled=enrolled, problems=problems)


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
    active = active_on(day, ids)
    on_roster = await count_on_roster(active)
    enrolled = await count_on_roster(active & RosterEntry.person.is_in(
        Enrolment.select(Enrolment.person).where(Enrolment.face_template.is_not_null())))
    unit_rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for u in units:
        unit_rows[u["project"]].append(u)
    team_rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in teams:
        team_rows[t["project"]].append(t)
    judged = {p["id"]: judge_project(p, unit_rows[p["id"]], team_rows[p["id"]], on_roster.get(p["id"], 0),
                                     enrolled.get(p["id"], 0))
              for p in projects}
    # The three conditions on the real upload states (issue 17); the completeness problems stay as hints.
    entries: dict[int, list[int]] = defaultdict(list)
    for r in await RosterEntry.select(RosterEntry.id, RosterEntry.project).where(active):
        entries[r["project"]].append(r["id"])
    uploaded = await upload_qualification(judged, entries)
    for pid, q in judged.items():
        u = uploaded[pid]
        q.project_ok, q.teams_ok, q.people_ok = u.project_ok, u.teams_ok, u.people_ok
        q.problems = u.problems + q.problems
    return judged
