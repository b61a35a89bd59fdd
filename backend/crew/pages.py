"""Tablet pages of crew registration (Jinja + htmx; ≥ 768 px; Chinese).  Thin: services do the work.

htmx forms post here and get an HTML fragment back (or ``HX-Redirect`` / ``HX-Refresh``); errors come
back as the app's ``<div class="error">`` fragment, which ``crew.js`` lets htmx swap in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser, require_project
from backend.auth import AuthUser, ImportTasksDep, RunnerDep
from backend.crew import forms, ocr, services
from backend.crew.dictionaries import CONTRACT_TYPE, GENDER, REG_STATUS
from backend.crew.validation import parse_date
from backend.errors import Forbidden, NotFound, invalid
from backend.org import services as org
from backend.privacy import people as privacy_people
from backend.validators import ETHNICITY
from backend.vocabulary import WAGE_UNIT_ZH, ConsentAction, ConsentChannel, RegistrationStatus, label
from backend.wages.exits import exit_with_settlement, owed_for_entry
from backend.workforce import consent
from backend.workforce import services as workforce


def _ctx(user: CurrentUser, **kw: Any) -> dict[str, Any]:
    return {"user": user, "role_label": ROLES[user.role], **kw}


def _login_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/") + "/login"


def _redirect(url: str) -> Response[str]:
    return Response("", headers={"HX-Redirect": url}, media_type="text/html")


async def _editor_page(user: CurrentUser, project_id: int) -> dict[str, Any]:
    if user.role not in services.EDITOR_ROLES:
        raise Forbidden("当前角色不能登记人员", "Your role may not register people", code="role_forbidden")
    await require_project(user, project_id, write=True)
    return await services.project_brief(project_id)


def _roster_query(project_id: int, f: dict[str, Any], page: int | None = None) -> str:
    """The query string of a roster view (filters and page), for links and the address bar."""
    params: dict[str, Any] = {"presence": f["state"]}
    if f["team"] is not None:
        params["team"] = f["team"]
    if f["face"]:
        params["enrolled"] = f["face"]
    if f["missing_contract"]:
        params["missing_contract"] = "true"
    if f["q"]:
        params["q"] = f["q"]
    if page and page > 1:
        params["page"] = page
    return urlencode(params)


async def _roster_view(user: CurrentUser, project_id: int, *, presence: str, active: bool, team: str, enrolled: str,
                       missing_contract: bool, q: str, page: int) -> dict[str, Any]:
    """``team``: a team id, or "" for every team (the filter form sends "" for 全部班组)."""
    await require_project(user, project_id)
    project = await services.project_brief(project_id)
    listing = await services.roster_listing(
        user, project_id, state=presence or ("active" if active else "all"),
        team=int(team) if team.strip().isdigit() and len(team.strip()) < 12 else None, face=enrolled,
        missing_contract=missing_contract, q=q[:60], page=page)
    f = listing["filters"]
    return _ctx(user, project=project, listing=listing, rows=listing["rows"], can_edit=user.role in services.EDITOR_ROLES,
                states=services.ROSTER_STATES, face_filters=services.FACE_FILTERS,
                page_query=lambda n: _roster_query(project_id, f, n), query=_roster_query(project_id, f, listing["page"]))


@get("/projects/{project_id:int}/crew", include_in_schema=False)
async def roster_page(project_id: int, user: AuthUser, active: bool = True, missing_contract: bool = False,
                      q: str = "", presence: str = "", team: str = "", enrolled: str = "", page: int = 1) -> Template:
    ctx = await _roster_view(user, project_id, presence=presence, active=active, team=team, enrolled=enrolled,
                             missing_contract=missing_contract, q=q, page=page)
    regs = await services.list_registrations(user, project_id) if user.role in services.EDITOR_ROLES else []
    return Template("crew/roster.html", context={**ctx, "regs": regs, "q": q,
                                                 "missing": ctx["listing"]["counts"]["missing_contract"]})


@get("/projects/{project_id:int}/crew/table", include_in_schema=False)
async def roster_table(project_id: int, user: AuthUser, active: bool = True, missing_contract: bool = False,
                       q: str = "", presence: str = "", team: str = "", enrolled: str = "", page: int = 1) -> Template:
    """The roster fragment (htmx): the address bar follows the filters and the page (``HX-Push-Url``)."""
    ctx = await _roster_view(user, project_id, presence=presence, active=active, team=team, enrolled=enrolled,
                             missing_contract=missing_contract, q=q, page=page)
    return Template("crew/_roster_table.html", context=ctx,
                    headers={"HX-Push-Url": f"/projects/{project_id}/crew?{ctx['query']}"})


@get("/projects/{project_id:int}/crew/register", include_in_schema=False)
async def register_page(project_id: int, user: AuthUser) -> Template:
    project = await _editor_page(user, project_id)
    return Template("crew/register.html", context=_ctx(
        user, project=project, ethnicity=ETHNICITY, genders=GENDER, ocr=ocr.available()))


@get("/projects/{project_id:int}/crew/registrations/{rid:int}", include_in_schema=False)
async def registration_page(project_id: int, rid: int, user: AuthUser) -> Template:
    reg = await services.get_registration(user, project_id, rid)
    project = await services.project_brief(project_id)
    options = await services.form_options(project_id) if reg["status"] == RegistrationStatus.face_checked else {}
    # the district's age notice (seed 000 §六: told, never refused)
    notices = workforce.age_notices(await org.rules_for_project(project_id), reg["birth_date"], reg["gender"])
    # 单独同意 (issue 20 B.1): the consent text is shown and ticked before the selfie step
    rules = await org.rules_for_project(project_id)
    consent_ctx = {"in_force": await consent.has_consent(reg["person"]), "version": consent.CURRENT_CONSENT_VERSION,
                   "text": consent.consent_text(rules=rules)}
    return Template("crew/registration.html", context=_ctx(
        user, project=project, reg=reg, statuses=REG_STATUS, genders=GENDER, ethnicity=ETHNICITY,
        can_edit=user.role in services.EDITOR_ROLES, notices=notices, consent=consent_ctx, **options))


@post("/projects/{project_id:int}/crew/registrations/{rid:int}/consent", include_in_schema=False, status_code=200)
async def consent_submit(project_id: int, rid: int, request: Request[Any, Any, Any], user: AuthUser) -> Response[str]:
    """The tablet's consent step: ``consent_version`` ticked (``agree`` = "1") → consent given, the page reloads
    into the selfie step; ``agree`` = "0" → declined (the project's staff are told; no face is taken)."""
    reg = await services.get_registration(user, project_id, rid)
    if user.role not in services.EDITOR_ROLES:
        raise Forbidden("当前角色不能登记人员", "Your role may not register people", code="role_forbidden")
    form = await request.form()
    agree = forms.text(form, "agree", 2) == "1"
    if agree and forms.text(form, "consent_tick", 8) != "on":
        raise invalid("consent_tick", "请本人阅读同意书后勾选“我同意”", "Tick the consent box first", code="consent_not_ticked")
    action = ConsentAction.given if agree else ConsentAction.declined
    await privacy_people.record_consent(user, reg["person"], action=action, channel=ConsentChannel.tablet,
                                        version=forms.text(form, "consent_version", 16), project_id=project_id)
    return Response("", headers={"HX-Refresh": "true"}, media_type="text/html")


@post("/projects/{project_id:int}/crew/registrations/{rid:int}/complete", include_in_schema=False)
async def complete_submit(project_id: int, rid: int, request: Request[Any, Any, Any], user: AuthUser) -> Template:
    form = await request.form()
    result = await services.complete_registration(user, project_id, rid, await forms.roster_step(form))
    project = await services.project_brief(project_id)
    return Template("crew/_credentials.html", context=_ctx(user, project=project, result=result, done=True,
                                                           login_url=_login_url(request)))


@post("/projects/{project_id:int}/crew/registrations/{rid:int}/cancel", include_in_schema=False)
async def cancel_submit(project_id: int, rid: int, user: AuthUser) -> Response[str]:
    await services.cancel_registration(user, project_id, rid)
    return _redirect(f"/projects/{project_id}/crew")


@get("/projects/{project_id:int}/crew/entries/{entry_id:int}", include_in_schema=False)
async def entry_page(project_id: int, entry_id: int, user: AuthUser) -> Template:
    await require_project(user, project_id)
    rows = [r for r in await services.roster(user, project_id, active_only=False) if r["id"] == entry_id]
    if not rows:
        raise NotFound("花名册记录不存在", "Roster entry not found", field="entry_id")
    project = await services.project_brief(project_id)
    can_edit = user.role in services.EDITOR_ROLES
    owed = await owed_for_entry(project_id, entry_id) if can_edit and not rows[0]["exited_on"] else None
    consent_now = await consent.current(rows[0]["person"])  # 单独同意 (issue 20 B.1): shown, managed on /privacy
    return Template("crew/entry.html", context=_ctx(
        user, project=project, e=rows[0], contracts=await services.list_contracts(user, project_id, entry_id),
        contract_types=CONTRACT_TYPE, wage_units=WAGE_UNIT_ZH, can_edit=can_edit, owed=owed,
        consent_now=consent_now and {**consent_now, "action_label": label(consent_now["action"], ConsentAction),
                                     "channel_label": label(consent_now["channel"], ConsentChannel)}))


@get("/projects/{project_id:int}/crew/entries/{entry_id:int}/enrol", include_in_schema=False)
async def supplement_page(project_id: int, entry_id: int, user: AuthUser) -> Template:
    """采集人脸 / 补录证件 for a person already on the roster: the card's photos, then the usual 人证核验."""
    person = await services.supplement_target(user, project_id, entry_id)
    project = await services.project_brief(project_id)
    return Template("crew/supplement.html", context=_ctx(user, project=project, p=person, ethnicity=ETHNICITY,
                                                         genders=GENDER))


@post("/projects/{project_id:int}/crew/entries/{entry_id:int}/exit", include_in_schema=False)
async def exit_submit(project_id: int, entry_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Response[str]:
    await _editor_page(user, project_id)
    form = await request.form()
    data, name = await forms.upload(form, "confirmation")
    exited_on = parse_date(forms.text(form, "exited_on", 20), "exited_on", "退场日期")
    await exit_with_settlement(project_id, entry_id, forms.text(form, "unpaid_reason", 500), lambda: services.exit_person(
        user, project_id, entry_id, exited_on=exited_on, note=forms.text(form, "note", 500), confirmation=data,
        filename=name, workload_confirmed=forms.flag(form, "workload_confirmed"),
        wages_settled=forms.flag(form, "wages_settled")), exited_on)
    return Response("", headers={"HX-Refresh": "true"}, media_type="text/html")


@post("/projects/{project_id:int}/crew/entries/{entry_id:int}/contracts", include_in_schema=False)
async def contract_submit(project_id: int, entry_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Response[str]:
    form = await request.form()
    c = await forms.contract(form, required=True)
    assert c is not None
    await services.add_contract(user, project_id, entry_id, c)
    return Response("", headers={"HX-Refresh": "true"}, media_type="text/html")


@post("/projects/{project_id:int}/crew/people/{person_id:int}/account", include_in_schema=False)
async def account_submit(project_id: int, person_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Template:
    result = await services.reset_worker_password(user, project_id, person_id)
    project = await services.project_brief(project_id)
    return Template("crew/_credentials.html", context=_ctx(user, project=project, result=result, done=False,
                                                           login_url=_login_url(request)))


@get("/projects/{project_id:int}/crew/import", include_in_schema=False)
async def import_page(project_id: int, user: AuthUser) -> Template:
    project = await _editor_page(user, project_id)
    rules = await org.rules_for_project(project_id)
    return Template("crew/import.html", context=_ctx(user, project=project, rules=rules))


@post("/projects/{project_id:int}/crew/import", include_in_schema=False)
async def import_submit(project_id: int, request: Request[Any, Any, Any], user: AuthUser,
                        runner: RunnerDep, import_tasks: ImportTasksDep) -> Template:
    form = await request.form()
    data, name = await forms.upload(form, "file")
    job_id = await services.start_import(user, project_id, data, name, runner=runner, tasks=import_tasks)
    job = await services.import_status(user, project_id, job_id)
    return Template("crew/_import_progress.html", context=_ctx(user, project={"id": project_id}, job=job))


@get("/projects/{project_id:int}/crew/import/{job_id:int}", include_in_schema=False)
async def import_progress(project_id: int, job_id: int, user: AuthUser) -> Template:
    job = await services.import_status(user, project_id, job_id)
    return Template("crew/_import_progress.html", context=_ctx(user, project={"id": project_id}, job=job))


@get("/crew/reviews", include_in_schema=False)
async def reviews_page(user: AuthUser) -> Template | Redirect:
    if user.role not in services.REVIEWER_ROLES:
        raise Forbidden("仅主管部门人员可审核", "Only supervisors may review", code="role_forbidden")
    return Template("crew/reviews.html", context=_ctx(user, items=await services.list_reviews(user)))


@post("/crew/reviews/{rid:int}", include_in_schema=False)
async def review_submit(rid: int, request: Request[Any, Any, Any], user: AuthUser) -> Template:
    form = await request.form()
    decision = forms.text(form, "decision", 10)
    if decision not in ("approve", "reject"):
        raise invalid("decision", "请选择“确认通过”或“驳回”", "decision must be approve or reject")
    result = await services.decide_review(user, rid, approve=decision == "approve", note=forms.text(form, "note", 500))
    return Template("crew/_msg.html", context={"ok": True, "text": f"已处理：{result['status_label']}"})


CREW_PAGES = [
    roster_page, roster_table, register_page, registration_page, consent_submit, complete_submit, cancel_submit,
    entry_page,
    supplement_page,
    exit_submit, contract_submit, account_submit, import_page, import_submit, import_progress, reviews_page,
    review_submit,
]
