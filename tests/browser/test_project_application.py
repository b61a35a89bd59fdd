"""Workflow 1 (项目申报, seed 001 §2.1–2.2) in headless Chromium, as the roles that do each step: the enterprise
applies (a wrong USCC check character is refused in the browser with the server's message; the location is set by
clicking the map) → the district authority returns it with a reason → the enterprise sees the reason, corrects it
and resubmits → the authority passes it and sees the one-time password, once → the issued project-staff account
logs in, must change its password, and sees its project.

The app runs in the test's own event loop (``serve_app``) against the session's database; the people are made
through the services."""

from __future__ import annotations

import os
import random
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SMZ_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "apply-pass-2026"


@dataclass
class ApplySite:
    district: int
    district_name: str
    uscc: str
    firm_uscc: str
    enterprise: str  # username
    authority: str  # username


@pytest.fixture(scope="module")
async def apply_site(migrated_db: str) -> ApplySite:
    from backend.accounts.services import create_user
    from backend.demo import fake_uscc
    from backend.org import services as org

    rng = random.Random()
    tag = uuid.uuid4().hex[:6]
    name = f"申报测试区{tag}"
    district = await org.create_district(f"45{rng.randrange(0, 10**8):08d}", name)
    uscc = fake_uscc(rng)
    eid = await org.create_enterprise(f"申报测试建工集团{tag}", uscc)
    enterprise = f"apply_ent_{tag}"
    authority = f"apply_sup_{tag}"
    await create_user(enterprise, PASSWORD, "enterprise", enterprise_id=eid, display_name="建工集团申报员")
    await create_user(authority, PASSWORD, "supervisor", district_ids=[district], display_name="住建局审核员")
    return ApplySite(district=district, district_name=name, uscc=uscc, firm_uscc=fake_uscc(rng),
                     enterprise=enterprise, authority=authority)


@pytest.fixture
async def open_as(app_server: str) -> AsyncIterator[Any]:
    """``await open_as(username, password)`` → a logged-in desktop page (a fresh context each)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        contexts = []

        async def make(username: str, password: str = PASSWORD) -> Any:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                            timezone_id="Asia/Shanghai")
            contexts.append(ctx)
            page = await ctx.new_page()
            page.errors = []
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.on("dialog", lambda d: d.accept())
            await page.goto(f"{app_server}/login")
            await page.fill("input[name=username]", username)
            await page.fill("input[name=password]", password)
            await page.click("button[type=submit]")
            await page.wait_for_load_state("networkidle")
            page.base = app_server
            return page

        try:
            yield make
        finally:
            for ctx in contexts:
                await ctx.close()
            await browser.close()


async def _fill_application(page: Any, site: ApplySite, name: str, unit_uscc: str) -> None:
    start = date.today() + timedelta(days=15)
    await page.fill("#application-form input[name=name]", name)
    await page.fill("#application-form input[name=permit_no]", "BJ-2026-1202")
    await page.select_option("#application-form select[name=category]", "building")
    await page.select_option("#application-form select[name=district_id]", str(site.district))
    await page.fill("#application-form input[name=address]", "蓬江区测试大道 1 号")
    box = await page.locator("#application-map").bounding_box()
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # China's centre at zoom 4
    await page.fill("#application-form input[name=planned_start]", start.isoformat())
    await page.fill("#application-form input[name=planned_finish]", (start + timedelta(days=365)).isoformat())
    await page.fill("#application-form input[name=floor_area_m2]", "36000")
    await page.fill("#application-form input[name=contract_value_yuan]", "120000000")
    await page.fill("#application-form input[name=applicant_name]", "王申报")
    await page.fill("#application-form input[name=applicant_phone]", "13900139000")
    rows = page.locator("#unit-rows tr")
    await rows.nth(0).locator("[data-unit=name]").fill("申报测试建工集团")
    await rows.nth(0).locator("[data-unit=uscc]").fill(unit_uscc)
    await rows.nth(0).locator("[data-unit=unit_type]").select_option("general_contractor")
    if await rows.count() < 2:
        await page.click("#add-unit")
    await rows.nth(1).locator("[data-unit=name]").fill("申报测试监理公司")
    await rows.nth(1).locator("[data-unit=uscc]").fill(site.firm_uscc)
    await rows.nth(1).locator("[data-unit=unit_type]").select_option("supervision_firm")


async def test_apply_return_correct_resubmit_pass_then_staff_changes_password_and_sees_project(
        open_as: Any, apply_site: ApplySite):
    name = f"浏览器申报项目{uuid.uuid4().hex[:4]}"
    ent = await open_as(apply_site.enterprise)
    await ent.click("#link-applications")
    await ent.click("#new-application")
    await ent.wait_for_selector("#application-map.leaflet-container")
    lon_before = await ent.input_value("#application-form input[name=lon]")
    assert lon_before == ""

    # a wrong check character is refused in the browser, with the server's own words, and nothing is sent
    bad = apply_site.uscc[:17] + ("0" if apply_site.uscc[17] != "0" else "1")
    await _fill_application(ent, apply_site, name, bad)
    lon = float(await ent.input_value("#application-form input[name=lon]"))
    assert 73 <= lon <= 136  # the map click set the location
    await ent.click("#submit-application")
    await ent.wait_for_selector("#unit-rows [data-unit-error=uscc]:has-text('统一社会信用代码校验位错误')")
    assert "/approvals/new" in ent.url

    await ent.locator("#unit-rows tr").nth(0).locator("[data-unit=uscc]").fill(apply_site.uscc)
    await ent.click("#submit-application")
    await ent.wait_for_url(re.compile(r"/approvals/\d+$"))
    app_url = ent.url
    assert await ent.inner_text("#application-status") == "待审核"

    # the district authority returns it with a reason
    sup = await open_as(apply_site.authority)
    await sup.click("#link-applications")
    await sup.click(f"#application-list a:has-text('{name}')")
    await sup.fill("#return-form textarea[name=reason]", "请补充施工许可证编号（报建编号不足以开工）")
    await sup.click("#return-application")
    await sup.wait_for_selector("#return-reason")
    assert await sup.inner_text("#application-status") == "已退回"

    # the enterprise sees the reason, corrects and resubmits
    await ent.goto(app_url)
    assert "请补充施工许可证编号" in await ent.inner_text("#return-reason")
    await ent.fill("#application-form input[name=permit_no]", "440703202612020777")
    await ent.click("#submit-application")
    await ent.wait_for_selector("#application-status:has-text('待审核')")
    assert await ent.locator("#application-rounds tbody tr").count() == 3

    # the authority passes it and sees the one-time password once
    await sup.goto(app_url)
    await sup.click("#pass-application")
    await sup.wait_for_selector("#issued:not([hidden])")
    username = (await sup.inner_text("#issued-username")).strip()
    password = (await sup.inner_text("#issued-password")).strip()
    assert username and len(password) >= 12
    await sup.goto(app_url)
    assert password not in await sup.content()
    assert await sup.locator("#application-rounds tbody tr").count() == 4
    assert ent.errors == [] and sup.errors == []

    # the staff account must change its password first, then sees its project
    staff = await open_as(username, password)
    assert "/password" in staff.url
    await staff.fill("input[name=old_password]", password)
    await staff.fill("input[name=new_password]", "Staff-new-2026")
    await staff.fill("input[name=new_password2]", "Staff-new-2026")
    await staff.click("main button[type=submit]")  # not the header's 退出
    await staff.wait_for_load_state("networkidle")
    await staff.click(f"a:has-text('{name}')")
    await staff.wait_for_selector("#project-audit table")
    audit = await staff.inner_text("#project-audit")
    assert "项目申报：退回（第 1 轮）" in audit and "请补充施工许可证编号" in audit
    assert "项目申报：审核通过（第 2 轮）" in audit
    assert staff.errors == []
