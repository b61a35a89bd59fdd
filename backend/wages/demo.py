"""Demo wages (issue 16): the district's banks, the project's approved special account and deposit, contract
rates, and two months of payroll with a few deliberate mismatches, so that the reconciliation page is not empty
for a new user.  Called by ``backend.demo`` after the attendance history (it needs the rollups)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from backend import money
from backend.accounts.services import CurrentUser
from backend.crew.tables import LabourContract
from backend.crypto import encrypt_text
from backend.errors import Conflict
from backend.org.tables import Project, ProjectUnit
from backend.supervision.days import month_of
from backend.vocabulary import BankStatus, Role, WageAccountStatus, local_today
from backend.wages import accounts, batches, payroll, reconcile
from backend.wages.tables import PayrollLine, WageAccount, WageBank

DEMO_BANKS = ("中国工商银行江门分行", "中国建设银行江门分行", "江门农村商业银行")
_PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


def _card(rng: random.Random) -> str:
    return "622202" + "".join(str(rng.randrange(10)) for _ in range(13))


async def _account_and_deposit(project_id: int, actor: CurrentUser, today: date) -> None:
    p = await Project.select(Project.district).where(Project.id == project_id).first()
    bank_ids = []
    for name in DEMO_BANKS:
        row = WageBank(district=p["district"], name=name)
        await row.save()
        bank_ids.append(row.id)
    gc = await ProjectUnit.select(ProjectUnit.enterprise.name.as_alias("n")).where(
        (ProjectUnit.project == project_id) & (ProjectUnit.unit_type == "general_contractor")).first()
    await accounts.register_account(actor, project_id, bank_id=bank_ids[2], account_name=f"{gc['n']}农民工工资专户",
                                    account_no="80020000123456789", opened_on=today - timedelta(days=90))
    await WageAccount.update({WageAccount.status: WageAccountStatus.approved}).where(WageAccount.project == project_id)
    await accounts.record_deposit(actor, project_id, amount="200000.00", paid_on=today - timedelta(days=85),
                                  data=_PDF, filename="工资保证金缴纳凭证.pdf")


async def _month(project_id: int, month: str, actor: CurrentUser, rng: random.Random, *, pay: bool,
                 late: bool) -> dict[str, Any]:
    """A payroll from attendance with cards and confirmations; mismatches: one attended worker left off, one card
    in another name; submitted; a bank batch with one failed row; (``late``) one line paid after the pay day."""
    await payroll.create_draft(actor, project_id, month)
    view = await payroll.payroll_view(actor, project_id, month)
    lines = [ln for ln in view["lines"] if ln["days_worked"] > 0]
    for ln in view["lines"]:
        holder = ln["name"]
        await PayrollLine.update({
            PayrollLine.card_enc: encrypt_text(n := _card(rng), aad=payroll.CARD_AAD),
            PayrollLine.card_masked: money.mask_number(n), PayrollLine.card_holder: holder,
            PayrollLine.card_bank: DEMO_BANKS[0], PayrollLine.leader_confirmed: True,
            PayrollLine.worker_confirmed: True,
            # a worker without a contract rate: the foreman's day rate of the demo
            PayrollLine.payable_fen: ln["payable_fen"] or ln["days_worked"] * 30000}).where(PayrollLine.id == ln["id"])
    if len(lines) >= 3:
        await PayrollLine.delete().where(PayrollLine.id == lines[0]["id"])  # attended, not on the payroll
        await PayrollLine.update({PayrollLine.card_holder: "陈某某"}).where(PayrollLine.id == lines[1]["id"])
    await payroll.submit(actor, project_id, month)
    if not pay:
        return {"month": month}
    try:
        batch_id = await batches.create_batch(actor, project_id, month)
    except Conflict:  # nobody with money owed (no attendance that month)
        return {"month": month}
    from_bank = await batches.batch_rows(actor, project_id, batch_id)
    pay_day = payroll.month_after(month, 15)
    paid_on = min(pay_day - timedelta(days=5), local_today())
    decided = {r["seq"]: (BankStatus.paid, "", paid_on) for r in from_bank}
    if from_bank:
        decided[from_bank[-1]["seq"]] = (BankStatus.failed, "户名与账号不符", paid_on)
    if late and len(from_bank) > 2:
        decided[from_bank[-2]["seq"]] = (BankStatus.paid, "", min(pay_day + timedelta(days=4), local_today()))
    await batches.apply_result(batch_id, decided)
    return {"month": month, "batch": batch_id}


async def demo_wages(project_id: int, *, today: date | None = None, seed: int = 16) -> dict[str, Any]:
    """The demo's wage records for one project: two months of payroll (the two months before this one)."""
    today = today or local_today()
    rng = random.Random(seed)
    actor = CurrentUser(id=0, username="demo", display_name="演示数据", role=Role.admin)
    await _account_and_deposit(project_id, actor, today)
    for c in await LabourContract.select(LabourContract.id).where(LabourContract.project == project_id):
        await LabourContract.update({LabourContract.wage_unit: "day",
                                     LabourContract.wage_rate_fen: rng.choice((28000, 30000, 35000, 42000))}).where(
            LabourContract.id == c["id"])
    this_month = today.replace(day=1)
    last = this_month - timedelta(days=1)
    before = last.replace(day=1) - timedelta(days=1)
    done = [await _month(project_id, month_of(before), actor, rng, pay=True, late=True),
            await _month(project_id, month_of(last), actor, rng, pay=True, late=False)]
    for d in done:
        await reconcile.reconcile_month(project_id, d["month"], today=today)
    await reconcile.sync_warnings({project_id}, today, notify=False)
    return {"months": [d["month"] for d in done]}
