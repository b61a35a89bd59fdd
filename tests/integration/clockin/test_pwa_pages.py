"""The worker app's pages (/m/…), the result fragment and the installability files served from the
root scope.  Rules checked: the issue's Chinese UI, htmx fragments (``HX-Request``), "another
worker's punch is not found", manifest/service worker content types and ``Service-Worker-Allowed``."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

import pytest

from backend.clockin.pages import SHELL
from tests.browser.site import Site, build_site

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def site(migrated_db: str, client) -> Site:
    return await build_site(with_faces=False)


async def headers_for(client, site: Site, who: str) -> dict[str, str]:
    r = await client.post("/api/auth/token", json={"username": site.usernames[who], "password": site.password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.mark.parametrize(("path", "expect"), [
    ("/m/", "在场项目"), ("/m/clock", "定位精度"), ("/m/history", "我的考勤记录"), ("/m/makeup", "申请补卡"),
])
async def test_worker_pages_render_in_chinese(client, site: Site, path: str, expect: str):
    h = await headers_for(client, site, "enrolled")
    r = await client.get(path, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert expect in r.text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in r.text
    assert 'name="theme-color"' in r.text and 'lang="zh-CN"' in r.text
    assert 'type="file"' not in r.text  # live camera only
    assert f'data-person="{site.people["enrolled"]}"' in r.text  # the outbox owner


async def test_clock_page_carries_the_rules_it_shows(client, site: Site):
    h = await headers_for(client, site, "enrolled")
    r = await client.get("/m/clock", headers=h)
    raw = re.search(r'data-config="([^"]+)"', r.text).group(1)
    config = json.loads(html.unescape(raw))
    assert config["maxAccuracyM"] == 100 and config["maxFrames"] == 16 and config["actionCount"] == 2
    assert set(config["actions"]) == {"blink", "turn_left", "turn_right", "open_mouth"}


async def test_htmx_gets_fragments(client, site: Site):
    h = {**await headers_for(client, site, "enrolled"), "HX-Request": "true"}
    hist = await client.get("/m/history", headers=h)
    assert hist.text.lstrip().startswith('<ul class="punches" id="history-list">')
    mk = await client.get("/m/makeup", headers=h)
    assert mk.text.lstrip().startswith('<ul class="makeups" id="makeup-list"')


async def test_a_punch_of_someone_else_is_not_found(client, site: Site):
    from backend.attendance.services import PunchIn, record_punch

    v = await record_punch(PunchIn(source="mobile", project_id=site.project_id, person_id=site.people["stranger"],
                                   idempotency_key=f"pages-test-{site.project_id}",
                                   captured_at=datetime.now(UTC),
                                   lon=site.inside[0], lat=site.inside[1], accuracy_m=10.5,
                                   reasons=("outside_fence",), fence_distance_m=1234.0))
    own = await client.get(f"/m/punches/{v.punch_id}", headers=await headers_for(client, site, "stranger"))
    assert own.status_code == 200 and "不在电子围栏内，距离 1.2 公里" in own.text
    other = await client.get(f"/m/punches/{v.punch_id}", headers=await headers_for(client, site, "enrolled"))
    assert other.status_code == 404


async def test_an_account_without_a_person_is_told_why(client, site: Site):
    r = await client.post("/api/auth/token", json={"username": site.admin, "password": site.password})
    admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
    page = await client.get("/m/clock", headers=admin)
    assert page.status_code == 403 and "没有关联到工人" in page.text


async def test_pages_need_a_login(client):
    r = await client.get("/m/clock", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")


async def test_manifest_service_worker_and_icon_are_public_at_the_root(client):
    m = await client.get("/manifest.webmanifest")
    assert m.status_code == 200 and m.headers["content-type"].startswith("application/manifest+json")
    manifest = m.json()
    assert (manifest["name"], manifest["short_name"], manifest["start_url"], manifest["display"]) == (
        "工地实名制考勤", "实名打卡", "/m/", "standalone")
    purposes = {(i["sizes"], i.get("purpose", "any")) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes

    sw = await client.get("/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/" and sw.headers["cache-control"] == "no-cache"
    body = sw.text
    assert "__SHELL" not in body and "__PAGE_URLS__" not in body
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))
    assert shell == list(SHELL)
    for url in shell:  # every shell file exists (an install with a missing file would fail)
        r = await client.get(url)
        assert r.status_code == 200, url
    ico = await client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.content.startswith(b"\x89PNG")
