"""The tablet's consent step (单独同意, issue 20 B.1; PIPL §29) in a real browser: after the ID card, the consent
text is shown and the selfie step stays hidden until the person ticks "我同意"; without the tick the page says so."""

from __future__ import annotations

import pytest

from tests.browser import crew_fixtures
from tests.browser.test_crew_tablet import fill_id_form, new_id_number

pytestmark = pytest.mark.browser
tablet = crew_fixtures.tablet
card_files = crew_fixtures.card_files


async def test_the_consent_text_and_tick_come_before_the_selfie(tablet, server, card_files):
    page = tablet
    pid = server.site.project_id
    await page.goto(server.url(f"/projects/{pid}/crew/register"))
    await fill_id_form(page, card_files, new_id_number())
    await page.select_option("select[name=ethnicity]", "01")
    await page.click("#id-form button[type=submit]")
    await page.wait_for_url("**/crew/registrations/*", timeout=60_000)
    text = await page.inner_text("#consent-text")
    assert "采集什么" in text and "怎样撤回" in text and "保存" in text
    assert await page.locator("#liveness").count() == 0
    await page.click("#consent-agree")  # not ticked
    await page.wait_for_selector("#consent-msg .error", timeout=15_000)
    assert "勾选" in await page.inner_text("#consent-msg")
    assert await page.locator("#liveness").count() == 0
    await page.check("#consent-tick")
    await page.click("#consent-agree")
    await page.wait_for_selector("#liveness-start", timeout=30_000)
    assert await page.locator("#consent-step").count() == 0
