"""Projects in scope with their status calendar and district rules (``ProjectCtx``), and the scope look-ups
of the pages (districts, a district's projects, a project's teams)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from backend.org.dictionaries import PROJECT_STATUS
from backend.org.services import status_change_rows
from backend.org.tables import District, Project, Team
from backend.rules import BASELINE, Rules, rules_for
from backend.supervision.days import ProjectCalendar
from backend.supervision.services.common import _ids_in, _json


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
    # Days an approver back-dated a change over: (effective_on, the day before its request), one per such change.
    # A change never clears a warning for the days before its request (issue 14 item 2; warnings.held_by_backdating).
    backdated: tuple[tuple[date, date], ...] = ()

    @property
    def status_label(self) -> str:
        return PROJECT_STATUS.get(self.status, self.status)


async def district_rules(district_ids: Iterable[int]) -> dict[int, Rules]:
    ids = sorted(set(district_ids))
    if not ids:
        return {}
    rows = await District.select(District.id, District.rule_profile, District.rule_overrides).where(
        _ids_in(District.id, ids))
    # The district's rule profile with its overrides (the same as backend.org.services.rules_for_district).
    return {r["id"]: rules_for(r["rule_profile"] or BASELINE, _json(r["rule_overrides"], {})) for r in rows}


async def _fetch_projects(project_ids: set[int] | None, district_id: int | None) -> list[dict[str, Any]]:
    q = Project.select(
        Project.id, Project.name, Project.district, Project.district.name.as_alias("district_name"), Project.status,
        Project.category, Project.planned_start, Project.timezone, Project.lon, Project.lat,
    ).order_by(Project.id)
    if project_ids is not None:
        q = q.where(_ids_in(Project.id, project_ids))
    if district_id is not None:
        q = q.where(Project.district == district_id)
    return await q


async def _fetch_status_changes(ids: list[int], *, restrict: bool) -> dict[int, list[tuple[date, str, date]]]:
    """The approved status history of each project (all projects' when ``restrict`` is false: no id list to
    send): ``(effective_on, status, counts_from)`` in recorded order (``backend.org.services.status_change_rows``)."""
    return await status_change_rows(ids if restrict else None)


def backdated_windows(changes: list[tuple[date, str, date]]) -> tuple[tuple[date, date], ...]:
    """``(first, last)`` days of each approved change that took effect before its request's day."""
    return tuple((e, c - timedelta(days=1)) for e, _s, c in changes if c > e)


async def project_contexts(project_ids: set[int] | None, *, district_id: int | None = None) -> dict[int, ProjectCtx]:
    """Projects in scope (None = all) with their status calendar and district rules: three queries."""
    if project_ids is not None and not project_ids:
        return {}
    rows = await _fetch_projects(project_ids, district_id)
    if not rows:
        return {}
    changes = await _fetch_status_changes([r["id"] for r in rows],
                                          restrict=project_ids is not None or district_id is not None)
    rules = await district_rules(r["district"] for r in rows)
    return {
        r["id"]: ProjectCtx(
            id=r["id"], name=r["name"], district_id=r["district"], district_name=r["district_name"],
            status=r["status"], category=r["category"], planned_start=r["planned_start"], timezone=r["timezone"],
            lon=r["lon"], lat=r["lat"],
            calendar=ProjectCalendar.build([(e, s) for e, s, _c in changes.get(r["id"], [])], r["planned_start"]),
            rules=rules[r["district"]], backdated=backdated_windows(changes.get(r["id"], [])),
        )
        for r in rows
    }


# --- Scope look-ups (pages and access checks) ------------------------------------------------------


async def project_ids_in_district(district_id: int) -> set[int]:
    return {r["id"] for r in await Project.select(Project.id).where(Project.district == district_id)}


async def list_scope_districts(district_ids: set[int] | None) -> list[dict[str, Any]]:
    q = District.select(District.id, District.name, District.code, District.timezone).order_by(District.code)
    if district_ids is not None:
        if not district_ids:
            return []
        q = q.where(District.id.is_in(sorted(district_ids)))
    return await q


async def list_scope_teams(project_id: int) -> list[dict[str, Any]]:
    return await Team.select(Team.id, Team.name).where(Team.project == project_id).order_by(Team.name)
