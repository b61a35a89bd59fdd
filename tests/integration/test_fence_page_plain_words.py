"""The fence page in plain words for those who only look at it (issue 19 item 16): a foreman reads what the
fence means for clock-in, not WGS-84 / GeoJSON, and the position hint does not assume a mouse."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import login

pytestmark = pytest.mark.integration


async def test_a_foreman_sees_the_fence_page_without_jargon(client, world):
    r = await client.get(f"/projects/{world.project_a}/fences", headers=await login(client, world.users["foreman_a"]))
    assert r.status_code == 200
    visible = re.sub(r'<script type="application/json" id="fence-config">.*?</script>', "", r.text, flags=re.S)
    visible = re.sub(r'<div class="card" id="crs-card" hidden>.*?</div>', "", visible, flags=re.S)  # not shown
    assert 'id="fence-intro-plain"' in r.text and "打卡才有效" in r.text
    for jargon in ("WGS-84", "GeoJSON", "GCJ-02", "移动鼠标"):
        assert jargon not in visible, jargon
    assert 'id="crs-card" hidden' in r.text and 'id="crs-badge"' not in r.text
    assert "点按地图" in r.text  # the hint works on a touch screen (fences.js picks the mouse wording on desktops)


async def test_the_fence_editor_keeps_the_technical_notes(client, world):
    r = await client.get(f"/projects/{world.project_a}/fences", headers=await login(client, world.users["admin"]))
    assert r.status_code == 200 and "WGS-84" in r.text and 'id="crs-badge"' in r.text
    assert 'id="fence-intro-plain"' not in r.text
