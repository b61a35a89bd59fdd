"""Wages in headless Chromium (issue 16 browser standard): project staff import a payroll with two bad rows (see the
errors, fix, import), submit it, export the bank file, import a result file with one failed row; the reconciliation
shows the failed row and an attended worker left off the payroll; the worker's phone shows the pay."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.conftest import PASSWORD
from tests.integration.wages.conftest import (
    WageSite,
    add_worker,
    make_user,
    make_wage_site,
    payroll_xlsx,
    result_csv,
)

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("SMZ_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
async def wage_site(migrated_db: str) -> WageSite:
    ws = await make_wage_site()
    for label, days in (("张一", 4), ("李二", 3), ("王三", 2), ("赵四", 2)):
        await add_worker(ws, label, days=days)
    return ws


@pytest.fixture
def base_url(app_server: str) -> str:
    return app_server


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        try:
            yield b
        finally:
            await b.close()


async def _page(browser: Any, base: str, username: str, target: str, *, phone: bool = False) -> Any:
    ctx = await browser.new_context(viewport={"width": 360, "height": 740} if phone else {"width": 1400, "height": 900},
                                    locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True)
    page = await ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.on("dialog", lambda d: d.accept())
    await page.goto(f"{base}/login?next={target}")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    if not page.url.endswith(target):
        await page.goto(base + target)
    return page


async def test_payroll_import_bank_batch_result_and_reconciliation_in_the_browser(
        wage_site: WageSite, base_url: str, browser: Any, tmp_path: Any) -> None:
    ws = wage_site
    target = f"/projects/{ws.project}/wages/{ws.month}"
    page = await _page(browser, base_url, ws.staff, target)
    await page.click("button[value=create]")  # the draft from roster + attendance …
    await page.wait_for_selector("#payroll-lines")

    def row(label: str, **kw: Any) -> dict[str, Any]:
        return {"name": label, "id_number": ws.people[label][1], "payable": "1000", "paid": "0",
                "card_no": "62220212345678" + str(len(ws.people[label][1]) + len(label)), "card_holder": label, **kw}

    bad = payroll_xlsx([row("张一"), row("李二", payable="abc"), row("王三", name="不是王三")])
    (tmp_path / "bad.xlsx").write_bytes(bad)
    await page.set_input_files("#import input[type=file]", str(tmp_path / "bad.xlsx"))
    await page.click("#import button[type=submit]")
    await page.wait_for_selector("#import-result table.import-errors")
    errors = await page.locator("#import-result table.import-errors tr").all_inner_texts()
    assert len(errors) == 3 and "第" not in errors[0]  # header + two rows
    assert any("应发工资" in e for e in errors[1:]) and any("姓名" in e for e in errors[1:])
    good = payroll_xlsx([row("张一", payable="1200.50"), row("李二"), row("王三")])  # 赵四 attended, left off
    (tmp_path / "good.xlsx").write_bytes(good)
    await page.set_input_files("#import input[type=file]", str(tmp_path / "good.xlsx"))
    await page.click("#import button[type=submit]")
    await page.wait_for_selector("#import-result .ok")
    await page.goto(base_url + target)
    assert "3200.50" in await page.inner_text("[data-testid=total-payable]")
    await page.click("button[value=submit]")
    await page.wait_for_selector("[data-testid=payroll-status]")
    assert "已提交" in await page.inner_text("[data-testid=payroll-status]")
    await page.click("button[value=batch]")
    await page.wait_for_selector("#batches a:has-text('.csv')")
    async with page.expect_download() as dl:
        await page.click("#batches a:has-text('.xlsx')")
    download = await dl.value
    path = tmp_path / "bank.xlsx"
    await download.save_as(str(path))
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True)["代发明细"]
    rows = [r for r in sheet.iter_rows(values_only=True)][1:]
    assert sorted(r[4] for r in rows) == ["1000.00", "1000.00", "1200.50"]
    seq = {r[1]: r[0] for r in rows}
    result = result_csv([[seq["张一"], "张一", "", "1200.50", "成功", ""], [seq["李二"], "李二", "", "1000.00", "成功", ""],
                         [seq["王三"], "王三", "", "1000.00", "失败", "账户已销户"]])
    (tmp_path / "result.csv").write_bytes(result)
    await page.set_input_files("#batches input[type=file]", str(tmp_path / "result.csv"))
    await page.click("#batches button:has-text('导入回盘')")
    await page.wait_for_selector("#batches .ok")
    assert "失败 1 人" in await page.inner_text("#batches .ok")
    await page.goto(base_url + target)
    await page.click("button[value=reconcile]")
    await page.wait_for_selector("#findings")
    findings = await page.inner_text("#findings")
    assert "银行代发失败" in findings and "王三" in findings and "账户已销户" in findings
    assert "有考勤未列入工资表" in findings and "赵四" in findings
    assert page.errors == []  # type: ignore[attr-defined]

    worker = await make_user("worker", person_id=ws.people["张一"][0])
    phone = await _page(browser, base_url, worker, "/m/wages", phone=True)
    await phone.goto(base_url + "/m/wages")
    text = await phone.inner_text("main")
    assert ws.month in text and "1,200.50" in text and "银行代发成功" in text
