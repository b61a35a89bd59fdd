"""Labour contracts and exits (退场) of roster entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.accounts.services import CurrentUser, require_project
from backend.crew import validation as v
from backend.crew.dictionaries import CONTRACT_TYPE, DOCUMENT_TYPES
from backend.crew.services.common import EDITOR_ROLES, REVIEWER_ROLES, _editor
from backend.crew.services.files import _save_file
from backend.crew.tables import ExitConfirmation, LabourContract
from backend.db import write_transaction
from backend.errors import Forbidden, NotFound, invalid
from backend.rules import Rules
from backend.validators import clean_text
from backend.vocabulary import Role
from backend.workforce import services as workforce
from backend.workforce.tables import RosterEntry


@dataclass(frozen=True)
class ContractIn:
    contract_type: str
    starts_on: date | None
    ends_on: date | None = None
    signed_on: date | None = None
    contract_no: str = ""
    data: bytes | None = None
    filename: str = ""


def _check_contract(c: ContractIn, rules: Rules, today: date) -> str:
    v.check_contract(c.contract_type, c.starts_on, c.ends_on, c.signed_on, today, c.contract_no)
    return v.check_upload(c.data, field="contract_file", label="劳动合同", allowed=DOCUMENT_TYPES,
                          max_bytes=rules.crew_document_max_bytes)


async def _insert_contract(project_id: int, person_id: int, entry_id: int, c: ContractIn, content_type: str,
                           user_id: int | None) -> int:
    assert c.data is not None and c.starts_on is not None
    fid = await _save_file(project_id, "contract", c.data, content_type, c.filename, user_id)
    row = LabourContract(project=project_id, person=person_id, roster_entry=entry_id,
                         contract_no=c.contract_no.strip(), contract_type=c.contract_type, signed_on=c.signed_on,
                         starts_on=c.starts_on, ends_on=c.ends_on, file=fid, uploaded_by=user_id)
    await row.save()
    return row.id


async def _entry(project_id: int, entry_id: int) -> dict[str, Any]:
    row = await RosterEntry.select().where((RosterEntry.id == entry_id) & (RosterEntry.project == project_id)).first()
    if row is None:
        raise NotFound("花名册记录不存在", "Roster entry not found", field="entry_id")
    return row


async def add_contract(user: CurrentUser, project_id: int, entry_id: int, c: ContractIn) -> int:
    rules = await _editor(user, project_id)
    entry = await _entry(project_id, entry_id)
    content_type = _check_contract(c, rules, date.today())
    async with write_transaction():
        return await _insert_contract(project_id, entry["person"], entry_id, c, content_type, user.id)


async def list_contracts(user: CurrentUser, project_id: int, entry_id: int | None = None) -> list[dict[str, Any]]:
    """Labour contracts of a project (or of one roster entry): a worker sees only their own, a foreman those
    of their own teams."""
    await require_project(user, project_id)
    if user.role not in EDITOR_ROLES | REVIEWER_ROLES | {Role.worker}:
        raise Forbidden("无权查看劳动合同", "You may not see labour contracts")
    q = LabourContract.select(
        LabourContract.id, LabourContract.roster_entry, LabourContract.person,
        LabourContract.person.name.as_alias("name"), LabourContract.contract_no, LabourContract.contract_type,
        LabourContract.signed_on, LabourContract.starts_on, LabourContract.ends_on, LabourContract.file,
        LabourContract.file.content_type.as_alias("content_type"), LabourContract.created_at,
    ).where(LabourContract.project == project_id).order_by(LabourContract.id)
    if entry_id is not None:
        q = q.where(LabourContract.roster_entry == entry_id)
    if user.role == Role.worker:
        if user.person_id is None:
            return []
        q = q.where(LabourContract.person == user.person_id)
    else:
        teams = await workforce.team_scope(user.role, user.person_id, project_id)
        if teams is not None:
            if not teams:
                return []
            q = q.where(LabourContract.roster_entry.team.is_in(sorted(teams)))
    rows = await q
    today = date.today()
    for r in rows:
        r["contract_type_label"] = CONTRACT_TYPE[r["contract_type"]]
        r["current"] = r["starts_on"] <= today and (r["ends_on"] is None or r["ends_on"] >= today)
    return rows


async def exit_person(user: CurrentUser, project_id: int, entry_id: int, *, exited_on: date | None, note: str,
                      confirmation: bytes | None, filename: str = "") -> dict[str, Any]:
    """退场: date + the signed exit confirmation (seed 004 §三(五)); the gate whitelist drops the person
    after the exit date (backend/devices/gate.py: exited_on ≥ today still counts)."""
    rules = await _editor(user, project_id)
    if exited_on is None:
        raise invalid("exited_on", "请填写退场日期", "The exit date is required")
    if exited_on > date.today():
        raise invalid("exited_on", "退场日期不能晚于今天", "The exit date cannot be in the future")
    content_type = v.check_upload(confirmation, field="confirmation", label="退场确认书", allowed=DOCUMENT_TYPES,
                                  max_bytes=rules.crew_document_max_bytes)
    note = clean_text(note, "note", "备注", max_len=500, multiline=True) or ""
    await _entry(project_id, entry_id)
    assert confirmation is not None
    async with write_transaction():
        await workforce.exit_roster(project_id, entry_id, exited_on, note or "")
        fid = await _save_file(project_id, "exit_confirmation", confirmation, content_type, filename, user.id)
        await ExitConfirmation(roster_entry=entry_id, file=fid, exited_on=exited_on, note=note or "",
                               recorded_by=user.id).save()
    return {"entry_id": entry_id, "exited_on": exited_on.isoformat(), "file_id": fid}


