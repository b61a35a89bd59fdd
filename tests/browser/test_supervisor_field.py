"""The supervisor's desk at 1440×900 in headless Chromium (issue 19 §5, §8, §14, §16):

- the monthly matrix: the scroll area fits the window, the header row and the name column stay put while the
  days scroll, the totals (有效天数/应出勤/到岗率) are in view, future days are blank, the area is keyboard
  reachable;
- the live map without tiles: an h1, every project labelled by name, a scale bar, the note on SMZ_TILE_URL, an
  empty feed that says what will appear, then one clear line per punch (time · name · project · source ·
  verdict, reasons once — never "打卡成功：打卡成功")."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser import supervision_fixtures
from tests.browser.supervision_fixtures import MapSite

pytestmark = pytest.mark.browser

sup_map_site = supervision_fixtures.sup_map_site
sup_server = supervision_fixtures.sup_server
sup_services = supervision_fixtures.sup_services
sup_page = supervision_fixtures.sup_page

DESK = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
async def crowd(sup_map_site: MapSite) -> int:
    """Forty more people on the project's roster: the matrix is taller than the window."""
    import random

    from backend.demo import fake_id_number
    from backend.org import services as org
    from backend.workforce import services as workforce

    rng = random.Random(19)
    teams = await org.list_teams(sup_map_site.project)
    team = next(t for t in teams if t["name"] == "钢筋班组")
    units = await org.list_units(sup_map_site.project)
    unit = units[0]["id"]
    first = date.today().replace(day=1) - timedelta(days=3)
    for i in range(40):
        person = await workforce.upsert_person(id_number=fake_id_number(rng, "450102"), name="矩阵工人" + "甲乙丙丁戊己庚辛壬癸"[i % 10] + "甲乙丙丁"[i // 10])
        await workforce.enter_roster(project_id=sup_map_site.project, person_id=person, unit_id=unit, team_id=team["id"],
                                     work_role="worker", work_type="020", entered_on=first)
    return 41


async def _box(page: Any, selector: str) -> dict[str, float]:
    box = await page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


async def test_matrix_at_1440_fits_the_window_keeps_names_header_and_totals_in_view(
        sup_page: Any, sup_server: str, sup_map_site: MapSite, crowd: int):
    page = sup_page
    await page.set_viewport_size(DESK)
    await page.goto(f"{sup_server}/supervision/attendance?project_id={sup_map_site.project}")
    region = page.locator(".matrix-scroll")
    assert await region.get_attribute("tabindex") == "0" and await region.get_attribute("aria-label")
    assert await page.locator("#matrix tbody tr").count() == crowd
    await region.evaluate("el => el.scrollIntoView({block: 'start'})")
    r = await region.bounding_box()
    assert r is not None and r["y"] + r["height"] <= DESK["height"] + 1  # its scroll bars are in the window
    assert r["x"] + r["width"] <= DESK["width"]
    for label in ("有效天数", "应出勤", "到岗率"):  # the totals are visible without scrolling sideways
        th = await _box(page, f"#matrix thead th:has-text('{label}')")
        assert r["x"] <= th["x"] and th["x"] + th["width"] <= r["x"] + r["width"] + 1, label

    name_before = await _box(page, "#matrix tbody tr:first-child th.name")
    head_before = await _box(page, "#matrix thead th.name")
    rate_before = await _box(page, "#matrix tbody tr:first-child td.t3")
    await region.evaluate("el => { el.scrollLeft = el.scrollWidth; el.scrollTop = el.scrollHeight; }")
    await page.wait_for_function("document.querySelector('.matrix-scroll').scrollTop > 0")
    head_after = await _box(page, "#matrix thead th.name")
    assert abs(head_after["y"] - head_before["y"]) < 1 and abs(head_after["x"] - head_before["x"]) < 1  # sticky
    last_name = await _box(page, "#matrix tbody tr:last-child th.name")
    assert abs(last_name["x"] - name_before["x"]) < 1  # the name column stays at the left
    last_rate = await _box(page, "#matrix tbody tr:last-child td.t3")
    assert abs(last_rate["x"] - rate_before["x"]) < 1  # the totals stay at the right

    # keyboard: the area takes focus and scrolls with the arrow keys
    await region.evaluate("el => { el.scrollLeft = 0; el.scrollTop = 0; }")
    await region.focus()
    assert await page.evaluate("document.activeElement.classList.contains('matrix-scroll')")
    await page.keyboard.press("PageDown")
    await page.wait_for_function("document.querySelector('.matrix-scroll').scrollTop > 0")

    # days after the statistics day are blank, never 0
    from backend.vocabulary import local_today

    today = local_today()
    cells = await page.locator("#matrix tbody tr:first-child td.cell").all_inner_texts()
    footer = await page.locator("#matrix tfoot td.cell").all_inner_texts()
    assert len(cells) == len(footer) >= 28
    future = range(today.day, len(cells))  # index today.day is tomorrow
    assert all(cells[i].strip() == "" for i in future) and all(footer[i].strip() == "" for i in future)
    assert all(footer[i].strip() != "" for i in range(today.day))
    assert page.errors == []  # type: ignore[attr-defined]


async def test_map_without_tiles_labels_projects_has_a_scale_and_one_clear_line_per_punch(
        sup_page: Any, sup_server: str, sup_map_site: MapSite, sup_services: Any):
    from backend.attendance.services import PunchIn, record_punch

    page = sup_page
    await page.set_viewport_size(DESK)
    await page.goto(f"{sup_server}/supervision/map")
    await page.wait_for_selector("#sup-map[data-loaded='1']")
    assert (await page.inner_text("h1")).startswith("实时地图")
    assert "SMZ_TILE_URL" in await page.inner_text("#tile-note")
    label = page.locator(".smz-label", has_text=sup_map_site.name)
    await label.wait_for()
    assert await label.is_visible()  # always shown, not only on hover
    assert await page.locator(".leaflet-control-scale-line").count() == 1
    assert await page.get_attribute(".map-side", "tabindex") == "0"
    empty = page.locator("#sup-feed-empty")
    assert await empty.is_visible() and "今日还没有打卡" in await empty.inner_text()
    await page.wait_for_selector("#sup-map[data-live-ready='1']")

    now = datetime.now(UTC)
    ok = await record_punch(PunchIn(
        source="mobile", project_id=sup_map_site.project, person_id=sup_map_site.worker,
        idempotency_key=uuid.uuid4().hex, captured_at=now - timedelta(seconds=2), received_at=now,
        lon=113.0947, lat=22.6041, accuracy_m=8.0), feed=sup_services.live_feed)
    bad = await record_punch(PunchIn(
        source="mobile", project_id=sup_map_site.project, person_id=sup_map_site.worker,
        idempotency_key=uuid.uuid4().hex, captured_at=now - timedelta(seconds=1), received_at=now,
        lon=113.2, lat=22.7, accuracy_m=8.0, reasons=("outside_fence",)), feed=sup_services.live_feed)
    from backend.vocabulary import label as code_label

    line = re.compile(r"^\d{2}:\d{2}:\d{2} 地图工人 · " + re.escape(sup_map_site.name) + " · "
                      + re.escape(code_label("mobile", "Source")) + r" · (.+)$")
    texts = {}
    for v in (ok, bad):
        item = page.locator(f"#sup-feed li[data-punch-id='{v.punch_id}']")
        await item.wait_for(timeout=10_000)
        text = " ".join((await item.inner_text()).split())
        m = line.match(text)
        assert m, text
        texts[v.verdict] = m.group(1)
    assert ok.verdict in ("accepted", "flagged") and bad.verdict == "rejected"
    assert texts["rejected"] == "打卡失败：不在电子围栏内"
    assert "打卡成功：打卡成功" not in await page.inner_text("#sup-feed")
    assert texts[ok.verdict].startswith("打卡成功")
    hms = ok.captured_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S")
    assert hms in await page.inner_text(f"#sup-feed li[data-punch-id='{ok.punch_id}']")  # the project's zone
    assert await empty.is_hidden()
    assert sup_map_site.external_requests == []
    assert page.errors == []  # type: ignore[attr-defined]
