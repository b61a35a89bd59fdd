"""Upkeep pages (Jinja): one page per role's work at /upkeep and the vendor service figures at /upkeep/vendors.

- vendor: its open tickets (受理, 关闭 with a note), removals awaiting its compliance acceptance, its service row;
- project staff / enterprise: their terminals' tickets, a fault report (报障), removal / move notices (file, mark
  done, cancel);
- supervisor / admin: overdue tickets, findings (late repairs, late notices, late acceptances), the vendor figures.
Forms post and come back to the page (303); a refused action shows the page again with the reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser
from backend.auth import AuthUser, SmsDep, TerminalChangesDep, roles
from backend.devices import services as devices
from backend.errors import AppError, invalid
from backend.rules import DEFAULT_RULES
from backend.upkeep import services
from backend.upkeep.controllers import (
    DONE_ROLES,
    NOTICE_ROLES,
    notice_for,
    terminal_for_project_staff,
    ticket_for_vendor,
    upkeep_scope,
)
from backend.upkeep.present import finding_view, notice_view, service_view, ticket_view
from backend.vocabulary import REMOVAL_ACTION_ZH, RemovalStatus, Role, local_time, local_today

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

DONE_MESSAGES = {
    "ack": "已受理工单", "closed": "工单已关闭", "closed_late": "工单已关闭（超过 24 小时，已记录为问题）",
    "reported": "已报障，设备厂商已收到通知", "filed": "已报知", "filed_late": "已报知；未提前 3 个工作日，已记录为问题",
    "done": "已登记完成，等待设备厂商合规验收", "accepted": "已报送合规性验收",
    "accepted_late": "已报送合规性验收（超过 1 个工作日，已记录为问题）", "cancelled": "已撤销报知",
}


async def _context(user: CurrentUser, **extra: Any) -> dict[str, Any]:
    ids, vendor = await upkeep_scope(user)
    now = datetime.now(UTC)
    is_authority = user.role in (Role.admin, Role.supervisor)
    tickets = [ticket_view(r) for r in await services.list_tickets(ids, vendor, now=now)]
    notices = [notice_view(r) for r in await services.list_notices(ids, vendor)]
    terminals = [t for t in await devices.list_terminals(ids, vendor_id=vendor) if t["enabled"]] \
        if user.role in (Role.admin, *NOTICE_ROLES) else []
    findings = [finding_view(r) for r in await services.list_findings(ids, vendor)]
    alarms = [{**a, "at_local": local_time(a["at"])}
              for a in await devices.list_alarms(ids if vendor is None else None, vendor_id=vendor, limit=20)]
    service = [service_view(v) for v in await services.vendor_service(ids, vendor, now=now)] \
        if is_authority or user.role == Role.vendor else []
    return {
        "user": user, "role_label": ROLES[user.role], "is_vendor": user.role == Role.vendor,
        "is_authority": is_authority, "can_file": user.role in (Role.admin, *NOTICE_ROLES),
        "can_mark_done": user.role in (Role.admin, *DONE_ROLES),
        "open_tickets": [t for t in tickets if t["is_open"]],
        "overdue_tickets": [t for t in tickets if t["is_open"] and t["overdue"]],
        "closed_tickets": [t for t in tickets if not t["is_open"]][:50],
        "notices": notices, "awaiting_acceptance": [n for n in notices if n["status"] == RemovalStatus.done],
        "active_notices": [n for n in notices if n["status"] in (RemovalStatus.filed, RemovalStatus.done)],
        "terminals": terminals, "findings": findings, "service": service, "alarms": alarms,
        "actions": REMOVAL_ACTION_ZH, "today": local_today().isoformat(),
        "repair_hours": DEFAULT_RULES.repair_max_hours, "notice_days": DEFAULT_RULES.removal_notice_min_working_days,
        "acceptance_days": DEFAULT_RULES.removal_acceptance_working_days,
        "refreshed_at": local_time(now), "message": None, "error": None, **extra,
    }


@get("/upkeep", include_in_schema=False)
async def upkeep_page(user: AuthUser, done: str | None = None) -> Template:
    return Template("upkeep/index.html", context=await _context(user, message=DONE_MESSAGES.get(done or "")))


@get("/upkeep/vendors", include_in_schema=False, guards=[roles(Role.supervisor, Role.vendor)])
async def vendors_page(user: AuthUser) -> Template:
    ids, vendor = await upkeep_scope(user)
    rows = [service_view(v) for v in await services.vendor_service(ids, vendor, now=datetime.now(UTC))]
    return Template("upkeep/vendors.html", context={"user": user, "role_label": ROLES[user.role], "service": rows,
                                                    "refreshed_at": local_time(datetime.now(UTC))})


async def _refused(user: CurrentUser, exc: AppError) -> Template:
    return Template("upkeep/index.html", status_code=exc.status_code, context=await _context(user, error=exc.zh))


def _date(raw: str | None, name: str) -> date:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        raise invalid(name, "请填写日期（YYYY-MM-DD）", "A date (YYYY-MM-DD) is required") from None


def _back(done: str) -> Redirect:
    return Redirect(f"/upkeep?done={done}", status_code=303)


@post("/upkeep/tickets/{ticket_id:int}/ack", include_in_schema=False, guards=[roles(Role.vendor)])
async def ack_ticket(ticket_id: int, user: AuthUser) -> Template | Redirect:
    try:
        await ticket_for_vendor(user, ticket_id)
        await services.acknowledge_ticket(ticket_id, user_id=user.id)
    except AppError as exc:
        return await _refused(user, exc)
    return _back("ack")


@post("/upkeep/tickets/{ticket_id:int}/close", include_in_schema=False, guards=[roles(Role.vendor)])
async def close_ticket(ticket_id: int, user: AuthUser, data: FormData) -> Template | Redirect:
    try:
        await ticket_for_vendor(user, ticket_id)
        late = await services.close_ticket(ticket_id, data.get("note", ""), user_id=user.id)
    except AppError as exc:
        return await _refused(user, exc)
    return _back("closed_late" if late else "closed")


@post("/upkeep/faults", include_in_schema=False, guards=[roles(*NOTICE_ROLES)])
async def report_fault(user: AuthUser, data: FormData, sms: SmsDep) -> Template | Redirect:
    try:
        raw = (data.get("terminal_id") or "").strip()
        if not raw.isdigit():
            raise invalid("terminal_id", "请选择设备", "Choose a terminal")
        await terminal_for_project_staff(user, int(raw))
        await services.report_fault(int(raw), data.get("detail", ""), user_id=user.id, sms=sms)
    except AppError as exc:
        return await _refused(user, exc)
    return _back("reported")


@post("/upkeep/notices", include_in_schema=False, guards=[roles(*NOTICE_ROLES)])
async def file_notice(user: AuthUser, data: FormData, sms: SmsDep) -> Template | Redirect:
    try:
        raw = (data.get("terminal_id") or "").strip()
        if not raw.isdigit():
            raise invalid("terminal_id", "请选择设备", "Choose a terminal")
        await terminal_for_project_staff(user, int(raw))
        made = await services.file_notice(int(raw), (data.get("action") or "").strip(),
                                          _date(data.get("planned_on"), "planned_on"), user_id=user.id,
                                          reason=data.get("reason", ""), new_location=data.get("new_location", ""),
                                          sms=sms)
    except AppError as exc:
        return await _refused(user, exc)
    return _back("filed" if made.on_time else "filed_late")


@post("/upkeep/notices/{notice_id:int}/done", include_in_schema=False, guards=[roles(*DONE_ROLES)])
async def notice_done(notice_id: int, user: AuthUser, data: FormData,
                      terminal_changes: TerminalChangesDep) -> Template | Redirect:
    try:
        await notice_for(user, notice_id)
        await services.mark_done(notice_id, _date(data.get("done_on"), "done_on"), user_id=user.id,
                                 changes=terminal_changes)
    except AppError as exc:
        return await _refused(user, exc)
    return _back("done")


@post("/upkeep/notices/{notice_id:int}/cancel", include_in_schema=False, guards=[roles(*NOTICE_ROLES)])
async def notice_cancel(notice_id: int, user: AuthUser) -> Template | Redirect:
    try:
        await notice_for(user, notice_id)
        await services.cancel_notice(notice_id)
    except AppError as exc:
        return await _refused(user, exc)
    return _back("cancelled")


@post("/upkeep/notices/{notice_id:int}/acceptance", include_in_schema=False, guards=[roles(Role.vendor)])
async def notice_acceptance(notice_id: int, user: AuthUser, data: FormData) -> Template | Redirect:
    try:
        await notice_for(user, notice_id)
        on_time = await services.file_acceptance(notice_id, data.get("note", ""),
                                                 vendor_id=None if user.is_admin else user.vendor_id, user_id=user.id)
    except AppError as exc:
        return await _refused(user, exc)
    return _back("accepted" if on_time else "accepted_late")


UPKEEP_PAGES = [upkeep_page, vendors_page, ack_ticket, close_ticket, report_fault, file_notice, notice_done,
                notice_cancel, notice_acceptance]
