"""The foreman's tablet in portrait (800×1280), in headless Chromium (issue 19 items 6, 11, 12, 16).

- The roster is a list of two-line cards below 1000 px: names on one line, badges beside the name, 详情 a ≥ 44 px
  target, the filters (search, presence, team, face, contract) at the top, with counts; checkboxes ≥ 24 px in
  ≥ 44 px labels.
- The person page offers 采集人脸 / 补录证件; it leads to the card photos and then to 人证核验 of the same entry.
- Registration step 2 shows one primary action at a time, and the attempt counter follows a failed try.
- The registration form fills 出生日期 and 性别 from the ID number.
- A page the user may not open is a Chinese page with a way back, not raw JSON.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser import crew_fixtures
from tests.browser.actions import still_video
from tests.browser.y4m import write_y4m

pytestmark = pytest.mark.browser
card_files = crew_fixtures.card_files
SHOTS = Path(tempfile.gettempdir())


@pytest.fixture
async def portrait(browser: Any, server: Any) -> AsyncIterator[Any]:
    """The site's admin on an 800×1280 tablet held upright (touch, camera allowed)."""
    ctx = await browser.new_context(viewport={"width": 800, "height": 1280}, device_scale_factor=1, has_touch=True,
                                    locale="zh-CN", timezone_id="Asia/Shanghai", permissions=["camera"])
    page = await ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    await page.goto(server.url("/login"))
    await page.fill("input[name=username]", server.site.admin)
    await page.fill("input[name=password]", server.site.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(server.url("/"))
    try:
        yield page
    finally:
        await ctx.close()


async def box(page: Any, selector: str) -> dict[str, float]:
    b = await page.locator(selector).first.bounding_box()
    assert b is not None, selector
    return b


async def test_roster_is_cards_with_whole_names_inline_badges_and_44px_targets(portrait, server):
    page = portrait
    await page.goto(server.url(f"/projects/{server.site.project_id}/crew"))
    rows = page.locator("table.roster tbody tr")
    assert await rows.count() >= 4
    assert not await page.locator("table.roster thead").is_visible() or (await box(page, "table.roster thead"))["height"] <= 1
    page_width = await page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 800, "the roster must not scroll sideways on the tablet"
    for i in range(await rows.count()):
        row = rows.nth(i)
        name = await row.locator("a.name").bounding_box()
        face = await row.locator("td.c-face .status").bounding_box()
        go = await row.locator("a.go").bounding_box()
        text = await row.locator("a.name").inner_text()
        # the name on one line (not one character per line), its badge beside it on the same line
        assert name["height"] < 32, (text, name)  # one line (two characters stacked would be ≥ 40 px)
        assert abs((face["y"] + face["height"] / 2) - (name["y"] + name["height"] / 2)) < 14, (text, face, name)
        assert face["x"] > name["x"] + name["width"] - 1
        assert go["height"] >= 44 and go["width"] >= 44, go
        assert (await row.bounding_box())["height"] < 160  # two lines, not a column of stacked cells
    # filters at the top, above the list, with the counts
    for sel in ("input[name=q]", "select[name=presence]", "select[name=team]", "select[name=enrolled]",
                "input[name=missing_contract]"):
        b = await box(page, sel)
        assert b["y"] < (await box(page, "table.roster"))["y"], sel
        if sel.startswith("select") or sel.startswith("input[name=q]"):
            assert b["height"] >= 44, (sel, b)
    check = await box(page, "input[name=missing_contract]")
    assert check["width"] >= 24 and check["height"] >= 24
    label = await page.locator("label:has(input[name=missing_contract])").bounding_box()
    assert label["height"] >= 44
    counts = await page.inner_text("#roster-counts")
    assert "共" in counts and "未采集" in counts
    await page.select_option("select[name=enrolled]", "no")
    await page.wait_for_function("location.search.includes('enrolled=no')")
    assert "已采集" not in await page.inner_text("#roster tbody")
    await page.screenshot(path=str(SHOTS / "tablet-roster-800.png"), full_page=True)
    first = await rows.first.bounding_box()
    at_start = await page.evaluate("([x, y]) => (document.elementFromPoint(x, y).closest('td') || {}).className",
                                   [first["x"] + 26, first["y"] + 22])
    assert at_start == "c-name", at_start  # each card starts with the name
    assert page.errors == []


async def test_registration_form_fills_birth_date_and_sex_from_the_id_number(portrait, server):
    page = portrait
    await page.goto(server.url(f"/projects/{server.site.project_id}/crew/register"))
    await page.fill("input[name=id_number]", "440703198604091237")  # 17th digit 3: odd → male
    assert await page.input_value("input[name=birth_date]") == "1986-04-09"
    assert await page.input_value("select[name=gender]") == "M"
    await page.fill("input[name=id_number]", "440703199112240042")  # 17th digit 4: even → female
    assert await page.input_value("input[name=birth_date]") == "1991-12-24"
    assert await page.input_value("select[name=gender]") == "F"
    for sel in ("input[name=id_long_term]",):
        b = await box(page, sel)
        assert b["width"] >= 24 and b["height"] >= 24
    assert page.errors == []


async def test_adding_a_face_from_the_person_page_then_one_primary_action_and_a_live_counter(
        portrait, server, card_files, camera_file):
    page = portrait
    pid = server.site.project_id
    await page.goto(server.url(f"/projects/{pid}/crew?enrolled=no"))
    await page.locator("table.roster tbody tr a.go").first.click()
    await page.wait_for_url("**/crew/entries/*")
    assert "未采集" in await page.inner_text("#face-state")
    start = await box(page, "#supplement-start")
    assert start["height"] >= 44
    await page.click("#supplement-start")
    await page.wait_for_url("**/enrol")
    assert await page.locator("input[name=id_number]").count() == 0  # the number on record, not typed again
    await page.set_input_files("input[name=id_front]", str(card_files["front"]))
    await page.set_input_files("input[name=id_back]", str(card_files["back"]))
    valid_from = date.today() - timedelta(days=400)
    await page.fill("input[name=id_valid_from]", valid_from.isoformat())
    await page.fill("input[name=id_valid_until]", valid_from.replace(year=valid_from.year + 20).isoformat())
    await page.click("#id-form button[type=submit]")
    await page.wait_for_function("location.pathname.includes('/crew/registrations/') || "
                                 "document.querySelector('#id-form .msg .error')", timeout=60_000)
    assert "/crew/registrations/" in page.url, await page.inner_text("#id-form .msg")
    assert await page.get_attribute("#reg-status", "data-status") == "id_checked"
    assert "已通过导入进入本项目花名册" in await page.inner_text("main")
    await page.check("#consent-tick")  # 单独同意 before the selfie (issue 20 B.1)
    await page.click("#consent-agree")
    await page.wait_for_selector("#liveness-start", timeout=30_000)

    async def visible_primary() -> list[str]:
        return await page.eval_on_selector_all(
            "#liveness button.primary", "bs => bs.filter(b => b.offsetParent !== null).map(b => b.id)")

    assert await visible_primary() == ["liveness-start"]
    assert await page.inner_text("#liveness-attempts") == "0"
    await page.click("#liveness-start")
    await page.wait_for_selector("#challenge-actions li")
    assert await visible_primary() == ["liveness-capture"]
    # the camera shows a still face: the challenged actions never happen → the try fails, the counter moves
    await asyncio.to_thread(write_y4m, camera_file, still_video(12.0))
    await page.click("#liveness-capture")
    await page.wait_for_selector("#liveness .msg .error", timeout=120_000)
    assert "活体检测未通过" in await page.inner_text("#liveness .msg")
    assert await page.inner_text("#liveness-attempts") == "1"
    assert await visible_primary() == ["liveness-start"]
    assert await page.inner_text("#liveness-start") == "重新开始活体检测"
    await page.screenshot(path=str(SHOTS / "tablet-step2-800.png"), full_page=True)
    assert page.errors == []


async def test_a_forbidden_page_is_a_chinese_page_with_a_way_back(portrait, server):
    page = portrait
    await page.goto(server.url(f"/projects/{server.site.project_id}/crew"))
    response = await page.goto(server.url("/projects/987654321/crew"))
    assert response.status == 404
    text = await page.inner_text("#error-page")
    assert "页面不存在" in text and "返回上一页" in text and "回到首页" in text
    await page.click("#error-back")
    await page.wait_for_url(f"**/projects/{server.site.project_id}/crew")
    assert page.errors == []
