"""Registration step 3: roster entry, enrolment, contract and account in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.accounts.services import CurrentUser, create_user
from backend.accounts.tables import User
from backend.crew import validation as v
from backend.crew.dictionaries import REG_STATUS
from backend.crew.enrolment import save_enrolment
from backend.crew.services.accounts import _free_username, initial_password
from backend.crew.services.contracts import ContractIn, _check_contract, _insert_contract, gate_notices
from backend.crew.services.registrations import _for_step
from backend.crew.tables import Registration
from backend.db import write_transaction
from backend.errors import Conflict, invalid
from backend.org import services as org
from backend.validators import parse_phone
from backend.vocabulary import RegistrationStatus, Role, local_today
from backend.workforce import services as workforce

log = logging.getLogger("smz.crew")

@dataclass(frozen=True)
class RosterStep:
    unit_id: int | None
    team_id: int | None
    work_role: str
    post: str | None = None
    work_type: str | None = None
    entered_on: date | None = None
    phone: str | None = None
    contract: ContractIn | None = None


async def complete_registration(user: CurrentUser, project_id: int, rid: int, step: RosterStep) -> dict[str, Any]:
    reg, rules = await _for_step(user, project_id, rid, RegistrationStatus.face_checked)
    today = local_today()
    phone = parse_phone(step.phone)
    if step.entered_on is not None and step.entered_on > today:
        raise invalid("entered_on", "进场日期不能晚于今天", "The entry date cannot be in the future")
    if reg["existing_entry"] is None:
        if step.team_id is None or step.unit_id is None:
            raise invalid("team_id", "请选择参建单位和班组", "Choose the unit and the team")
        team = await org.team_in_project(step.team_id, project_id)
        unit = await org.unit_in_project(step.unit_id, project_id)
        v.check_roster_choice(step.work_role, step.post or None, step.work_type or None, team["kind"],
                              unit["unit_type"])
    contract_type = _check_contract(step.contract, rules, today) if step.contract else None
    templates = await Registration.select(Registration.face_template, Registration.face_photo,
                                          Registration.id_photo).where(Registration.id == rid).first()
    person_id = reg["person"]
    password: str | None = None
    async with write_transaction():
        entry_id = reg["existing_entry"] or await workforce.enter_roster(
            project_id=project_id, person_id=person_id, unit_id=step.unit_id or 0, team_id=step.team_id or 0,
            work_role=step.work_role, post=step.post or None, work_type=step.work_type or None,
            entered_on=step.entered_on,
        )
        # a person other projects also have keeps their phone (only an empty one is filled in)
        kept = await workforce.update_shared_fields(person_id, project_id, {"phone": phone})
        await save_enrolment(person_id, bytes(templates["face_template"]), bytes(templates["face_photo"]),
                             bytes(templates["id_photo"]) if templates["id_photo"] else None, source="tablet")
        if step.contract is not None and contract_type is not None:
            await _insert_contract(project_id, person_id, entry_id, step.contract, contract_type, user.id)
        account = await User.select(User.id, User.username).where(
            (User.person == person_id) & (User.role == Role.worker)).first()
        if account is None:
            password = initial_password()
            username = await _free_username(phone, person_id)
            account_id = await create_user(username, password, Role.worker, display_name=reg["name"], phone=phone,
                                           person_id=person_id, must_change_password=True)
        else:
            account_id, username = account["id"], account["username"]
        updated = await Registration.update({
            Registration.status: RegistrationStatus.completed, Registration.roster_entry: entry_id,
            Registration.account_user: account_id, Registration.completed_at: datetime.now(UTC),
            Registration.updated_at: datetime.now(UTC),
        }).where((Registration.id == rid) & (Registration.status == RegistrationStatus.face_checked)).returning(Registration.id)
        if not updated:
            raise Conflict("该登记已被他人处理，请刷新页面", "The registration changed meanwhile; reload",
                           field="registration_id", code="wrong_step")
    log.info("registration %s completed: roster entry %s, account %s", rid, entry_id, account_id)
    # told, never refused: the district's age notice (seed 000 §六) and, without a contract in force, that the
    # gate will not admit them (seed 001 §五(十一))
    notices = await workforce.person_notices(project_id, person_id, today)
    on_gate, gate = await gate_notices(project_id, entry_id, rules)
    return {
        "id": rid, "status": RegistrationStatus.completed, "status_label": REG_STATUS[RegistrationStatus.completed], "roster_entry_id": entry_id,
        "person_id": person_id, "name": reg["name"], "id_masked": reg["id_masked"], "username": username,
        "initial_password": password, "account_created": password is not None, "kept_fields": list(kept),
        "message": workforce.kept_message(kept), "notices": notices + gate, "on_gate": on_gate,
    }


