"""Registration step 2: 人证核验 — the liveness challenge and the live face against the card."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import backend.crew.services.common as common  # common.face_service: the tests' seam
from backend.accounts.services import CurrentUser, visible_project_ids
from backend.clockin.services import consume_challenge
from backend.clockin.tables import LivenessChallenge
from backend.crew import imaging
from backend.crew import validation as v
from backend.crew.dictionaries import REG_STATUS
from backend.crew.enrolment import face_index
from backend.crew.services.common import _aware, _prefixed
from backend.crew.services.registrations import _for_step, _person_brief, _template
from backend.crew.tables import Registration
from backend.errors import Conflict, InvalidInput, PayloadTooLarge, invalid
from backend.face import liveness as lv
from backend.face.messages import message as face_message
from backend.face.service import FaceService, face_distance
from backend.vocabulary import RegistrationStatus, ReviewKind
from backend.workforce import consent

log = logging.getLogger("smz.crew")

_sysrand = random.SystemRandom()


async def issue_challenge(user: CurrentUser, project_id: int, rid: int) -> dict[str, Any]:
    """A liveness challenge of the clock-in mechanism, issued for the person being registered."""
    reg, rules = await _for_step(user, project_id, rid, RegistrationStatus.id_checked)
    await consent.require_consent(reg["person"])  # 单独同意 before the selfie (issue 20 B.1): 409 consent_missing
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
                      frames: list[bytes], face_service: FaceService) -> dict[str, Any]:
    """``face_service``: the app's face workers (``AppServices.face``)."""
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
    svc = common.face_service(face_service)
    result = await svc.check_liveness(frames, actions, id_template, rules=rules)
    failed = [r for r in result.reasons if r != "face_mismatch"]
    if failed or result.best_frame_index is None:
        failed = failed or ["no_good_frame"]
        counted = await Registration.update({
            Registration.liveness_attempts: Registration.liveness_attempts + 1,
            Registration.liveness_passed: False, Registration.liveness_reasons: failed,
            Registration.updated_at: datetime.now(UTC),
        }).where(Registration.id == rid).returning(Registration.liveness_attempts)
        texts = [face_message(c) for c in failed]
        # ``attempts``: the count after this try, for the page's counter (it is not reloaded after a failure)
        raise invalid("frames", "活体检测未通过：" + "；".join(t[0] for t in texts) + "。请重新开始",
                      "Liveness check failed: " + "; ".join(t[1] for t in texts), code="liveness_failed",
                      reasons=failed, attempts=int(counted[0]["liveness_attempts"]) if counted else None)
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


