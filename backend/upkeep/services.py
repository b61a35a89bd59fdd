"""Device upkeep: repair tickets (seed 002 §五), removal and move notices (seed 002 §四.5), findings for the district,
the vendor service figures (seed 001 §2.10).  All SQL of the domain (the fault detection is ``upkeep.faults``).

Who is told what (``approvals.notify``: 站内消息, and SMS when a sender is given):
- a ticket opens → the vendor's users and the project's staff (seed 002 §五.1 告警 to vendor and project at once);
- a ticket still open at its due time (24 h) → the district's supervisors and the vendor (escalation, a finding);
- a removal notice → the district's supervisors (报知质安监机构) and the vendor;
- an acceptance late or missing → the district's supervisors (a finding).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend.accounts.tables import User
from backend.approvals.notify import notify, users_of
from backend.db import write_transaction
from backend.devices.services import TerminalChanges, offline_since, update_terminal
from backend.devices.tables import Terminal, TerminalAlarm, Vendor
from backend.errors import Conflict, NotFound, invalid
from backend.org.services import rules_for_district
from backend.rules import Rules
from backend.supervision.sms import SmsSender
from backend.upkeep.deadlines import (
    CalendarNotCovered,
    acceptance_due,
    acceptance_on_time,
    add_working_days,
    removal_notice_on_time,
    repair_due,
)
from backend.upkeep.tables import RemovalNotice, RepairTicket, UpkeepFinding
from backend.vocabulary import (
    FAULT_KIND_ZH,
    REMOVAL_ACTION_ZH,
    FaultKind,
    RemovalAction,
    RemovalStatus,
    Role,
    TicketStatus,
    UpkeepFindingKind,
)

log = logging.getLogger("smz.upkeep")

MAX_NOTE = 1000
OPEN_STATUSES = (TicketStatus.open, TicketStatus.acknowledged)
CONNECTION_FAULTS = (FaultKind.offline, FaultKind.heartbeat_gap)
ACTIVE_NOTICE = (RemovalStatus.filed, RemovalStatus.done)


def _aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _local_day(now: datetime, tz: str | None) -> date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(tz or "Asia/Shanghai")).date()


def _calendar_error(exc: CalendarNotCovered) -> Exception:
    return invalid("planned_on", f"节假日日历没有 {exc.year} 年的数据，暂不能计算工作日，请联系系统管理员升级 chinese-calendar",
                   f"The holiday calendar has no data for {exc.year}: ask the operator to upgrade chinese-calendar",
                   code="holiday_calendar_missing")


async def terminal_row(terminal_id: int) -> dict[str, Any]:
    row = await Terminal.select(
        Terminal.id, Terminal.serial, Terminal.project, Terminal.vendor, Terminal.enabled, Terminal.channel,
        Terminal.project.name.as_alias("project_name"), Terminal.project.district.as_alias("district"),
        Terminal.project.timezone.as_alias("timezone"), Terminal.vendor.name.as_alias("vendor_name"),
    ).where(Terminal.id == terminal_id).first()
    if row is None:
        raise NotFound("设备不存在", "Terminal not found", field="terminal_id")
    return row


class RulesCache:
    """The rules of each district, read once per run."""

    def __init__(self) -> None:
        self._by_district: dict[int, Rules] = {}

    async def of(self, district_id: int) -> Rules:
        if district_id not in self._by_district:
            self._by_district[district_id] = await rules_for_district(district_id)
        return self._by_district[district_id]


# --- who is told -----------------------------------------------------------------------------------------------


async def vendor_user_ids(vendor_id: int) -> list[int]:
    rows = await User.select(User.id).where(
        (User.role == Role.vendor) & (User.vendor == vendor_id) & (User.active == True))  # noqa: E712
    return [r["id"] for r in rows]


async def project_staff_ids(project_id: int) -> list[int]:
    """The project's staff (project_staff granted the project); the enterprise accounts of its units when none."""
    ids = await users_of(Role.project_staff, project_id=project_id)
    return ids or await users_of(Role.enterprise, project_id=project_id)


# --- findings ----------------------------------------------------------------------------------------------------


async def add_finding(kind: str, key: str, *, project_id: int, vendor_id: int | None, terminal_id: int | None,
                      message: str, now: datetime, ticket_id: int | None = None,
                      notice_id: int | None = None) -> bool:
    """Store a finding once per ``key``; True when it is new."""
    if await UpkeepFinding.exists().where(UpkeepFinding.key == key):
        return False
    try:
        await UpkeepFinding(kind=kind, key=key, project=project_id, vendor=vendor_id, terminal=terminal_id,
                            ticket=ticket_id, notice=notice_id, message=message[:1000], at=now).save()
    except Exception:  # another process stored the same key first (UNIQUE)
        if await UpkeepFinding.exists().where(UpkeepFinding.key == key):
            return False
        raise
    return True


async def list_findings(project_ids: set[int] | None, vendor_id: int | None = None,
                        limit: int = 200) -> list[dict[str, Any]]:
    q = UpkeepFinding.select(
        UpkeepFinding.id, UpkeepFinding.kind, UpkeepFinding.project, UpkeepFinding.project.name.as_alias("project_name"),
        UpkeepFinding.project.timezone.as_alias("timezone"), UpkeepFinding.vendor,
        UpkeepFinding.vendor.name.as_alias("vendor_name"), UpkeepFinding.terminal, UpkeepFinding.ticket,
        UpkeepFinding.notice, UpkeepFinding.message, UpkeepFinding.at,
    ).order_by(UpkeepFinding.id, ascending=False).limit(limit)
    if project_ids is not None:
        if not project_ids:
            return []
        q = q.where(UpkeepFinding.project.is_in(sorted(project_ids)))
    if vendor_id is not None:
        q = q.where(UpkeepFinding.vendor == vendor_id)
    return await q


# --- repair tickets --------------------------------------------------------------------------------------------


def open_key(terminal_id: int, kind: str) -> str:
    return f"{terminal_id}:{kind}"


async def open_ticket(terminal: dict[str, Any], kind: str, detail: str, *, now: datetime, rules: Rules,
                      opened_by: int | None = None, sms: SmsSender | None = None) -> int | None:
    """Open a repair ticket for ``terminal`` (a ``terminal_row``) unless one of the same kind is open; tell the
    vendor's users and the project's staff.  Returns the new ticket's id, None when one was open already."""
    key = open_key(terminal["id"], kind)
    async with write_transaction():
        if await RepairTicket.exists().where(RepairTicket.open_key == key):
            return None
        ticket = RepairTicket(terminal=terminal["id"], project=terminal["project"], vendor=terminal["vendor"],
                              kind=kind, detail=detail[:MAX_NOTE], status=TicketStatus.open, opened_at=now,
                              due_at=repair_due(now, hours=rules.repair_max_hours), opened_by=opened_by, open_key=key)
        try:
            await ticket.save()
        except Exception:
            if await RepairTicket.exists().where(RepairTicket.open_key == key):  # another process was first
                return None
            raise
    title = f"考勤设备故障：{FAULT_KIND_ZH.get(kind, kind)}"
    body = (f"{terminal['project_name']} 设备 {terminal['serial']}（{terminal['vendor_name']}）：{detail}。"
            f"请设备厂商在 {rules.repair_max_hours} 小时内修复（常德市实名制通知 五.4）。维修工单 #{ticket.id}")
    await notify([*await vendor_user_ids(terminal["vendor"]), *await project_staff_ids(terminal["project"])],
                 title, body, project_id=terminal["project"], sms=sms)
    return int(ticket.id)


async def report_fault(terminal_id: int, detail: str, *, user_id: int, now: datetime | None = None,
                       sms: SmsSender | None = None) -> int:
    """Project staff report a fault by hand (seed 002 §五.2 发现异常需及时通知运行服务商)."""
    detail = (detail or "").strip()
    if not detail:
        raise invalid("detail", "请描述故障现象", "Describe the fault")
    now = now or datetime.now(UTC)
    t = await terminal_row(terminal_id)
    if not t["enabled"]:
        raise Conflict("设备已停用（或已拆除），不能报障", "The terminal is disabled or removed", field="terminal_id")
    made = await open_ticket(t, FaultKind.reported, detail, now=now, rules=await rules_for_district(t["district"]),
                             opened_by=user_id, sms=sms)
    if made is None:
        raise Conflict("该设备已有未关闭的人工报障工单", "A reported fault of this terminal is still open",
                       field="terminal_id", code="ticket_open")
    return made


async def get_ticket(ticket_id: int) -> dict[str, Any]:
    row = await RepairTicket.select().where(RepairTicket.id == ticket_id).first()
    if row is None:
        raise NotFound("维修工单不存在", "Repair ticket not found", field="ticket_id")
    return row


async def acknowledge_ticket(ticket_id: int, *, user_id: int, now: datetime | None = None) -> None:
    """The vendor has taken the ticket (受理)."""
    now = now or datetime.now(UTC)
    t = await get_ticket(ticket_id)
    if t["status"] != TicketStatus.open:
        raise Conflict("工单已受理或已关闭", "The ticket is already acknowledged or closed", field="ticket_id",
                       code="ticket_state")
    await RepairTicket.update({RepairTicket.status: TicketStatus.acknowledged, RepairTicket.acknowledged_at: now,
                               RepairTicket.acknowledged_by: user_id}).where(RepairTicket.id == ticket_id)


async def close_ticket(ticket_id: int, note: str, *, user_id: int | None, now: datetime | None = None,
                       force: bool = False) -> bool:
    """The vendor closes the ticket with a note (what was repaired).  An outage (offline, heartbeat gap) closes only
    once the terminal is back (``force``: closed by the system, e.g. the terminal was removed).  Returns whether it
    was closed late; a late close that the escalation had not seen yet becomes a finding here."""
    note = (note or "").strip()
    if not note:
        raise invalid("note", "请填写维修说明", "Describe the repair")
    now = now or datetime.now(UTC)
    t = await get_ticket(ticket_id)
    if t["status"] == TicketStatus.closed:
        raise Conflict("工单已关闭", "The ticket is already closed", field="ticket_id", code="ticket_state")
    if t["kind"] in CONNECTION_FAULTS and not force:
        # 修复完成 = the device works again (docs/rules.md): an outage closes only once the terminal is back
        state = await Terminal.select(Terminal.enabled, Terminal.online, Terminal.last_seen_at, Terminal.last_offline_at,
                                      Terminal.created_at).where(Terminal.id == t["terminal"]).first()
        if state is not None and state["enabled"] and offline_since(state, now) is not None:
            raise Conflict("设备仍未恢复在线，恢复后才能关闭工单（或更换设备后报知拆除）",
                           "The terminal is still offline: close the ticket once it is back", field="ticket_id",
                           code="terminal_still_offline")
    await RepairTicket.update({RepairTicket.status: TicketStatus.closed, RepairTicket.closed_at: now,
                               RepairTicket.closed_by: user_id, RepairTicket.close_note: note[:MAX_NOTE],
                               RepairTicket.open_key: None}).where(RepairTicket.id == ticket_id)
    late = now > _aware(t["due_at"])  # type: ignore[operator]
    if late:
        await _overdue_finding(t, now)
    return late


async def _overdue_finding(t: dict[str, Any], now: datetime) -> bool:
    hours = (_aware(t["due_at"]) - _aware(t["opened_at"])).total_seconds() / 3600  # type: ignore[operator]
    return await add_finding(
        UpkeepFindingKind.repair_overdue, f"repair_overdue:{t['id']}", project_id=t["project"], vendor_id=t["vendor"],
        terminal_id=t["terminal"], ticket_id=t["id"], now=now,
        message=f"维修工单 #{t['id']}（{FAULT_KIND_ZH.get(t['kind'], t['kind'])}）报障后 {hours:g} 小时内未修复")


async def escalate_overdue(now: datetime | None = None, *, sms: SmsSender | None = None) -> list[int]:
    """Tickets still open past their due time (seed 002 §五.4: 24 h): escalated once each to the district — a
    finding and a message to its supervisors and the vendor.  Returns the escalated ticket ids."""
    now = now or datetime.now(UTC)
    rows = await RepairTicket.select(
        *RepairTicket.all_columns(), RepairTicket.terminal.serial.as_alias("serial"),
        RepairTicket.project.name.as_alias("project_name"), RepairTicket.vendor.name.as_alias("vendor_name"),
    ).where(RepairTicket.status.is_in(list(OPEN_STATUSES)) & RepairTicket.escalated_at.is_null()
            & (RepairTicket.due_at < now))
    done: list[int] = []
    for t in rows:
        changed = await RepairTicket.update({RepairTicket.escalated_at: now}).where(
            (RepairTicket.id == t["id"]) & RepairTicket.escalated_at.is_null()).returning(RepairTicket.id)
        if not changed:  # another process escalated it
            continue
        await _overdue_finding(t, now)
        body = (f"{t['project_name']} 设备 {t['serial']}（{t['vendor_name']}）的维修工单 #{t['id']}"
                f"（{FAULT_KIND_ZH.get(t['kind'], t['kind'])}）超过时限仍未修复（常德市实名制通知 五.4：接到报障后 24 小时内修复完成）")
        await notify([*await users_of(Role.supervisor, project_id=t["project"]), *await vendor_user_ids(t["vendor"])],
                     "设备维修超时", body, project_id=t["project"], sms=sms)
        done.append(t["id"])
    return done


def _ticket_select() -> Any:
    return RepairTicket.select(
        *RepairTicket.all_columns(), RepairTicket.terminal.serial.as_alias("serial"),
        RepairTicket.terminal.channel.as_alias("channel"), RepairTicket.project.name.as_alias("project_name"),
        RepairTicket.project.timezone.as_alias("timezone"), RepairTicket.vendor.name.as_alias("vendor_name"),
    )


async def list_tickets(project_ids: set[int] | None, vendor_id: int | None = None, *, open_only: bool = False,
                       overdue_only: bool = False, now: datetime | None = None, limit: int = 300) -> list[dict[str, Any]]:
    """Open ones first (oldest due first), then closed ones newest first."""
    now = now or datetime.now(UTC)
    q = _ticket_select()
    if project_ids is not None:
        if not project_ids:
            return []
        q = q.where(RepairTicket.project.is_in(sorted(project_ids)))
    if vendor_id is not None:
        q = q.where(RepairTicket.vendor == vendor_id)
    if open_only or overdue_only:
        q = q.where(RepairTicket.status.is_in(list(OPEN_STATUSES)))
    if overdue_only:
        q = q.where(RepairTicket.due_at < now)
    rows = await q.order_by(RepairTicket.id, ascending=False).limit(limit)
    for r in rows:
        due = _aware(r["due_at"])
        r["is_open"] = r["status"] != TicketStatus.closed
        end = _aware(r["closed_at"]) if r["closed_at"] else now
        r["overdue"] = end > due  # type: ignore[operator]
    rows.sort(key=lambda r: (not r["is_open"], _aware(r["due_at"]) if r["is_open"] else -r["id"]))  # type: ignore[arg-type,return-value]
    return rows


async def ticket_for_vendor(ticket_id: int, vendor_id: int | None) -> dict[str, Any]:
    """The ticket if it belongs to ``vendor_id`` (None: any, admin); 404 otherwise."""
    t = await get_ticket(ticket_id)
    if vendor_id is not None and t["vendor"] != vendor_id:
        raise NotFound("维修工单不存在", "Repair ticket not found", field="ticket_id")
    return t


# --- removal and move notices (seed 002 §四.5) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FiledNotice:
    id: int
    on_time: bool
    earliest_on_time: date  # the first removal day that would have been on time


async def file_notice(terminal_id: int, action: str, planned_on: date, *, user_id: int | None, reason: str = "",
                      new_location: str = "", now: datetime | None = None, sms: SmsSender | None = None) -> FiledNotice:
    """Project staff report a removal or move (拆除 / 移机).  Filed fewer than 3 working days ahead it is accepted
    and recorded as late (a finding for the district): the clause is a duty to report in advance, and refusing the
    report would leave the removal unreported — the worse breach (docs/rules.md)."""
    if action not in (RemovalAction.remove, RemovalAction.move):
        raise invalid("action", "请选择拆除或移机", "action must be remove or move")
    now = now or datetime.now(UTC)
    t = await terminal_row(terminal_id)
    if not t["enabled"]:
        raise Conflict("设备已停用（或已拆除），无需报知", "The terminal is disabled or already removed",
                       field="terminal_id", code="terminal_disabled")
    rules = await rules_for_district(t["district"])
    filed_on = _local_day(now, t["timezone"])
    if planned_on < filed_on:
        raise invalid("planned_on", "计划日期不能早于今天", "The planned day cannot be in the past")
    if action == RemovalAction.move and not new_location.strip():
        raise invalid("new_location", "移机请填写新的安装位置", "A move needs the new install position")
    if await RemovalNotice.exists().where((RemovalNotice.terminal == terminal_id)
                                          & RemovalNotice.status.is_in(list(ACTIVE_NOTICE))):
        raise Conflict("该设备已有未完成的拆除/移机报知", "This terminal already has a notice in progress",
                       field="terminal_id", code="notice_open")
    try:
        on_time = removal_notice_on_time(filed_on, planned_on, min_working_days=rules.removal_notice_min_working_days)
        earliest = add_working_days(filed_on, rules.removal_notice_min_working_days)
    except CalendarNotCovered as exc:
        raise _calendar_error(exc) from None
    notice = RemovalNotice(terminal=terminal_id, project=t["project"], vendor=t["vendor"], action=action,
                           reason=reason.strip()[:MAX_NOTE], new_location=new_location.strip()[:MAX_NOTE],
                           planned_on=planned_on, filed_on=filed_on, filed_at=now, filed_by=user_id,
                           notice_on_time=on_time, status=RemovalStatus.filed)
    await notice.save()
    what = REMOVAL_ACTION_ZH[action]
    if not on_time:
        await add_finding(
            UpkeepFindingKind.removal_notice_late, f"removal_notice_late:{notice.id}", project_id=t["project"],
            vendor_id=t["vendor"], terminal_id=terminal_id, notice_id=notice.id, now=now,
            message=(f"{t['project_name']} 设备 {t['serial']} {what}：{filed_on} 报知，计划 {planned_on} {what}，"
                     f"未提前 {rules.removal_notice_min_working_days} 个工作日（最早应为 {earliest}）"))
    body = (f"{t['project_name']} 报知设备 {t['serial']}（{t['vendor_name']}）计划于 {planned_on} {what}"
            + (f"，新位置：{new_location.strip()}" if new_location.strip() else "")
            + ("" if on_time else f"；未提前 {rules.removal_notice_min_working_days} 个工作日报知"))
    await notify([*await users_of(Role.supervisor, project_id=t["project"]), *await vendor_user_ids(t["vendor"])],
                 f"考勤设备{what}报知", body, project_id=t["project"], sms=sms)
    return FiledNotice(int(notice.id), on_time, earliest)


async def get_notice(notice_id: int) -> dict[str, Any]:
    row = await RemovalNotice.select(
        *RemovalNotice.all_columns(), RemovalNotice.project.timezone.as_alias("timezone"),
        RemovalNotice.project.district.as_alias("district"), RemovalNotice.terminal.serial.as_alias("serial"),
        RemovalNotice.project.name.as_alias("project_name"),
    ).where(RemovalNotice.id == notice_id).first()
    if row is None:
        raise NotFound("拆除/移机报知不存在", "Notice not found", field="notice_id")
    return row


async def mark_done(notice_id: int, done_on: date, *, user_id: int | None, now: datetime | None = None,
                    changes: TerminalChanges | None = None) -> date:
    """The removal or move is done (on ``done_on``): the compliance acceptance is due within 1 working day.  A
    removed terminal is disabled (refused at login) and its open tickets are closed.  Returns the acceptance due
    day."""
    now = now or datetime.now(UTC)
    n = await get_notice(notice_id)
    if n["status"] != RemovalStatus.filed:
        raise Conflict("报知已完成或已撤销", "The notice is already done or cancelled", field="notice_id",
                       code="notice_state")
    today = _local_day(now, n["timezone"])
    if done_on > today:
        raise invalid("done_on", "完成日期不能晚于今天", "The day done cannot be in the future")
    if done_on < n["filed_on"]:
        raise invalid("done_on", "完成日期不能早于报知日期", "The day done cannot be before the notice was filed")
    rules = await rules_for_district(n["district"])
    try:
        due = acceptance_due(done_on, working_days=rules.removal_acceptance_working_days)
    except CalendarNotCovered as exc:
        raise _calendar_error(exc) from None
    await RemovalNotice.update({RemovalNotice.status: RemovalStatus.done, RemovalNotice.done_on: done_on,
                                RemovalNotice.done_at: now, RemovalNotice.done_by: user_id,
                                RemovalNotice.acceptance_due_on: due}).where(RemovalNotice.id == notice_id)
    if n["action"] == RemovalAction.remove:
        await update_terminal(n["terminal"], {"enabled": False}, terminal_changes=changes)
        for t in await RepairTicket.select(RepairTicket.id).where(
                (RepairTicket.terminal == n["terminal"]) & RepairTicket.status.is_in(list(OPEN_STATUSES))):
            await close_ticket(t["id"], "设备已拆除，工单随之关闭", user_id=user_id, now=now, force=True)
    return due


async def file_acceptance(notice_id: int, note: str, *, vendor_id: int | None, user_id: int | None,
                          now: datetime | None = None) -> bool:
    """The vendor reports the compliance acceptance (合规性验收) of a done removal or move.  Returns whether it was
    on time; a late one becomes a finding (once)."""
    note = (note or "").strip()
    if not note:
        raise invalid("note", "请填写验收说明", "Describe the acceptance")
    now = now or datetime.now(UTC)
    n = await get_notice(notice_id)
    if vendor_id is not None and n["vendor"] != vendor_id:
        raise NotFound("拆除/移机报知不存在", "Notice not found", field="notice_id")
    if n["status"] != RemovalStatus.done:
        raise Conflict("拆除/移机尚未完成或已验收", "The removal is not done yet, or already accepted",
                       field="notice_id", code="notice_state")
    accepted_on = _local_day(now, n["timezone"])
    rules = await rules_for_district(n["district"])
    try:
        on_time = acceptance_on_time(n["done_on"], accepted_on, working_days=rules.removal_acceptance_working_days)
    except CalendarNotCovered as exc:
        raise _calendar_error(exc) from None
    await RemovalNotice.update({RemovalNotice.status: RemovalStatus.accepted, RemovalNotice.accepted_on: accepted_on,
                                RemovalNotice.accepted_at: now, RemovalNotice.accepted_by: user_id,
                                RemovalNotice.acceptance_note: note[:MAX_NOTE],
                                RemovalNotice.acceptance_on_time: on_time}).where(RemovalNotice.id == notice_id)
    if not on_time:
        await _acceptance_finding(n, now, accepted_on)
    return on_time


async def _acceptance_finding(n: dict[str, Any], now: datetime, accepted_on: date | None) -> bool:
    what = REMOVAL_ACTION_ZH.get(n["action"], n["action"])
    when = f"{accepted_on} 才报验收" if accepted_on else "尚未报验收"
    return await add_finding(
        UpkeepFindingKind.acceptance_late, f"acceptance_late:{n['id']}", project_id=n["project"], vendor_id=n["vendor"],
        terminal_id=n["terminal"], notice_id=n["id"], now=now,
        message=(f"{n['project_name']} 设备 {n['serial']} {n['done_on']} {what}完成，合规性验收应在 "
                 f"{n['acceptance_due_on']} 前报送，{when}"))


async def check_acceptances(now: datetime | None = None, *, sms: SmsSender | None = None) -> list[int]:
    """Done removals whose acceptance due day has passed without one: a finding each (once) and a message to the
    district.  Returns the notice ids newly found late."""
    now = now or datetime.now(UTC)
    rows = await RemovalNotice.select(
        *RemovalNotice.all_columns(), RemovalNotice.project.timezone.as_alias("timezone"),
        RemovalNotice.terminal.serial.as_alias("serial"), RemovalNotice.project.name.as_alias("project_name"),
    ).where((RemovalNotice.status == RemovalStatus.done) & RemovalNotice.acceptance_due_on.is_not_null())
    late: list[int] = []
    for n in rows:
        if _local_day(now, n["timezone"]) <= n["acceptance_due_on"]:
            continue
        if await _acceptance_finding(n, now, None):
            late.append(n["id"])
            await notify(await users_of(Role.supervisor, project_id=n["project"]), "设备拆除/移机未按时合规验收",
                         f"{n['project_name']} 设备 {n['serial']}：合规性验收应在 {n['acceptance_due_on']} 前报送，至今未报",
                         project_id=n["project"], sms=sms)
    return late


async def cancel_notice(notice_id: int) -> None:
    n = await get_notice(notice_id)
    if n["status"] != RemovalStatus.filed:
        raise Conflict("只有尚未完成的报知可以撤销", "Only a notice not yet done can be cancelled", field="notice_id",
                       code="notice_state")
    await RemovalNotice.update({RemovalNotice.status: RemovalStatus.cancelled}).where(RemovalNotice.id == notice_id)


async def list_notices(project_ids: set[int] | None, vendor_id: int | None = None,
                       limit: int = 300) -> list[dict[str, Any]]:
    q = RemovalNotice.select(
        *RemovalNotice.all_columns(), RemovalNotice.terminal.serial.as_alias("serial"),
        RemovalNotice.project.name.as_alias("project_name"), RemovalNotice.project.timezone.as_alias("timezone"),
        RemovalNotice.vendor.name.as_alias("vendor_name"),
    ).order_by(RemovalNotice.id, ascending=False).limit(limit)
    if project_ids is not None:
        if not project_ids:
            return []
        q = q.where(RemovalNotice.project.is_in(sorted(project_ids)))
    if vendor_id is not None:
        q = q.where(RemovalNotice.vendor == vendor_id)
    return await q


async def removal_in_progress(now: datetime) -> set[int]:
    """Terminals with an active removal/move notice whose planned day has come (their outage is expected)."""
    rows = await RemovalNotice.select(RemovalNotice.terminal, RemovalNotice.planned_on,
                                      RemovalNotice.project.timezone.as_alias("timezone")).where(
        RemovalNotice.status.is_in(list(ACTIVE_NOTICE)))
    return {r["terminal"] for r in rows if r["planned_on"] <= _local_day(now, r["timezone"])}


# --- vendor service figures (seed 001 §2.10 设备商支撑情况; issue 20 A.5) ---------------------------------------------


@dataclass(slots=True)
class VendorService:
    vendor_id: int
    name: str
    devices: dict[str, int] = field(default_factory=lambda: {"online": 0, "offline": 0, "never": 0, "disabled": 0})
    alarms_24h: int = 0  # gate alarms of the last 24 h
    tickets_open: int = 0
    tickets_overdue: int = 0  # open and past the due time
    tickets_closed: int = 0  # closed within the period
    closed_on_time: int = 0
    repair_hours: list[float] = field(default_factory=list)
    acceptances_due: int = 0  # done removals/moves whose acceptance is due (or filed) within the period
    acceptances_on_time: int = 0
    notices_late: int = 0

    @property
    def terminals(self) -> int:
        return sum(self.devices.values())

    @property
    def median_repair_h(self) -> float | None:
        return percentile(self.repair_hours, 0.5)

    @property
    def p90_repair_h(self) -> float | None:
        return percentile(self.repair_hours, 0.9)

    @property
    def on_time_rate(self) -> float | None:
        return self.closed_on_time / self.tickets_closed if self.tickets_closed else None

    @property
    def acceptance_rate(self) -> float | None:
        return self.acceptances_on_time / self.acceptances_due if self.acceptances_due else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0–1): the smallest value with at least q of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


async def vendor_service(project_ids: set[int] | None, vendor_id: int | None = None, *, now: datetime | None = None,
                         days: int = 90) -> list[VendorService]:
    """Per vendor, within the projects given (None: all): its terminals by state now, gate alarms of the last 24 h,
    tickets open / overdue, repair time (median, p90, share closed within the due time) of the tickets closed in the
    last ``days`` days, compliance acceptances on time.  Vendors with nothing in scope are left out unless asked for
    by ``vendor_id``."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    vq = Vendor.select(Vendor.id, Vendor.name).order_by(Vendor.id)
    if vendor_id is not None:
        vq = vq.where(Vendor.id == vendor_id)
    vendors = {v["id"]: VendorService(v["id"], v["name"]) for v in await vq}

    def scoped(q: Any, col_project: Any, col_vendor: Any) -> Any:
        if project_ids is not None:
            q = q.where(col_project.is_in(sorted(project_ids) or [-1]))
        if vendor_id is not None:
            q = q.where(col_vendor == vendor_id)
        return q

    seen: set[int] = set()
    for t in await scoped(Terminal.select(Terminal.id, Terminal.vendor, Terminal.enabled, Terminal.online,
                                          Terminal.last_seen_at, Terminal.last_offline_at, Terminal.created_at),
                          Terminal.project, Terminal.vendor):
        v = vendors.get(t["vendor"])
        if v is None:
            continue
        seen.add(v.vendor_id)
        if not t["enabled"]:
            state = "disabled"
        else:
            began = offline_since(t, now)
            state = "online" if began is None else ("never" if began[1] else "offline")
        v.devices[state] += 1
    for a in await scoped(TerminalAlarm.select(TerminalAlarm.vendor).where(
            TerminalAlarm.vendor.is_not_null() & (TerminalAlarm.at >= now - timedelta(hours=24))),
            TerminalAlarm.project, TerminalAlarm.vendor):
        if a["vendor"] in vendors:
            vendors[a["vendor"]].alarms_24h += 1
            seen.add(a["vendor"])
    for r in await scoped(RepairTicket.select(RepairTicket.vendor, RepairTicket.status, RepairTicket.opened_at,
                                              RepairTicket.due_at, RepairTicket.closed_at).where(
            RepairTicket.status.is_in(list(OPEN_STATUSES)) | (RepairTicket.closed_at >= since)),
            RepairTicket.project, RepairTicket.vendor):
        v = vendors.get(r["vendor"])
        if v is None:
            continue
        seen.add(v.vendor_id)
        due = _aware(r["due_at"])
        if r["status"] != TicketStatus.closed:
            v.tickets_open += 1
            v.tickets_overdue += now > due  # type: ignore[operator]
        else:
            closed = _aware(r["closed_at"])
            v.tickets_closed += 1
            v.closed_on_time += closed <= due  # type: ignore[operator]
            v.repair_hours.append((closed - _aware(r["opened_at"])).total_seconds() / 3600)  # type: ignore[operator]
    for n in await scoped(RemovalNotice.select(
            RemovalNotice.vendor, RemovalNotice.status, RemovalNotice.notice_on_time, RemovalNotice.filed_at,
            RemovalNotice.acceptance_due_on, RemovalNotice.acceptance_on_time,
            RemovalNotice.project.timezone.as_alias("timezone")).where(RemovalNotice.filed_at >= since),
            RemovalNotice.project, RemovalNotice.vendor):
        v = vendors.get(n["vendor"])
        if v is None:
            continue
        seen.add(v.vendor_id)
        v.notices_late += not n["notice_on_time"]
        if n["status"] == RemovalStatus.accepted:
            v.acceptances_due += 1
            v.acceptances_on_time += bool(n["acceptance_on_time"])
        elif n["status"] == RemovalStatus.done and n["acceptance_due_on"] is not None \
                and _local_day(now, n["timezone"]) > n["acceptance_due_on"]:
            v.acceptances_due += 1  # overdue without an acceptance: not on time
    return [v for v in vendors.values() if v.vendor_id in seen or vendor_id is not None]
