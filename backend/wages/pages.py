"""Wage pages (jinja + htmx, Chinese): a project's account and deposit ``/projects/{id}/wages``, a month's payroll
with its import, bank batches and reconciliation ``/projects/{id}/wages/{month}``, the district dashboard
``/wages`` and the worker's phone page ``/m/wages``.  Plain forms that post and come back (303), htmx for the two
uploads whose answer is a list of errors."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.response import Redirect, Template

from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser
from backend.auth import AuthUser, RunnerDep
from backend.crew import forms
from backend.crew.validation import parse_date
from backend.errors import Conflict, InvalidInput, PayloadTooLarge, invalid
from backend.org import services as org
from backend.platform.services import states_of as platform_states
from backend.supervision.days import month_of
from backend.vocabulary import PayrollStatus, Role, label, local_time, local_today
from backend.wages import access, accounts, batches, dashboard, payroll, reconcile, upload


def _ctx(user: CurrentUser, **kw: Any) -> dict[str, Any]:
    return {"user": user, "role_label": ROLES[user.role], "local_time": local_time, "label": label, **kw}


def _back(url: str) -> Redirect:
    return Redirect(url, status_code=303)


def recent_months(today: date, n: int = 6) -> list[str]:
    out, d = [], today.replace(day=1)
    for _ in range(n):
        out.append(month_of(d))
        d = (d - timedelta(days=1)).replace(day=1)
    return out


@get("/projects/{project_id:int}/wages", include_in_schema=False)
async def project_page(project_id: int, user: AuthUser) -> Template:
    await access.can_read(user, project_id)
    project = await org.get_project(project_id)
    acc = await accounts.get_account(project_id)
    months = []
    for m in recent_months(local_today()):
        vs = await payroll.versions(project_id, m)
        p = vs[-1] if vs else None
        months.append({"month": m, "payroll": p, "status_label": label(p["status"], "PayrollStatus") if p else "未编制",
                       "findings": len(await reconcile.month_findings(user, project_id, m))})
    return Template("wages/project.html", context=_ctx(
        user, project=project, account=acc, deposits=await accounts.list_deposits(project_id),
        banks=await accounts.list_banks(project["district"]), months=months,
        can_keep=user.role in access.KEEPERS, can_decide=user.role in access.DISTRICT,
        referred=project_id in await reconcile.referred([project_id]), today=local_today().isoformat()))


@post("/projects/{project_id:int}/wages/account", include_in_schema=False)
async def account_submit(project_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Redirect:
    form = await request.form()
    bank = forms.text(form, "bank_id", 12)
    opened = parse_date(forms.text(form, "opened_on", 10), "opened_on", "开户日期")
    if not bank.isdigit() or opened is None:
        raise invalid("bank_id", "请选择银行并填写开户日期", "Choose a bank and the opening date")
    await accounts.register_account(user, project_id, bank_id=int(bank), account_name=forms.text(form, "account_name", 120),
                                    account_no=forms.text(form, "account_no", 40), opened_on=opened)
    return _back(f"/projects/{project_id}/wages")


@post("/projects/{project_id:int}/wages/account/decision", include_in_schema=False)
async def account_decision(project_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Redirect:
    form = await request.form()
    await accounts.decide_account(user, project_id, approve=forms.text(form, "approve", 5) == "1",
                                  note=forms.text(form, "note", 500))
    await reconcile.sync_warnings({project_id}, notify=False)
    return _back(f"/projects/{project_id}/wages")


@post("/projects/{project_id:int}/wages/deposits", include_in_schema=False)
async def deposit_submit(project_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Redirect:
    form = await request.form()
    data, name = await forms.upload(form, "voucher")
    paid_on = parse_date(forms.text(form, "paid_on", 10), "paid_on", "缴纳日期")
    if paid_on is None:
        raise invalid("paid_on", "请填写缴纳日期", "paid_on is required")
    await accounts.record_deposit(user, project_id, amount=forms.text(form, "amount", 20), paid_on=paid_on, data=data,
                                  filename=name)
    await reconcile.sync_warnings({project_id}, notify=False)
    return _back(f"/projects/{project_id}/wages")


async def _month_ctx(user: CurrentUser, project_id: int, month: str, version: int | None = None) -> dict[str, Any]:
    view = await payroll.payroll_view(user, project_id, month, version)
    project = await org.get_project(project_id)
    rules = await org.rules_for_project(project_id)
    keep = user.role in access.KEEPERS
    entity = await upload.upload_entity(project_id, month)
    uploaded = (await platform_states("payroll", [entity]))[entity] if entity is not None else None
    return _ctx(user, project=project, month=month, view=view, lines=view["lines"], totals=view["totals"],
                uploaded=uploaded,
                payroll=view["payroll"], can_keep=keep,
                batches=await batches.list_batches(user, project_id, month),
                findings=await reconcile.month_findings(user, project_id, month),
                referred=project_id in await reconcile.referred([project_id]), rules=rules,
                has_submitted=any(v["status"] == PayrollStatus.submitted for v in view["versions"]),
                deadline=payroll.month_after(month, rules.wage_payroll_deadline_day),
                pay_day=payroll.month_after(month, rules.wage_pay_day), is_foreman=user.role == Role.foreman)


@get("/projects/{project_id:int}/wages/{month:str}", include_in_schema=False)
async def month_page(project_id: int, month: str, user: AuthUser, version: int | None = None) -> Template:
    return Template("wages/month.html", context=await _month_ctx(user, project_id, month, version))


@post("/projects/{project_id:int}/wages/{month:str}/action", include_in_schema=False)
async def month_action(project_id: int, month: str, request: Request[Any, Any, Any], user: AuthUser) -> Redirect:
    """create | refresh | submit | correct | batch | reconcile (one form field ``do``)."""
    form = await request.form()
    do = forms.text(form, "do", 12)
    if do == "create":
        await payroll.create_draft(user, project_id, month)
    elif do == "refresh":
        await payroll.refresh_days(user, project_id, month)
    elif do == "submit":
        await payroll.submit(user, project_id, month)
    elif do == "correct":
        await payroll.start_correction(user, project_id, month, forms.text(form, "reason", 500))
    elif do == "batch":
        await batches.create_batch(user, project_id, month)
    elif do == "reconcile":
        await access.can_read(user, project_id)
        await reconcile.reconcile_month(project_id, month)
        await reconcile.sync_warnings({project_id}, notify=False)
        return _back(f"/projects/{project_id}/wages/{month}#reconcile")
    else:
        raise invalid("do", "未知操作", "Unknown action")
    return _back(f"/projects/{project_id}/wages/{month}")


@post("/projects/{project_id:int}/wages/{month:str}/lines/{line_id:int}", include_in_schema=False)
async def line_submit(project_id: int, month: str, line_id: int, request: Request[Any, Any, Any],
                      user: AuthUser) -> Redirect:
    form = await request.form()
    changes: dict[str, Any] = {}
    for k in ("payable", "paid", "paid_on", "card_no", "card_holder", "card_bank", "note"):
        if k in form:
            changes[k] = forms.text(form, k, 200)
    if user.role in access.KEEPERS:
        changes["worker_confirmed"] = forms.text(form, "worker_confirmed", 3) == "1"
    changes["leader_confirmed"] = forms.text(form, "leader_confirmed", 3) == "1"
    await payroll.update_line(user, project_id, line_id, changes)
    return _back(f"/projects/{project_id}/wages/{month}#line-{line_id}")


@post("/projects/{project_id:int}/wages/{month:str}/import", include_in_schema=False)
async def import_submit(project_id: int, month: str, request: Request[Any, Any, Any], user: AuthUser,
                        runner: RunnerDep) -> Template:
    form = await request.form()
    data, _name = await forms.upload(form, "file")
    try:
        o: Any = await payroll.import_payroll(user, project_id, month, data, runner=runner)
    except (InvalidInput, Conflict, PayloadTooLarge) as e:  # the whole file refused: shown in the same place
        o = payroll.ImportOutcome(ok=False, errors=[{"row": 0, "column": "文件", "message": e.zh}])
    return Template("wages/_import_result.html", context=_ctx(user, outcome=o, project={"id": project_id}, month=month,
                                                               what="工资表"))


@post("/projects/{project_id:int}/wages/{month:str}/batches/{batch_id:int}/result", include_in_schema=False)
async def result_submit(project_id: int, month: str, batch_id: int, request: Request[Any, Any, Any], user: AuthUser,
                        runner: RunnerDep) -> Template:
    form = await request.form()
    data, _name = await forms.upload(form, "file")
    try:
        o: Any = await batches.import_result(user, project_id, batch_id, data, runner=runner)
    except (InvalidInput, Conflict, PayloadTooLarge) as e:
        o = batches.ResultOutcome(ok=False, errors=[{"row": 0, "column": "文件", "message": e.zh}])
    return Template("wages/_result_result.html", context=_ctx(user, outcome=o, project={"id": project_id}, month=month))


@post("/projects/{project_id:int}/wages/findings/{finding_id:int}/resolve", include_in_schema=False)
async def resolve_submit(project_id: int, finding_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Redirect:
    form = await request.form()
    await reconcile.resolve_finding(user, project_id, finding_id)
    month = forms.text(form, "month", 7)
    return _back(f"/projects/{project_id}/wages/{month}#reconcile")


@get("/wages", include_in_schema=False)
async def dashboard_page(user: AuthUser, district_id: str = "", q: str = "", only_findings: bool = False,
                         page: int = 1) -> Template:
    did = int(district_id) if district_id.isdigit() and len(district_id) < 10 else None
    d = await dashboard.dashboard(user, district_id=did, q=q[:40], only_findings=only_findings, page=page)
    districts = sorted(user.district_ids) if user.role == Role.supervisor else []
    names = {r["district"]: r["district_name"] for r in d.rows}
    params = {k: v for k, v in {"district_id": did or "", "q": q, "only_findings": "true" if only_findings else ""}.items()
              if v}
    banks = {x: await accounts.list_banks(x, active_only=False) for x in districts}
    return Template("wages/dashboard.html", context=_ctx(
        user, d=d, district_id=did, q=q, only_findings=only_findings, districts=districts, district_names=names,
        banks=banks, page_query=lambda n: urlencode({**params, "page": n})))


@post("/wages/districts/{district_id:int}/banks", include_in_schema=False)
async def bank_submit(district_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Redirect:
    form = await request.form()
    await accounts.add_bank(user, district_id, forms.text(form, "name", 100))
    return _back("/wages")


@get("/m/wages", include_in_schema=False)
async def my_wages_page(user: AuthUser) -> Template:
    return Template("m/wages.html", context=_ctx(user, page="wages", rows=await dashboard.my_pay(user)))


@post("/m/wages/{line_id:int}/not-received", include_in_schema=False)
async def my_flag(line_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Redirect:
    form = await request.form()
    await reconcile.flag_not_received(user, line_id, forms.text(form, "note", 200))
    return _back("/m/wages")


WAGE_PAGES = [project_page, account_submit, account_decision, deposit_submit, month_page, month_action, line_submit,
              import_submit, result_submit, resolve_submit, dashboard_page, bank_submit, my_wages_page, my_flag]
