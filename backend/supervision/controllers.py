"""JSON API of the supervision domain (/api/supervision/…): thin handlers, scope checked on every call."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, delete, get, post, put
from litestar.params import JSONBody
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from backend.auth import AuthUser, FenceSourceDep, LiveMapDep, SmsDep, roles
from backend.errors import invalid
from backend.schemas import Created, out
from backend.settings import get_settings
from backend.supervision import excel, present, services
from backend.supervision.access import (
    AUTHORITY_ROLES,
    READ_ROLES,
    day_range,
    hide_serials,
    require_district,
    scope,
)
from backend.supervision.days import month_of
from backend.supervision.schemas import (
    ActionIn,
    EvaluateIn,
    EvaluationOut,
    ExecutionOut,
    LatencyOut,
    ManagersOut,
    MapOut,
    MarkedOut,
    MatrixOut,
    MessagesOut,
    NotificationsOut,
    NotifySettingIn,
    NotifySettingOut,
    ProjectTodayOut,
    PunchDetailOut,
    QualificationOut,
    ReadIn,
    RecipientIn,
    RollupIn,
    RollupOut,
    VendorsOut,
    WarningCaseOut,
    WarningsOut,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SSE_KEEPALIVE_S = 15.0


_FILENAME_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def xlsx_response(content: bytes, filename: str) -> Response[bytes]:
    """An .xlsx download: the Chinese name as RFC 5987 ``filename*`` (UTF-8), an ASCII ``filename`` for old clients."""
    filename = _FILENAME_UNSAFE.sub("_", filename).strip() or "export.xlsx"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_.") or "export"
    if not ascii_name.lower().endswith(".xlsx"):
        ascii_name += ".xlsx"
    return Response(content, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"})


def _month(month: str | None) -> str:
    return month or month_of(services.local_today())


def manager_filters(project: str | None, enterprise: str | None, person: str | None, missing: list[str] | None,
                    absent: list[str] | None, below: list[str] | None,
                    composite_below: bool) -> services.ManagerFilters:
    return services.ManagerFilters(project=(project or "").strip(), enterprise=(enterprise or "").strip(),
                                   person=(person or "").strip(), missing=frozenset(missing or ()),
                                   absent=frozenset(absent or ()), below=frozenset(below or ()),
                                   composite_below=composite_below)


class SupervisionController(Controller):
    path = "/api/supervision"
    tags = ["supervision"]
    guards = [roles(*READ_ROLES)]

    # --- live map ------------------------------------------------------------------------------
    @get("/map")
    async def map_data(self, user: AuthUser, fence_source: FenceSourceDep, day: date | None = None) -> MapOut:
        data = await services.map_overview(await scope(user), day or services.local_today(), fence_source=fence_source)
        data["tile_url"] = get_settings().tile_url
        return out(MapOut, hide_serials(user, data))

    @get("/map/projects/{project_id:int}/today")
    async def project_today(self, user: AuthUser, project_id: int, day: date | None = None) -> ProjectTodayOut:
        await scope(user, project_id=project_id)
        return out(ProjectTodayOut, hide_serials(user, await services.project_today(project_id, day or services.local_today())))

    @get("/live")
    async def live(self, user: AuthUser, live_map: LiveMapDep) -> ServerSentEvent:
        """Server-sent events: committed punches of the user's projects (``event: punch``)."""
        ids = await scope(user)

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            async with live_map.subscribe() as q:
                yield ServerSentEventMessage(event="hello", data=json.dumps({"ok": True}), retry=3000)
                while True:
                    try:
                        ev = await asyncio.wait_for(q.get(), timeout=SSE_KEEPALIVE_S)
                    except TimeoutError:
                        yield ServerSentEventMessage(comment="keepalive", data=None)
                        continue
                    if ids is not None and ev.get("project_id") not in ids:
                        continue
                    yield ServerSentEventMessage(event=str(ev.get("type") or "punch"), id=ev.get("id"),
                                                 data=json.dumps(ev, ensure_ascii=False, default=str))

        return ServerSentEvent(events())

    # --- monthly attendance ------------------------------------------------------------------------
    @get("/attendance/matrix")
    async def matrix(self, user: AuthUser, month: str | None = None, project_id: int | None = None,
                     district_id: int | None = None, team_id: int | None = None, work_role: str | None = None,
                     post: str | None = None, q: str | None = None) -> MatrixOut:
        ids = await scope(user, project_id=project_id, district_id=district_id)
        m = await services.monthly_matrix(ids, _month(month), team_id=team_id, work_role=work_role, post=post, q=q)
        return out(MatrixOut, present.matrix_json(m))

    @get("/attendance/matrix.xlsx")
    async def matrix_xlsx(self, user: AuthUser, month: str | None = None, project_id: int | None = None,
                          district_id: int | None = None, team_id: int | None = None, work_role: str | None = None,
                          post: str | None = None, q: str | None = None) -> Response[bytes]:
        ids = await scope(user, project_id=project_id, district_id=district_id)
        m = await services.monthly_matrix(ids, _month(month), team_id=team_id, work_role=work_role, post=post, q=q)
        content = await asyncio.to_thread(excel.matrix_workbook, m)
        # the project's name in the file name (several projects: the district's or "全部项目")
        names = sorted({r.project_name for r in m.rows}) or sorted(m.projects.values())
        label = names[0] if len(names) == 1 else "全部项目"
        return xlsx_response(content, f"{label}_月考勤_{m.month}.xlsx")

    @get("/attendance/detail")
    async def detail(self, user: AuthUser, day_from: date | None = None, day_to: date | None = None,
                     project_id: int | None = None, district_id: int | None = None, team_id: int | None = None,
                     q: str | None = None, verdict: str | None = None, source: str | None = None,
                     late: bool = False, limit: int = 100, offset: int = 0) -> PunchDetailOut:
        ids = await scope(user, project_id=project_id, district_id=district_id)
        first, last = day_range(day_from, day_to)
        rows, total = await services.punch_detail(ids, first, last, team_id=team_id, q=q, verdict=verdict,
                                                  source=source, late_only=late, limit=min(limit, 1000),
                                                  offset=offset)
        return out(PunchDetailOut, {"total": total, "rows": hide_serials(user, rows)})

    @get("/attendance/detail.xlsx")
    async def detail_xlsx(self, user: AuthUser, day_from: date | None = None, day_to: date | None = None,
                          project_id: int | None = None, district_id: int | None = None, team_id: int | None = None,
                          q: str | None = None, verdict: str | None = None, source: str | None = None,
                          late: bool = False) -> Response[bytes]:
        ids = await scope(user, project_id=project_id, district_id=district_id)
        first, last = day_range(day_from, day_to)
        rows, total = await services.punch_detail(ids, first, last, team_id=team_id, q=q, verdict=verdict,
                                                  source=source, late_only=late, limit=EXPORT_MAX_ROWS)
        if total > len(rows):
            raise invalid("day_to", f"明细共 {total} 条，超过单次导出上限 {EXPORT_MAX_ROWS} 条，请缩小日期范围或增加筛选条件",
                          f"{total} rows exceed the export limit of {EXPORT_MAX_ROWS}; narrow the filters")
        content = await asyncio.to_thread(excel.detail_workbook, hide_serials(user, rows))
        return xlsx_response(content, f"考勤明细_{first}_{last}.xlsx")

    # --- key managers ----------------------------------------------------------------------------
    @get("/managers")
    async def managers(self, user: AuthUser, month: str | None = None, district_id: int | None = None,
                       project_id: int | None = None, project: str | None = None, enterprise: str | None = None,
                       person: str | None = None, missing: list[str] | None = None, absent: list[str] | None = None,
                       below: list[str] | None = None, composite_below: bool = False) -> ManagersOut:
        ids = await scope(user, project_id=project_id, district_id=district_id)
        stats = await services.managers_month(ids, _month(month))
        stats = await services.filter_managers(stats, manager_filters(project, enterprise, person, missing, absent,
                                                                      below, composite_below))
        return out(ManagersOut, {"month": _month(month), "updated_at": _iso_or_none(await services.last_rollup_at()),
                                 "projects": [present.managers_json(s) for s in stats]})

    @get("/managers.xlsx")
    async def managers_xlsx(self, user: AuthUser, month: str | None = None, district_id: int | None = None,
                            project_id: int | None = None, project: str | None = None, enterprise: str | None = None,
                            person: str | None = None, missing: list[str] | None = None,
                            absent: list[str] | None = None, below: list[str] | None = None,
                            composite_below: bool = False) -> Response[bytes]:
        ids = await scope(user, project_id=project_id, district_id=district_id)
        stats = await services.managers_month(ids, _month(month))
        stats = await services.filter_managers(stats, manager_filters(project, enterprise, person, missing, absent,
                                                                      below, composite_below))
        rows = [present.manager_table_row(i, s) for i, s in enumerate(stats, start=1)]
        content = await asyncio.to_thread(excel.table_workbook, "管理人员月考勤统计", present.MANAGER_TABLE_HEADERS,
                                          rows)
        return xlsx_response(content, f"管理人员月考勤统计_{_month(month)}.xlsx")

    # --- dashboards -------------------------------------------------------------------------------
    @get("/execution")
    async def execution(self, user: AuthUser, day: date | None = None,
                        district_id: int | None = None) -> ExecutionOut:
        ids = await scope(user, district_id=district_id)
        day = day or services.local_today()
        districts, total = await services.district_execution(ids, day)
        projects = await services.project_execution(ids, day)
        return out(ExecutionOut, {
            "day": day.isoformat(), "districts": [present.district_json(d) for d in districts],
            "total": present.district_json(total), "projects": [present.project_exec_json(p) for p in projects]})

    @get("/vendors")
    async def vendors(self, user: AuthUser, day: date | None = None, district_id: int | None = None) -> VendorsOut:
        ids = await scope(user, district_id=district_id)
        day = day or services.local_today()
        return out(VendorsOut, {"day": day.isoformat(),
                                "vendors": [present.vendor_json(v) for v in await services.vendor_support(ids, day)]})

    @get("/qualification")
    async def qualification(self, user: AuthUser, district_id: int | None = None) -> list[QualificationOut]:
        ids = await scope(user, district_id=district_id)
        ctxs = await services.project_contexts(ids)
        quals = await services.qualification(ctxs)
        return [QualificationOut(project_id=pid, name=ctxs[pid].name, qualified=q.qualified, project_ok=q.project_ok,
                                 teams_ok=q.teams_ok, people_ok=q.people_ok, people_active=q.people_active,
                                 people_enrolled=q.people_enrolled, problems=q.problems) for pid, q in quals.items()]

    @get("/latency")
    async def latency(self, user: AuthUser, day_from: date | None = None, day_to: date | None = None,
                      district_id: int | None = None, project_id: int | None = None) -> LatencyOut:
        ids = await scope(user, project_id=project_id, district_id=district_id)
        first, last = day_range(day_from, day_to)
        projects, terminals = hide_serials(user, await services.latency_compliance(ids, first, last))
        return out(LatencyOut, {"day_from": first.isoformat(), "day_to": last.isoformat(),
                                "projects": [present.latency_json(r) for r in projects],
                                "terminals": [present.latency_json(r) for r in terminals]})

    # --- warnings ---------------------------------------------------------------------------------
    @get("/warnings")
    async def warnings(self, user: AuthUser, status: str | None = None, level: str | None = None,
                       kind: str | None = None, project_id: int | None = None, period: str | None = None,
                       district_id: int | None = None, limit: int = 100, offset: int = 0) -> WarningsOut:
        ids = await scope(user, project_id=project_id, district_id=district_id)
        rows, total = await services.list_cases(ids, status=status, level=level, kind=kind, period=period,
                                                limit=limit, offset=offset)
        return out(WarningsOut, {"total": total, "rows": rows})

    @get("/warnings/{warning_id:int}")
    async def warning(self, user: AuthUser, warning_id: int) -> WarningCaseOut:
        return out(WarningCaseOut, await services.get_case(warning_id, await scope(user)))

    @post("/warnings/{warning_id:int}/actions", status_code=200)
    async def act(self, user: AuthUser, warning_id: int, data: JSONBody[ActionIn]) -> WarningCaseOut:
        """rectify (整改, project side or authority), reopen / close (销号, authority) — with a note."""
        return out(WarningCaseOut, await services.act_on_case(
            warning_id, data.action, user_id=user.id, user_name=user.display_name, role=user.role, note=data.note,
            project_ids=await scope(user)))

    @post("/warnings/evaluate", status_code=200, guards=[roles(*AUTHORITY_ROLES)])
    async def evaluate(self, user: AuthUser, data: JSONBody[EvaluateIn], sms: SmsDep) -> EvaluationOut:
        s = await services.evaluate_warnings(data.today, await scope(user), notify=data.notify, sender=sms)
        return out(EvaluationOut, {
            "today": s.today.isoformat(), "as_of": s.as_of.isoformat(), "projects": s.projects,
            "findings": s.findings, "opened": s.opened, "escalated": s.escalated, "rectified": s.rectified,
            "reopened": s.reopened, "notifications": s.notifications})

    @post("/warnings/{warning_id:int}/notify", status_code=200, guards=[roles(*AUTHORITY_ROLES)])
    async def renotify(self, user: AuthUser, warning_id: int, sms: SmsDep) -> NotificationsOut:
        await services.get_case(warning_id, await scope(user))
        return out(NotificationsOut, {"notifications": await services.notify_cases([warning_id], reason="manual",
                                                                                   sender=sms)})

    # --- notification settings (seed 001 §2.11.2) -----------------------------------------------------
    @get("/notify-settings/{district_id:int}", guards=[roles(*AUTHORITY_ROLES)])
    async def get_settings(self, user: AuthUser, district_id: int) -> NotifySettingOut:
        require_district(user, district_id)
        return out(NotifySettingOut, await services.get_notify_setting(district_id))

    @put("/notify-settings/{district_id:int}", guards=[roles(*AUTHORITY_ROLES)])
    async def put_settings(self, user: AuthUser, district_id: int, data: JSONBody[NotifySettingIn]) -> NotifySettingOut:
        require_district(user, district_id)
        values = {k: getattr(data, k) for k in services.SETTING_FIELDS}
        return out(NotifySettingOut, await services.save_notify_setting(district_id, values, user.id))

    @post("/notify-settings/{district_id:int}/recipients", guards=[roles(*AUTHORITY_ROLES)])
    async def add_recipient(self, user: AuthUser, district_id: int, data: JSONBody[RecipientIn]) -> Created:
        require_district(user, district_id)
        return Created(id=await services.add_recipient(district_id, data.project_id, data.name, data.phone, data.note))

    @delete("/notify-settings/{district_id:int}/recipients/{recipient_id:int}", guards=[roles(*AUTHORITY_ROLES)])
    async def remove_recipient(self, user: AuthUser, district_id: int, recipient_id: int) -> None:
        require_district(user, district_id)
        await services.remove_recipient(district_id, recipient_id)

    # --- in-site messages -----------------------------------------------------------------------------
    @get("/messages")
    async def messages(self, user: AuthUser, unread: bool = False) -> MessagesOut:
        return out(MessagesOut, {"unread": await services.unread_count(user.id),
                                 "rows": await services.list_messages(user.id, unread_only=unread)})

    @post("/messages/read", status_code=200)
    async def read(self, user: AuthUser, data: JSONBody[ReadIn]) -> MarkedOut:
        return MarkedOut(marked=await services.mark_read(user.id, data.message_id))

    # --- rollups on demand ---------------------------------------------------------------------------
    @post("/rollup", status_code=200, guards=[roles(*AUTHORITY_ROLES)])
    async def rollup(self, data: JSONBody[RollupIn]) -> RollupOut:
        if (data.day is None) == (data.month is None):
            raise invalid("day", "请指定 day 或 month 其中之一", "Give either day or month")
        if data.day is not None:
            result = await services.rollup_days([data.day])
        else:
            result = await services.rollup_month(data.month or "")
        return RollupOut(days=result.days, rows=result.rows, seconds=round(result.seconds, 3),
                         day_list=result.day_list)


EXPORT_MAX_ROWS = 200_000


def _iso_or_none(value: Any) -> str | None:
    return value.isoformat() if value else None
