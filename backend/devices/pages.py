"""Device management pages (Jinja + htmx): terminals with their online state (refreshed every 10 s),
outages longer than the district allows (seed 001 §六(十八)), registration of a terminal to a project
by project staff, enable / disable.

Who sees what — the same scope as the device API: admin everything; supervisors their districts'
projects; enterprise and project staff their projects; vendors their own terminals; foremen and
workers nothing (a serial is half of a terminal's login).
Registering is for project staff (and enterprise accounts, admin); enabling / disabling for them and
for the terminal's vendor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.auth import AuthUser, TerminalChangesDep, roles
from backend.devices import services
from backend.devices.controllers import SERIAL_ROLES, terminal_for_change
from backend.errors import AppError, Forbidden, invalid
from backend.org import services as org
from backend.rules import DEFAULT_RULES
from backend.vocabulary import DIRECTION_ZH, TERMINAL_STATE_ZH, Role, TerminalState, local_time

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

REGISTER_ROLES = (Role.enterprise, Role.project_staff)  # admin always passes
SWITCH_ROLES = (Role.enterprise, Role.project_staff, Role.vendor)
REFRESH_S = 10


# --- formatting ---------------------------------------------------------------------------------


def _local(at: datetime | None, tz: str) -> str:
    return local_time(at, tz, seconds=True)


def duration_zh(d: timedelta) -> str:
    """A duration as people say it: "2 天 5 小时", "3 小时 12 分", "8 分钟", "不到 1 分钟"."""
    minutes = int(d.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时" if hours else f"{days} 天"
    if hours:
        return f"{hours} 小时 {mins} 分" if mins else f"{hours} 小时"
    return f"{mins} 分钟" if mins else "不到 1 分钟"


def terminal_view(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A terminal row as the page shows it: its state (在线 / 离线 / 从未上线 / 停用) and times."""
    tz = row.get("timezone") or "Asia/Shanghai"
    began = services.offline_since(row, now)
    if not row["enabled"]:
        state = TerminalState.disabled
    elif began is None:
        state = TerminalState.online
    elif began[1]:
        state = TerminalState.never
    else:
        state = TerminalState.offline
    label = TERMINAL_STATE_ZH[state]
    since = ""
    if began is not None and row["enabled"]:
        since = duration_zh(now - began[0])
    return {
        **row,
        "state": state,
        "state_label": label,
        "direction_label": DIRECTION_ZH.get(row["direction"], row["direction"]),
        "last_seen_local": _local(row.get("last_seen_at"), tz),
        "last_login_local": _local(row.get("last_login_at"), tz),
        "offline_for": since,
    }


def outage_view(o: services.Outage) -> dict[str, Any]:
    return {
        "terminal_id": o.terminal_id,
        "serial": o.serial,
        "project_id": o.project_id,
        "project_name": o.project_name,
        "project_status": o.status_label,
        "vendor_name": o.vendor_name,
        "channel": o.channel,
        "direction_label": DIRECTION_ZH.get(o.direction, o.direction),
        "since_local": _local(o.since, o.timezone),
        "duration": duration_zh(o.duration),
        "limit_days": o.limit_days,
        "never_seen": o.never_seen,
    }


# --- scope ----------------------------------------------------------------------------------------


async def _scope(user: CurrentUser, project_id: int | None) -> tuple[set[int] | None, int | None]:
    """(project ids or None for all, vendor id or None) the user may see, narrowed to ``project_id``."""
    if user.role not in SERIAL_ROLES:
        raise Forbidden("当前角色不能查看考勤设备", "Your role may not see the terminals", code="role_forbidden")
    if user.role == Role.vendor:
        return ({project_id} if project_id is not None else None), (user.vendor_id or -1)
    if project_id is not None:
        await require_project(user, project_id)
        return {project_id}, None
    return await visible_project_ids(user), None


async def _context(user: CurrentUser, project_id: int | None) -> dict[str, Any]:
    ids, vendor = await _scope(user, project_id)
    now = datetime.now(UTC)
    rows = await services.list_terminals(ids, vendor_id=vendor)
    if vendor is not None and ids is not None:
        rows = [r for r in rows if r["project"] in ids]
    terminals = [terminal_view(r, now) for r in rows]
    outages = [outage_view(o) for o in await services.outages(now, project_ids=ids, vendor_id=vendor)]
    return {
        "terminals": terminals,
        "outages": outages,
        "counts": {s: sum(1 for t in terminals if t["state"] == s) for s in ("online", "offline", "never", "disabled")},
        "project_id": project_id,
        "query": f"?project_id={project_id}" if project_id is not None else "",
        "can_switch": user.role in (Role.admin, *SWITCH_ROLES),
        "refreshed_at": _local(now, "Asia/Shanghai"),
        "refresh_s": REFRESH_S,
        "outage_limit_days": DEFAULT_RULES.device_outage_max_days,
    }


async def _register_context(user: CurrentUser, project_id: int | None, **extra: Any) -> dict[str, Any]:
    may = user.role in (Role.admin, *REGISTER_ROLES)
    projects = await org.list_projects(await visible_project_ids(user)) if may else []
    return {
        "can_register": may,
        "projects": projects,
        "vendors": await services.list_vendors() if may else [],
        "form": {"project_id": str(project_id or ""), "serial": "", "vendor_id": "", "channel": "1", "direction": "in"},
        "message": None,
        "error": None,
        **extra,
    }


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


# --- handlers -----------------------------------------------------------------------------------


@get("/devices", include_in_schema=False)
async def devices_page(user: AuthUser, project_id: int | None = None) -> Template:
    ctx = await _context(user, project_id)
    project = await org.get_project(project_id) if project_id is not None and user.role != Role.vendor else None
    return Template("devices/index.html", context={
        "user": user, "role_label": ROLES[user.role], "project": project, **ctx,
        **await _register_context(user, project_id),
    })


@get("/devices/table", include_in_schema=False)
async def devices_table(user: AuthUser, project_id: int | None = None) -> Template:
    """The auto-refreshed fragment: terminals and outages."""
    return Template("devices/_state.html", context=await _context(user, project_id))


@get("/devices/outages", include_in_schema=False)
async def outages_page(user: AuthUser, project_id: int | None = None) -> Template:
    ctx = await _context(user, project_id)
    return Template("devices/outages.html", context={"user": user, "role_label": ROLES[user.role], **ctx})


def _int(form: dict[str, str], name: str, zh: str, en: str) -> int:
    raw = (form.get(name) or "").strip()
    try:
        return int(raw)
    except ValueError:
        raise invalid(name, zh, en) from None


@post("/devices/register", include_in_schema=False, guards=[roles(*REGISTER_ROLES)])
async def register_terminal(request: Request[Any, Any, Any], user: AuthUser, data: FormData,
                            terminal_changes: TerminalChangesDep) -> Template | Redirect:
    """Project staff bind a device (serial + vendor) to their project, on a channel, in or out."""
    form = {k: (data.get(k) or "").strip() for k in ("project_id", "serial", "vendor_id", "channel", "direction")}
    project_id: int | None = None
    try:
        project_id = _int(form, "project_id", "请选择项目", "Choose a project")
        await require_project(user, project_id, write=True)
        vendor_id = _int(form, "vendor_id", "请选择设备厂商", "Choose a vendor")
        channel = _int(form, "channel", "通道号应为数字", "Channel must be a number")
        if not form["serial"]:
            raise invalid("serial", "请填写设备序列号", "The serial is required")
        await services.register_terminal(project_id, form["serial"], vendor_id, channel, form["direction"] or "in",
                                         changes=terminal_changes)
    except AppError as exc:
        ctx = await _register_context(user, project_id, form=form, error=exc.zh)
        if _is_htmx(request):
            return Template("devices/_register.html", context=ctx)
        page = await _context(user, None)
        return Template("devices/index.html", status_code=exc.status_code, context={
            "user": user, "role_label": ROLES[user.role], "project": None, **page, **ctx})
    message = f"已登记设备 {form['serial']}"
    if _is_htmx(request):
        ctx = await _register_context(user, project_id, message=message)
        ctx["form"]["vendor_id"] = form["vendor_id"]
        return Template("devices/_register.html", context=ctx, headers={"HX-Trigger": "terminals-changed"})
    return Redirect(f"/devices?project_id={project_id}", status_code=303)


@post("/devices/{terminal_id:int}/enabled", include_in_schema=False, guards=[roles(*SWITCH_ROLES)])
async def switch_terminal(request: Request[Any, Any, Any], terminal_id: int, user: AuthUser,
                          data: FormData, terminal_changes: TerminalChangesDep) -> Template | Redirect:
    """Enable (enabled=1) or disable (enabled=0) a terminal; a disabled one is refused at login."""
    await terminal_for_change(user, terminal_id)
    enabled = (data.get("enabled") or "").strip()
    if enabled not in ("0", "1"):
        raise invalid("enabled", "参数 enabled 应为 1（启用）或 0（停用）", "enabled must be 1 or 0")
    await services.update_terminal(terminal_id, {"enabled": enabled == "1"}, terminal_changes=terminal_changes)
    raw = (data.get("project_id") or "").strip()
    project_id = int(raw) if raw.isdigit() else None
    if _is_htmx(request):
        return Template("devices/_state.html", context=await _context(user, project_id))
    return Redirect("/devices" + (f"?project_id={project_id}" if project_id is not None else ""), status_code=303)


DEVICE_PAGES = [devices_page, devices_table, outages_page, register_terminal, switch_terminal]
