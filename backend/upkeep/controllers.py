"""Upkeep JSON API: repair tickets (vendor: acknowledge, close; project staff: report a fault), removal / move
notices (project staff file and mark done; the vendor files the compliance acceptance), findings, vendor service.

Scope: the vendor sees its own tickets, notices, findings and service row; project staff and enterprise accounts
those of their projects; supervisors their districts'; admin everything.  Foremen and workers nothing (serials)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, get, post
from litestar.params import JSONBody

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.auth import AuthUser, SmsDep, TerminalChangesDep, roles
from backend.devices.services import SERIAL_ROLES
from backend.errors import Forbidden, NotFound
from backend.schemas import out
from backend.upkeep import services
from backend.upkeep.present import finding_view, notice_view, service_view, ticket_view
from backend.upkeep.schemas import (
    AcceptanceIn,
    AcceptanceOut,
    FaultReportIn,
    FindingOut,
    NoticeDoneIn,
    NoticeDoneOut,
    NoticeFiledOut,
    NoticeIn,
    NoticeOut,
    TicketClosedOut,
    TicketCloseIn,
    TicketOut,
    VendorServiceOut,
)
from backend.vocabulary import Role

NOTICE_ROLES = (Role.enterprise, Role.project_staff)  # admin always passes
DONE_ROLES = (Role.enterprise, Role.project_staff, Role.vendor)


async def upkeep_scope(user: CurrentUser) -> tuple[set[int] | None, int | None]:
    """(project ids or None for all, vendor id or None) the user may see."""
    if user.role not in SERIAL_ROLES:
        raise Forbidden("当前角色不能查看设备运维", "Your role may not see device upkeep", code="role_forbidden")
    if user.role == Role.vendor:
        return None, user.vendor_id or -1
    return await visible_project_ids(user), None


async def ticket_for_vendor(user: CurrentUser, ticket_id: int) -> dict[str, Any]:
    return await services.ticket_for_vendor(ticket_id, None if user.is_admin else (user.vendor_id or -1))


async def terminal_for_project_staff(user: CurrentUser, terminal_id: int) -> dict[str, Any]:
    t = await services.terminal_row(terminal_id)
    if not await _sees(user, t["project"]):
        raise NotFound("设备不存在", "Terminal not found", field="terminal_id")
    await require_project(user, t["project"], write=True)
    return t


async def _sees(user: CurrentUser, project_id: int) -> bool:
    ids = await visible_project_ids(user)
    return ids is None or project_id in ids


async def notice_for(user: CurrentUser, notice_id: int) -> dict[str, Any]:
    """The notice if this user may act on it: its vendor, or staff who may change its project; else 404."""
    n = await services.get_notice(notice_id)
    if user.role == Role.vendor:
        if n["vendor"] != user.vendor_id:
            raise NotFound("拆除/移机报知不存在", "Notice not found", field="notice_id")
    elif not await _sees(user, n["project"]):
        raise NotFound("拆除/移机报知不存在", "Notice not found", field="notice_id")
    else:
        await require_project(user, n["project"], write=True)
    return n


class UpkeepController(Controller):
    path = "/api/upkeep"
    tags = ["upkeep"]

    @get("/tickets")
    async def tickets(self, user: AuthUser, open_only: bool = False, overdue_only: bool = False) -> list[TicketOut]:
        ids, vendor = await upkeep_scope(user)
        rows = await services.list_tickets(ids, vendor, open_only=open_only, overdue_only=overdue_only)
        return out(list[TicketOut], [_ticket_out(ticket_view(r)) for r in rows])

    @post("/terminals/{terminal_id:int}/faults", guards=[roles(Role.enterprise, Role.project_staff)])
    async def report(self, terminal_id: int, data: JSONBody[FaultReportIn], user: AuthUser, sms: SmsDep) -> TicketClosedOut:
        """Project staff report a fault by hand (报障): a ticket for the vendor, due in 24 h."""
        await terminal_for_project_staff(user, terminal_id)
        tid = await services.report_fault(terminal_id, data.detail, user_id=user.id, sms=sms)
        return TicketClosedOut(id=tid, late=False)

    @post("/tickets/{ticket_id:int}/ack", guards=[roles(Role.vendor)], status_code=200)
    async def acknowledge(self, ticket_id: int, user: AuthUser) -> TicketClosedOut:
        await ticket_for_vendor(user, ticket_id)
        await services.acknowledge_ticket(ticket_id, user_id=user.id)
        return TicketClosedOut(id=ticket_id, late=False)

    @post("/tickets/{ticket_id:int}/close", guards=[roles(Role.vendor)], status_code=200)
    async def close(self, ticket_id: int, data: JSONBody[TicketCloseIn], user: AuthUser) -> TicketClosedOut:
        await ticket_for_vendor(user, ticket_id)
        late = await services.close_ticket(ticket_id, data.note, user_id=user.id)
        return TicketClosedOut(id=ticket_id, late=late)

    @get("/notices")
    async def notices(self, user: AuthUser) -> list[NoticeOut]:
        ids, vendor = await upkeep_scope(user)
        return out(list[NoticeOut], [_notice_out(notice_view(r)) for r in await services.list_notices(ids, vendor)])

    @post("/notices", guards=[roles(*NOTICE_ROLES)])
    async def file(self, data: JSONBody[NoticeIn], user: AuthUser, sms: SmsDep) -> NoticeFiledOut:
        """A removal or move (seed 002 §四.5), filed ≥ 3 working days ahead; a later one is accepted as late."""
        await terminal_for_project_staff(user, data.terminal_id)
        made = await services.file_notice(data.terminal_id, data.action, data.planned_on, user_id=user.id,
                                          reason=data.reason, new_location=data.new_location, sms=sms)
        return NoticeFiledOut(id=made.id, on_time=made.on_time, earliest_on_time=made.earliest_on_time)

    @post("/notices/{notice_id:int}/done", guards=[roles(*DONE_ROLES)], status_code=200)
    async def done(self, notice_id: int, data: JSONBody[NoticeDoneIn], user: AuthUser,
                   terminal_changes: TerminalChangesDep) -> NoticeDoneOut:
        await notice_for(user, notice_id)
        due = await services.mark_done(notice_id, data.done_on, user_id=user.id, changes=terminal_changes)
        return NoticeDoneOut(id=notice_id, acceptance_due_on=due)

    @post("/notices/{notice_id:int}/cancel", guards=[roles(*NOTICE_ROLES)], status_code=200)
    async def cancel(self, notice_id: int, user: AuthUser) -> TicketClosedOut:
        await notice_for(user, notice_id)
        await services.cancel_notice(notice_id)
        return TicketClosedOut(id=notice_id, late=False)

    @post("/notices/{notice_id:int}/acceptance", guards=[roles(Role.vendor)], status_code=200)
    async def acceptance(self, notice_id: int, data: JSONBody[AcceptanceIn], user: AuthUser) -> AcceptanceOut:
        """The vendor's compliance acceptance (合规性验收), due within 1 working day of the removal."""
        await notice_for(user, notice_id)
        on_time = await services.file_acceptance(notice_id, data.note, vendor_id=None if user.is_admin else user.vendor_id,
                                                 user_id=user.id)
        return AcceptanceOut(id=notice_id, on_time=on_time)

    @get("/findings")
    async def findings(self, user: AuthUser) -> list[FindingOut]:
        ids, vendor = await upkeep_scope(user)
        rows = [finding_view(r) for r in await services.list_findings(ids, vendor)]
        return out(list[FindingOut], [{k: r[k] for k in FindingOut.__struct_fields__} for r in rows])

    @get("/vendors")
    async def vendors(self, user: AuthUser) -> list[VendorServiceOut]:
        """The vendor service figures (seed 001 §2.10): district and admin per vendor; a vendor its own row."""
        ids, vendor = await upkeep_scope(user)
        if user.role in (Role.enterprise, Role.project_staff):
            raise Forbidden("只有主管部门和设备厂商可以查看设备商服务情况", "Only the authority and vendors see this",
                            code="role_forbidden")
        rows = await services.vendor_service(ids, vendor, now=datetime.now(UTC))
        return out(list[VendorServiceOut], [service_view(v) for v in rows])


def _ticket_out(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in TicketOut.__struct_fields__}


def _notice_out(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in NoticeOut.__struct_fields__}
