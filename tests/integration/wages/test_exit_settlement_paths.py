"""Issue 16 item 5 on every exit path (seed 004 §三(五): 退场时…确认工作量、结清工资): the exit form shows what the
payroll still owes; an exit with money owed needs an explicit reason (400 ``wages_owed``, nothing stored) and
then raises an ``exit_unsettled`` finding; an exit with nothing owed needs no reason."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import app_client, login
from tests.integration.people_kit import CONFIRMED, PDF, upload_exit_document
from tests.integration.wages.conftest import WageSite, add_worker, make_wage_site, payroll_xlsx

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def ws(migrated_db: str) -> WageSite:
    ws = await make_wage_site()
    for label in ("赵一", "钱二", "孙三"):
        await add_worker(ws, label, days=3)
    return ws


@pytest.fixture(scope="module")
async def client(migrated_db: str) -> Any:
    async with app_client() as c:
        yield c


def _line(ws: WageSite, label: str, payable: str, paid: str) -> dict[str, Any]:
    return {"name": label, "id_number": ws.people[label][1], "payable": payable, "paid": paid,
            "paid_on": None if paid == "0" else f"{ws.month}-28", "card_no": "6222021234567890123",
            "card_holder": label, "card_bank": "测试银行", "leader_confirmed": "是", "worker_confirmed": "是"}


@pytest.fixture(scope="module")
async def owed(ws: WageSite, client: Any) -> None:
    """赵一 and 孙三 are owed 1,234.56 and 300.00 yuan; 钱二 was paid in full."""
    h = await login(client, ws.staff)
    rows = [_line(ws, "赵一", "1234.56", "0"), _line(ws, "钱二", "800", "800"), _line(ws, "孙三", "300", "0")]
    r = await client.post(f"/api/projects/{ws.project}/wages/payrolls/{ws.month}/import", headers=h,
                          files={"file": ("p.xlsx", payroll_xlsx(rows))})
    assert r.json()["ok"] is True, r.text


async def _active(ws: WageSite, label: str) -> bool:
    from backend.workforce.tables import RosterEntry

    row = await RosterEntry.select(RosterEntry.exited_on).where(RosterEntry.id == ws.entries[label]).first()
    return row["exited_on"] is None


async def _findings(ws: WageSite, label: str) -> list[dict[str, Any]]:
    from backend.wages.tables import WageFinding

    return await WageFinding.select().where((WageFinding.project == ws.project)
                                            & (WageFinding.person == ws.people[label][0])
                                            & (WageFinding.kind == "exit_unsettled"))


async def test_the_exit_form_shows_the_amount_still_owed(ws: WageSite, client: Any, owed: None) -> None:
    h = await login(client, ws.staff)
    page = await client.get(f"/projects/{ws.project}/crew/entries/{ws.entries['赵一']}", headers=h)
    assert page.status_code == 200
    assert "1,234.56 元" in page.text and 'name="unpaid_reason"' in page.text
    page = await client.get(f"/projects/{ws.project}/crew/entries/{ws.entries['钱二']}", headers=h)
    assert "没有未结清的工资" in page.text and 'name="unpaid_reason"' not in page.text


async def test_roster_api_exit_with_money_owed_needs_a_reason_then_raises_a_finding(ws: WageSite, client: Any,
                                                                                     owed: None) -> None:
    from backend.vocabulary import local_today

    h = await login(client, ws.staff)
    url = f"/api/projects/{ws.project}/roster/{ws.entries['赵一']}/exit"
    doc = await upload_exit_document(client, h, ws.project)
    body = {"exited_on": local_today().isoformat(), "confirmation_file_id": doc, **CONFIRMED}
    r = await client.post(url, headers=h, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "wages_owed" and "1,234.56" in r.json()["message"]
    assert await _active(ws, "赵一") and await _findings(ws, "赵一") == []  # nothing stored

    r = await client.post(url, headers=h, json={**body, "unpaid_reason": "工人已回乡，工资由总包代管待付"})
    assert r.status_code == 201, r.text
    assert not await _active(ws, "赵一")
    [f] = await _findings(ws, "赵一")
    assert f["amount_fen"] == 123456 and f["raised_by"] == "exit" and "工人已回乡" in f["message"]


async def test_an_exit_with_nothing_owed_needs_no_reason(ws: WageSite, client: Any, owed: None) -> None:
    from backend.vocabulary import local_today

    h = await login(client, ws.staff)
    doc = await upload_exit_document(client, h, ws.project)
    r = await client.post(f"/api/projects/{ws.project}/roster/{ws.entries['钱二']}/exit", headers=h,
                          json={"exited_on": local_today().isoformat(), "confirmation_file_id": doc, **CONFIRMED})
    assert r.status_code == 201, r.text
    assert await _findings(ws, "钱二") == []


async def test_tablet_form_exit_with_money_owed_needs_the_reason_too(ws: WageSite, client: Any, owed: None) -> None:
    from backend.vocabulary import local_today

    h = await login(client, ws.staff)
    url = f"/api/projects/{ws.project}/crew/roster/{ws.entries['孙三']}/exit"
    form = {"exited_on": local_today().isoformat(), "workload_confirmed": "true", "wages_settled": "true"}
    files = {"confirmation": ("exit.pdf", PDF, "application/pdf")}
    r = await client.post(url, headers=h, data=form, files=files)
    assert r.status_code == 400 and r.json()["code"] == "wages_owed"
    assert await _active(ws, "孙三")
    r = await client.post(url, headers=h, data={**form, "unpaid_reason": "银行退票，正在重新代发"}, files=files)
    assert r.status_code == 200, r.text
    assert [f["amount_fen"] for f in await _findings(ws, "孙三")] == [30000]


async def test_someone_who_may_not_edit_the_crew_learns_nothing_of_the_amount(ws: WageSite, client: Any,
                                                                             owed: None) -> None:
    h = await login(client, ws.supervisor)
    r = await client.post(f"/api/projects/{ws.project}/crew/roster/{ws.entries['孙三']}/exit", headers=h,
                          data={"unpaid_reason": ""}, files={"confirmation": ("exit.pdf", PDF, "application/pdf")})
    assert r.status_code == 403 and "元" not in r.json().get("message", "")
