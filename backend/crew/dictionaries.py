"""Code lists of crew registration."""

from __future__ import annotations

# Registration, review and import codes and their Chinese are in backend/vocabulary.py.
from backend.vocabulary import IMPORT_STATUS_ZH, REGISTRATION_STATUS_ZH, REVIEW_KIND_ZH, RegistrationStatus

# Registration steps.  id_checked → (liveness + 人证核验) → face_checked → completed;
# a face mismatch waits for a supervisor (pending_confirmation), a face already enrolled under
# another ID number is blocked for review (pending_review); both end approved (→ face_checked)
# or rejected.
REG_STATUS: dict[str, str] = REGISTRATION_STATUS_ZH
_R = RegistrationStatus
OPEN_STATUSES = frozenset({_R.id_checked, _R.pending_confirmation, _R.pending_review, _R.face_checked})
REVIEW_STATUSES = frozenset({_R.pending_confirmation, _R.pending_review})

REVIEW_KIND: dict[str, str] = REVIEW_KIND_ZH

# 劳动合同期限类型 (劳动合同法 §12)
CONTRACT_TYPE: dict[str, str] = {
    "fixed_term": "固定期限",
    "task": "以完成一定工作任务为期限",
    "open_ended": "无固定期限",
}

FILE_KIND: dict[str, str] = {
    "id_front": "身份证人像面",
    "id_back": "身份证国徽面",
    "contract": "劳动合同",
    "exit_confirmation": "退场确认书",
}

GENDER: dict[str, str] = {"M": "男", "F": "女"}

IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
DOCUMENT_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})
TYPE_LABEL: dict[str, str] = {"image/jpeg": "JPG", "image/png": "PNG", "application/pdf": "PDF", "image/webp": "WebP"}

IMPORT_STATUS: dict[str, str] = IMPORT_STATUS_ZH
