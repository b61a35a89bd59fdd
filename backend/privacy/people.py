"""A person's privacy page (issue 20 B.1, B.4): who may act for a person, consent events (given at registration,
declined, withdrawn — withdrawal deletes the face), corrections of name / phone / ID number (audited).

Scope: a person is reachable through a project they are or were on (roster entry, or a registration on it) that
the caller sees (``accounts.services.visible_project_ids``: the district's for a supervisor, every one for admin).
Nothing here reveals a person outside that scope: 404 as for an unknown id.
"""

from __future__ import annotations

import logging
from typing import Any

from backend.accounts.services import CurrentUser, visible_project_ids
from backend.approvals.notify import notify, users_of
from backend.crew.enrolment import drop_enrolment
from backend.crew.services.common import team_people
from backend.crew.tables import Registration
from backend.db import write_transaction
from backend.errors import Forbidden, NotFound, invalid
from backend.org.services import rules_for_project
from backend.validators import clean_text
from backend.vocabulary import ConsentAction, ConsentChannel, CorrectionField, Role, label, local_time
from backend.workforce import consent
from backend.workforce import services as workforce
from backend.workforce.tables import Enrolment, Person, PersonCorrection, RosterEntry

log = logging.getLogger("smz.privacy")

# Who records consent answers (those who register people), who withdraws (also the district, on the person's
# request to it), who exports a person's data and corrects it (the project's staff, the district, admin).
CONSENT_ROLES = frozenset({Role.admin, Role.project_staff, Role.foreman, Role.enterprise})
WITHDRAW_ROLES = CONSENT_ROLES | {Role.supervisor}
EXPORT_ROLES = frozenset({Role.admin, Role.project_staff, Role.supervisor})
CORRECT_ROLES = EXPORT_ROLES
REASON_MAX = 200


async def person_projects(person_id: int) -> set[int]:
    """Every project the person is or was on, or has a registration on."""
    ids = set(await workforce.person_project_ids(person_id))
    rows = await Registration.select(Registration.project).where(Registration.person == person_id)
    return ids | {r["project"] for r in rows}


async def scope(user: CurrentUser, person_id: int, roles: frozenset[str], project_id: int | None = None) -> int:
    """The project through which ``user`` acts for the person (``project_id`` if given and shared, else the
    lowest shared one).  404 outside the scope, 403 for a role that may not do this."""
    shared = await person_projects(person_id)
    visible = await visible_project_ids(user)
    if visible is not None:
        shared &= visible
    if project_id is not None:
        shared &= {project_id}
    if user.role == Role.foreman:  # a foreman acts only for their teams' people and the registrations they made
        mine = set()
        for p in shared:
            people = await team_people(user, p)  # None: every person of the project
            if people is None or person_id in people or await Registration.exists().where(
                    (Registration.person == person_id) & (Registration.project == p)
                    & (Registration.created_by == user.id)):
                mine.add(p)
        shared = mine
    if not shared:
        raise NotFound("人员不存在或无权查看", "Person not found or not in your scope", field="person_id")
    if user.role not in roles:
        raise Forbidden("当前角色不能办理此事项", "Your role may not do this", code="role_forbidden")
    return min(shared)


async def consent_state(person_id: int, project_id: int) -> dict[str, Any]:
    """What the person's page shows: the consent in force (version, when, channel, who), the history, the text."""
    rules = await rules_for_project(project_id)
    state = await consent.current(person_id)
    enrolled = await Enrolment.exists().where((Enrolment.person == person_id) & Enrolment.face_template.is_not_null())
    return {
        "in_force": state is not None and state["action"] == ConsentAction.given,
        "current": state and {**state, "action_label": label(state["action"], ConsentAction),
                              "channel_label": label(state["channel"], ConsentChannel),
                              "at_local": local_time(state["recorded_at"])},
        "history": [{**h, "at_local": local_time(h["recorded_at"])} for h in await consent.history(person_id)],
        "enrolled": enrolled, "version": consent.CURRENT_CONSENT_VERSION,
        "text": consent.consent_text(consent.CURRENT_CONSENT_VERSION, rules=rules),
    }


async def record_consent(user: CurrentUser, person_id: int, *, action: str, channel: str, version: str,
                         note: str = "", project_id: int | None = None) -> dict[str, Any]:
    """Record a consent answer.  ``withdrawn``: the face template and photos are deleted in the same transaction
    (``crew.enrolment.drop_enrolment``).  ``declined``: the project's staff get a message — the person is recorded
    and clocks in by the other means the seed allows, without a face."""
    try:
        action = ConsentAction(action)
        channel = ConsentChannel(channel)
    except ValueError:
        raise invalid("action", "同意操作或渠道无效", "Unknown consent action or channel", code="consent_invalid") from None
    roles = WITHDRAW_ROLES if action == ConsentAction.withdrawn else CONSENT_ROLES
    pid = await scope(user, person_id, roles, project_id)
    face_dropped = False
    async with write_transaction():
        rid = await consent.record(person_id, action, channel=channel, version=version, project_id=pid,
                                   user_id=user.id, username=user.username, note=note)
        if action == ConsentAction.withdrawn:
            face_dropped = await drop_enrolment(person_id)
    log.info("consent %s of person %s recorded by user %s (%s, project %s)%s", action, person_id, user.id, channel,
             pid, "; face template deleted" if face_dropped else "")
    if action == ConsentAction.declined:
        name = (await workforce.get_person(person_id))["name"]
        staff = await users_of(Role.project_staff, project_id=pid)
        await notify(staff, "人员未同意人脸采集",
                     f"{name} 未同意采集人脸信息（单独同意）。请按规定以其他方式登记和考勤，人脸考勤不适用于此人。", pid)
    return {"id": rid, "person_id": person_id, "action": action, "action_label": label(action, ConsentAction),
            "face_deleted": face_dropped}


async def correct(user: CurrentUser, person_id: int, *, field: str, value: str, reason: str,
                  project_id: int | None = None) -> dict[str, Any]:
    """Correct the person's name, phone or ID number on their request; one ``person_correction`` row (who, when,
    from, to — ID numbers masked — why) in the same transaction."""
    pid = await scope(user, person_id, CORRECT_ROLES, project_id)
    try:
        what = CorrectionField(field)
    except ValueError:
        raise invalid("field", "只能更正姓名、手机号或身份证号", "Only name, phone or ID number can be corrected",
                      code="field_unknown") from None
    why = clean_text(reason, "reason", "更正原因", max_len=REASON_MAX, required=True) or ""
    async with write_transaction():
        old, new = await workforce.correct_person(person_id, what, value)
        row = PersonCorrection(person=person_id, field=what, old_value=old[:60], new_value=new[:60], reason=why,
                               project=pid, user_id=user.id, username=user.username[:64], role=user.role)
        await row.save()
    log.info("person %s: %s corrected by user %s (project %s)", person_id, what, user.id, pid)
    return {"id": row.id, "field": what, "field_label": label(what, CorrectionField), "old_value": old,
            "new_value": new}


async def corrections(person_id: int) -> list[dict[str, Any]]:
    rows = await PersonCorrection.select().where(PersonCorrection.person == person_id).order_by(
        PersonCorrection.id, ascending=False)
    for r in rows:
        r["field_label"] = label(r["field"], CorrectionField)
        r["at_local"] = local_time(r["corrected_at"])
    return rows


async def person_brief(person_id: int) -> dict[str, Any]:
    row = await Person.select(Person.id, Person.name, Person.id_masked, Person.phone).where(
        Person.id == person_id).first()
    if row is None:
        raise NotFound("人员不存在", "Person not found", field="person_id")
    entries = await RosterEntry.select(
        RosterEntry.project, RosterEntry.project.name.as_alias("project_name"), RosterEntry.entered_on,
        RosterEntry.exited_on).where(RosterEntry.person == person_id).order_by(RosterEntry.entered_on)
    return {**row, "entries": entries}
