"""Labour contracts and exits (退场) of roster entries; who of a roster the gate admits (seed 001 §五(十一))."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from backend import money
from backend.accounts.services import CurrentUser, require_project
from backend.crew import validation as v
from backend.crew.dictionaries import CONTRACT_TYPE, DOCUMENT_TYPES
from backend.crew.services.common import EDITOR_ROLES, REVIEWER_ROLES, _editor
from backend.crew.services.files import _save_file
from backend.crew.tables import CrewFile, ExitConfirmation, LabourContract
from backend.db import write_transaction
from backend.errors import Conflict, Forbidden, NotFound, invalid
from backend.org import services as org
from backend.outbox import enqueue
from backend.rules import Rules
from backend.validators import clean_text
from backend.vocabulary import WAGE_UNIT_ZH, Role, local_today
from backend.workforce import services as workforce
from backend.workforce.services import Notice
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
    wage_unit: str = ""  # 计量单位 (vocabulary.WageUnit; "" when not stated) — seed 001 §2.9
    wage_rate_fen: int | None = None  # 计量单价 in fen: the payroll fills 应发 from it and the days attended


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
                         starts_on=c.starts_on, ends_on=c.ends_on, file=fid, uploaded_by=user_id,
                         wage_unit=c.wage_unit, wage_rate_fen=c.wage_rate_fen)
    await row.save()
    await enqueue("contract", row.id, "add", project_id=project_id)  # platform upload (issue 17), same transaction
    return row.id


async def _entry(project_id: int, entry_id: int) -> dict[str, Any]:
    row = await RosterEntry.select().where((RosterEntry.id == entry_id) & (RosterEntry.project == project_id)).first()
    if row is None:
        raise NotFound("花名册记录不存在", "Roster entry not found", field="entry_id")
    return row


async def add_contract(user: CurrentUser, project_id: int, entry_id: int, c: ContractIn) -> int:
    await _editor(user, project_id)
    return await record_contract(project_id, entry_id, c, user.id)


async def record_contract(project_id: int, entry_id: int, c: ContractIn, user_id: int | None = None) -> int:
    """A labour contract of a roster entry, checked and stored with its file (no role check: callers do it)."""
    rules = await org.rules_for_project(project_id)
    entry = await _entry(project_id, entry_id)
    content_type = _check_contract(c, rules, local_today())
    async with write_transaction():
        return await _insert_contract(project_id, entry["person"], entry_id, c, content_type, user_id)


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
        LabourContract.wage_unit, LabourContract.wage_rate_fen,
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
    today = local_today()
    for r in rows:
        r["contract_type_label"] = CONTRACT_TYPE[r["contract_type"]]
        r["wage_terms"] = (f"{WAGE_UNIT_ZH.get(r['wage_unit'], r['wage_unit'])} {money.yuan_grouped(r['wage_rate_fen'])} 元"
                           if r["wage_unit"] and r["wage_rate_fen"] is not None else "")
        r["current"] = r["starts_on"] <= today and (r["ends_on"] is None or r["ends_on"] >= today)
    return rows


# ============================================================================ the gate: no contract, no entry
# seed 001 §五(十一): 未与施工总承包单位或者分包单位订立劳动合同并进行用工实名登记的人员，不得进入工地从事相关施工活动.


def contract_in_force(day: date) -> Any:
    """A Piccolo WHERE expression on ``RosterEntry``: the entry has a labour contract in force on ``day``
    (started, not ended) — one sub-select, so the whitelist stays one query."""
    return RosterEntry.id.is_in(LabourContract.select(LabourContract.roster_entry).where(
        (LabourContract.starts_on <= day) & (LabourContract.ends_on.is_null() | (LabourContract.ends_on >= day))))


def admitted_to_site(day: date, rules: Rules) -> Any:
    """Who of a roster may pass the gate on ``day`` (seed 001 §五(十一)): a contract in force, or — where the
    district allows it — still within ``rules.contract_grace_days`` of the entry date.  The devices' whitelist
    (849) and person look-up (845) add this to the roster predicate."""
    held = contract_in_force(day)
    if rules.contract_grace_days > 0:
        held = held | (RosterEntry.entered_on > day - timedelta(days=rules.contract_grace_days))
    return held


def in_grace(entered_on: date | None, day: date, rules: Rules) -> date | None:
    """The last day of the district's grace for signing (None when there is none or it is over)."""
    if entered_on is None or rules.contract_grace_days <= 0:
        return None
    last = entered_on + timedelta(days=rules.contract_grace_days - 1)
    return last if last >= day else None


# Why a person on the roster is not on the gate whitelist, by contract state (crew.services.roster).
NO_CONTRACT = {"missing": "未签劳动合同", "expired": "劳动合同已到期", "future": "劳动合同尚未生效"}
NO_CONTRACT_EN = {"missing": "No labour contract", "expired": "The labour contract has ended",
                  "future": "The labour contract has not started"}
NOT_ON_GATE = {k: f"{zh}，未下发到闸机" for k, zh in NO_CONTRACT.items()}
NOT_ON_GATE_EN = {k: f"{en}: not sent to the gate terminals" for k, en in NO_CONTRACT_EN.items()}


def gate_status(state: str, entered_on: date | None, enrolled: bool, exited: bool, day: date,
                rules: Rules) -> tuple[bool, str, str]:
    """(on the whitelist, why not / what to know in Chinese, in English) for one roster row — the same rule
    as ``admitted_to_site`` plus the enrolment the whitelist also needs."""
    if exited:
        return False, "", ""
    if state != "valid":
        grace = in_grace(entered_on, day, rules)
        if grace is None:
            return False, NOT_ON_GATE[state], NOT_ON_GATE_EN[state]
        if enrolled:
            return (True, f"{NO_CONTRACT[state]}：本地区宽限期至 {grace.isoformat()}，已下发闸机，请尽快签订",
                    f"{NO_CONTRACT_EN[state]}: admitted until {grace.isoformat()} (the district's grace)")
    if not enrolled:
        return False, "未采集人脸，未下发到闸机", "No face enrolled: not sent to the gate terminals"
    return True, "", ""


async def gate_notices(project_id: int, entry_id: int, rules: Rules, day: date | None = None) -> tuple[bool, list[Notice]]:
    """What the foreman is told after an entry about the gate: whether the contract rule lets the entry onto
    the whitelist (a face must be enrolled too) and, when no contract is in force, a notice saying so."""
    day = day or await workforce.project_today(project_id)
    entry = await RosterEntry.select(RosterEntry.entered_on).where(RosterEntry.id == entry_id).first()
    rows = await LabourContract.select(LabourContract.starts_on, LabourContract.ends_on).where(
        LabourContract.roster_entry == entry_id)
    state = contract_state(rows, day)
    if state == "valid":
        return True, []
    admitted, zh, en = gate_status(state, entry["entered_on"] if entry else None, True, False, day, rules)
    return admitted, [Notice("no_contract", zh + "（未订立劳动合同的人员不得进入工地，请上传劳动合同）",
                             en + " (people without a labour contract may not work on site; upload the contract)")]


def contract_state(contracts: list[dict[str, Any]], today: date) -> str:
    """``valid`` (one runs today), ``expired`` (all ended), ``future`` (none yet started) or ``missing``."""
    if any(c["starts_on"] <= today and (c["ends_on"] is None or c["ends_on"] >= today) for c in contracts):
        return "valid"
    if contracts:
        return "expired" if all(c["ends_on"] is not None and c["ends_on"] < today for c in contracts) else "future"
    return "missing"


# ============================================================================ exits (退场)


async def upload_exit_document(user: CurrentUser, project_id: int, data: bytes | None, filename: str = "") -> int:
    """Store a signed 退场确认书 for a later exit through the roster API (``record_exit``); returns its id."""
    rules = await _editor(user, project_id)
    content_type = v.check_upload(data, field="file", label="退场确认书", allowed=DOCUMENT_TYPES,
                                  max_bytes=rules.crew_document_max_bytes)
    assert data is not None
    async with write_transaction():
        return await _save_file(project_id, "exit_confirmation", data, content_type, filename, user.id)


async def _exit_document(project_id: int, file_id: int) -> None:
    """An uploaded 退场确认书 of THIS project not yet used by another exit."""
    f = await CrewFile.select(CrewFile.kind).where((CrewFile.id == file_id) & (CrewFile.project == project_id)).first()
    if f is None or f["kind"] != "exit_confirmation":
        raise invalid("confirmation_file_id", "退场确认书文件不存在（请先上传本项目的退场确认书）",
                      "No such exit confirmation document on this project (upload it first)",
                      code="exit_document_unknown")
    if await ExitConfirmation.exists().where(ExitConfirmation.file == file_id):
        raise Conflict("该退场确认书已用于其他人员的退场", "This exit confirmation was already used for another exit",
                       field="confirmation_file_id", code="exit_document_used")


async def record_exit(project_id: int, entry_id: int, *, exited_on: date | None, note: str = "",
                      workload_confirmed: bool, wages_settled: bool, document: bytes | None = None,
                      filename: str = "", document_id: int | None = None, user_id: int | None = None) -> dict[str, Any]:
    """退场 for every path (tablet form, roster API): seed 004 §三(五) — workload confirmed, wages settled, the
    signed 退场确认书 (``document``: the file now; or ``document_id``: one uploaded before).  The rule is
    ``workforce.check_exit``, run before anything is stored; then the exit, the document and what was
    affirmed are written in one transaction (``workforce.exit_roster`` re-checks).  The gate whitelist drops
    the person after the exit date (the exit day itself still counts)."""
    rules = await org.rules_for_project(project_id)
    entry = await _entry(project_id, entry_id)
    if entry["exited_on"] is not None:
        raise Conflict("此人已退场", "Already exited", field="entry_id")
    workforce.check_exit(exited_on=exited_on, has_confirmation=bool(document) or document_id is not None,
                         workload_confirmed=workload_confirmed, wages_settled=wages_settled,
                         entered_on=entry["entered_on"], today=await workforce.project_today(project_id))
    note = clean_text(note, "note", "备注", max_len=500, multiline=True) or ""
    content_type = ""
    if document_id is None:
        content_type = v.check_upload(document, field="confirmation", label="退场确认书", allowed=DOCUMENT_TYPES,
                                      max_bytes=rules.crew_document_max_bytes)
    else:
        await _exit_document(project_id, document_id)
    async with write_transaction():
        if document_id is None:
            assert document is not None
            document_id = await _save_file(project_id, "exit_confirmation", document, content_type, filename, user_id)
        else:
            await _exit_document(project_id, document_id)  # again, inside the transaction
        await workforce.exit_roster(project_id, entry_id, workforce.ExitIn(
            exited_on=exited_on, confirmation_file=document_id, workload_confirmed=workload_confirmed,
            wages_settled=wages_settled, note=note))
        await ExitConfirmation(roster_entry=entry_id, file=document_id, exited_on=exited_on, note=note,
                               workload_confirmed=workload_confirmed, wages_settled=wages_settled,
                               recorded_by=user_id).save()
    assert exited_on is not None
    return {"entry_id": entry_id, "exited_on": exited_on.isoformat(), "file_id": document_id,
            "workload_confirmed": True, "wages_settled": True}


async def exit_person(user: CurrentUser, project_id: int, entry_id: int, *, exited_on: date | None, note: str,
                      confirmation: bytes | None, filename: str = "", workload_confirmed: bool = False,
                      wages_settled: bool = False) -> dict[str, Any]:
    """退场 on the foreman's tablet: the editor's check, then ``record_exit`` (the one exit rule)."""
    await _editor(user, project_id)
    return await record_exit(project_id, entry_id, exited_on=exited_on, note=note, document=confirmation,
                             filename=filename, workload_confirmed=workload_confirmed, wages_settled=wages_settled,
                             user_id=user.id)
