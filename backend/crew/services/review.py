"""The supervisor's review of face mismatches and duplicate faces."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.crew.dictionaries import REG_STATUS, REVIEW_STATUSES
from backend.crew.services.common import REVIEWER_ROLES
from backend.crew.services.registrations import _REG_FIELDS, _person_brief, _present
from backend.crew.tables import Registration
from backend.errors import Conflict, Forbidden, NotFound, invalid
from backend.validators import clean_text
from backend.vocabulary import RegistrationStatus, ReviewDecision

log = logging.getLogger("smz.crew")

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
        Registration.status: status, Registration.review_decision: ReviewDecision.approved if approve else ReviewDecision.rejected,
        Registration.reviewed_by: user.id, Registration.reviewed_at: now, Registration.review_note: note,
        Registration.updated_at: now,
    }).where((Registration.id == rid) & Registration.status.is_in(sorted(REVIEW_STATUSES))).returning(Registration.id)
    if not updated:
        raise Conflict("该登记已被他人处理", "Already decided", field="registration_id", code="wrong_step")
    log.info("registration %s reviewed by user %s: %s", rid, user.id, status)
    return {"id": rid, "status": status, "status_label": REG_STATUS[status]}


