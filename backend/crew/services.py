"""Crew registration: the only module of the domain with queries.

Flow of one registration (one row of ``crew_registration``):

1. ``start_registration`` — the ID card: photos of both sides and the fields (typed or OCR-prefilled)
   pass ``validation.check_id_card``; the card's portrait is found and encoded (face service,
   ``verify`` limits); a duplicate entry on the same project is refused, active entries on other
   projects are returned as a warning.  The person is created (or their card data updated) and the
   registration stored — in one transaction.
2. ``issue_challenge`` / ``submit_face`` — 人证核验: a liveness challenge of the clock-in mechanism
   (``LivenessChallenge`` + ``backend.clockin.services.consume_challenge``), the burst judged by
   ``FaceService.check_liveness`` against the ID-card template; the best frame must pass the
   enrolment quality rules (seed 002) and is searched 1:N over every enrolled template.  Distance and
   result are stored.  A mismatch → ``pending_confirmation`` (a supervisor confirms with a note); the
   same face under another ID number → ``pending_review`` (blocked until reviewed).
3. ``complete_registration`` — roster entry (team, unit, role, post/work type, entry date), the
   enrolment (``crew.enrolment.save_enrolment``, the one enrolment write the gate's 852 uses too: the
   gate whitelist picks it up, the face-index version is bumped once), an optional labour contract, and
   a worker account for the phone PWA with a one-time initial password — all in one transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend.accounts.services import CurrentUser, create_user, require_project, reset_password, visible_project_ids
from backend.accounts.tables import User
from backend.bounded import get_runner
from backend.clockin.services import consume_challenge
from backend.clockin.tables import LivenessChallenge
from backend.crew import imaging, xlsx
from backend.crew import validation as v
from backend.crew.dictionaries import (
    CONTRACT_TYPE,
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    IMPORT_STATUS,
    OPEN_STATUSES,
    REG_STATUS,
    REVIEW_KIND,
    REVIEW_STATUSES,
)
from backend.crew.enrolment import active_elsewhere, face_index, save_enrolment
from backend.crew.tables import (
    CrewFile,
    ExitConfirmation,
    IdAccessLog,
    ImportJob,
    LabourContract,
    Registration,
)
from backend.crypto import decrypt_text, encrypt_text, lookup_hash
from backend.db import write_transaction
from backend.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge, invalid
from backend.face import liveness as lv
from backend.face.messages import message as face_message
from backend.face.service import FaceService, face_distance, get_face_service
from backend.org import services as org
from backend.org.tables import Project, Team
from backend.rules import Rules
from backend.validators import ETHNICITY, clean_text, mask_id, parse_phone, sanitize_filename
from backend.vocabulary import ImportStatus, RegistrationStatus, ReviewKind, Role
from backend.workforce import services as workforce
from backend.workforce.dictionaries import POSTS, WORK_ROLE, WORK_TYPES
from backend.workforce.tables import Enrolment, Person, RosterEntry

log = logging.getLogger("smz.crew")
_sysrand = random.SystemRandom()

# Roles that register people (within their projects) and roles that review faces.
EDITOR_ROLES = frozenset({Role.admin, Role.foreman, Role.project_staff, Role.enterprise})
REVIEWER_ROLES = frozenset({Role.admin, Role.supervisor})


def face_service() -> FaceService:
    """The app's face service (a seam for tests that stand in for the camera)."""
    return get_face_service()


def _json_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return list(json.loads(value or "[]"))
    return list(value)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


async def _editor(user: CurrentUser, project_id: int) -> Rules:
    if user.role not in EDITOR_ROLES:
        raise Forbidden("当前角色不能登记人员", "Your role may not register people", code="role_forbidden")
    await require_project(user, project_id, write=True)
    return await org.rules_for_project(project_id)


# ============================================================================ files


async def _save_file(project_id: int, kind: str, data: bytes, content_type: str, filename: str,
                     user_id: int | None) -> int:
    f = CrewFile(project=project_id, kind=kind, content_type=content_type, size=len(data),
                 sha256=hashlib.sha256(data).hexdigest(), filename=sanitize_filename(filename), data=data,
                 uploaded_by=user_id)
    await f.save()
    return f.id


async def get_file(user: CurrentUser, project_id: int, file_id: int) -> dict[str, Any]:
    await require_project(user, project_id)
    if user.role == Role.worker:
        raise Forbidden("工人不能查看项目文件", "Workers may not open project files")
    row = await CrewFile.select(CrewFile.id, CrewFile.kind, CrewFile.content_type, CrewFile.filename,
                                CrewFile.data).where((CrewFile.id == file_id) & (CrewFile.project == project_id)).first()
    if row is None or (user.role == Role.foreman and not await _foreman_may_open(user, project_id, file_id)):
        raise NotFound("文件不存在", "File not found", field="file_id")
    return row


async def _foreman_may_open(user: CurrentUser, project_id: int, file_id: int) -> bool:
    """A foreman opens the files of their own teams' people and of the registrations they started."""
    people = await team_people(user, project_id) or set()
    if people:
        if await LabourContract.exists().where((LabourContract.file == file_id) & LabourContract.person.is_in(sorted(people))):
            return True
        if await ExitConfirmation.exists().where(
                (ExitConfirmation.file == file_id) & ExitConfirmation.roster_entry.person.is_in(sorted(people))):
            return True
    mine = Registration.created_by == user.id
    who = mine | Registration.person.is_in(sorted(people)) if people else mine
    return await Registration.exists().where(
        (Registration.project == project_id) & ((Registration.id_front == file_id) | (Registration.id_back == file_id))
        & who)


# ============================================================================ step 1: the ID card


@dataclass(frozen=True)
class IdStep:
    card: v.IdCard
    front: bytes | None
    back: bytes | None
    front_name: str = ""
    back_name: str = ""


def _prefixed(err: AppError, zh_prefix: str, en_prefix: str, field: str) -> AppError:
    err.zh, err.en, err.field = f"{zh_prefix}{err.zh}", f"{en_prefix}{err.en}", field
    return err


async def start_registration(user: CurrentUser, project_id: int, step: IdStep) -> dict[str, Any]:
    rules = await _editor(user, project_id)
    today = date.today()
    checked = v.check_id_card(step.card, rules, today)
    front_type = v.check_upload(step.front, field="id_front", label="身份证人像面照片", allowed=IMAGE_TYPES,
                                max_bytes=rules.crew_document_max_bytes)
    back_type = v.check_upload(step.back, field="id_back", label="身份证国徽面照片", allowed=IMAGE_TYPES,
                               max_bytes=rules.crew_document_max_bytes)
    assert step.front is not None and step.back is not None
    number = checked.info.number
    person_id = await workforce.find_person_id(number)
    existing_entry: int | None = None
    if person_id is not None:
        entry = await workforce.active_entry(project_id, person_id)
        if entry is not None:
            if person_id in await workforce.enrolled_person_ids([person_id]):
                raise Conflict("此人已在本项目花名册中且已采集人脸，不能重复登记",
                               "This person is already on the project's roster and enrolled",
                               field="id_number", code="duplicate_roster_entry")
            existing_entry = entry["id"]  # imported without a face: this registration enrols them
        running = await Registration.select(Registration.id).where(
            (Registration.project == project_id) & (Registration.person == person_id)
            & Registration.status.is_in(sorted(OPEN_STATUSES))
        ).first()
        if running is not None:
            raise Conflict(f"此人在本项目已有进行中的登记（编号 {running['id']}），请继续该登记",
                           f"A registration of this person is already open (no. {running['id']})",
                           field="id_number", code="registration_open", extra={"registration_id": running["id"]})
    # The card's portrait: found and encoded before anything is written (face work is slow).
    try:
        face = await face_service().encode(step.front, purpose="verify", field="id_front", rules=rules,
                                           max_bytes=rules.crew_document_max_bytes)
    except (InvalidInput, PayloadTooLarge) as e:
        raise _prefixed(e, "身份证人像面照片：", "ID card portrait side: ", "id_front") from None
    crop = await asyncio.to_thread(imaging.portrait_crop, step.front, face.box_in_original(),
                                   rules.gate_id_photo_max_bytes)
    visible = await visible_project_ids(user)
    elsewhere = await active_elsewhere(person_id, project_id, visible) if person_id is not None else []
    async with write_transaction():
        saved = await workforce.save_person(
            id_number=number, name=checked.name, ethnicity=checked.ethnicity, birth_date=checked.info.birth_date,
            gender=checked.info.gender, address=checked.address, id_issuer=checked.issuer,
            id_valid_until=checked.valid_until, project_id=project_id,
        )
        person_id = saved.person_id
        front_id = await _save_file(project_id, "id_front", step.front, front_type, step.front_name, user.id)
        back_id = await _save_file(project_id, "id_back", step.back, back_type, step.back_name, user.id)
        reg = Registration(
            project=project_id, person=person_id, status=RegistrationStatus.id_checked, created_by=user.id,
            id_front=front_id, id_back=back_id, id_valid_from=checked.valid_from, id_valid_until=checked.valid_until,
            id_long_term=checked.long_term, id_photo=crop, id_template=face.encoding, existing_entry=existing_entry,
            elsewhere=elsewhere,
        )
        await reg.save()
    log.info("registration %s started for %s on project %s", reg.id, mask_id(number), project_id)
    return {
        "id": reg.id, "status": RegistrationStatus.id_checked, "status_label": REG_STATUS[RegistrationStatus.id_checked], "person_id": person_id,
        "name": checked.name, "id_masked": mask_id(number), "gender": checked.info.gender,
        "birth_date": checked.info.birth_date.isoformat(), "elsewhere": elsewhere,
        "existing_entry": existing_entry, "kept_fields": list(saved.kept),
        "message": workforce.kept_message(saved.kept),
    }


# ============================================================================ reading registrations

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


async def team_people(user: CurrentUser, project_id: int) -> set[int] | None:
    """People on the roster of the teams the user may see (``workforce.team_scope``); None = everyone."""
    teams = await workforce.team_scope(user.role, user.person_id, project_id)
    if teams is None:
        return None
    if not teams:
        return set()
    rows = await RosterEntry.select(RosterEntry.person).where(
        (RosterEntry.project == project_id) & RosterEntry.team.is_in(sorted(teams)))
    return {r["person"] for r in rows}


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


# ============================================================================ step 2: 人证核验


async def issue_challenge(user: CurrentUser, project_id: int, rid: int) -> dict[str, Any]:
    """A liveness challenge of the clock-in mechanism, issued for the person being registered."""
    reg, rules = await _for_step(user, project_id, rid, RegistrationStatus.id_checked)
    actions = lv.new_challenge_actions(_sysrand, rules.liveness_action_count)
    now = datetime.now(UTC)
    nonce = secrets.token_urlsafe(24)
    expires = now + timedelta(seconds=rules.liveness_challenge_ttl_s)
    await LivenessChallenge(nonce=nonce, person=reg["person"], actions=actions, issued_at=now,
                            expires_at=expires).save()
    zh, _ = lv.challenge_prompt(actions)
    return {
        "nonce": nonce, "actions": actions, "labels": [lv.ACTION_LABELS[a] for a in actions], "prompt": zh,
        "expires_at": expires.isoformat(), "ttl_s": rules.liveness_challenge_ttl_s,
        "max_frames": rules.liveness_max_frames, "max_frame_bytes": rules.mobile_max_frame_bytes,
    }


async def submit_face(user: CurrentUser, project_id: int, rid: int, *, nonce: str, captured_at: datetime,
                      frames: list[bytes]) -> dict[str, Any]:
    reg, rules = await _for_step(user, project_id, rid, RegistrationStatus.id_checked)
    if not frames:
        raise invalid("frames", "未收到活体检测画面", "No frames received", code="no_frames")
    total = sum(len(f) for f in frames)
    if total > rules.mobile_max_upload_bytes:
        raise PayloadTooLarge(f"上传内容过大（{total // 1024} KB，上限 {rules.mobile_max_upload_bytes // 1024} KB）",
                              "Upload too large", field="frames")
    actions = await consume_challenge(nonce, reg["person"], _aware(captured_at).astimezone(UTC))
    if actions is None:
        raise invalid("nonce", "活体检测已超时或已使用，请重新开始", "The liveness challenge expired or was used; start again",
                      code="challenge_invalid")
    id_template = await _template(rid, Registration.id_template)
    svc = face_service()
    result = await svc.check_liveness(frames, actions, id_template, rules=rules)
    failed = [r for r in result.reasons if r != "face_mismatch"]
    if failed or result.best_frame_index is None:
        failed = failed or ["no_good_frame"]
        await Registration.update({
            Registration.liveness_attempts: Registration.liveness_attempts + 1,
            Registration.liveness_passed: False, Registration.liveness_reasons: failed,
            Registration.updated_at: datetime.now(UTC),
        }).where(Registration.id == rid)
        texts = [face_message(c) for c in failed]
        raise invalid("frames", "活体检测未通过：" + "；".join(t[0] for t in texts) + "。请重新开始",
                      "Liveness check failed: " + "; ".join(t[1] for t in texts), code="liveness_failed",
                      reasons=failed)
    best = frames[result.best_frame_index]
    try:
        enrol = await svc.encode(best, purpose="enrol", field="frames", rules=rules,
                                 max_bytes=rules.mobile_max_frame_bytes)
    except (InvalidInput, PayloadTooLarge) as e:
        raise _prefixed(e, "采集照片不符合要求：", "Enrolment photo: ", "frames") from None
    distance = face_distance(enrol.encoding, id_template)
    matched = distance <= rules.face_match_tolerance
    hits = (await face_index()).search_within(enrol.encoding, rules.face_duplicate_tolerance, exclude=reg["person"])
    dup_person, dup_distance = hits[0] if hits else (None, None)
    photo = await asyncio.to_thread(imaging.enrolment_photo, best, rules.gate_punch_photo_max_bytes)
    status = v.face_outcome(matched=matched, duplicate_person=dup_person)
    review_kind = {RegistrationStatus.pending_review: ReviewKind.duplicate_face, RegistrationStatus.pending_confirmation: ReviewKind.face_mismatch}.get(status)
    now = datetime.now(UTC)
    updated = await Registration.update({
        Registration.status: status, Registration.face_photo: photo, Registration.face_template: enrol.encoding,
        Registration.face_distance: distance, Registration.face_tolerance: rules.face_match_tolerance,
        Registration.face_matched: matched, Registration.liveness_passed: True,
        Registration.liveness_attempts: Registration.liveness_attempts + 1, Registration.liveness_reasons: [],
        Registration.face_checked_at: now, Registration.duplicate_person: dup_person,
        Registration.duplicate_distance: dup_distance, Registration.review_kind: review_kind,
        Registration.updated_at: now,
    }).where((Registration.id == rid) & (Registration.status == RegistrationStatus.id_checked)).returning(Registration.id)
    if not updated:
        raise Conflict("该登记已被他人处理，请刷新页面", "The registration changed meanwhile; reload",
                       field="registration_id", code="wrong_step")
    log.info("registration %s: face distance %.3f matched=%s duplicate=%s → %s", rid, distance, matched,
             dup_person, status)
    out: dict[str, Any] = {
        "id": rid, "status": status, "status_label": REG_STATUS[status], "distance": round(distance, 4),
        "tolerance": rules.face_match_tolerance, "matched": matched, "liveness": result.to_dict(),
    }
    if dup_person is not None:
        brief = await _person_brief(dup_person, await visible_project_ids(user))
        out["duplicate"] = {"name": brief.get("name"), "id_masked": brief.get("id_masked"),
                            "distance": round(float(dup_distance or 0), 4)}
    return out


# ============================================================================ supervisor review


async def list_reviews(user: CurrentUser) -> list[dict[str, Any]]:
    if user.role not in REVIEWER_ROLES:
        raise Forbidden("仅主管部门人员可审核", "Only supervisors may review", code="role_forbidden")
    ids = await visible_project_ids(user)
    q = Registration.select(*_REG_FIELDS).where(Registration.status.is_in(sorted(REVIEW_STATUSES))).order_by(
        Registration.id)
    if ids is not None:
        if not ids:
            return []
        q = q.where(Registration.project.is_in(sorted(ids)))
    out = []
    for r in await q:
        r = _present(r)
        if r["duplicate_person"]:
            r["duplicate"] = await _person_brief(r["duplicate_person"])
        out.append(r)
    return out


async def decide_review(user: CurrentUser, rid: int, *, approve: bool, note: str) -> dict[str, Any]:
    """A supervisor confirms a face mismatch (or clears a duplicate-face block) — or rejects it — with a
    note; the decision, who and when are recorded on the registration."""
    if user.role not in REVIEWER_ROLES:
        raise Forbidden("仅主管部门人员可审核", "Only supervisors may review", code="role_forbidden")
    row = await Registration.select(Registration.project, Registration.status).where(Registration.id == rid).first()
    if row is None:
        raise NotFound("登记记录不存在", "Registration not found", field="registration_id")
    await require_project(user, row["project"])
    note = (note or "").strip()
    if not note:
        raise invalid("note", "请填写核验说明", "A note is required", code="note_required")
    note = clean_text(note, "note", "核验说明", max_len=500, multiline=True) or ""
    if row["status"] not in REVIEW_STATUSES:
        raise Conflict("该登记不在待审核状态", "The registration is not awaiting review", field="registration_id",
                       code="wrong_step")
    status = RegistrationStatus.face_checked if approve else RegistrationStatus.rejected
    now = datetime.now(UTC)
    updated = await Registration.update({
        Registration.status: status, Registration.review_decision: "approved" if approve else "rejected",
        Registration.reviewed_by: user.id, Registration.reviewed_at: now, Registration.review_note: note,
        Registration.updated_at: now,
    }).where((Registration.id == rid) & Registration.status.is_in(sorted(REVIEW_STATUSES))).returning(Registration.id)
    if not updated:
        raise Conflict("该登记已被他人处理", "Already decided", field="registration_id", code="wrong_step")
    log.info("registration %s reviewed by user %s: %s", rid, user.id, status)
    return {"id": rid, "status": status, "status_label": REG_STATUS[status]}


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


# ============================================================================ step 3: roster, enrolment, account


@dataclass(frozen=True)
class ContractIn:
    contract_type: str
    starts_on: date | None
    ends_on: date | None = None
    signed_on: date | None = None
    contract_no: str = ""
    data: bytes | None = None
    filename: str = ""


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


_PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def initial_password() -> str:
    """A one-time password that is easy to read out and type (no 0/o/1/l/i), 10 characters, with letters
    and digits both (the password rule refuses a single character class)."""
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(10))
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


async def _free_username(phone: str | None, person_id: int) -> str:
    candidates = [c for c in (phone, f"w{person_id:06d}") if c]
    for c in candidates:
        if not await User.exists().where(User.username == c):
            return c
    return f"w{person_id:06d}-{secrets.token_hex(2)}"


def _check_contract(c: ContractIn, rules: Rules, today: date) -> str:
    v.check_contract(c.contract_type, c.starts_on, c.ends_on, c.signed_on, today, c.contract_no)
    return v.check_upload(c.data, field="contract_file", label="劳动合同", allowed=DOCUMENT_TYPES,
                          max_bytes=rules.crew_document_max_bytes)


async def complete_registration(user: CurrentUser, project_id: int, rid: int, step: RosterStep) -> dict[str, Any]:
    reg, rules = await _for_step(user, project_id, rid, RegistrationStatus.face_checked)
    today = date.today()
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
    return {
        "id": rid, "status": RegistrationStatus.completed, "status_label": REG_STATUS[RegistrationStatus.completed], "roster_entry_id": entry_id,
        "person_id": person_id, "name": reg["name"], "id_masked": reg["id_masked"], "username": username,
        "initial_password": password, "account_created": password is not None, "kept_fields": list(kept),
        "message": workforce.kept_message(kept),
    }


async def reset_worker_password(user: CurrentUser, project_id: int, person_id: int) -> dict[str, Any]:
    """Issue (or re-issue) the worker's phone account with a new one-time initial password."""
    await _editor(user, project_id)
    if not await RosterEntry.exists().where((RosterEntry.project == project_id) & (RosterEntry.person == person_id)):
        raise NotFound("此人不在本项目花名册中", "This person is not on the project's roster", field="person_id")
    person = await workforce.get_person(person_id)
    password = initial_password()
    async with write_transaction():
        account = await User.select(User.id, User.username).where(
            (User.person == person_id) & (User.role == Role.worker)).first()
        if account is None:
            username = await _free_username(person["phone"], person_id)
            await create_user(username, password, Role.worker, display_name=person["name"], phone=person["phone"],
                              person_id=person_id, must_change_password=True)
        else:
            username = account["username"]
            await reset_password(account["id"], password)  # ends the account's sessions and tokens too
    return {"person_id": person_id, "name": person["name"], "username": username, "initial_password": password}


# ============================================================================ contracts and exits


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


# ============================================================================ roster view


async def roster(user: CurrentUser, project_id: int, *, active_only: bool = True, missing_contract: bool = False,
                 q: str = "") -> list[dict[str, Any]]:
    """The roster with what registration adds: unit, face enrolled, contract state, exit confirmation."""
    await require_project(user, project_id)
    if user.role == Role.worker:
        raise Forbidden("工人只能查看本人信息", "Workers may only see their own records")
    teams = await workforce.team_scope(user.role, user.person_id, project_id)
    rows = await workforce.list_roster(project_id, active_only=active_only, teams=teams)
    units = {u["id"]: u["enterprise_name"] for u in await org.list_units(project_id)}
    persons = [r["person"] for r in rows]
    enrolled: set[int] = set()
    for i in range(0, len(persons), 900):
        enrolled |= await workforce.enrolled_person_ids(persons[i:i + 900])
    contracts: dict[int, list[dict[str, Any]]] = {}
    for c in await LabourContract.select(LabourContract.roster_entry, LabourContract.starts_on,
                                         LabourContract.ends_on).where(LabourContract.project == project_id):
        contracts.setdefault(c["roster_entry"], []).append(c)
    exits = {e["roster_entry"]: e["file"] for e in await ExitConfirmation.select(
        ExitConfirmation.roster_entry, ExitConfirmation.file).where(
        ExitConfirmation.roster_entry.project == project_id)}
    today = date.today()
    needle = (q or "").strip()
    out = []
    for r in rows:
        cs = contracts.get(r["id"], [])
        if any(c["starts_on"] <= today and (c["ends_on"] is None or c["ends_on"] >= today) for c in cs):
            state = "valid"
        elif cs:
            state = "expired" if all(c["ends_on"] is not None and c["ends_on"] < today for c in cs) else "future"
        else:
            state = "missing"
        r["contract_state"] = state
        r["contract_label"] = {"valid": "有效", "expired": "已到期", "future": "未生效", "missing": "缺合同"}[state]
        r["enrolled"] = r["person"] in enrolled
        r["unit_name"] = units.get(r["unit"], "")
        r["exit_file"] = exits.get(r["id"])
        if missing_contract and state == "valid":
            continue
        if needle and needle not in r["name"] and needle not in (r["team_name"] or ""):
            continue
        out.append(r)
    return out


# ============================================================================ bulk import

_TASKS: set[asyncio.Task[None]] = set()
_JOB_STALE_S = 600.0


async def _team_refs(project_id: int) -> dict[str, list[v.TeamRef]]:
    rows = await Team.select(
        Team.id, Team.unit, Team.name, Team.kind, Team.exited_on, Team.unit.unit_type.as_alias("unit_type"),
        Team.unit.exited_on.as_alias("unit_exited_on"), Team.unit.enterprise.name.as_alias("unit_name"),
    ).where(Team.project == project_id)
    out: dict[str, list[v.TeamRef]] = {}
    for r in rows:
        ref = v.TeamRef(id=r["id"], unit_id=r["unit"], name=r["name"], kind=r["kind"], unit_type=r["unit_type"],
                        unit_name=r["unit_name"], open=r["exited_on"] is None and r["unit_exited_on"] is None)
        out.setdefault(r["name"], []).append(ref)
    # an exited team and a new one of the same name: prefer the open one
    for name, refs in out.items():
        if any(t.open for t in refs):
            out[name] = [t for t in refs if t.open]
    return out


async def start_import(user: CurrentUser, project_id: int, data: bytes | None, filename: str = "") -> int:
    """Queue an .xlsx import and return its job id; ``import_status`` reports progress and errors."""
    rules = await _editor(user, project_id)
    if not data:
        raise invalid("file", "请选择要导入的 Excel 文件", "Choose an .xlsx file", code="file_required")
    if len(data) > rules.crew_import_max_bytes:
        raise PayloadTooLarge(f"导入文件过大（上限 {rules.crew_import_max_bytes // 1024 // 1024} MB）",
                              "The import file is too large", field="file", code="file_too_large")
    if v.sniff_type(data) != "application/zip":
        raise invalid("file", "导入文件须为 Excel .xlsx 格式（请使用下载的模板）",
                      "The import file must be an .xlsx workbook", code="bad_file_type")
    # zip members and the sheet's declared extent, off the loop: a file over a limit is refused now (413/400)
    await get_runner().run(xlsx.check_limits, data, xlsx.ImportLimits.from_rules(rules),
                           timeout_s=rules.crew_import_max_seconds, what_zh="Excel 文件", what_en="workbook")
    job = ImportJob(project=project_id, created_by=user.id, filename=(filename or "")[:200], status=ImportStatus.queued)
    await job.save()
    task = asyncio.create_task(run_import(job.id, project_id, data, rules))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return job.id


async def _job(job_id: int, **changes: Any) -> None:
    cols = {getattr(ImportJob, k): val for k, val in changes.items()}
    cols[ImportJob.updated_at] = datetime.now(UTC)
    await ImportJob.update(cols).where(ImportJob.id == job_id)


async def run_import(job_id: int, project_id: int, data: bytes, rules: Rules) -> None:
    """Validate every row, then write all of them in ONE transaction — or nothing."""
    try:
        rows, _ = await get_runner().run(xlsx.read_rows, data, rules.crew_import_max_rows,
                                         xlsx.ImportLimits.from_rules(rules), timeout_s=rules.crew_import_max_seconds,
                                         what_zh="Excel 文件", what_en="workbook")
        await _job(job_id, status=ImportStatus.validating, total=len(rows), done=0)
        today = date.today()
        teams = await _team_refs(project_id)
        good: list[v.ImportRow] = []
        errors: list[dict[str, Any]] = []
        first_row: dict[str, int] = {}
        for i, (n, raw) in enumerate(rows, start=1):
            if isinstance(raw.get("id_number"), int | float):
                errors.append({"row": n, "column": xlsx.HEADERS["id_number"], "code": "id_not_text",
                               "message": "身份证号被 Excel 存成了数字（末几位会丢失），请将该列设为文本格式后重新填写",
                               "message_en": "The ID number was stored as a number; format the column as text"})
                continue
            row, errs = v.check_import_row(n, raw, teams, rules, today, xlsx.HEADERS)
            errors.extend(errs)
            if row is not None:
                number = row.card.info.number
                if number in first_row:
                    errors.append({"row": n, "column": xlsx.HEADERS["id_number"], "code": "duplicate_in_file",
                                   "message": f"与第 {first_row[number]} 行身份证号重复",
                                   "message_en": f"Same ID number as row {first_row[number]}"})
                else:
                    first_row[number] = n
                    good.append(row)
            if i % 500 == 0:
                await _job(job_id, done=i)
        warnings = await _check_against_db(project_id, good, errors)
        await _job(job_id, done=len(rows))
        if errors:
            errors.sort(key=lambda e: (e["row"] or 0))
            bad_rows = len({e["row"] for e in errors})
            await _job(job_id, status=ImportStatus.failed, errors=errors, warnings=warnings,
                       message=f"共 {bad_rows} 行有误，未导入任何数据。请修改后重新导入。")
            return
        await _job(job_id, status=ImportStatus.writing)
        await _write_rows(project_id, good)
        await _job(job_id, status=ImportStatus.done, imported=len(good), warnings=warnings,
                   message=f"已导入 {len(good)} 人。未采集人脸的人员请在平板上补录证件照和人脸。")
    except AppError as e:
        await _job(job_id, status=ImportStatus.failed, errors=[{"row": None, "column": "", "code": e.code, "message": e.zh,
                                                     "message_en": e.en}], message=e.zh)
    except Exception:
        log.exception("import job %s failed", job_id)
        await _job(job_id, status=ImportStatus.failed, message="导入时发生内部错误，未导入任何数据",
                   errors=[{"row": None, "column": "", "code": "internal_error",
                            "message": "导入时发生内部错误，未导入任何数据", "message_en": "Internal error; nothing imported"}])


async def _check_against_db(project_id: int, rows: list[v.ImportRow], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose person is already active on this project are errors; active on another project, a warning."""
    hashes = {lookup_hash(r.card.info.number): r for r in rows}
    keys = list(hashes)
    existing: dict[str, dict[str, Any]] = {}
    for i in range(0, len(keys), 900):
        for p in await Person.select(Person.id, Person.id_hash, Person.name).where(Person.id_hash.is_in(keys[i:i + 900])):
            existing[p["id_hash"]] = p
    by_person = {p["id"]: hashes[h] for h, p in existing.items()}
    pids = list(by_person)
    warnings: list[dict[str, Any]] = []
    for i in range(0, len(pids), 900):
        for e in await RosterEntry.select(
            RosterEntry.person, RosterEntry.project, RosterEntry.project.name.as_alias("project_name"),
            RosterEntry.entered_on,
        ).where(RosterEntry.person.is_in(pids[i:i + 900]) & RosterEntry.exited_on.is_null()):
            row = by_person[e["person"]]
            if e["project"] == project_id:
                errors.append({"row": row.row, "column": xlsx.HEADERS["id_number"], "code": "duplicate_roster_entry",
                               "message": "此人已在本项目花名册中（未退场），不能重复进场",
                               "message_en": "Already on this project's roster"})
            else:
                warnings.append({"row": row.row, "name": row.card.name, "id_masked": mask_id(row.card.info.number),
                                 "project_name": e["project_name"], "entered_on": e["entered_on"].isoformat(),
                                 "message": f"{row.card.name} 自 {e['entered_on'].isoformat()} 起仍在“{e['project_name']}”在场"})
    for h, p in existing.items():
        row = hashes[h]
        if p["name"] != row.card.name:
            errors.append({"row": row.row, "column": xlsx.HEADERS["name"], "code": "name_mismatch",
                           "message": "姓名与系统中该身份证号已登记的姓名不一致，请核对",
                           "message_en": "The name differs from the one registered for this ID number"})
    return warnings


async def _bulk_insert(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Multi-row INSERT with bound parameters (both engines), in chunks under their parameter limits.
    Piccolo's ORM insert builds a Table object per row: ~0.5 ms each, too slow for 5,000 rows."""
    per = max(1, 30_000 // len(columns) // 2)
    placeholders = "(" + ", ".join("{}" for _ in columns) + ")"
    for i in range(0, len(rows), per):
        chunk = rows[i:i + per]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join(placeholders for _ in chunk)
        await Person.raw(sql, *(v for row in chunk for v in row))


_PERSON_COLUMNS = ("name", "id_cipher", "id_hash", "id_masked", "gender", "birth_date", "ethnicity", "phone",
                   "address", "id_issuer", "id_valid_until", "created_at")
_ENTRY_COLUMNS = ("person", "project", "unit", "team", "work_role", "post", "work_type", "entered_on", "exited_on",
                  "exit_note", "created_at")


async def _write_rows(project_id: int, rows: list[v.ImportRow]) -> None:
    now = datetime.now(UTC)
    hashes = [lookup_hash(r.card.info.number) for r in rows]
    async with write_transaction():
        known: dict[str, int] = {}
        for i in range(0, len(hashes), 900):
            for p in await Person.select(Person.id, Person.id_hash).where(Person.id_hash.is_in(hashes[i:i + 900])):
                known[p["id_hash"]] = p["id"]
        new = [(r.card.name, encrypt_text(r.card.info.number), h, mask_id(r.card.info.number), r.card.info.gender,
                r.card.info.birth_date, r.card.ethnicity, r.phone, r.card.address, r.card.issuer, r.card.valid_until, now)
               for r, h in zip(rows, hashes, strict=True) if h not in known]
        await _bulk_insert("person", _PERSON_COLUMNS, new)
        missing = [h for h in hashes if h not in known]
        for i in range(0, len(missing), 900):
            for p in await Person.select(Person.id, Person.id_hash).where(Person.id_hash.is_in(missing[i:i + 900])):
                known[p["id_hash"]] = p["id"]
        entries = [(known[h], project_id, r.team.unit_id, r.team.id, r.work_role, r.post, r.work_type, r.entered_on,
                    None, "", now) for r, h in zip(rows, hashes, strict=True)]
        await _bulk_insert("roster_entry", _ENTRY_COLUMNS, entries)


async def import_status(user: CurrentUser, project_id: int, job_id: int) -> dict[str, Any]:
    """An import job's progress and report (rows with names): for editors and reviewers of the project; a
    foreman sees only the jobs they started."""
    await require_project(user, project_id)
    if user.role not in EDITOR_ROLES | REVIEWER_ROLES:
        raise Forbidden("当前角色不能查看导入任务", "Your role may not see import jobs", code="role_forbidden")
    row = await ImportJob.select().where((ImportJob.id == job_id) & (ImportJob.project == project_id)).first()
    if row is not None and user.role == Role.foreman and row["created_by"] != user.id:
        row = None
    if row is None:
        raise NotFound("导入任务不存在", "Import job not found", field="job_id")
    if row["status"] in (ImportStatus.queued, ImportStatus.validating, ImportStatus.writing):
        age = (datetime.now(UTC) - _aware(row["updated_at"])).total_seconds()
        if age > _JOB_STALE_S:  # the process running it died: its transaction never committed
            await _job(job_id, status=ImportStatus.failed, message="导入任务已中断，未导入任何数据，请重新导入")
            return await import_status(user, project_id, job_id)
    row["errors"] = _json_list(row["errors"])
    row["warnings"] = _json_list(row["warnings"])
    row["status_label"] = IMPORT_STATUS[row["status"]]
    row["finished"] = row["status"] in (ImportStatus.done, ImportStatus.failed)
    row["percent"] = 100 if row["finished"] else (int(row["done"] * 100 / row["total"]) if row["total"] else 0)
    return row


# ============================================================================ export


# Roles that may export full ID numbers (security issue item 10): the project's own staff (劳务员 keep the
# real-name files), the district's supervisor, the administrator.  Foremen and enterprise accounts get masked
# numbers only.  Every full-ID export is written to id_access_log with its reason.
FULL_ID_ROLES = frozenset({Role.project_staff, Role.supervisor, Role.admin})
FULL_ID_REASON_MAX = 200


async def export_roster(user: CurrentUser, project_id: int, *, full_id: bool = False,
                        reason: str = "") -> tuple[str, bytes]:
    await require_project(user, project_id)
    if user.role not in EDITOR_ROLES | REVIEWER_ROLES:
        raise Forbidden("当前角色不能导出花名册", "Your role may not export the roster")
    if full_id:
        if user.role not in FULL_ID_ROLES:
            raise Forbidden("仅项目管理人员、主管部门和系统管理员可导出完整身份证号",
                            "Only project staff, the district's supervisor and administrators may export full ID numbers",
                            code="full_id_forbidden")
        reason = clean_text(reason, "reason", "导出完整身份证号的用途", max_len=FULL_ID_REASON_MAX, required=True) or ""
    project = await org.get_project(project_id)
    view = await roster(user, project_id, active_only=False)
    pids = sorted({r["person"] for r in view})
    people: dict[int, dict[str, Any]] = {}

    async def read_people() -> None:
        for i in range(0, len(pids), 900):
            for p in await Person.select(
                Person.id, Person.id_cipher, Person.id_masked, Person.gender, Person.birth_date, Person.ethnicity,
                Person.phone, Person.address, Person.id_issuer, Person.id_valid_until,
            ).where(Person.id.is_in(pids[i:i + 900])):
                people[p["id"]] = p

    if full_id:
        # the read of the numbers and its log entry: one transaction (no full-ID export without its record)
        async with write_transaction():
            await read_people()
            await IdAccessLog(user_id=user.id, username=user.username, role=user.role, project=project_id,
                              kind="roster_export", records=len(view), reason=reason).save()
    else:
        await read_people()
    regs = {r["person"]: r for r in await Registration.select(
        Registration.person, Registration.id_valid_from, Registration.id_long_term).where(
        (Registration.project == project_id) & (Registration.status == RegistrationStatus.completed))}
    def rows() -> Iterable[dict[str, Any]]:
        for r in view:
            p = people[r["person"]]
            reg = regs.get(r["person"], {})
            yield {
                "name": r["name"], "id_number": decrypt_text(p["id_cipher"]) if full_id else p["id_masked"],
                "gender": "男" if p["gender"] == "M" else "女", "birth_date": p["birth_date"],
                "ethnicity": ETHNICITY.get(p["ethnicity"], p["ethnicity"]), "phone": p["phone"],
                "address": p["address"], "issuer": p["id_issuer"], "id_valid_from": reg.get("id_valid_from"),
                "id_valid_until": "长期" if reg.get("id_long_term") else p["id_valid_until"],
                "unit": r["unit_name"], "team": r["team_name"], "work_role": WORK_ROLE[r["work_role"]],
                "post": POSTS.get(r["post"] or "", None), "work_type": WORK_TYPES.get(r["work_type"] or "", None),
                "entered_on": r["entered_on"], "status": "已退场" if r["exited_on"] else "在场",
                "exited_on": r["exited_on"], "enrolled": r["enrolled"], "contract": r["contract_label"],
            }

    data = await asyncio.to_thread(lambda: xlsx.export_bytes(project["name"], rows(), full_id=full_id))
    log.info("roster of project %s exported by user %s (%d rows, full_id=%s)", project_id, user.id, len(view), full_id)
    return f"roster-{project_id}-{date.today():%Y%m%d}.xlsx", data


async def id_access_log(user: CurrentUser, project_id: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The full-ID access log: the district supervisor sees their district's projects, an admin all."""
    if user.role not in REVIEWER_ROLES:
        raise Forbidden("仅主管部门和系统管理员可查看身份证号访问记录",
                        "Only supervisors and administrators may read the ID access log", code="role_forbidden")
    ids = await visible_project_ids(user)
    if project_id is not None:
        await require_project(user, project_id)
    q = IdAccessLog.select(
        IdAccessLog.id, IdAccessLog.user_id, IdAccessLog.username, IdAccessLog.role, IdAccessLog.project,
        IdAccessLog.project.name.as_alias("project_name"), IdAccessLog.kind, IdAccessLog.records,
        IdAccessLog.reason, IdAccessLog.accessed_at,
    ).order_by(IdAccessLog.id, ascending=False).limit(max(1, min(limit, 5000)))
    if project_id is not None:
        q = q.where(IdAccessLog.project == project_id)
    elif ids is not None:
        if not ids:
            return []
        q = q.where(IdAccessLog.project.is_in(sorted(ids)))
    return await q


# ============================================================================ page helpers


async def form_options(project_id: int) -> dict[str, Any]:
    units = [u for u in await org.list_units(project_id) if u["exited_on"] is None]
    teams = [t for t in await org.list_teams(project_id) if t["exited_on"] is None]
    return {"units": units, "teams": teams, "posts": POSTS, "work_types": WORK_TYPES, "work_roles": WORK_ROLE,
            "contract_types": CONTRACT_TYPE}


async def project_brief(project_id: int) -> dict[str, Any]:
    row = await Project.select(Project.id, Project.name).where(Project.id == project_id).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    return row
