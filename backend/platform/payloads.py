"""The rows the platform adapter needs, read from the owning domains' tables (read-only queries).

Each function returns a plain dict (or None when the entity is gone) with the nested ``project`` fields
the adapter's ``project_code`` needs.  ID numbers stay encrypted here (``id_cipher``); the adapter opens them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.attendance.tables import Punch
from backend.crew.tables import LabourContract
from backend.org.tables import Project, ProjectUnit, Team
from backend.vocabulary import UnitType
from backend.workforce.tables import Person, RosterEntry


async def project_row(project_id: int) -> dict[str, Any] | None:
    row = await Project.select(
        Project.id, Project.name, Project.permit_no, Project.address, Project.category, Project.floor_area_m2,
        Project.contract_value_yuan, Project.planned_start, Project.actual_start, Project.completed_on,
        Project.status, Project.lon, Project.lat, Project.timezone,
        Project.district.code.as_alias("district_code"),
    ).where(Project.id == project_id).first()
    if row is None:
        return None
    units = await ProjectUnit.select(
        ProjectUnit.unit_type, ProjectUnit.enterprise.uscc.as_alias("uscc"), ProjectUnit.enterprise.name.as_alias("name"),
    ).where(
        (ProjectUnit.project == project_id)
        & ProjectUnit.unit_type.is_in([UnitType.general_contractor, UnitType.owner])
    ).order_by(ProjectUnit.id)
    for unit in units:
        prefix = "contractor" if unit["unit_type"] == UnitType.general_contractor else "owner"
        row.setdefault(f"{prefix}_uscc", unit["uscc"])
        row.setdefault(f"{prefix}_name", unit["name"])
    return row


async def _project_ref(project_id: int) -> dict[str, Any]:
    row = await Project.select(
        Project.id, Project.timezone, Project.district.code.as_alias("district_code"),
    ).where(Project.id == project_id).first()
    return row or {"id": project_id, "timezone": None, "district_code": "000000"}


async def unit_row(unit_id: int) -> dict[str, Any] | None:
    row = await ProjectUnit.select(
        ProjectUnit.id, ProjectUnit.project, ProjectUnit.unit_type, ProjectUnit.entered_on, ProjectUnit.exited_on,
        ProjectUnit.enterprise.uscc.as_alias("uscc"), ProjectUnit.enterprise.name.as_alias("corp_name"),
    ).where(ProjectUnit.id == unit_id).first()
    if row is None:
        return None
    row["project"] = await _project_ref(row["project"])
    return row


async def _person(person_id: int | None) -> dict[str, Any] | None:
    if person_id is None:
        return None
    return await Person.select(
        Person.id, Person.name, Person.id_cipher, Person.phone,
    ).where(Person.id == person_id).first()


async def team_row(team_id: int) -> dict[str, Any] | None:
    row = await Team.select(
        Team.id, Team.project, Team.name, Team.kind, Team.leader, Team.entered_on, Team.exited_on,
        Team.unit.enterprise.uscc.as_alias("uscc"), Team.unit.enterprise.name.as_alias("corp_name"),
    ).where(Team.id == team_id).first()
    if row is None:
        return None
    row["project"] = await _project_ref(row["project"])
    row["leader"] = await _person(row["leader"])
    return row


async def roster_row(entry_id: int) -> dict[str, Any] | None:
    """A roster entry with its person, unit's enterprise and team (worker, entry and exit records)."""
    row = await RosterEntry.select(
        RosterEntry.id, RosterEntry.project, RosterEntry.work_role, RosterEntry.work_type, RosterEntry.post,
        RosterEntry.entered_on, RosterEntry.exited_on, RosterEntry.team,
        RosterEntry.team.name.as_alias("team_name"), RosterEntry.team.leader.as_alias("team_leader"),
        RosterEntry.unit.enterprise.uscc.as_alias("uscc"), RosterEntry.unit.enterprise.name.as_alias("corp_name"),
        RosterEntry.person.as_alias("person_id"), RosterEntry.person.name.as_alias("name"),
        RosterEntry.person.id_cipher.as_alias("id_cipher"), RosterEntry.person.gender.as_alias("gender"),
        RosterEntry.person.birth_date.as_alias("birth_date"), RosterEntry.person.ethnicity.as_alias("ethnicity"),
        RosterEntry.person.phone.as_alias("phone"), RosterEntry.person.address.as_alias("address"),
        RosterEntry.person.id_issuer.as_alias("id_issuer"),
        RosterEntry.person.id_valid_until.as_alias("id_valid_until"),
    ).where(RosterEntry.id == entry_id).first()
    if row is None:
        return None
    row["is_leader"] = row["team_leader"] is not None and row["team_leader"] == row["person_id"]
    row["project"] = await _project_ref(row["project"])
    return row


async def contract_row(contract_id: int) -> dict[str, Any] | None:
    row = await LabourContract.select(
        LabourContract.id, LabourContract.project, LabourContract.contract_no, LabourContract.contract_type,
        LabourContract.signed_on, LabourContract.starts_on, LabourContract.ends_on,
        LabourContract.person.id_cipher.as_alias("id_cipher"),
        LabourContract.roster_entry.unit.enterprise.uscc.as_alias("uscc"),
        LabourContract.roster_entry.unit.enterprise.name.as_alias("corp_name"),
    ).where(LabourContract.id == contract_id).first()
    if row is None:
        return None
    row["project"] = await _project_ref(row["project"])
    return row


async def punch_row(punch_id: int) -> dict[str, Any] | None:
    """A punch with the person's ID cipher and the team/unit of the person's roster entry on that project."""
    row = await Punch.select(
        Punch.id, Punch.project, Punch.source, Punch.direction, Punch.captured_at, Punch.verdict, Punch.lon,
        Punch.lat, Punch.local_date, Punch.person.as_alias("person_id"),
        Punch.person.id_cipher.as_alias("id_cipher"),
    ).where(Punch.id == punch_id).first()
    if row is None:
        return None
    row["project"] = await _project_ref(row["project"])
    entry = None
    if row["person_id"] is not None:
        entry = await RosterEntry.select(
            RosterEntry.team.name.as_alias("team_name"),
            RosterEntry.unit.enterprise.uscc.as_alias("uscc"),
            RosterEntry.unit.enterprise.name.as_alias("corp_name"),
        ).where(
            (RosterEntry.person == row["person_id"]) & (RosterEntry.project == row["project"]["id"])
            & (RosterEntry.entered_on <= date.fromisoformat(row["local_date"]))
        ).order_by(RosterEntry.entered_on, ascending=False).first()
    row.update(entry or {"team_name": None, "uscc": None, "corp_name": None})
    return row

