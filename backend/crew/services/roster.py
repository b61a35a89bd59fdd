"""The roster view of a project (what registration adds to workforce's roster) and page helpers."""

from __future__ import annotations

from typing import Any

from backend.accounts.services import CurrentUser, require_project
from backend.crew.dictionaries import CONTRACT_TYPE
from backend.crew.services.contracts import contract_state, gate_status
from backend.crew.tables import ExitConfirmation, LabourContract
from backend.errors import Forbidden, NotFound
from backend.org import services as org
from backend.org.tables import Project
from backend.vocabulary import WAGE_UNIT_ZH, Role
from backend.workforce import services as workforce
from backend.workforce.dictionaries import POSTS, WORK_ROLE, WORK_TYPES

CONTRACT_LABELS = {"valid": "有效", "expired": "已到期", "future": "未生效", "missing": "缺合同"}


async def roster(user: CurrentUser, project_id: int, *, active_only: bool = True, missing_contract: bool = False,
                 q: str = "") -> list[dict[str, Any]]:
    """The roster with what registration adds: unit, face enrolled, contract state, whether the gate
    whitelist holds the person and why not (``on_gate``, ``gate_note``), exit confirmation."""
    await require_project(user, project_id)
    if user.role == Role.worker:
        raise Forbidden("工人只能查看本人信息", "Workers may only see their own records")
    teams = await workforce.team_scope(user.role, user.person_id, project_id)
    rows = await workforce.list_roster(project_id, active_only=active_only, teams=teams)
    units = {u["id"]: u["enterprise_name"] for u in await org.list_units(project_id)}
    enrolled = await _enrolled([r["person"] for r in rows])
    contracts = await _contracts_by_entry(project_id)
    exits = await _exit_files(project_id)
    rules = await org.rules_for_project(project_id)
    today = await workforce.project_today(project_id)  # the site's day, as the gate judges it
    needle = (q or "").strip()
    out = []
    for r in rows:
        state = contract_state(contracts.get(r["id"], []), today)
        r["contract_state"] = state
        r["contract_label"] = CONTRACT_LABELS[state]
        r["enrolled"] = r["person"] in enrolled
        # whether the gate whitelist holds them, and why not (seed 001 §五(十一): no contract, no entry)
        r["on_gate"], r["gate_note"], _ = gate_status(state, r["entered_on"], r["enrolled"], r["exited_on"] is not None,
                                                      today, rules)
        r["unit_name"] = units.get(r["unit"], "")
        r["exit_file"] = exits.get(r["id"])
        if _wanted(r, missing_contract=missing_contract, needle=needle):
            out.append(r)
    return out


ROSTER_PAGE_SIZE = 25
ROSTER_STATES = {"active": "在场", "exited": "已退场", "all": "全部"}
FACE_FILTERS = {"": "全部", "yes": "已采集人脸", "no": "未采集人脸"}


async def roster_listing(user: CurrentUser, project_id: int, *, state: str = "active", team: int | None = None,
                         face: str = "", missing_contract: bool = False, q: str = "", page: int = 1,
                         per_page: int = ROSTER_PAGE_SIZE) -> dict[str, Any]:
    """One page of the roster for the tablet: the filters (state 在场/已退场/全部, team, face enrolled or not,
    without a valid contract, a name or team search), the counts of what the filters found, and paging."""
    state = state if state in ROSTER_STATES else "active"
    face = face if face in FACE_FILTERS else ""
    rows = await roster(user, project_id, active_only=state == "active", missing_contract=missing_contract, q=q)
    scope = await workforce.team_scope(user.role, user.person_id, project_id)
    teams = [{"id": t["id"], "name": t["name"]} for t in await org.list_teams(project_id)
             if scope is None or t["id"] in scope]
    found = [r for r in rows
             if (state != "exited" or r["exited_on"] is not None)
             and (team is None or r["team"] == team)
             and (face == "" or r["enrolled"] == (face == "yes"))]
    per_page = max(1, min(per_page, 200))
    pages = max(1, -(-len(found) // per_page))
    page = max(1, min(page, pages))
    on_site = [r for r in found if r["exited_on"] is None]
    return {
        "rows": found[(page - 1) * per_page: page * per_page],
        "total": len(found), "page": page, "pages": pages, "per_page": per_page,
        "counts": {"on_site": len(on_site), "exited": len(found) - len(on_site),
                   "enrolled": sum(1 for r in found if r["enrolled"]),
                   "not_enrolled": sum(1 for r in found if not r["enrolled"]),
                   "missing_contract": sum(1 for r in on_site if r["contract_state"] != "valid")},
        "teams": teams,
        "filters": {"state": state, "team": team, "face": face, "missing_contract": missing_contract, "q": q},
    }


async def _enrolled(persons: list[int]) -> set[int]:
    """Which of these people have a face enrolled (in chunks under the engines' parameter limits)."""
    enrolled: set[int] = set()
    for i in range(0, len(persons), 900):
        enrolled |= await workforce.enrolled_person_ids(persons[i:i + 900])
    return enrolled


async def _contracts_by_entry(project_id: int) -> dict[int, list[dict[str, Any]]]:
    """The project's labour contracts' terms, by roster entry."""
    contracts: dict[int, list[dict[str, Any]]] = {}
    for c in await LabourContract.select(LabourContract.roster_entry, LabourContract.starts_on,
                                         LabourContract.ends_on).where(LabourContract.project == project_id):
        contracts.setdefault(c["roster_entry"], []).append(c)
    return contracts


async def _exit_files(project_id: int) -> dict[int, int]:
    """The signed exit confirmation's file, by roster entry."""
    return {e["roster_entry"]: e["file"] for e in await ExitConfirmation.select(
        ExitConfirmation.roster_entry, ExitConfirmation.file).where(
        ExitConfirmation.roster_entry.project == project_id)}


def _wanted(r: dict[str, Any], *, missing_contract: bool, needle: str) -> bool:
    """The filters of the roster page: only entries without a valid contract; a name or team search."""
    if missing_contract and r["contract_state"] == "valid":
        return False
    return not needle or needle in r["name"] or needle in (r["team_name"] or "")


async def form_options(project_id: int) -> dict[str, Any]:
    units = [u for u in await org.list_units(project_id) if u["exited_on"] is None]
    teams = [t for t in await org.list_teams(project_id) if t["exited_on"] is None]
    return {"units": units, "teams": teams, "posts": POSTS, "work_types": WORK_TYPES, "work_roles": WORK_ROLE,
            "contract_types": CONTRACT_TYPE, "wage_units": WAGE_UNIT_ZH}


async def project_brief(project_id: int) -> dict[str, Any]:
    row = await Project.select(Project.id, Project.name, Project.timezone).where(Project.id == project_id).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    return row


