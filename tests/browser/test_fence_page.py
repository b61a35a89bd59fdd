"""The fence editing page in headless Chromium: the offline map (plain background, scale, the site's
fence fitted), drawing a polygon / circle / corridor with the hand-written toolbar, the coordinate
readout with its system label, API errors shown in Chinese next to the field, editing (a new version)
and GeoJSON import with preview."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
async def desk(browser: Any, server: Any) -> AsyncIterator[Any]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                    timezone_id="Asia/Shanghai")
    page = await ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    await page.goto(server.url("/login?next=/"))
    await page.fill("input[name=username]", server.site.admin)
    await page.fill("input[name=password]", server.site.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(server.url("/"))
    await page.goto(server.url(f"/projects/{server.site.project_id}/fences"))
    await page.wait_for_selector("#fence-list li")
    yield page
    await ctx.close()


async def fence_names(page: Any) -> list[str]:
    return await page.locator("#fence-list .fname").all_inner_texts()


async def wait_listed(page: Any, name: str) -> None:
    """After 保存: the list is reloaded from the API (the drawing step's own "ok" message came earlier)."""
    await page.wait_for_function(
        "name => [...document.querySelectorAll('#fence-list .fname')].some(e => e.textContent === name)", arg=name)


async def click_map(page: Any, points: list[tuple[int, int]], *, double_last: bool = False) -> None:
    box = await page.locator("#fence-map").bounding_box()
    for i, (x, y) in enumerate(points):
        if double_last and i == len(points) - 1:
            await page.mouse.dblclick(box["x"] + x, box["y"] + y)
        else:
            await page.mouse.click(box["x"] + x, box["y"] + y)
            await page.wait_for_timeout(350)  # longer than a double-click interval


async def test_offline_map_shows_site_fence_scale_and_coordinates(desk, server):
    page = desk
    assert await page.locator("#fence-map.plain").count() == 1
    assert await page.locator(".leaflet-tile").count() == 0  # no tile server: no tiles requested
    assert await page.locator(".leaflet-control-scale").count() == 1
    assert server.site.fence is not None  # tests/browser/site.py made it through services.create_fence
    assert "施工现场围栏" in await fence_names(page)
    assert await page.locator("#fence-map path.leaflet-interactive").count() >= 1
    box = await page.locator("#fence-map").bounding_box()
    await page.mouse.move(box["x"] + 300, box["y"] + 300)
    text = await page.locator("#cursor-pos").inner_text()
    assert text.startswith("WGS-84") and "经度 113." in text and "纬度 22." in text
    await page.select_option("#crs-select", "gcj02")
    assert await page.locator("#crs-badge").inner_text() == "GCJ-02"
    await page.mouse.move(box["x"] + 310, box["y"] + 310)
    assert (await page.locator("#cursor-pos").inner_text()).startswith("GCJ-02")
    await page.select_option("#crs-select", "wgs84")
    assert page.errors == []


async def test_draw_polygon_and_save(desk, server):
    page = desk
    before = await fence_names(page)
    await page.click("[data-tool=polygon]")
    await click_map(page, [(200, 200), (420, 210), (400, 420), (220, 400)], double_last=True)
    geometry = json.loads(await page.input_value("textarea[name=geometry]"))
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"][0]) == 5
    await page.fill("input[name=name]", "钢筋加工区")
    await page.click("#fence-form button[type=submit]")
    await wait_listed(page, "钢筋加工区")
    assert "已创建围栏" in await page.inner_text("#form-msg")
    assert len(await fence_names(page)) == len(before) + 1
    assert page.errors == []


async def test_draw_circle_with_typed_radius_and_corridor(desk):
    page = desk
    await page.click("[data-tool=circle]")
    await click_map(page, [(600, 300)])
    await page.fill("input[name=radius_m]", "35")
    geometry = json.loads(await page.input_value("textarea[name=geometry]"))
    assert geometry["type"] == "Point"
    await page.fill("input[name=name]", "塔吊区域")
    await page.click("#fence-form button[type=submit]")
    await wait_listed(page, "塔吊区域")

    await page.click("[data-tool=corridor]")
    await page.fill("input[name=width_m]", "24")
    await click_map(page, [(150, 500), (350, 520), (520, 600)], double_last=True)
    geometry = json.loads(await page.input_value("textarea[name=geometry]"))
    assert geometry["type"] == "LineString" and len(geometry["coordinates"]) == 3
    await page.fill("input[name=name]", "施工便道")
    await page.click("#fence-form button[type=submit]")
    await wait_listed(page, "施工便道")
    assert page.errors == []


async def test_api_errors_shown_in_chinese_next_to_the_field(desk):
    page = desk
    await page.select_option("select[name=kind]", "corridor")
    await page.fill("input[name=name]", "零宽道路")
    await page.fill("input[name=width_m]", "0")
    await page.fill("textarea[name=geometry]", json.dumps(
        {"type": "LineString", "coordinates": [[113.0946, 22.6040], [113.0960, 22.6050]]}))
    await page.click("#fence-form button[type=submit]")
    slot = page.locator('.field-error[data-for="width_m"]')
    await slot.wait_for(state="visible")
    assert "宽度必须大于 0 米" in await slot.inner_text()
    assert await page.locator("input[name=width_m].invalid").count() == 1

    await page.select_option("select[name=kind]", "polygon")
    await page.fill("textarea[name=geometry]", json.dumps(
        {"type": "Polygon", "coordinates": [[[22.60, 113.09], [22.61, 113.09], [22.61, 113.10], [22.60, 113.09]]]}))
    await page.click("#fence-form button[type=submit]")
    slot = page.locator('.field-error[data-for="geometry"]')
    await slot.wait_for(state="visible")
    assert "经纬度顺序颠倒" in await slot.inner_text()

    await page.fill("textarea[name=geometry]", "{not json")
    await page.click("#fence-form button[type=submit]")
    assert "GeoJSON 格式错误" in await slot.inner_text()
    assert page.errors == []


async def test_edit_creates_new_version_and_history_lists_both(desk):
    page = desk
    await page.select_option("select[name=kind]", "circle")
    await page.fill("input[name=name]", "待修改围栏")
    await page.fill("input[name=radius_m]", "40")
    await page.fill("textarea[name=geometry]", json.dumps({"type": "Point", "coordinates": [113.0950, 22.6045]}))
    await page.click("#fence-form button[type=submit]")
    await wait_listed(page, "待修改围栏")
    row = page.locator("#fence-list li", has_text="待修改围栏")
    await row.get_by_role("button", name="编辑").click()
    assert "第 1 版" in await page.inner_text("#editor-title")
    await page.fill("input[name=radius_m]", "60")
    await page.click("#fence-form button[type=submit]")
    await page.wait_for_selector("#form-msg .ok >> text=已保存为第 2 版")
    await page.locator("#fence-list li", has_text="待修改围栏").get_by_role("button", name="历史").click()
    await page.wait_for_selector("#history-list li >> text=第 1 版")
    items = await page.locator("#history-list li").all_inner_texts()
    assert items[0].startswith("第 2 版") and "至 现在" in items[0] and "半径 60 米" in items[0]
    assert items[1].startswith("第 1 版") and "半径 40 米" in items[1]
    assert page.errors == []


async def test_import_geojson_preview_then_import(desk, tmp_path):
    page = desk
    path = tmp_path / "fences.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "导入的材料堆场", "radius_m": 25},
         "geometry": {"type": "Point", "coordinates": [113.0935, 22.6030]}}]}, ensure_ascii=False), encoding="utf-8")
    await page.set_input_files("#import-form input[name=file]", str(path))
    await page.click("#import-preview")
    await page.wait_for_selector("#import-msg .ok")
    assert "预览" in await page.inner_text("#import-msg")
    assert "导入的材料堆场" not in await fence_names(page)
    await page.click("#import-form button[type=submit]")
    await page.wait_for_selector("#import-msg .ok >> text=已导入 1 个围栏")
    await wait_listed(page, "导入的材料堆场")
    assert page.errors == []
