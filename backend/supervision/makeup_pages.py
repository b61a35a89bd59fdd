"""The district authority's make-up queue (补卡审核, seed 000 §六; issue 15 workflow 4).

``/supervision/makeups``: the pending (or decided) make-up requests of the supervisor's districts, filtered by
project and day, with the evidence; approve or reject, one request or many of the same project and day with one
reason (e.g. a storm day).  Each decision goes through ``clockin.services.decide_makeup`` (one transaction per
request); the page lists the result of every request chosen — conflicts included, none dropped.  A key manager's
row shows "关键岗位人员不得补卡" instead of a checkbox (seed 000 §六: 施工现场管理人员不得补打考勤记录).

Registered by ``backend/org/routes.py`` (the supervision package's routes belong to its own pages).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser, visible_project_ids
from backend.attendance.live import LiveFeed
from backend.clockin import services as clockin
from backend.errors import AppError, Forbidden, invalid
from backend.org import services as org
from backend.supervision.services.messages import send_message
from backend.validators import clean_text
from backend.vocabulary import MAKEUP_STATUS_ZH, MakeupStatus, Role, local_time

User = NamedDependency[CurrentUser]
Feed = NamedDependency[LiveFeed]
PER_PAGE = 50
log = logging.getLogger("smz.supervision.makeups")
KEY_MANAGER_NOTE = "关键岗位人员不得补卡"


def _supervisor(user: CurrentUser) -> None:
    if user.role != Role.supervisor:
        raise Forbidden("补卡须由项目所在区县的住建主管部门确认", "Only the district authority decides make-up punches",
                        code="role_forbidden")


def _int(raw: Any, name: str) -> int | None:
    raw = str(raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise invalid(name, f"字段 {name} 应为整数", f"Field {name} must be an integer")
    return int(raw)


def _day(raw: Any) -> date | None:
    raw = str(raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid("day", "日期格式应为 YYYY-MM-DD", "day must be YYYY-MM-DD") from None


async def _context(user: CurrentUser, params: dict[str, Any]) -> dict[str, Any]:
    visible = await visible_project_ids(user)
    project_id = _int(params.get("project_id"), "project_id")
    day = _day(params.get("day"))
    status = str(params.get("status") if params.get("status") is not None else MakeupStatus.pending)
    if status and status not in MAKEUP_STATUS_ZH:
        raise invalid("status", "未知的审核状态", "Unknown status")
    page = _int(params.get("page"), "page") or 1
    rows, total = await clockin.makeup_queue(visible, status=status or None, project_id=project_id, day=day,
                                             page=page, per_page=PER_PAGE)
    for r in rows:
        r["punch_local"] = local_time(r["punch_time"], r["timezone"])
        r["group"] = f"{r['project']}:{r['day']}"
    query = {k: str(v) for k, v in {"project_id": project_id, "day": day, "status": status}.items()
             if v not in (None, "")}
    return {
        "user": user, "role_label": ROLES[user.role], "rows": rows, "total": total, "page": page,
        "pages": max(1, -(-total // PER_PAGE)), "projects": await org.list_projects(visible),
        "statuses": MAKEUP_STATUS_ZH, "f": {"project_id": project_id, "day": day, "status": status},
        "query": urlencode(query), "results": [], "error": None, "key_manager_note": KEY_MANAGER_NOTE,
    }


def _error(user: CurrentUser, exc: AppError) -> Template:
    return Template("org/error.html", context={"user": user, "role_label": ROLES[user.role], "message": exc.zh,
                                               "back": "/supervision/makeups"}, status_code=exc.status_code)


@get("/supervision/makeups", include_in_schema=False)
async def makeup_queue_page(request: Request[Any, Any, Any], user: User) -> Template:
    try:
        _supervisor(user)
        ctx = await _context(user, dict(request.query_params))
    except AppError as exc:
        return _error(user, exc)
    return Template("supervision/makeups.html", context=ctx)


@post("/supervision/makeups/decide", include_in_schema=False)
async def makeup_decide(request: Request[Any, Any, Any], user: User, live_feed: Feed) -> Template:
    form = await request.form()
    back = {k: form.get(k) for k in ("project_id", "day", "status")}
    try:
        _supervisor(user)
        ids = [i for i in (_int(v, "ids") for v in form.getall("ids")) if i is not None] if hasattr(
            form, "getall") else []
        if not ids:
            raise invalid("ids", "请至少选择一条补卡申请", "Choose at least one request")
        if len(ids) > PER_PAGE:
            raise invalid("ids", f"一次最多审批 {PER_PAGE} 条", f"At most {PER_PAGE} at a time")
        decision = str(form.get("decision") or "")
        if decision not in ("approve", "reject"):
            raise invalid("decision", "请选择批准或驳回", "Choose approve or reject")
        note = clean_text(str(form.get("note") or ""), "note", "审核意见", max_len=500, multiline=True) or ""
        if decision == "reject" and not note:
            raise invalid("note", "驳回时须填写理由", "A rejection needs a reason", code="reason_required")
        groups = await clockin.makeup_groups(user, ids)
        if len(set(groups.values())) > 1:
            raise invalid("ids", "批量审批只能选择同一项目、同一天的补卡申请", "Bulk decisions: one project and day only",
                          code="mixed_batch")
        results = await clockin.decide_makeups(user, ids, decision == "approve", note, feed=live_feed)
        await _tell_requesters(results, decision == "approve", note)
        ctx = await _context(user, back)
    except AppError as exc:
        try:
            ctx = await _context(user, back)
        except AppError:
            return _error(user, exc)
        ctx["error"] = exc.zh
        return Template("supervision/makeups.html", context=ctx, status_code=exc.status_code)
    ctx["results"] = results
    return Template("supervision/makeups.html", context=ctx)


async def _tell_requesters(results: list[dict[str, Any]], approved: bool, note: str) -> None:
    """A 站内消息 to whoever asked (the worker or the foreman), per decided request."""
    who = await clockin.makeup_requesters([r["id"] for r in results if r["ok"]])
    title = "补卡申请已批准" if approved else "补卡申请未批准"
    for user_id, project_id, when in who.values():
        if not user_id:
            continue
        try:  # the decisions are committed: a message that cannot be stored is logged, never a 500
            await send_message([user_id], title, f"{when} 的补卡申请{'已批准' if approved else '未批准'}"
                               + (f"：{note}" if note else "。"), project_id=project_id)
        except Exception:
            log.exception("make-up decision message to user %s not stored", user_id)


@get("/supervision/makeups/{request_id:int}/evidence", include_in_schema=False)
async def makeup_evidence(request_id: int, user: User) -> Response[bytes]:
    _supervisor(user)
    data, content_type = await clockin.makeup_evidence(user, request_id)
    ext = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(content_type, "bin")
    return Response(data, media_type=content_type, headers={
        "Content-Disposition": f'{"attachment" if ext == "pdf" else "inline"}; filename="makeup-{request_id}.{ext}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
    })


MAKEUP_PAGES: list[Any] = [makeup_queue_page, makeup_decide, makeup_evidence]
