"""HTTP API of wages (thin: JSON / multipart → services).  Card, account and ID numbers leave only masked, except
the bank payment file (logged in the full-ID access log)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.params import JSONBody

from backend.auth import AuthUser, RunnerDep
from backend.crew import forms
from backend.crew.validation import parse_date
from backend.errors import invalid
from backend.org.tables import Project
from backend.schemas import Created, StatusOut, out
from backend.wages import access, accounts, batches, dashboard, payroll, reconcile
from backend.wages.schemas import (
    AccountIn,
    AccountOut,
    AccountStateOut,
    BankIn,
    BankOut,
    BatchOut,
    BatchRowOut,
    CorrectionIn,
    DashboardOut,
    DashboardRowOut,
    DecisionIn,
    DepositOut,
    FindingOut,
    FlagIn,
    ImportOut,
    LineIn,
    LineOut,
    MyPayOut,
    PayrollOut,
    RateIn,
    ReconcileOut,
    ResultOut,
    TotalsOut,
    VersionOut,
    pick,
)
from backend.wages.xlsx import XLSX_TYPE


def file_response(data: bytes, media_type: str, filename: str) -> Response[bytes]:
    return Response(content=data, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


def payroll_out(view: dict[str, Any]) -> PayrollOut:
    p = view["payroll"]
    return PayrollOut(
        project_id=view["project_id"], month=view["month"],
        versions=[out(VersionOut, pick(VersionOut, v)) for v in view["versions"]],
        version=p["version"] if p else None, status=p["status"] if p else None, editable=view["editable"],
        team_limited=view["team_limited"], lines=[out(LineOut, pick(LineOut, r)) for r in view["lines"]],
        totals=out(TotalsOut, view["totals"]))


async def account_state(user: Any, project_id: int) -> AccountStateOut:
    await access.can_read(user, project_id)
    district = (await Project.select(Project.district).where(Project.id == project_id).first())["district"]
    acc = await accounts.get_account(project_id)
    return AccountStateOut(
        account=out(AccountOut, pick(AccountOut, acc)) if acc else None,
        deposits=[out(DepositOut, pick(DepositOut, d)) for d in await accounts.list_deposits(project_id)],
        banks=[out(BankOut, b) for b in await accounts.list_banks(district)])


def finding_out(rows: list[dict[str, Any]]) -> list[FindingOut]:
    return [out(FindingOut, pick(FindingOut, r)) for r in rows]


class WageController(Controller):
    path = "/api/projects/{project_id:int}/wages"
    tags = ["wages"]

    # --- account and deposit
    @get("/account")
    async def account(self, project_id: int, user: AuthUser) -> AccountStateOut:
        return await account_state(user, project_id)

    @post("/account", status_code=200)
    async def register(self, project_id: int, data: JSONBody[AccountIn], user: AuthUser) -> AccountOut:
        acc = await accounts.register_account(user, project_id, bank_id=data.bank_id, account_name=data.account_name,
                                              account_no=data.account_no, opened_on=data.opened_on)
        return out(AccountOut, pick(AccountOut, acc))

    @post("/account/decision", status_code=200)
    async def decide(self, project_id: int, data: JSONBody[DecisionIn], user: AuthUser) -> AccountOut:
        acc = await accounts.decide_account(user, project_id, approve=data.approve, note=data.note)
        return out(AccountOut, pick(AccountOut, acc))

    @post("/deposits", status_code=201)
    async def deposit(self, project_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Created:
        """Multipart: amount (yuan), paid_on, voucher (PDF / JPEG / PNG)."""
        form = await request.form()
        data, name = await forms.upload(form, "voucher")
        paid_on = parse_date(forms.text(form, "paid_on", 10), "paid_on", "缴纳日期")
        if paid_on is None:
            raise invalid("paid_on", "请填写缴纳日期", "paid_on is required")
        return Created(id=await accounts.record_deposit(user, project_id, amount=forms.text(form, "amount", 20),
                                                        paid_on=paid_on, data=data, filename=name))

    @get("/deposits/{deposit_id:int}/voucher")
    async def voucher(self, project_id: int, deposit_id: int, user: AuthUser) -> Response[bytes]:
        v = await accounts.get_voucher(user, project_id, deposit_id)
        return file_response(v["voucher"], v["voucher_type"], v["voucher_name"] or f"voucher-{deposit_id}")

    @put("/contracts/{contract_id:int}/rate", status_code=200)
    async def rate(self, project_id: int, contract_id: int, data: JSONBody[RateIn], user: AuthUser) -> StatusOut:
        await payroll.set_contract_rate(user, project_id, contract_id, data.unit, data.rate)
        return StatusOut(status="ok")

    # --- payroll
    @get("/payrolls/{month:str}")
    async def payroll(self, project_id: int, month: str, user: AuthUser, version: int | None = None) -> PayrollOut:
        return payroll_out(await payroll.payroll_view(user, project_id, month, version))

    @post("/payrolls/{month:str}", status_code=201)
    async def create(self, project_id: int, month: str, user: AuthUser) -> PayrollOut:
        return payroll_out(await payroll.create_draft(user, project_id, month))

    @post("/payrolls/{month:str}/refresh", status_code=200)
    async def refresh(self, project_id: int, month: str, user: AuthUser) -> PayrollOut:
        await payroll.refresh_days(user, project_id, month)
        return payroll_out(await payroll.payroll_view(user, project_id, month))

    @patch("/lines/{line_id:int}")
    async def line(self, project_id: int, line_id: int, data: JSONBody[LineIn], user: AuthUser) -> LineOut:
        changes = {k: getattr(data, k) for k in data.__struct_fields__ if getattr(data, k) is not None}
        return out(LineOut, pick(LineOut, await payroll.update_line(user, project_id, line_id, changes)))

    @post("/payrolls/{month:str}/submit", status_code=200)
    async def submit(self, project_id: int, month: str, user: AuthUser) -> PayrollOut:
        return payroll_out(await payroll.submit(user, project_id, month))

    @post("/payrolls/{month:str}/corrections", status_code=201)
    async def correct(self, project_id: int, month: str, data: JSONBody[CorrectionIn], user: AuthUser) -> PayrollOut:
        return payroll_out(await payroll.start_correction(user, project_id, month, data.reason))

    @get("/payrolls/{month:str}/template")
    async def template(self, project_id: int, month: str, user: AuthUser) -> Response[bytes]:
        return file_response(await payroll.template(user, project_id, month), XLSX_TYPE, f"工资发放表模板-{month}.xlsx")

    @post("/payrolls/{month:str}/import", status_code=200)
    async def import_(self, project_id: int, month: str, request: Request[Any, Any, Any], user: AuthUser,
                      runner: RunnerDep) -> ImportOut:
        """Multipart ``file``: all rows or none; ``ok`` false with the per-row errors."""
        form = await request.form()
        data, _name = await forms.upload(form, "file")
        o = await payroll.import_payroll(user, project_id, month, data, runner=runner)
        return ImportOut(ok=o.ok, lines=o.lines, errors=o.errors)

    # --- bank batches
    @post("/payrolls/{month:str}/batches", status_code=201)
    async def batch(self, project_id: int, month: str, user: AuthUser) -> Created:
        return Created(id=await batches.create_batch(user, project_id, month))

    @get("/batches")
    async def batches(self, project_id: int, user: AuthUser, month: str | None = None) -> list[BatchOut]:
        return [out(BatchOut, pick(BatchOut, b)) for b in await batches.list_batches(user, project_id, month)]

    @get("/batches/{batch_id:int}")
    async def batch_rows(self, project_id: int, batch_id: int, user: AuthUser) -> list[BatchRowOut]:
        return [out(BatchRowOut, pick(BatchRowOut, r)) for r in await batches.batch_rows(user, project_id, batch_id)]

    @get("/batches/{batch_id:int}/file")
    async def batch_file(self, project_id: int, batch_id: int, user: AuthUser, format: str = "xlsx",
                         reason: str = "") -> Response[bytes]:
        data, media = await batches.batch_file(user, project_id, batch_id, format, reason[:200])
        return file_response(data, media, f"代发-{batch_id}.{format}")

    @post("/batches/{batch_id:int}/result", status_code=200)
    async def result(self, project_id: int, batch_id: int, request: Request[Any, Any, Any], user: AuthUser,
                     runner: RunnerDep) -> ResultOut:
        form = await request.form()
        data, _name = await forms.upload(form, "file")
        o = await batches.import_result(user, project_id, batch_id, data, runner=runner)
        return ResultOut(ok=o.ok, paid=o.paid, failed=o.failed, paid_fen=o.paid_fen, errors=o.errors)

    # --- reconciliation
    @post("/reconcile/{month:str}", status_code=200)
    async def reconcile(self, project_id: int, month: str, user: AuthUser) -> ReconcileOut:
        await access.can_read(user, project_id)
        await reconcile.reconcile_month(project_id, month)
        await reconcile.sync_warnings({project_id}, notify=False)
        return await self._findings(user, project_id, month)

    @get("/findings/{month:str}")
    async def findings(self, project_id: int, month: str, user: AuthUser) -> ReconcileOut:
        return await self._findings(user, project_id, month)

    async def _findings(self, user: Any, project_id: int, month: str) -> ReconcileOut:
        rows = await reconcile.month_findings(user, project_id, month)
        return ReconcileOut(month=month, findings=finding_out(rows),
                            referred=project_id in await reconcile.referred([project_id]))

    @post("/findings/{finding_id:int}/resolve", status_code=200)
    async def resolve(self, project_id: int, finding_id: int, user: AuthUser) -> StatusOut:
        await reconcile.resolve_finding(user, project_id, finding_id)
        return StatusOut(status="resolved")

    @get("/evidence/{month:str}")
    async def evidence(self, project_id: int, month: str, user: AuthUser) -> Response[bytes]:
        return file_response(await reconcile.evidence(user, project_id, month), XLSX_TYPE,
                             f"工资支付证据-{project_id}-{month}.xlsx")


class WageDistrictController(Controller):
    path = "/api/wages"
    tags = ["wages"]

    @get("/dashboard")
    async def dashboard(self, user: AuthUser, district_id: int | None = None, q: str = "",
                        only_findings: bool = False, page: int = 1) -> DashboardOut:
        d = await dashboard.dashboard(user, district_id=district_id, q=q, only_findings=only_findings, page=page)
        return DashboardOut(rows=[out(DashboardRowOut, pick(DashboardRowOut, r)) for r in d.rows], total=d.total,
                            page=d.page, pages=d.pages, sums=d.sums)

    @post("/districts/{district_id:int}/banks", status_code=201)
    async def add_bank(self, district_id: int, data: JSONBody[BankIn], user: AuthUser) -> Created:
        return Created(id=await accounts.add_bank(user, district_id, data.name))

    @get("/mine")
    async def mine(self, user: AuthUser) -> list[MyPayOut]:
        return [out(MyPayOut, pick(MyPayOut, r)) for r in await dashboard.my_pay(user)]

    @post("/mine/{line_id:int}/not-received", status_code=201)
    async def not_received(self, line_id: int, data: JSONBody[FlagIn], user: AuthUser) -> Created:
        return Created(id=await reconcile.flag_not_received(user, line_id, data.note))
