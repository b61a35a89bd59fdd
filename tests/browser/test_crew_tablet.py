"""The whole crew registration on a tablet in headless Chromium, with a fake camera.

ID card (photos through the file inputs, fields typed) → 人证核验 (the real liveness check on a
synthetic video that performs exactly the challenged actions, matched against the ID-card photo) →
the site already has this face enrolled under other ID numbers, so the registration is blocked for
review → the reviewer confirms with a note → roster step → the worker account's one-time password →
the worker can log in.  Also: bad input shows a clear message in the form.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.validators import id_check_char
from tests.browser import crew_fixtures
from tests.browser.actions import video_frames
from tests.browser.y4m import write_y4m

pytestmark = pytest.mark.browser
tablet = crew_fixtures.tablet
card_files = crew_fixtures.card_files


def new_id_number() -> str:
    rng = random.Random()
    first = f"440703{date(1986, 4, 9) + timedelta(days=rng.randrange(0, 3000)):%Y%m%d}{rng.randrange(0, 1000):03d}"
    return first + id_check_char(first)


async def fill_id_form(page: Any, files: dict[str, Any], number: str, *, front: str = "front") -> None:
    await page.set_input_files("input[name=id_front]", str(files[front]))
    await page.set_input_files("input[name=id_back]", str(files["back"]))
    await page.fill("input[name=name]", "平板测试")
    await page.fill("input[name=id_number]", number)
    start = date.today() - timedelta(days=500)
    await page.fill("input[name=id_valid_from]", start.isoformat())
    await page.fill("input[name=id_valid_until]", start.replace(year=start.year + 20).isoformat())


async def test_bad_input_shows_a_clear_message(tablet, server, card_files):
    page = tablet
    await page.goto(server.url(f"/projects/{server.site.project_id}/crew/register"))
    number = new_id_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    await fill_id_form(page, card_files, wrong)
    await page.click("#id-form button[type=submit]")
    await page.wait_for_selector("#id-form .msg .error")
    assert "校验位错误" in await page.inner_text("#id-form .msg")
    assert await page.get_attribute("input[name=id_number]", "class") == "mono invalid"
    await fill_id_form(page, card_files, number, front="not_an_image")
    await page.click("#id-form button[type=submit]")
    await page.wait_for_selector("#id-form .msg .error:has-text('JPG')")
    assert "按文件内容识别" in await page.inner_text("#id-form .msg")
    assert page.url.endswith("/crew/register")  # nothing moved on
    assert page.errors == []


async def test_whole_registration_with_a_fake_camera(tablet, server, card_files, camera_file, browser):
    page = tablet
    pid = server.site.project_id
    await page.goto(server.url(f"/projects/{pid}/crew/register"))
    await fill_id_form(page, card_files, new_id_number())
    await page.select_option("select[name=ethnicity]", "01")
    await page.click("#id-form button[type=submit]")
    await page.wait_for_url("**/crew/registrations/*", timeout=60_000)
    assert await page.get_attribute("#reg-status", "data-status") == "id_checked"

    # 单独同意 (issue 20 B.1): the consent text comes before the selfie, ticked by the person
    assert await page.locator("#liveness").count() == 0
    await page.check("#consent-tick")
    await page.click("#consent-agree")
    await page.wait_for_selector("#liveness-start", timeout=30_000)

    # 人证核验: ask for the challenge, make the camera perform exactly it, capture
    await page.click("#liveness-start")
    await page.wait_for_selector("#challenge-actions li")
    actions = (await page.get_attribute("#challenge-actions", "data-actions")).split(",")
    await asyncio.to_thread(write_y4m, camera_file, video_frames(actions))
    await page.click("#liveness-capture")
    await page.wait_for_function(
        "document.querySelector('#reg-status') && document.querySelector('#reg-status').dataset.status !== 'id_checked'"
        " || document.querySelector('#liveness .msg .error')", timeout=120_000)
    error = await page.query_selector("#liveness .msg .error")
    assert error is None, await error.inner_text()
    # this face is already enrolled under two other ID numbers on the site: blocked for review
    status = await page.get_attribute("#reg-status", "data-status")
    assert status == "pending_review", status
    assert "疑似同一人" in await page.inner_text("#waiting")
    registration_url = page.url

    # the reviewer (the site admin) confirms with a note
    await page.goto(server.url("/crew/reviews"))
    rid = registration_url.rsplit("/", 1)[1]
    card = page.locator(f"#review-{rid}")
    await card.locator("textarea[name=note]").fill("核对身份证原件，确认为本人（双胞胎兄弟已分别登记）")
    await card.locator("button[value=approve]").click()
    await card.locator(".msg .ok").wait_for()

    # roster step → credentials
    await page.goto(registration_url)
    assert await page.get_attribute("#reg-status", "data-status") == "face_checked"
    assert "确认通过" in await page.inner_text(".person")
    await page.select_option("select[name=work_type]", "020")
    await page.fill("input[name=phone]", "13712345678")
    await page.set_input_files("input[name=contract_file]", str(card_files["contract"]))
    await page.fill("input[name=starts_on]", date.today().isoformat())
    await page.fill("input[name=ends_on]", (date.today() + timedelta(days=180)).isoformat())
    await page.click("#roster-step button[type=submit]")
    await page.wait_for_selector("#credentials", timeout=30_000)
    username = (await page.inner_text("#cred-username")).strip()
    password = (await page.inner_text("#cred-password")).strip()
    assert username == "13712345678" and len(password) == 10
    await page.screenshot(path=str(Path(tempfile.gettempdir()) / "crew-credentials.png"), full_page=True)

    # the worker logs in with the one-time password; the roster shows the person enrolled with a contract
    worker = await browser.new_context()
    wp = await worker.new_page()
    await wp.goto(server.url("/login"))
    await wp.fill("input[name=username]", username)
    await wp.fill("input[name=password]", password)
    await wp.click("button[type=submit]")
    # a one-time password must be changed first (docs/security.md §2), then the worker lands on the phone app
    await wp.wait_for_url("**/password**")
    await wp.fill("input[name=old_password]", password)
    await wp.fill("input[name=new_password]", "Gongdi-2026-xin")
    await wp.fill("input[name=new_password2]", "Gongdi-2026-xin")
    await wp.click("form[action='/password'] button[type=submit]")
    await wp.wait_for_url(re.compile(r"/m/?$"))  # back to the phone app's home
    await worker.close()
    await page.goto(server.url(f"/projects/{pid}/crew?q=平板测试"))
    row = page.locator("table.roster tbody tr").first
    assert "已采集" in await row.inner_text() and "有效" in await row.inner_text()
    assert page.errors == []


async def test_roster_and_import_pages_on_a_tablet(tablet, server):
    page = tablet
    pid = server.site.project_id
    await page.goto(server.url(f"/projects/{pid}/crew"))
    assert await page.locator("table.roster tbody tr").count() >= 4  # the site's workers
    await page.check("input[name=missing_contract]")
    await page.wait_for_selector("#roster table.roster")
    assert "缺合同" in await page.inner_text("#roster")
    await page.screenshot(path=str(Path(tempfile.gettempdir()) / "crew-roster.png"), full_page=True)
    await page.goto(server.url(f"/projects/{pid}/crew/import"))
    async with page.expect_download() as dl:
        await page.click("text=下载导入模板")
    assert (await dl.value).suggested_filename.endswith(".xlsx")
    assert page.errors == []
