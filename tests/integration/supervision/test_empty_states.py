"""Empty states say what they mean and what to do (issue 19 §14): a project without terminals (phone clock-in),
the vendor's home, the month's chart before any valid attendance, the live feed before the first punch, a month
that has not started."""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration.conftest import BearerHeaders, World, app_client

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]


async def test_a_project_without_terminals_says_it_uses_phone_clock_in_and_what_to_do(world: World):
    async with app_client() as client:
        h = await BearerHeaders()(world.users["staff_a"])
        page = await client.get(f"/devices?project_id={world.project_a}", headers=h)
        assert page.status_code == 200
        assert 'id="no-devices"' in page.text and "使用手机打卡" in page.text and "电子围栏" in page.text
        assert "登记设备" in page.text


async def test_vendor_home_explains_why_there_are_no_projects_instead_of_an_empty_table(world: World):
    async with app_client() as client:
        page = await client.get("/", headers=await BearerHeaders()(world.users["vendor"]))
        assert 'id="no-projects"' in page.text and "考勤设备" in page.text
        assert "<table" not in page.text.split('id="no-projects"')[1]


async def test_month_chart_and_live_feed_say_nothing_happened_yet_and_what_to_do(world: World):
    async with app_client() as client:
        h = await BearerHeaders()(world.users["supervisor_a"])
        month = await client.get(f"/supervision/attendance?project_id={world.project_b}", headers=h)
        assert 'id="chart-empty"' in month.text and "还没有有效考勤" in month.text and "<svg" not in month.text
        live = await client.get("/supervision/map", headers=h)
        assert 'id="sup-feed-empty"' in live.text and "今日还没有打卡" in live.text
        assert "<h1" in live.text and "SMZ_TILE_URL" in live.text
        future = date.today().replace(day=1).replace(year=date.today().year + 1).strftime("%Y-%m")
        later = await client.get(f"/supervision/attendance?project_id={world.project_b}&month={future}", headers=h)
        assert "本月尚未开始" in later.text and 'id="chart-empty"' not in later.text
