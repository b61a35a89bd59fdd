"""Issue 20 A.1–A.2 in headless Chromium, as the roles that do each step: a vendor registers on the public page (a
wrong USCC check character is refused with the server's message), sees its vendor code once, logs in, completes its
profile and applies for 考勤设备 → the district authority approves the scope in its queue → the vendor files a device
access application whose channel plan is short (warned, not refused) → the authority grants test access (the test
credential is on the vendor's page only) and production access → the vendor reports the hook-up → the authority
returns it once with a reason, the vendor reports again, the authority verifies and the application is closed."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SMZ_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "vendor-pass-2026"


@dataclass
class OnboardSite:
    district: int
    district_name: str
    project: int
    project_name: str
    authority: str  # username
    uscc: str


@pytest.fixture(scope="module")
async def onboard_site(migrated_db: str) -> OnboardSite:
    from backend.accounts.services import create_user
    from backend.demo import fake_uscc
    from backend.org import services as org

    rng = random.Random()
    tag = uuid.uuid4().hex[:6]
    name = f"接入测试区{tag}"
    district = await org.create_district(f"46{rng.randrange(0, 10**8):08d}", name)
    project_name = f"接入测试住宅{tag}"
    project = await org.create_project(name=project_name, district_id=district, category="building",
                                       floor_area_m2=45_000, planned_start=date.today() - timedelta(days=5),
                                       lon=113.08, lat=22.6)
    authority = f"onb_sup_{tag}"
    await create_user(authority, PASSWORD, "supervisor", district_ids=[district], display_name="住建局接入审核员")
    return OnboardSite(district=district, district_name=name, project=project, project_name=project_name,
                       authority=authority, uscc=fake_uscc(rng))


@pytest.fixture
async def browser_pages(app_server: str) -> AsyncIterator[Any]:
    """``await new_page()`` → a fresh desktop page (own context) with ``page.base``."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        contexts = []

        async def make() -> Any:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                            timezone_id="Asia/Shanghai")
            contexts.append(ctx)
            page = await ctx.new_page()
            page.errors = []
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.base = app_server
            return page

        try:
            yield make
        finally:
            for ctx in contexts:
                await ctx.close()
            await browser.close()


async def log_in(page: Any, username: str, password: str = PASSWORD) -> None:
    await page.goto(f"{page.base}/login?next=/onboarding")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")


async def test_vendor_registers_applies_and_the_district_approves_each_step(onboard_site: OnboardSite,
                                                                            browser_pages: Any) -> None:
    site = onboard_site
    vendor = await browser_pages()
    username = f"onb_vendor_{uuid.uuid4().hex[:6]}"

    # 供应商注册 (public): a wrong check character first
    await vendor.goto(f"{vendor.base}/vendor/register")
    await vendor.fill("#register-form input[name=name]", "接入测试智能科技有限公司")
    wrong = site.uscc[:17] + ("0" if site.uscc[17] != "0" else "1")
    await vendor.fill("#register-form input[name=uscc]", wrong)
    await vendor.fill("#register-form input[name=contact_name]", "张联系")
    await vendor.fill("#register-form input[name=contact_phone]", "13900139000")
    await vendor.fill("#register-form input[name=username]", username)
    await vendor.fill("#register-form input[name=password]", PASSWORD)
    await vendor.click("#register-submit")
    assert "统一社会信用代码校验位错误" in await vendor.inner_text("#register-error")
    assert await vendor.input_value("#register-form input[name=username]") == username  # kept, password not
    await vendor.fill("#register-form input[name=uscc]", site.uscc)
    await vendor.fill("#register-form input[name=password]", PASSWORD)
    await vendor.click("#register-submit")
    code = (await vendor.inner_text("#vendor-code")).strip()
    assert len(code) == 32
    assert "仅显示这一次" in await vendor.content()

    # log in, complete the profile, apply for 考勤设备 with this district
    await log_in(vendor, username)
    assert (await vendor.inner_text("#profile-state")).strip() == "待完善"
    assert await vendor.locator("#profile-first").count() == 1
    await vendor.click("#edit-profile")
    await vendor.fill("#profile-form input[name=address]", "江门市测试路 8 号")
    await vendor.fill("#profile-form input[name=legal_representative]", "王法人")
    await vendor.fill("#profile-form textarea[name=products]", "人脸识别考勤机 FX-1")
    await vendor.click("#save-profile")
    assert (await vendor.inner_text("#profile-state")).strip() == "已完善"
    await vendor.select_option("#scope-form select[name=scope]", "attendance_device")
    await vendor.select_option("#scope-form select[name=district_id]", str(site.district))
    await vendor.fill("#scope-form textarea[name=note]", "人脸识别考勤机")
    await vendor.click("#apply-scope")
    assert "待审核" in await vendor.inner_text("#scope-list")
    await vendor.goto(f"{vendor.base}/onboarding/applications/new")
    assert await vendor.locator("#no-scope").count() == 1  # nothing to file for before the approval

    # the authority approves the scope in its queue
    authority = await browser_pages()
    await log_in(authority, site.authority)
    row = authority.locator("#scope-list tr", has_text="接入测试智能科技有限公司")
    await row.locator(".approve-scope").click()
    await authority.wait_for_load_state("networkidle")
    assert "已通过（正常）" in await authority.inner_text("#scope-list")

    # the vendor files the device: 1 channel planned for 45,000 m² (2 needed) is warned, not refused
    await vendor.goto(f"{vendor.base}/onboarding/applications/new")
    await vendor.select_option("#access-form select[name=project_id]", str(site.project))
    await vendor.select_option("#access-form select[name=device_type]", "attendance_device")
    await vendor.fill("#access-form input[name=model]", "FX-1")
    await vendor.fill("#access-form input[name=install_position]", "东门人行通道")
    await vendor.fill("#access-form input[name=channels_planned]", "1")
    await vendor.fill("#access-form textarea[name=install_plan]", "东门 1 条通道，一进一出")
    serial = f"ONB-B-{uuid.uuid4().hex[:6]}"
    await vendor.fill("#access-form input[name=serial]", serial)
    await vendor.click("#submit-access")
    assert "少于" in await vendor.inner_text("#channel-warning")
    assert (await vendor.inner_text("#access-status")).strip() == "待设备接入审核"
    detail = vendor.url
    assert "2 设备接入审核" in await vendor.inner_text("#access-steps li.current")

    # 设备接入审核: test access, then production access
    await authority.goto(f"{authority.base}/onboarding")
    await authority.click(f"#access-list a:has-text('{site.project_name}')")
    await authority.fill("#grant-test-form textarea[name=remark]", "测试环境地址 10.0.0.8:9848")
    await authority.click("#grant-test")
    assert (await authority.inner_text("#access-status")).strip() == "测试环境已授权"
    assert await authority.locator("#test-credential").count() == 0  # the authority does not see it
    await vendor.goto(detail)
    credential = (await vendor.inner_text("#test-credential .mono")).strip()
    assert len(credential) == 32
    await authority.click("#grant-production")
    assert "正式环境已授权" in await authority.inner_text("#access-status")

    # 联网结果核查申请 → returned once → again → 联网结果核查 (办结)
    await vendor.goto(detail)
    assert await vendor.locator("#test-credential").count() == 0
    await vendor.fill("#report-form textarea[name=result]", "正式环境联调成功")
    await vendor.click("#report-hookup")
    assert (await vendor.inner_text("#access-status")).strip() == "待联网结果核查"
    await authority.reload()
    await authority.fill("#return-access-form textarea[name=reason]", "考勤记录未上传，请核实")
    await authority.click("#return-access")
    assert "正式环境已授权" in await authority.inner_text("#access-status")
    await vendor.goto(detail)
    assert "考勤记录未上传，请核实" in await vendor.inner_text("#access-events")
    await vendor.fill("#report-form textarea[name=result]", "已修复网络，考勤实时上传")
    await vendor.click("#report-hookup")
    await authority.reload()
    await authority.click("#verify-access")
    assert (await authority.inner_text("#access-status")).strip() == "已办结（核查通过）"
    assert (await authority.inner_text("#terminal-access-state")).startswith("联网结果核查通过")
    events = await authority.inner_text("#access-events")
    for step in ("设备接入申请", "测试环境授权", "正式环境授权", "联网结果核查申请", "核查退回", "联网结果核查通过（办结）"):
        assert step in events, step
    assert vendor.errors == [] and authority.errors == []
