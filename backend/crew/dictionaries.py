"""Code lists of crew registration."""

from __future__ import annotations

# Registration steps.  id_checked → (liveness + 人证核验) → face_checked → completed;
# a face mismatch waits for a supervisor (pending_confirmation), a face already enrolled under
# another ID number is blocked for review (pending_review); both end approved (→ face_checked)
# or rejected.
REG_STATUS: dict[str, str] = {
    "id_checked": "证件已核验，待人证核验",
    "pending_confirmation": "人证不符，待主管人员确认",
    "pending_review": "疑似重复人脸，待审核",
    "face_checked": "人证核验通过，待进场登记",
    "completed": "登记完成",
    "rejected": "已驳回",
    "cancelled": "已取消",
}
OPEN_STATUSES = frozenset({"id_checked", "pending_confirmation", "pending_review", "face_checked"})
REVIEW_STATUSES = frozenset({"pending_confirmation", "pending_review"})

REVIEW_KIND: dict[str, str] = {"face_mismatch": "人证不符", "duplicate_face": "疑似同一人使用不同身份证",
                               "gate_reenrol": "闸机重新采集已有人脸"}

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

IMPORT_STATUS: dict[str, str] = {
    "queued": "排队中", "validating": "正在校验", "writing": "正在写入", "done": "导入完成", "failed": "导入失败",
}
