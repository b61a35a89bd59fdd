"""The audit trail of one project: every state change — application rounds (项目申报), status changes, change requests
(start dates, 停工/复工/完工) and their two levels of decision — who, when, from, to, why; oldest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.accounts.tables import User
from backend.approvals.tables import ProjectApplication, ProjectApplicationRound
from backend.org.tables import Project, ProjectChangeRequest, ProjectStatusChange
from backend.vocabulary import (
    APPLICATION_ACTION_ZH,
    CHANGE_KIND_ZH,
    DEFAULT_TZ,
    PROJECT_STATUS_ZH,
    ChangeKind,
    ChangeRequestStatus,
    local_time,
)


class AuditEntry(msgspec.Struct, frozen=True):
    at: datetime
    at_local: str  # in the project's time zone
    actor: str  # display name ("系统" when none was recorded)
    action_label: str  # what happened, in Chinese
    from_value: str = ""
    to_value: str = ""
    reason_text: str = ""  # the reason or note given


def _value(kind: str, value: str | None) -> str:
    if not value:
        return ""
    return PROJECT_STATUS_ZH.get(value, value) if kind == ChangeKind.status else value


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def project_audit(project_id: int) -> list[AuditEntry]:
    project = await Project.select(Project.timezone).where(Project.id == project_id).first()
    tz = (project or {}).get("timezone") or DEFAULT_TZ
    raw: list[tuple[datetime, int | None, str, str, str, str]] = []  # at, user, action, from, to, reason

    apps = await ProjectApplication.select(ProjectApplication.id).where(ProjectApplication.project == project_id)
    if apps:
        rounds = await ProjectApplicationRound.select().where(
            ProjectApplicationRound.application.is_in([a["id"] for a in apps])).order_by(ProjectApplicationRound.id)
        for r in rounds:
            raw.append((r["at"], r["by_user"], f"项目申报：{APPLICATION_ACTION_ZH.get(r['action'], r['action'])}"
                        f"（第 {r['round_no']} 轮）", "", "", r["reason"] or ""))

    for c in await ProjectStatusChange.select().where(ProjectStatusChange.project == project_id).order_by(
            ProjectStatusChange.id):
        note = c["note"] or ""
        raw.append((c["changed_at"], c["changed_by"], f"项目状态变更（生效日 {c['effective_on'].isoformat()}）",
                    PROJECT_STATUS_ZH.get(c["from_status"] or "", ""), PROJECT_STATUS_ZH.get(c["to_status"], ""),
                    note))

    for q in await ProjectChangeRequest.select().where(ProjectChangeRequest.project == project_id).order_by(
            ProjectChangeRequest.id):
        kind = CHANGE_KIND_ZH.get(q["kind"], q["kind"])
        frm, to = _value(q["kind"], q["from_value"]), _value(q["kind"], q["target"])
        raw.append((q["requested_at"], q["requested_by"], f"提交申请：{kind}", frm, to, q["reason"] or ""))
        rejected = q["status"] == ChangeRequestStatus.rejected
        if q["level1_at"] is not None:
            verdict = "不批准" if rejected and q["level2_at"] is None else "通过"
            raw.append((q["level1_at"], q["level1_by"], f"一级审批{verdict}：{kind}", frm, to, q["level1_note"] or ""))
        if q["level2_at"] is not None:
            verdict = "不批准" if rejected else "通过"
            reason = q["level2_note"] or ""
            if q["backdated_reason"]:
                reason = f"{reason}（生效日早于申请日的理由：{q['backdated_reason']}）".strip()
            raw.append((q["level2_at"], q["level2_by"], f"二级审批{verdict}：{kind}", frm, to, reason))

    names = await _names({u for _, u, *_ in raw if u})
    raw.sort(key=lambda e: _utc(e[0]))
    return [AuditEntry(at=_utc(at), at_local=local_time(at, tz), actor=names.get(user, "系统") if user else "系统",
                       action_label=action, from_value=frm, to_value=to, reason_text=reason)
            for at, user, action, frm, to, reason in raw]


async def _names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows: list[dict[str, Any]] = await User.select(User.id, User.display_name).where(User.id.is_in(sorted(ids)))
    return {r["id"]: r["display_name"] for r in rows}
