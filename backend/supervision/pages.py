"""Supervision pages (/supervision/…): Jinja + htmx, Chinese UI.  Data comes from the services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser
from backend.auth import AuthUser, SmsDep, roles
from backend.errors import invalid
from backend.rules import DEFAULT_RULES
from backend.settings import get_settings
from backend.supervision import charts, present, services
from backend.supervision.access import (
    AUTHORITY_ROLES,
    READ_ROLES,
    day_range,
    hide_serials,
    require_district,
    scope,
    scope_districts,
)
from backend.supervision.controllers import manager_filters
from backend.supervision.days import month_of, parse_month
from backend.supervision.metrics import pct
from backend.supervision.services.explain import explain_project_month
from backend.upkeep.present import service_view
from backend.upkeep.services import vendor_service
from backend.vocabulary import Role
from backend.workforce.dictionaries import KEY_POSTS, POSTS

FormBody = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
GUARD = [roles(*READ_ROLES)]
HTML_ROW_LIMIT = 1000  # rows shown in a page; the .xlsx export has them all

NAV = [
    ("map", "/supervision/map", "实时地图"),
    ("execution", "/supervision/execution", "执行情况"),
    ("quality", "/supervision/quality", "数据质量"),
    ("managers", "/supervision/managers", "管理人员考勤"),
    ("attendance", "/supervision/attendance", "月考勤"),
    ("detail", "/supervision/attendance/detail", "考勤明细"),
    ("warnings", "/supervision/warnings", "预警"),
]


async def _ctx(user: CurrentUser, active: str, **extra: Any) -> dict[str, Any]:
    authority = user.role in (Role.admin, *AUTHORITY_ROLES)
    reader = user.role in (Role.admin, *READ_ROLES)  # vendors and workers reach only their messages here
    nav = (NAV + ([("settings", "/supervision/settings", "通知设置")] if authority else [])) if reader else []
    return {
        "user": user, "role_label": ROLES[user.role], "nav": nav, "nav_active": active, "authority": authority,
        "unread": await services.unread_count(user.id), "pct": pct, "key_posts": KEY_POSTS,
        "districts": await services.list_scope_districts(scope_districts(user)), **extra,
    }


def _months(month: str) -> tuple[str, str]:
    first, last = parse_month(month)
    return month_of(first - timedelta(days=1)), month_of(last + timedelta(days=1))


def _int(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise invalid("id", f"编号应为数字：{value}", f"Id must be a number: {value}") from None


@get("/supervision", include_in_schema=False, guards=GUARD)
async def index() -> Redirect:
    return Redirect("/supervision/map")


# --- live map ----------------------------------------------------------------------------------

@get("/supervision/map", include_in_schema=False, guards=GUARD)
async def map_page(user: AuthUser) -> Template:
    return Template("supervision/map.html", context=await _ctx(user, "map", tile_url=get_settings().tile_url))


@get("/supervision/map/projects/{project_id:int}/today", include_in_schema=False, guards=GUARD)
async def map_project_today(user: AuthUser, project_id: int) -> Template:
    await scope(user, project_id=project_id)
    data = hide_serials(user, await services.project_today(project_id, services.local_today()))
    return Template("supervision/map_today.html", context={"t": data})


# --- dashboards ---------------------------------------------------------------------------------

@get("/supervision/execution", include_in_schema=False, guards=GUARD)
async def execution_page(user: AuthUser, day: date | None = None, district_id: int | None = None) -> Template:
    ids = await scope(user, district_id=district_id)
    day = day or services.local_today()
    districts, total = await services.district_execution(ids, day)
    projects = await services.project_execution(ids, day)
    vendors = await services.vendor_support(ids, day)
    # the service figures (issue 20 A.5): devices by state, open / overdue repair tickets, repair time
    upkeep_rows = {v.vendor_id: service_view(v) for v in await vendor_service(ids, now=datetime.now(UTC))}
    return Template("supervision/execution.html", context=await _ctx(
        user, "execution", day=day, district_id=district_id, district_rows=districts, total=total,
        projects=projects, vendors=vendors, upkeep=upkeep_rows, duty=present.DUTY_ZH,
        chart=charts.bar_chart([(d.name, float(d.people), "") for d in districts], title=f"{day} 各地区考勤人数"),
    ))


@get("/supervision/quality", include_in_schema=False, guards=GUARD)
async def quality_page(user: AuthUser, day_from: date | None = None, day_to: date | None = None,
                       district_id: int | None = None) -> Template:
    ids = await scope(user, district_id=district_id)
    today = services.local_today()
    first, last = day_range(day_from or today - timedelta(days=6), day_to or today)
    ctxs = await services.project_contexts(ids)
    quals = await services.qualification(ctxs)
    lat_projects, lat_terminals = hide_serials(user, await services.latency_compliance(ids, first, last))
    return Template("supervision/quality.html", context=await _ctx(
        user, "quality", ctxs=ctxs, quals=quals, lat_projects=lat_projects, lat_terminals=lat_terminals,
        day_from=first, day_to=last, district_id=district_id,
    ))


# --- key managers (seed 001 §2.11.3) ---------------------------------------------------------------

@get("/supervision/managers", include_in_schema=False, guards=GUARD)
async def managers_page(
    request: Request[Any, Any, Any], user: AuthUser, month: str | None = None, district_id: int | None = None,
    project: str | None = None, enterprise: str | None = None, person: str | None = None,
    missing: list[str] | None = None, absent: list[str] | None = None, below: list[str] | None = None,
    composite_below: bool = False,
) -> Template:
    month = month or month_of(services.local_today())
    ids = await scope(user, district_id=district_id)
    f = manager_filters(project, enterprise, person, missing, absent, below, composite_below)
    stats = await services.filter_managers(await services.managers_month(ids, month), f)
    # District-wide trend: key managers present / required per day over the listed projects.
    by_day: dict[date, list[int]] = {}
    for s in stats:
        for d, present_n, required in s.daily:
            acc = by_day.setdefault(d, [0, 0])
            acc[0] += present_n
            acc[1] += required
    trend = charts.line_chart(
        [(f"{d.month}/{d.day}", (v[0] / v[1]) if v[1] else None) for d, v in sorted(by_day.items())],
        title="关键岗位管理人员每日到岗率（所列项目合计）",
        threshold=(stats[0].ctx.rules if stats else DEFAULT_RULES).manager_composite_on_duty_ratio,
        threshold_label="综合到岗率要求")
    prev_month, next_month = _months(month)
    return Template("supervision/managers.html", context=await _ctx(
        user, "managers", month=month, prev_month=prev_month, next_month=next_month, stats=stats, f=f,
        district_id=district_id, trend=trend, seed_posts=services.SEED_TABLE_POSTS, post_short=services.POST_SHORT,
        updated_at=await services.last_rollup_at(), query=str(request.url.query) if request.url.query else "",
        trend_of=present.trend_svg,
    ))


# --- monthly attendance (seed 001 §2.8) -------------------------------------------------------------

@get("/supervision/attendance", include_in_schema=False, guards=GUARD)
async def attendance_page(
    request: Request[Any, Any, Any], user: AuthUser, month: str | None = None, project_id: str | None = None,
    team_id: str | None = None, work_role: str | None = None, post: str | None = None, q: str | None = None,
) -> Template:
    month = month or month_of(services.local_today())
    visible = await scope(user)
    pid = _int(project_id)
    projects = await services.project_contexts(visible)
    if pid is None and len(projects) == 1:
        pid = next(iter(projects))
    matrix = teams = None
    if pid is not None:
        ids = await scope(user, project_id=pid)
        matrix = await services.monthly_matrix(ids, month, team_id=_int(team_id), work_role=work_role or None,
                                               post=post or None, q=q)
        teams = await services.list_scope_teams(pid)
    prev_month, next_month = _months(month)
    return Template("supervision/attendance.html", context=await _ctx(
        user, "attendance", month=month, prev_month=prev_month, next_month=next_month, projects=projects,
        project_id=pid, team_id=_int(team_id), work_role=work_role or "", post=post or "", q=q or "",
        matrix=matrix, teams=teams or [], posts=POSTS, legend=services.CELL_LEGEND, limit=HTML_ROW_LIMIT,
        chart=present.attendance_svg(matrix) if matrix else "",
        query=str(request.url.query) if request.url.query else "",
    ))


@get("/supervision/attendance/detail", include_in_schema=False, guards=GUARD)
async def detail_page(
    request: Request[Any, Any, Any], user: AuthUser, day_from: date | None = None, day_to: date | None = None,
    project_id: str | None = None, q: str | None = None, verdict: str | None = None, source: str | None = None,
    late: bool = False, page: int = 1,
) -> Template:
    pid = _int(project_id)
    ids = await scope(user, project_id=pid)
    first, last = day_range(day_from, day_to)
    size = 100
    page = max(1, page)
    rows, total = await services.punch_detail(ids, first, last, q=q, verdict=verdict or None, source=source or None,
                                              late_only=late, limit=size, offset=(page - 1) * size)
    hide_serials(user, rows)
    args = {k: v for k, v in request.query_params.items() if k != "page"}
    return Template("supervision/detail.html", context=await _ctx(
        user, "detail", rows=rows, total=total, page=page, pages=max(1, -(-total // size)), day_from=first,
        day_to=last, project_id=pid, q=q or "", verdict=verdict or "", source=source or "", late=late,
        projects=await services.project_contexts(await scope(user)), base_query=urlencode(args),
        query=str(request.url.query) if request.url.query else "",
    ))


# --- warnings ------------------------------------------------------------------------------------

@get("/supervision/warnings", include_in_schema=False, guards=GUARD)
async def warnings_page(user: AuthUser, status: str | None = None, level: str | None = None,
                        kind: str | None = None, period: str | None = None, page: int = 1) -> Template:
    ids = await scope(user)
    size = 100
    rows, total = await services.list_cases(ids, status=status or None, level=level or None, kind=kind or None,
                                            period=period or None, limit=size, offset=(max(1, page) - 1) * size)
    return Template("supervision/warnings.html", context=await _ctx(
        user, "warnings", rows=rows, total=total, status=status or "", level=level or "", kind=kind or "",
        period=period or "", kinds=services.KIND_ZH, statuses=services.STATUS_ZH, levels=services.LEVEL_ZH,
        today=services.local_today(),
    ))


@get("/supervision/warnings/{warning_id:int}", include_in_schema=False, guards=GUARD)
async def warning_page(user: AuthUser, warning_id: int) -> Template:
    case = await services.get_case(warning_id, await scope(user))
    return Template("supervision/warning.html", context=await _ctx(user, "warnings", case=case, tz=case["timezone"]))


@post("/supervision/warnings/{warning_id:int}/actions", include_in_schema=False, guards=GUARD)
async def warning_action(request: Request[Any, Any, Any], user: AuthUser, warning_id: int, data: FormBody) -> Response[Any]:
    await services.act_on_case(warning_id, data.get("action", ""), user_id=user.id, user_name=user.display_name,
                               role=user.role, note=data.get("note", ""), project_ids=await scope(user))
    return _hx_redirect(request, f"/supervision/warnings/{warning_id}")


@post("/supervision/warnings/evaluate", include_in_schema=False, guards=[roles(*AUTHORITY_ROLES)])
async def warnings_evaluate(request: Request[Any, Any, Any], user: AuthUser, sms: SmsDep) -> Response[Any]:
    await services.evaluate_warnings(None, await scope(user), sender=sms)
    return _hx_redirect(request, "/supervision/warnings")


def _hx_redirect(request: Request[Any, Any, Any], url: str) -> Response[Any]:
    """After a form post: htmx navigates on HX-Redirect (a 200 — XHR would follow a 303 silently); a plain form
    post follows the 303."""
    if request.headers.get("hx-request") == "true":
        return Response("", status_code=200, headers={"HX-Redirect": url})
    return Response("", status_code=303, headers={"Location": url})


# --- notification settings (seed 001 §2.11.2) ----------------------------------------------------------

@get("/supervision/settings", include_in_schema=False, guards=[roles(*AUTHORITY_ROLES)])
async def settings_page(user: AuthUser, district_id: int | None = None) -> Template:
    districts = await services.list_scope_districts(scope_districts(user))
    did = district_id or (districts[0]["id"] if districts else None)
    setting = projects = None
    if did is not None:
        require_district(user, did)
        setting = await services.get_notify_setting(did)
        projects = await services.project_contexts(await scope(user, district_id=did))
    return Template("supervision/settings.html", context=await _ctx(
        user, "settings", district_id=did, setting=setting, projects=projects or {},
        fields=services.SETTING_FIELDS))


@post("/supervision/settings/{district_id:int}", include_in_schema=False, guards=[roles(*AUTHORITY_ROLES)])
async def settings_save(request: Request[Any, Any, Any], user: AuthUser, district_id: int, data: FormBody) -> Response[Any]:
    require_district(user, district_id)
    await services.save_notify_setting(district_id, {k: data.get(k) == "on" for k in services.SETTING_FIELDS}, user.id)
    return _hx_redirect(request, f"/supervision/settings?district_id={district_id}")


@post("/supervision/settings/{district_id:int}/recipients", include_in_schema=False,
      guards=[roles(*AUTHORITY_ROLES)])
async def recipient_add(request: Request[Any, Any, Any], user: AuthUser, district_id: int, data: FormBody) -> Response[Any]:
    require_district(user, district_id)
    pid = _int(data.get("project_id"))
    if pid is None:
        raise invalid("project_id", "请选择项目", "Choose a project")
    await services.add_recipient(district_id, pid, data.get("name", ""), data.get("phone", ""), data.get("note", ""))
    return _hx_redirect(request, f"/supervision/settings?district_id={district_id}")


@post("/supervision/settings/{district_id:int}/recipients/{recipient_id:int}/delete", include_in_schema=False,
      guards=[roles(*AUTHORITY_ROLES)])
async def recipient_remove(request: Request[Any, Any, Any], user: AuthUser, district_id: int, recipient_id: int) -> Response[Any]:
    require_district(user, district_id)
    await services.remove_recipient(district_id, recipient_id)
    return _hx_redirect(request, f"/supervision/settings?district_id={district_id}")


# --- in-site messages --------------------------------------------------------------------------------

# Every role has its 站内消息 (a foreman reads the warnings sent about their project): /messages, linked with the
# unread count from every page's header (pwa/templates/base.html); /supervision/messages is the same page.

@get(["/messages", "/supervision/messages"], include_in_schema=False)
async def messages_page(user: AuthUser) -> Template:
    ctx = await _ctx(user, "messages", messages=await services.list_messages(user.id))
    # a message about a project shows the project's zone; any other, the user's district's (else China's)
    own = [d for d in ctx["districts"] if d["id"] in set(user.district_ids)]
    ctx["tz"] = own[0]["timezone"] if own else None
    return Template("supervision/messages.html", context=ctx)


@get("/messages/unread", include_in_schema=False)
async def messages_unread(user: AuthUser) -> Template:
    """The header's unread badge (htmx fragment; pages whose context has no ``unread`` load it)."""
    return Template("supervision/_unread.html", context={"unread": await services.unread_count(user.id)},
                    headers={"Cache-Control": "no-store"})


@post(["/messages/read", "/supervision/messages/read"], include_in_schema=False)
async def messages_read(request: Request[Any, Any, Any], user: AuthUser, data: FormBody) -> Response[Any]:
    await services.mark_read(user.id, _int(data.get("message_id")))
    return _hx_redirect(request, "/messages")


# --- a project's monthly rule lines (the project page; ``smz rules explain PROJECT --month``) ---------------

@get("/supervision/projects/{project_id:int}/month-rules", include_in_schema=False, guards=GUARD)
async def project_month_rules(user: AuthUser, project_id: int, month: str | None = None) -> Template:
    """Each rule of the month with its inputs and verdict (htmx fragment of the project page)."""
    await scope(user, project_id=project_id)
    month = month or month_of(services.local_today())
    e = await explain_project_month(project_id, month)
    prev_month, next_month = _months(month)
    # RuleLine.verdict is already plain Chinese: passed on as ``text`` (``verdict`` in templates means a code).
    lines = [{"rule": line.rule, "clause": line.clause, "inputs": line.inputs, "text": line.verdict}
             for line in e.lines if line.rule not in ("scope_rule", "mobile_max_latency_s", "gate_max_latency_s")]
    return Template("supervision/_month_rules.html", context={"e": e, "lines": lines, "prev_month": prev_month,
                                                              "next_month": next_month})


PAGES = [
    project_month_rules, index, map_page, map_project_today, execution_page, quality_page, managers_page, attendance_page, detail_page,
    warnings_page, warning_page, warning_action, warnings_evaluate, settings_page, settings_save, recipient_add,
    recipient_remove, messages_page, messages_unread, messages_read,
]
