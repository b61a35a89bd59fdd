"""Pages of a project's lifecycle (issue 15): change requests (变更开工日期 / 停工 / 复工 / 完工 / 竣工, seed 004
§三(八)–(十)) and their two-level queues; participant units and teams (seed 001 §2.4–2.7).

Plain forms, server-rendered (Jinja): a POST answers with a redirect (303) to the page on success, or with the
page again, the Chinese message on top and the form as typed, on a refusal (never JSON).  ``org.js`` checks the
same rules in the browser with the same messages.  Thin: ``backend.org.services`` (and workforce for the roster)
do the work; each request and decision is announced through ``backend.approvals.notify``.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template

from backend.accounts import services as accounts
from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.approvals.notify import notify, users_of
from backend.auth import AuthUser, SmsDep, roles
from backend.crew.services.accounts import initial_password
from backend.errors import AppError, Forbidden, invalid
from backend.org import services as org
from backend.org.dictionaries import TEAM_KIND, UNIT_TYPE
from backend.platform import services as platform_services
from backend.validators import check_plain_text, parse_uscc
from backend.vocabulary import (
    CHANGE_REQUEST_STATUS_ZH,
    LEVEL1_HOLDER_ZH,
    ChangeKind,
    ChangeRequestStatus,
    Role,
    TeamKind,
    local_today,
)
from backend.workforce import services as workforce
from backend.workforce.dictionaries import WORK_TYPES

log = logging.getLogger("smz.org.pages")

REQUESTER_ROLES = frozenset({Role.project_staff, Role.enterprise, Role.supervisor})
UNIT_EDITORS = frozenset({Role.admin, Role.enterprise, Role.project_staff})
DECIDER_ROLES = frozenset({Role.enterprise, Role.supervisor})
PER_PAGE = 20
# The app's SMS sender (``backend.runtime``), by name; typed loosely: the sender is a Protocol msgspec cannot check.


def _ctx(user: CurrentUser, **kw: Any) -> dict[str, Any]:
    return {"user": user, "role_label": ROLES[user.role], **kw}


def _error_page(user: CurrentUser, exc: AppError, back: str) -> Template:
    return Template("org/error.html", context=_ctx(user, message=exc.zh, back=back), status_code=exc.status_code)


def _text(form: Any, name: str, max_len: int = 500) -> str:
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise invalid(name, f"字段 {name} 应为文本", f"Field {name} must be text")
    raw = str(value or "")
    check_plain_text(raw, name, multiline=True)
    out = raw.strip()
    if len(out) > max_len:
        raise invalid(name, f"内容过长（上限 {max_len} 个字符）", f"Field {name} is too long (max {max_len})")
    return out


def _date(form: Any, name: str, label: str, *, required: bool = False) -> date | None:
    raw = _text(form, name, 20)
    if not raw:
        if required:
            raise invalid(name, f"请填写{label}", f"{name} is required")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid(name, f"{label}格式应为 YYYY-MM-DD", f"{name} must be YYYY-MM-DD") from None


def _int(raw: Any, name: str) -> int | None:
    raw = str(raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise invalid(name, f"字段 {name} 应为整数", f"Field {name} must be an integer")
    return int(raw)


async def _names(ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for uid in ids:
        try:
            u = await accounts.load_user(uid)
            out[uid] = u.display_name or u.username
        except AppError:
            out[uid] = f"用户 {uid}"
    return out


async def _decorate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {r[k] for r in rows for k in ("requested_by", "level1_by", "level2_by") if r.get(k)}
    names = await _names(ids)
    for r in rows:
        r["form_kind"] = org.form_kind_of(r)
        r["form_kind_label"] = org.FORM_KIND_ZH.get(r["form_kind"], "开工" if r["form_kind"] == "start"
                                                    else r["kind_label"])
        for k in ("requested_by", "level1_by", "level2_by"):
            r[k + "_name"] = names.get(r[k], "") if r.get(k) else ""
        r["effective_on"] = r["approved_effective_on"] or (
            None if r["kind"] == ChangeKind.planned_start else r["requested_effective_on"])
    return rows


# --- A project's change requests --------------------------------------------------------------------------------


async def _changes_context(user: CurrentUser, project_id: int, **kw: Any) -> dict[str, Any]:
    project = await org.get_project(project_id)
    rules = await org.rules_for_project(project_id)
    rows, _ = await org.search_change_requests(None, project_id=project_id, per_page=100)
    extensions = await org._start_extensions(project_id)
    current = project["planned_start"]
    latest = org.add_months(current, rules.start_date_extension_max_months) if current else None
    return _ctx(
        user, project=project, requests=await _decorate(rows), kinds=org.FORM_KIND_ZH,
        can_request=user.role in REQUESTER_ROLES, max_months=rules.start_date_extension_max_months,
        max_count=rules.start_date_extension_max_count, extensions=extensions, latest_start=latest,
        today=local_today(project["timezone"]), form={}, error=None, ok=None, **kw,
    )


@get("/projects/{project_id:int}/changes", include_in_schema=False)
async def project_changes(project_id: int, user: AuthUser, ok: str | None = None) -> Template:
    try:
        await require_project(user, project_id)
        ctx = await _changes_context(user, project_id)
    except AppError as exc:
        return _error_page(user, exc, "/")
    ctx["ok"] = {"filed": "申请已提交，待一级审批；审批通过后才生效。"}.get(ok or "")
    return Template("org/changes.html", context=ctx)


@post("/projects/{project_id:int}/changes", include_in_schema=False)
async def file_change(project_id: int, request: Request[Any, Any, Any], user: AuthUser,
                      sms: SmsDep) -> Template | Redirect:
    form = await request.form()
    typed = {k: v for k, v in form.items() if not isinstance(v, UploadFile)}
    try:
        await require_project(user, project_id)
        if user.role not in REQUESTER_ROLES:
            raise Forbidden("当前角色不能提出项目变更申请", "Your role may not file change requests",
                            code="role_forbidden")
        kind = _text(form, "kind", 20)
        if kind not in org.FORM_KINDS:
            raise invalid("kind", "请选择申请类型", "Choose what to change")
        change_kind, target = org.FORM_KINDS[kind]
        if target is None:
            new_start = _date(form, "target", "新的拟开工日期", required=True)
            target = new_start.isoformat() if new_start else ""
            effective = None
        else:
            effective = _date(form, "effective_on", "生效日期")
        evidence = form.get("evidence")
        data = await evidence.read() if isinstance(evidence, UploadFile) else None
        req = await org.request_change_with_evidence(
            project_id, change_kind, target, effective_on=effective, reason=_text(form, "reason"),
            user_id=user.id, evidence=data, filename=evidence.filename if isinstance(evidence, UploadFile) else "")
    except AppError as exc:
        try:
            ctx = await _changes_context(user, project_id)
        except AppError as exc2:
            return _error_page(user, exc2, "/")
        ctx.update(form=typed, error=exc.zh)
        return Template("org/changes.html", context=ctx, status_code=exc.status_code)
    project = await org.get_project(project_id)
    candidates = [*await users_of(Role.enterprise, project_id=project_id),
                  *await users_of(Role.supervisor, project_id=project_id)]  # level 1 may be the authority's
    ids = [u for u in candidates if await _may_decide(req, 1, u)]
    await _notify(ids, f"{org.FORM_KIND_ZH[kind]}申请待一级审批",
                  f"项目「{project['name']}」提出{org.FORM_KIND_ZH[kind]}申请（{req['target_label']}），请审批。",
                  project_id, sms)
    return Redirect(f"/projects/{project_id}/changes?ok=filed", status_code=303)


async def _may_decide(req: dict[str, Any], level: int, user_id: int) -> bool:
    try:
        u = await accounts.load_user(user_id)
        await org.check_decider(req, level, user_id=u.id, role=u.role, enterprise_id=u.enterprise_id,
                                district_ids=u.district_ids)
    except AppError:
        return False
    return True


async def _notify(ids: list[int], title: str, body: str, project_id: int, sms: Any) -> None:
    try:
        await notify(ids, title, body, project_id=project_id, sms=sms)
    except Exception:  # a message that fails must not undo the decision the person just made
        log.exception("notification failed: %s", title)


@get("/projects/{project_id:int}/changes/{request_id:int}/evidence", include_in_schema=False)
async def change_evidence(project_id: int, request_id: int, user: AuthUser) -> Response[bytes]:
    req = await org.get_change_request(request_id)
    if req["project"] != project_id:
        raise invalid("request_id", "申请不属于该项目", "The request does not belong to this project")
    await require_project(user, project_id)
    ev = await org.change_evidence(request_id)
    ext = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(ev["content_type"], "bin")
    return Response(bytes(ev["data"]), media_type=ev["content_type"], headers={
        # a picture opens in the tab; a PDF is downloaded (the strict policy below would block the PDF viewer)
        "Content-Disposition": f'{"attachment" if ext == "pdf" else "inline"}; filename="evidence-{request_id}.{ext}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
    })


# --- The deciders' queue (level 1: owner / supervision firm; level 2: the district authority) -------------------


def _level_of(req: dict[str, Any]) -> int | None:
    return {ChangeRequestStatus.pending: 1, ChangeRequestStatus.level1_approved: 2}.get(req["status"])


async def _queue_context(user: CurrentUser, params: dict[str, Any]) -> dict[str, Any]:
    visible = await visible_project_ids(user)
    district_id = _int(params.get("district_id"), "district_id")
    project_id = _int(params.get("project_id"), "project_id")
    kind = str(params.get("kind") or "")
    status = str(params.get("status") if params.get("status") is not None else "open")
    since = _date(params, "since", "开始日期")
    until = _date(params, "until", "结束日期")
    page = _int(params.get("page"), "page") or 1
    rows, total = await org.search_change_requests(
        visible, district_id=district_id, project_id=project_id, kind=kind or None, status=status or None,
        since=since, until=until, page=page, per_page=PER_PAGE)
    await _decorate(rows)
    for r in rows:
        level = _level_of(r)
        r["my_level"] = level if level and await _may_decide(r, level, user.id) else None
    districts = await org.list_districts(None if user.role == Role.admin else set(user.district_ids)) \
        if user.role in (Role.admin, Role.supervisor) else []
    projects = await org.list_projects(visible)
    query = {k: v for k, v in {"district_id": district_id, "project_id": project_id, "kind": kind, "status": status,
                               "since": since, "until": until}.items() if v not in (None, "")}
    pages = max(1, -(-total // PER_PAGE))
    return _ctx(
        user, rows=rows, total=total, page=page, pages=pages, districts=districts, projects=projects,
        kinds=org.FORM_KIND_ZH, statuses={"open": "待审批（全部环节）", **CHANGE_REQUEST_STATUS_ZH},
        f={"district_id": district_id, "project_id": project_id, "kind": kind, "status": status, "since": since,
           "until": until},
        query=urlencode({k: str(v) for k, v in query.items()}), error=None, ok=None,
        level1=await org.change_level1_settings(None) if user.role == Role.admin else [],
        level1_holders=LEVEL1_HOLDER_ZH,
    )


@get("/changes", include_in_schema=False)
async def change_queue(request: Request[Any, Any, Any], user: AuthUser, ok: str | None = None) -> Template:
    try:
        if user.role not in (*DECIDER_ROLES, Role.admin):
            raise Forbidden("变更审批由建设/监理单位和主管部门办理", "Only deciders see this queue", code="role_forbidden")
        ctx = await _queue_context(user, dict(request.query_params))
    except AppError as exc:
        return _error_page(user, exc, "/")
    ctx["ok"] = {"level1": "一级审批人设置已保存。"}.get(ok or "", ok and "审批已记录。")
    return Template("org/queue.html", context=ctx)


@post("/changes/{request_id:int}/decide", include_in_schema=False)
async def decide(request_id: int, request: Request[Any, Any, Any], user: AuthUser, sms: SmsDep) -> Template | Redirect:
    form = await request.form()
    back = _text(form, "back", 500)
    if not back.startswith("/changes") and not back.startswith("/projects/"):
        back = "/changes"
    try:
        req = await org.get_change_request(request_id)
        await require_project(user, req["project"])
        level = _int(form.get("level"), "level")
        choice = _text(form, "decision", 10)
        if choice not in ("approve", "reject"):
            raise invalid("decision", "请选择批准或驳回", "Choose approve or reject")
        note = _text(form, "note")
        if choice == "reject" and not note:
            raise invalid("note", "驳回时须填写理由", "A rejection needs a reason", code="reason_required")
        done = await org.decide_change(
            request_id, level=level or 0, approve=choice == "approve", user_id=user.id, role=user.role,
            enterprise_id=user.enterprise_id, district_ids=user.district_ids,
            effective_on=_date(form, "effective_on", "生效日期") if level == 2 else None,
            reason=_text(form, "backdate_reason") if level == 2 else "", note=note)
    except AppError as exc:
        return _error_page(user, exc, back)
    await _announce(done, level or 0, choice == "approve", sms)
    sep = "&" if "?" in back else "?"
    return Redirect(f"{back}{sep}ok=decided", status_code=303)


async def _announce(req: dict[str, Any], level: int, approved: bool, sms: Any) -> None:
    project = await org.get_project(req["project"])
    what = org.FORM_KIND_ZH.get(org.form_kind_of(req), req["kind_label"])
    requester = [req["requested_by"]] if req.get("requested_by") else []
    if level == 1 and approved:
        ids = [u for u in await users_of(Role.supervisor, project_id=req["project"]) if await _may_decide(req, 2, u)]
        await _notify(ids, f"{what}申请待二级审批", f"项目「{project['name']}」的{what}申请已通过一级审批，请审批。",
                      req["project"], sms)
        await _notify(requester, f"{what}申请已通过一级审批", f"项目「{project['name']}」：待主管部门二级审批。",
                      req["project"], sms)
        return
    if approved:
        body = f"项目「{project['name']}」的{what}申请已批准，{req['approved_effective_on']} 起生效。"
        ids = requester + await users_of(Role.project_staff, project_id=req["project"])
        await _notify(ids, f"{what}申请已批准", body, req["project"], sms)
        return
    note = req["level2_note"] if level == 2 else req["level1_note"]
    await _notify(requester, f"{what}申请被驳回", f"项目「{project['name']}」：{note}", req["project"], sms)


@post("/districts/{district_id:int}/change-level1", include_in_schema=False, guards=[roles(Role.admin)])
async def set_level1(district_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Template | Redirect:
    """The system admin sets who decides level 1 in a district (default: the project's owner / supervision firm)."""
    form = await request.form()
    try:
        await org.set_change_level1(district_id, _text(form, "change_level1", 20))
    except AppError as exc:
        return _error_page(user, exc, "/changes")
    return Redirect("/changes?ok=level1", status_code=303)


# --- Units and teams --------------------------------------------------------------------------------------------


async def _units_context(user: CurrentUser, project_id: int, **kw: Any) -> dict[str, Any]:
    project = await org.get_project(project_id)
    units = await org.list_units(project_id)
    teams = await org.list_teams(project_id)
    roster = await workforce.list_roster(project_id, active_only=True)
    people = {r["person"]: r["name"] for r in roster}
    for t in teams:
        t["leader_name"] = people.get(t["leader"], "") if t["leader"] else ""
        t["members"] = [r["name"] for r in roster if r["team"] == t["id"]]
    for u in units:
        u["teams"] = [t for t in teams if t["unit"] == u["id"]]
        u["members"] = [r["name"] for r in roster if r["unit"] == u["id"]]
    return _ctx(
        user, project=project, units=units, teams=teams, unit_types=UNIT_TYPE,
        team_kinds={k: v for k, v in TEAM_KIND.items() if k != TeamKind.management},
        people=sorted(people.items(), key=lambda p: p[1]), work_types=WORK_TYPES, can_edit=user.role in UNIT_EDITORS,
        form={}, error=None, ok=None, still_on=[], credentials=None, **kw,
    )


@get("/projects/{project_id:int}/units", include_in_schema=False)
async def units_page(project_id: int, user: AuthUser, ok: str | None = None) -> Template:
    try:
        await require_project(user, project_id)
        ctx = await _units_context(user, project_id)
    except AppError as exc:
        return _error_page(user, exc, "/")
    ctx["ok"] = {"unit": "参建单位已添加，管理人员班组已自动创建。", "team": "班组已添加。", "team_end": "班组已退场。",
                 "unit_end": "参建单位已退场。"}.get(ok or "")
    return Template("org/units.html", context=ctx)


async def _units_refused(user: CurrentUser, project_id: int, exc: AppError, typed: dict[str, Any]) -> Template:
    try:
        ctx = await _units_context(user, project_id)
    except AppError as exc2:
        return _error_page(user, exc2, "/")
    ctx.update(form=typed, error=exc.zh, still_on=exc.extra.get("people", []))
    return Template("org/units.html", context=ctx, status_code=exc.status_code)


async def _editor(user: CurrentUser, project_id: int) -> None:
    await require_project(user, project_id, write=True)
    if user.role not in UNIT_EDITORS:
        raise Forbidden("当前角色不能管理参建单位和班组", "Your role may not manage units and teams", code="role_forbidden")


@post("/projects/{project_id:int}/units", include_in_schema=False)
async def add_unit(project_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Template | Redirect:
    form = await request.form()
    typed = dict(form.items())
    try:
        await _editor(user, project_id)
        unit_type = _text(form, "unit_type", 40)
        if unit_type not in UNIT_TYPE:
            raise invalid("unit_type", "请选择参建单位类型", "Choose the unit type")
        uscc = _text(form, "uscc", 40).upper()
        code = parse_uscc(uscc)
        enterprise = await org.enterprise_by_uscc(code)
        if enterprise is None:
            name = _text(form, "enterprise_name", 200)
            if not name:
                raise invalid("enterprise_name", "企业库中没有该统一社会信用代码，请填写企业名称以登记新企业",
                              "Unknown USCC: give the enterprise's name to register it", code="enterprise_name_required")
            enterprise_id = await org.create_enterprise(name, code)
        else:
            enterprise_id = enterprise["id"]
        await org.add_unit(project_id, enterprise_id, unit_type, _date(form, "entered_on", "进场日期"))
    except AppError as exc:
        return await _units_refused(user, project_id, exc, typed)
    return Redirect(f"/projects/{project_id}/units?ok=unit", status_code=303)


@post("/projects/{project_id:int}/teams", include_in_schema=False)
async def add_team(project_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Template | Redirect:
    form = await request.form()
    typed = dict(form.items())
    try:
        await _editor(user, project_id)
        unit_id = _int(form.get("unit_id"), "unit_id")
        if unit_id is None:
            raise invalid("unit_id", "请选择所属参建单位", "Choose the unit")
        name = _text(form, "name", 100)
        if not name:
            raise invalid("name", "请填写班组名称", "Give the team's name")
        kind = _text(form, "kind", 20) or TeamKind.worker
        code = _text(form, "work_type", 10)
        if code and code not in WORK_TYPES:
            raise invalid("work_type", "请从列表中选择工种", "Choose a type of work from the list")
        work_type = WORK_TYPES.get(code, "")
        full_name = f"{name}（{work_type}）" if work_type and work_type not in name else name
        leader = _int(form.get("leader"), "leader")
        want_account = _text(form, "foreman_account", 5) in ("1", "on")
        if want_account and leader is None:
            raise invalid("foreman_account", "开通班组长账号须先选择班组长", "Choose the foreman first",
                          code="leader_required")
        await workforce.create_team(project_id, unit_id, full_name, kind, leader, _date(form, "entered_on", "进场日期"))
    except AppError as exc:
        return await _units_refused(user, project_id, exc, typed)
    if not want_account or leader is None:
        return Redirect(f"/projects/{project_id}/units?ok=team", status_code=303)
    ctx = await _units_context(user, project_id)
    ctx["ok"] = "班组已添加。"
    ctx["credentials"] = await _foreman_account(project_id, leader, dict(ctx["people"]).get(leader, ""))
    return Template("org/units.html", context=ctx)


async def _foreman_account(project_id: int, person_id: int, name: str) -> dict[str, Any]:
    """A 班组长 account for the team's leader (role foreman, this project, a one-time password shown once and to
    be changed at first login).  The username is ``bz`` + the person id: a second team of the same leader finds it
    taken and says so (the password is not shown again)."""
    username = f"bz{person_id:06d}"
    password = initial_password()
    try:
        await accounts.create_user(username, password, Role.foreman, display_name=f"{name}（班组长）",
                                   person_id=person_id, project_ids=[project_id], must_change_password=True)
    except AppError as exc:
        if exc.status_code != 409:
            raise
        return {"username": username, "initial_password": None, "name": name}
    return {"username": username, "initial_password": password, "name": name}


@post("/projects/{project_id:int}/teams/{team_id:int}/end", include_in_schema=False)
async def end_team(project_id: int, team_id: int, user: AuthUser) -> Template | Redirect:
    async def still_on() -> list[str]:
        return [r["name"] for r in await workforce.list_roster(project_id, active_only=True, teams={team_id})]

    try:
        await _editor(user, project_id)
        await org.end_team(project_id, team_id, still_on=still_on)
    except AppError as exc:
        return await _units_refused(user, project_id, exc, {})
    return Redirect(f"/projects/{project_id}/units?ok=team_end", status_code=303)


@post("/projects/{project_id:int}/units/{unit_id:int}/end", include_in_schema=False)
async def end_unit(project_id: int, unit_id: int, user: AuthUser) -> Template | Redirect:
    async def still_on() -> list[str]:
        return [r["name"] for r in await workforce.list_roster(project_id, active_only=True) if r["unit"] == unit_id]

    try:
        await _editor(user, project_id)
        await org.end_unit(project_id, unit_id, still_on=still_on)
    except AppError as exc:
        return await _units_refused(user, project_id, exc, {})
    return Redirect(f"/projects/{project_id}/units?ok=unit_end", status_code=303)


# --- Enterprises with their 上传省厅 column (seed 001: the enterprise list; issue 17 item 3) ----------------------

ENTERPRISE_READERS = frozenset({Role.admin, Role.supervisor, Role.enterprise, Role.project_staff})


@get("/enterprises", include_in_schema=False)
async def enterprises_page(user: AuthUser, q: str | None = None) -> Template:
    """参建企业: the enterprises of the projects the user sees (an enterprise user: itself), with the state of
    their ProjectSubContractor records on the worker platform."""
    if user.role not in ENTERPRISE_READERS:
        raise Forbidden("当前角色不能查看企业列表", "Your role may not list enterprises", code="role_forbidden")
    only = user.enterprise_id if user.role == Role.enterprise else None
    rows = await org.enterprises_in_scope(await visible_project_ids(user), only)
    needle = (q or "").strip()[:60]
    if needle:
        rows = [r for r in rows if needle in r["name"] or needle.upper() in r["uscc"]]
    states = await platform_services.enterprise_states([r["id"] for r in rows])
    return Template("org/enterprises.html", context=_ctx(user, rows=rows, states=states, q=needle))


ORG_PAGES: list[Any] = [project_changes, file_change, change_evidence, change_queue, decide, set_level1, units_page,
                        add_unit, add_team, end_team, end_unit, enterprises_page]
