"""Warning cases (seed 000 §三 黄灯/红灯, §五 闭环销号): their vocabulary, the event trail, listing, and the
steps people take on a case.  Detection lives in ``warnings``, notification in ``notifications``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.db import write_transaction
from backend.errors import Conflict, Forbidden, NotFound, invalid
from backend.supervision.days import parse_month
from backend.supervision.services.common import _aware, _ids_in, _json
from backend.supervision.tables import SmsLog, WarningCase, WarningEvent
from backend.vocabulary import (
    WARNING_ACTION_ZH,
    WARNING_KIND_ZH,
    WARNING_LEVEL_ZH,
    WARNING_STATUS_ZH,
    Role,
    WarningAction,
    WarningKind,
    WarningStatus,
)

# Codes and Chinese: backend/vocabulary.py (these names stay importable).
KIND_ZH = WARNING_KIND_ZH
MONTHLY_KINDS = frozenset({WarningKind.manager_valid_days, WarningKind.composite_rate})  # the others are states
LEVEL_ZH = WARNING_LEVEL_ZH
STATUS_ZH = WARNING_STATUS_ZH
ACTION_ZH = WARNING_ACTION_ZH
OPEN_STATES = (WarningStatus.open, WarningStatus.notified)

_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # action → (statuses it applies to, resulting status)
    "rectify": (OPEN_STATES, WarningStatus.rectified),
    "reopen": ((WarningStatus.rectified,), WarningStatus.open),
    "close": ((WarningStatus.open, WarningStatus.notified, WarningStatus.rectified), WarningStatus.closed),
}
_ACTION_EVENT = {"rectify": WarningAction.rectified, "reopen": WarningAction.reopened, "close": WarningAction.closed}


async def _event(case_id: int, action: str, level: str, status: str, *, actor: int | None = None,
                 actor_name: str = "系统", note: str = "") -> None:
    """Record one step of a case's trail."""
    await WarningEvent.insert(WarningEvent(warning=case_id, action=action, level=level, status=status, actor=actor,
                                           actor_name=actor_name, note=note, at=datetime.now(UTC)))


def _label_case(r: dict[str, Any]) -> None:
    r["kind_label"] = KIND_ZH.get(r["kind"], r["kind"])
    r["level_label"] = LEVEL_ZH.get(r["level"], r["level"])
    r["status_label"] = STATUS_ZH.get(r["status"], r["status"])


def _check_case_filters(status: str | None, level: str | None, kind: str | None) -> None:
    if status is not None and status not in STATUS_ZH:
        raise invalid("status", f"未知状态：{status}", f"Unknown status: {status}")
    if level is not None and level not in LEVEL_ZH:
        raise invalid("level", f"未知预警级别：{level}", f"Unknown level: {level}")
    if kind is not None and kind not in KIND_ZH:
        raise invalid("kind", f"未知预警类型：{kind}", f"Unknown warning kind: {kind}")


def _case_where(project_ids: set[int] | None, status: str | None, level: str | None, kind: str | None,
                project_id: int | None, period: str | None) -> Any:
    where = WarningCase.id > 0
    if project_ids is not None:
        where &= _ids_in(WarningCase.project, project_ids)
    if status:
        where &= WarningCase.status == status
    if level:
        where &= WarningCase.level == level
    if kind:
        where &= WarningCase.kind == kind
    if project_id is not None:
        where &= WarningCase.project == project_id
    if period:
        parse_month(period)
        where &= WarningCase.period == period
    return where


async def list_cases(
    project_ids: set[int] | None, *, status: str | None = None, level: str | None = None, kind: str | None = None,
    project_id: int | None = None, period: str | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    _check_case_filters(status, level, kind)
    if project_ids is not None and not project_ids:
        return [], 0
    where = _case_where(project_ids, status, level, kind, project_id, period)
    total = await WarningCase.count().where(where)
    rows = await WarningCase.select(
        WarningCase.id, WarningCase.project, WarningCase.project.name.as_alias("project_name"),
        WarningCase.district.name.as_alias("district_name"), WarningCase.kind, WarningCase.post, WarningCase.period,
        WarningCase.level, WarningCase.status, WarningCase.message, WarningCase.opened_on, WarningCase.red_on,
        WarningCase.updated_at,
    ).where(where).order_by(WarningCase.updated_at, ascending=False).order_by(WarningCase.id, ascending=False).limit(
        max(1, min(limit, 1000))).offset(max(0, offset))
    for r in rows:
        _label_case(r)
    return rows, total


async def get_case(case_id: int, project_ids: set[int] | None) -> dict[str, Any]:
    row = await WarningCase.select(
        *WarningCase.all_columns(), WarningCase.project.name.as_alias("project_name"),
        WarningCase.project.timezone.as_alias("timezone"),
        WarningCase.district.name.as_alias("district_name"),
    ).where(WarningCase.id == case_id).first()
    if row is None or (project_ids is not None and row["project"] not in project_ids):
        raise NotFound("预警不存在或无权查看", "Warning not found or not in your scope", field="warning_id")
    _label_case(row)
    row["detail"] = _json(row["detail"], {})
    row["events"] = await WarningEvent.select().where(WarningEvent.warning == case_id).order_by(WarningEvent.id)
    for e in row["events"]:
        e["action_label"] = ACTION_ZH.get(e["action"], e["action"])
        e["at"] = _aware(e["at"])
    row["sms"] = await SmsLog.select().where(SmsLog.warning == case_id).order_by(SmsLog.id)
    return row


def _check_action(action: str, note: str, role: str) -> str:
    """The action is known, the note is given and short enough, and the role may take it; the cleaned note."""
    if action not in _ACTIONS:
        raise invalid("action", f"未知操作：{action}", f"Unknown action: {action}")
    note = (note or "").strip()
    if not note:
        raise invalid("note", "请填写说明（整改情况或调查结果）", "A note is required (rectification or findings)")
    if len(note) > 2000:
        raise invalid("note", "说明不能超过 2000 字", "The note must not exceed 2000 characters")
    if action in ("reopen", "close") and role not in (Role.supervisor, Role.admin):
        raise Forbidden("只有主管部门可以重新打开或销号", "Only the authority may reopen or close a warning",
                        code="role_forbidden")
    return note


async def act_on_case(case_id: int, action: str, *, user_id: int, user_name: str, role: str, note: str,
                      project_ids: set[int] | None) -> dict[str, Any]:
    """A person's step in the lifecycle: the project side reports a rectification (整改说明); the authority
    reopens it or closes the case after its investigation (闭环销号, seed 000 §五).  Every step is recorded."""
    note = _check_action(action, note, role)
    allowed, target = _ACTIONS[action]
    async with write_transaction():
        case = await get_case(case_id, project_ids)
        if case["status"] not in allowed:
            raise Conflict(f"当前状态「{STATUS_ZH[case['status']]}」不能执行此操作",
                           f"This action is not possible in status {case['status']}", field="action",
                           code="bad_warning_transition")
        await WarningCase.update({WarningCase.status: target, WarningCase.updated_at: datetime.now(UTC)}).where(
            WarningCase.id == case_id)
        await _event(case_id, _ACTION_EVENT[action], case["level"], target, actor=user_id, actor_name=user_name,
                     note=note)
    return await get_case(case_id, project_ids)
