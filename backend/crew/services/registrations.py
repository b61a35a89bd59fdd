"""Reading registrations (scope, photos, the duplicate's brief), the step guard, cancelling."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.crew.dictionaries import OPEN_STATUSES, REG_STATUS, REVIEW_KIND
from backend.crew.services.common import EDITOR_ROLES, REVIEWER_ROLES, _editor, _json_list, team_people
from backend.crew.tables import Registration
from backend.errors import Conflict, Forbidden, NotFound
from backend.face.messages import message as face_message
from backend.rules import Rules
from backend.vocabulary import RegistrationStatus, Role
from backend.workforce.tables import Enrolment, Person, RosterEntry

_REG_FIELDS = (
    Registration.id, Registration.project, Registration.person, Registration.status, Registration.created_at,
    Registration.updated_at, Registration.id_front, Registration.id_back, Registration.id_valid_from,
    Registration.id_valid_until, Registration.id_long_term, Registration.existing_entry, Registration.elsewhere,
    Registration.face_distance, Registration.face_tolerance, Registration.face_matched, Registration.liveness_passed,
    Registration.liveness_attempts, Registration.liveness_reasons, Registration.face_checked_at,
    Registration.duplicate_person, Registration.duplicate_distance, Registration.review_kind,
    Registration.review_decision, Registration.reviewed_by, Registration.reviewed_at, Registration.review_note,
    Registration.roster_entry, Registration.account_user, Registration.completed_at,
    Registration.person.name.as_alias("name"), Registration.person.id_masked.as_alias("id_masked"),
    Registration.person.gender.as_alias("gender"), Registration.person.birth_date.as_alias("birth_date"),
    Registration.person.ethnicity.as_alias("ethnicity"), Registration.person.phone.as_alias("phone"),
    Registration.project.name.as_alias("project_name"),
)


def _present(r: dict[str, Any]) -> dict[str, Any]:
    r["elsewhere"] = _json_list(r.get("elsewhere"))
    r["liveness_reasons"] = [
        {"code": c, "message": face_message(c)[0]} for c in _json_list(r.get("liveness_reasons"))
    ]
    r["status_label"] = REG_STATUS.get(r["status"], r["status"])
    r["review_kind_label"] = REVIEW_KIND.get(r.get("review_kind") or "", "")
    for k in ("face_distance", "duplicate_distance", "face_tolerance"):
        if r.get(k) is not None:
            r[k] = round(float(r[k]), 4)
    return r


async def _check_reg_scope(user: CurrentUser, project_id: int, rid: int) -> None:
    """A foreman works on the registrations they started and on people of their own teams; a worker only on
    their own.  Others' registrations answer 404 (their existence is not revealed)."""
    if user.role not in (Role.foreman, Role.worker):
        return
    row = await Registration.select(Registration.person, Registration.created_by).where(
        (Registration.id == rid) & (Registration.project == project_id)).first()
    if row is None:
        return  # _registration answers 404
    if user.role == Role.worker:
        ok = user.person_id is not None and row["person"] == user.person_id
    else:
        ok = row["created_by"] == user.id or row["person"] in (await team_people(user, project_id) or set())
    if not ok:
        raise NotFound("登记记录不存在", "Registration not found", field="registration_id")


async def _registration(project_id: int, rid: int) -> dict[str, Any]:
    row = await Registration.select(*_REG_FIELDS).where(
        (Registration.id == rid) & (Registration.project == project_id)
    ).first()
    if row is None:
        raise NotFound("登记记录不存在", "Registration not found", field="registration_id")
    return _present(row)


async def get_registration(user: CurrentUser, project_id: int, rid: int) -> dict[str, Any]:
    await require_project(user, project_id)
    if user.role not in EDITOR_ROLES | REVIEWER_ROLES:
        raise Forbidden("无权查看登记记录", "You may not see registrations")
    await _check_reg_scope(user, project_id, rid)
    reg = await _registration(project_id, rid)
    if reg["duplicate_person"]:
        reg["duplicate"] = await _person_brief(reg["duplicate_person"], await visible_project_ids(user))
    return reg


async def _person_brief(person_id: int, visible: set[int] | None = None) -> dict[str, Any]:
    """Who a duplicate face belongs to.  ``visible`` is the caller's project scope (None = all): the person
    and their projects are shown only where the caller may see them; otherwise only that one exists."""
    p = await Person.select(Person.id, Person.name, Person.id_masked).where(Person.id == person_id).first()
    if p is None:
        return {"id": person_id}
    entries = await RosterEntry.select(
        RosterEntry.project, RosterEntry.project.name.as_alias("project_name"), RosterEntry.entered_on,
        RosterEntry.exited_on,
    ).where(RosterEntry.person == person_id).order_by(RosterEntry.id)
    shown = [r for r in entries if visible is None or r["project"] in visible]
    if visible is not None and not shown:
        return {"id": None, "name": None, "id_masked": None, "projects": [], "hidden": True}
    p["projects"] = [
        {"project_name": r["project_name"], "entered_on": r["entered_on"].isoformat(),
         "exited_on": r["exited_on"].isoformat() if r["exited_on"] else None}
        for r in shown
    ]
    return p


async def list_registrations(user: CurrentUser, project_id: int, *, open_only: bool = True) -> list[dict[str, Any]]:
    """Registrations of a project: a worker sees only their own, a foreman those they started and those of
    people of their own teams."""
    await require_project(user, project_id)
    if user.role not in EDITOR_ROLES | REVIEWER_ROLES | {Role.worker}:
        raise Forbidden("无权查看登记记录", "You may not see registrations")
    q = Registration.select(*_REG_FIELDS).where(Registration.project == project_id).order_by(
        Registration.id, ascending=False)
    if user.role == Role.worker:
        if user.person_id is None:
            return []
        q = q.where(Registration.person == user.person_id)
    elif user.role == Role.foreman:
        people = await team_people(user, project_id) or set()
        mine = Registration.created_by == user.id
        q = q.where(mine | Registration.person.is_in(sorted(people)) if people else mine)
    if open_only:
        q = q.where(Registration.status.is_in(sorted(OPEN_STATUSES)))
    return [_present(r) for r in await q.limit(200)]


async def registration_photo(user: CurrentUser, project_id: int, rid: int, which: str) -> bytes:
    await require_project(user, project_id)
    if user.role not in EDITOR_ROLES | REVIEWER_ROLES:
        raise Forbidden("无权查看登记照片", "You may not see registration photos")
    await _check_reg_scope(user, project_id, rid)
    col = {"id_photo": Registration.id_photo, "face_photo": Registration.face_photo}.get(which)
    if col is None:
        raise NotFound("照片不存在", "Photo not found", field="which")
    row = await Registration.select(col.as_alias("photo")).where(
        (Registration.id == rid) & (Registration.project == project_id)).first()
    if row is None or not row["photo"]:
        raise NotFound("照片不存在", "Photo not found", field="which")
    return bytes(row["photo"])


async def duplicate_photo(user: CurrentUser, rid: int) -> bytes:
    """The enrolment photo of the person whose face matched (for the reviewer only)."""
    if user.role not in REVIEWER_ROLES:
        raise Forbidden("仅主管部门审核人员可查看", "Only reviewers may see this photo")
    reg = await Registration.select(Registration.project, Registration.duplicate_person).where(
        Registration.id == rid).first()
    if reg is None or reg["duplicate_person"] is None:
        raise NotFound("照片不存在", "Photo not found")
    await require_project(user, reg["project"])
    row = await Enrolment.select(Enrolment.face_photo).where(Enrolment.person == reg["duplicate_person"]).first()
    if row is None or not row["face_photo"]:
        raise NotFound("照片不存在", "Photo not found")
    return bytes(row["face_photo"])


async def _for_step(user: CurrentUser, project_id: int, rid: int, status: str) -> tuple[dict[str, Any], Rules]:
    rules = await _editor(user, project_id)
    await _check_reg_scope(user, project_id, rid)
    reg = await _registration(project_id, rid)
    if reg["status"] != status:
        raise Conflict(f"该登记当前状态为“{reg['status_label']}”，不能执行此步骤",
                       f"The registration is {reg['status']}; this step needs {status}",
                       field="registration_id", code="wrong_step")
    return reg, rules


async def _template(rid: int, col: Any) -> bytes:
    row = await Registration.select(col.as_alias("t")).where(Registration.id == rid).first()
    return bytes(row["t"])


async def cancel_registration(user: CurrentUser, project_id: int, rid: int) -> None:
    await _editor(user, project_id)
    await _check_reg_scope(user, project_id, rid)
    updated = await Registration.update({Registration.status: RegistrationStatus.cancelled, Registration.updated_at: datetime.now(UTC)}).where(
        (Registration.id == rid) & (Registration.project == project_id)
        & Registration.status.is_in(sorted(OPEN_STATUSES))
    ).returning(Registration.id)
    if not updated:
        raise Conflict("该登记不能取消（已完成或已结束）", "This registration can no longer be cancelled",
                       field="registration_id", code="wrong_step")


