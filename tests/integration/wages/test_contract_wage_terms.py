"""Issue 16 item 2: 计量单位 / 单价 of the labour contract (seed 001 §2.9) are entered with the contract on the
tablet form (or the crew API) and fill the payroll: 应发 = valid days × daily rate, exact in fen."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import app_client, login
from tests.integration.people_kit import PDF
from tests.integration.wages.conftest import WageSite, add_worker, make_wage_site, month_first

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def ws(migrated_db: str) -> WageSite:
    ws = await make_wage_site()
    await add_worker(ws, "周七", days=4)
    return ws


@pytest.fixture(scope="module")
async def client(migrated_db: str) -> Any:
    async with app_client() as c:
        yield c


def _contract(ws: WageSite, **kw: str) -> dict[str, str]:
    start = month_first(ws.month)
    return {"contract_type": "fixed_term", "starts_on": start.isoformat(),
            "ends_on": start.replace(year=start.year + 1).isoformat(), **kw}


async def test_a_unit_without_a_rate_or_a_rate_with_three_decimals_is_refused(ws: WageSite, client: Any) -> None:
    h = await login(client, ws.staff)
    url = f"/api/projects/{ws.project}/crew/roster/{ws.entries['周七']}/contracts"
    files = {"contract_file": ("c.pdf", PDF, "application/pdf")}
    r = await client.post(url, headers=h, data=_contract(ws, wage_unit="day"), files=files)
    assert r.status_code == 400 and r.json()["field"] == "wage_rate" and "计量单价" in r.json()["message"]
    r = await client.post(url, headers=h, data=_contract(ws, wage_unit="day", wage_rate="350.555"), files=files)
    assert r.status_code == 400 and r.json()["field"] == "wage_rate"
    r = await client.post(url, headers=h, data=_contract(ws, wage_unit="hour", wage_rate="35"), files=files)
    assert r.status_code == 400 and r.json()["code"] == "wage_unit_missing"


async def test_the_contract_rate_fills_the_payroll_from_attendance(ws: WageSite, client: Any) -> None:
    h = await login(client, ws.staff)
    url = f"/api/projects/{ws.project}/crew/roster/{ws.entries['周七']}/contracts"
    r = await client.post(url, headers=h, data=_contract(ws, wage_unit="day", wage_rate="350.50"),
                          files={"contract_file": ("c.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    [c] = (await client.get(url, headers=h)).json()
    assert (c["wage_unit"], c["wage_rate_fen"], c["wage_terms"]) == ("day", 35050, "按日 350.50 元")
    page = await client.get(f"/projects/{ws.project}/crew/entries/{ws.entries['周七']}", headers=h)
    assert "按日 350.50 元" in page.text and 'name="wage_rate"' in page.text

    r = await client.post(f"/api/projects/{ws.project}/wages/payrolls/{ws.month}", headers=h)
    assert r.status_code == 201, r.text
    view = (await client.get(f"/api/projects/{ws.project}/wages/payrolls/{ws.month}", headers=h)).json()
    [line] = [ln for ln in view["lines"] if ln["name"] == "周七"]
    assert (line["days_worked"], line["rate_fen"], line["payable_fen"]) == (4, 35050, 4 * 35050)
