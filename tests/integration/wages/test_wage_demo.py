"""The demo's wages (issue 16 standards): two months of payroll for one project with deliberate mismatches, so the
reconciliation page of a new install is not empty."""

from __future__ import annotations

import pytest

from tests.integration.wages.conftest import add_worker, make_wage_site
from tests.integration.wages.test_wage_reconciliation import MONTH

pytestmark = pytest.mark.integration


async def test_demo_wages_make_two_months_with_findings_on_the_reconciliation() -> None:
    from backend.wages.demo import demo_wages
    from backend.wages.tables import Payroll, WageAccount, WageFinding

    ws = await make_wage_site(MONTH)
    for i, label in enumerate(("演示甲", "演示乙", "演示丙", "演示丁")):
        await add_worker(ws, label, days=3 + i)
    out = await demo_wages(ws.project)
    assert len(out["months"]) == 2 and out["months"][0] == MONTH
    assert await Payroll.count().where((Payroll.project == ws.project) & (Payroll.status == "submitted")) == 2
    assert (await WageAccount.select(WageAccount.status).first())["status"] == "approved"
    kinds = {r["kind"] for r in await WageFinding.select(WageFinding.kind).where(
        (WageFinding.project == ws.project) & (WageFinding.month == MONTH))}
    assert {"attended_not_on_payroll", "card_not_own", "bank_failed", "paid_late"} <= kinds
