"""The supervisor's live map in headless Chromium, with no internet: it loads, draws the project's fence on a
plain background (no tile server configured) and shows a punch committed during the test without a reload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser import supervision_fixtures
from tests.browser.supervision_fixtures import MapSite

pytestmark = pytest.mark.browser

# The map's fixtures live in their own module (tests/browser/conftest.py belongs to the phone PWA).
sup_map_site = supervision_fixtures.sup_map_site
sup_server = supervision_fixtures.sup_server
sup_services = supervision_fixtures.sup_services
sup_page = supervision_fixtures.sup_page


async def test_map_loads_offline_shows_fences_and_a_new_punch_appears_live(sup_page: Any, sup_map_site: MapSite,
                                                                           sup_services: Any):
    page = sup_page
    await page.wait_for_selector("#sup-map[data-loaded='1']")
    await page.wait_for_selector("path.smz-fence", state="attached")
    assert await page.locator("path.smz-fence").count() == 1
    assert await page.locator("path.smz-project").count() >= 1
    assert await page.locator(".leaflet-tile").count() == 0  # plain background: no tiles requested
    assert "no-tiles" in (await page.get_attribute("#sup-map", "class") or "")
    await page.wait_for_selector("#sup-map[data-live-ready='1']")
    await page.evaluate("window.__sameDocument = true")

    from backend.attendance.services import PunchIn, record_punch

    now = datetime.now(UTC)
    verdict = await record_punch(PunchIn(
        source="mobile", project_id=sup_map_site.project, person_id=sup_map_site.worker,
        idempotency_key=uuid.uuid4().hex, captured_at=now - timedelta(seconds=2), received_at=now,
        lon=113.0947, lat=22.6041, accuracy_m=8.0), feed=sup_services.live_feed)
    item = page.locator(f"#sup-feed li[data-punch-id='{verdict.punch_id}']")
    await item.wait_for(timeout=10_000)
    assert "地图工人" in await item.inner_text()
    assert await page.locator("path.smz-punch").count() >= 1
    assert await page.evaluate("window.__sameDocument === true")  # no reload happened

    await item.click()  # the project's day opens in the side panel
    await page.wait_for_selector("#sup-panel .today")
    assert "在场人员" in await page.inner_text("#sup-panel")
    assert sup_map_site.external_requests == []
    assert page.errors == []  # type: ignore[attr-defined]
