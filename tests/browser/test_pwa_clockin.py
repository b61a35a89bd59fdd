"""The worker phone app in headless Chromium: fake camera (a synthetic video in which the requested
liveness actions really happen, judged by the real landmark model), fake geolocation, offline mode.

Rules checked: seed 000 附件3 §三.3 (liveness: a still photo fails), §三.4 (upload within 30 s —
late uploads kept and flagged ``late_upload``), seed 001 §五(十一) / seed 004 §四(一) (electronic
fence: inside accepted, outside rejected with the distance), DESIGN.md §1 (idempotent: an outbox
retry is stored once; offline challenge flagged, not accepted silently), the issue's "live camera
only, no file picker" and installability (manifest + service worker, as Lighthouse/Chrome check).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.browser.actions import still_video, video_frames
from tests.browser.conftest import CHROMIUM, Server, chromium_args, log_in
from tests.browser.site import near
from tests.browser.y4m import write_y4m

pytestmark = pytest.mark.browser



async def clock_in(page: Any, server: Server, camera: Any,
                   video: Callable[[Sequence[str]], list[np.ndarray]]) -> dict[str, Any]:
    """Go through the clock page: location → challenge → (write the camera video for exactly the
    actions asked) → capture → result.  Returns what the result screen shows."""
    await page.goto(server.url("/m/clock"))
    await page.wait_for_selector("#loc-accuracy:has-text('米')")
    await page.click("#start-clock")
    await page.wait_for_selector("#challenge-actions li")
    actions = (await page.get_attribute("#challenge-actions", "data-actions")).split(",")
    await asyncio.to_thread(write_y4m, camera, video(actions))
    await page.click("#start-capture")
    await page.wait_for_selector("#clock-app[data-step=result]", timeout=90_000)
    box = page.locator("#result")
    out = {
        "actions": actions,
        "key": await box.get_attribute("data-key"),
        "kind": await box.get_attribute("data-kind"),
        "verdict": await box.get_attribute("data-verdict"),
        "mode": await page.inner_text("#challenge-mode"),
    }
    if out["kind"] == "done":
        await page.wait_for_selector("#result-detail .punch-detail", timeout=15_000)
    out["text"] = await box.inner_text()
    return out


async def my_punches(page: Any) -> list[dict[str, Any]]:
    return await page.evaluate("fetch('/api/clockin/history', {headers: {Accept: 'application/json'}}).then(r => r.json())")


# --------------------------------------------------------------------------------- the flow


async def test_location_accuracy_is_shown(phone, server: Server):
    page = await phone("enrolled", accuracy=12)
    await page.goto(server.url("/m/clock"))
    await page.wait_for_selector("#loc-accuracy:has-text('米')")
    assert (await page.inner_text("#loc-accuracy")).strip() == "±12 米"
    assert await page.inner_text("#loc-status") == "已定位"
    assert await page.is_enabled("#start-clock")
    # a poor fix is shown as such (the server would refuse it: rules.gps_max_accuracy_m)
    poor = await phone("enrolled", accuracy=250)
    await poor.goto(server.url("/m/clock"))
    await poor.wait_for_selector("#loc-accuracy:has-text('米')")
    assert (await poor.inner_text("#loc-accuracy")).strip() == "±250 米"
    assert "定位精度不足" in await poor.inner_text("#loc-status")


async def test_accepted_inside_the_fence(phone, server: Server, camera_file):
    assert server.site.fence is not None, "the site has a fence (backend.fences.create_fence)"
    lon, lat = near(server.site.inside)
    page = await phone("enrolled", lon=lon, lat=lat)
    r = await clock_in(page, server, camera_file, video_frames)
    assert r["kind"] == "done", r
    assert r["verdict"] == "accepted", r["text"]
    assert "打卡成功" in r["text"]
    assert page.errors == []


async def test_outside_the_fence_is_told_with_the_distance_before_the_camera(phone, server: Server, camera_file):
    """Issue 19 item 1 changed this: the worker learns before the liveness routine that the punch would be refused
    (the button stays disabled); the server's own rejection with the distance is
    tests/integration/clockin/test_clockin_api.py::test_outside_the_fence_is_rejected_with_the_distance."""
    lon, lat = server.site.outside  # 120 m beyond the edge of a 150 m circle
    page = await phone("wanderer", lon=lon, lat=lat, accuracy=9.5)
    await page.goto(server.url("/m/clock"))
    loc = page.locator("#precheck-list li[data-code=location][data-status=block]")
    await loc.wait_for()
    m = re.search(r"不在电子围栏内，距离 (\d+) 米", await loc.inner_text())
    assert m, await loc.inner_text()
    assert 110 <= int(m.group(1)) <= 130
    assert "走到围栏内再打卡" in await loc.inner_text()
    assert await page.is_disabled("#start-clock")


async def test_static_photo_fails_liveness(phone, server: Server, camera_file):
    lon, lat = near(server.site.inside)
    page = await phone("enrolled", lon=lon, lat=lat)
    r = await clock_in(page, server, camera_file, lambda _actions: still_video(8.0))
    assert r["kind"] == "done" and r["verdict"] == "rejected", r
    assert "活体检测未通过" in r["text"]
    punch_id = int(await page.get_attribute("#result-detail .punch-detail", "data-punch"))
    stored = next(p for p in await my_punches(page) if p["id"] == punch_id)
    assert "liveness_failed" in stored["reasons"]


async def test_offline_capture_then_reconnect_is_stored_exactly_once_and_flagged_late(phone, server: Server,
                                                                                      camera_file):
    lon, lat = near(server.site.inside)
    page = await phone("enrolled", lon=lon, lat=lat)
    posts: list[str] = []
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" and req.url.endswith(
        "/api/clockin/") else None)
    await page.goto(server.url("/m/clock"))
    await page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    before = {p["id"] for p in await my_punches(page)}

    await page.context.set_offline(True)
    await page.reload()  # the app opens offline: the service worker serves the cached page
    r = await clock_in(page, server, camera_file, video_frames)
    assert r["kind"] == "retry" and r["verdict"] == "pending", r
    assert "已保存" in r["text"] and "联网后会自动上传" in r["text"]
    assert "离线打卡" in r["mode"]  # no server challenge: the phone chose the actions itself
    assert await page.evaluate("SMZOutbox.count(document.body.dataset.person)") == 1
    stored = await page.evaluate(
        "k => SMZOutbox.get(k).then(r => ({...r, frames: r.frames.map(b => [b.type, b.size])}))", r["key"])
    assert stored["offlineActions"] == r["actions"] and stored["nonce"] is None
    assert stored["capturedAt"] and stored["accuracy"] == 12
    assert len(stored["frames"]) == 16 and all(t == "image/jpeg" and 0 < n <= 400 * 1024 for t, n in stored["frames"])

    await asyncio.sleep(31)  # the phone stays offline for longer than the 30 s limit (seed 000)
    await page.context.set_offline(False)  # the "online" event uploads the outbox
    await page.wait_for_selector("#result[data-kind=done]", timeout=60_000)
    await page.wait_for_selector("#result-detail .punch-detail", timeout=15_000)
    assert await page.evaluate("SMZOutbox.count(document.body.dataset.person)") == 0
    text = await page.inner_text("#result")
    assert "上传超时" in text and "离线打卡" in text

    await page.reload()  # app start: flushes the (now empty) outbox again
    await page.wait_for_function("window.SMZApp !== undefined")
    await page.evaluate("SMZApp.flush()")  # one whole flush, awaited: an outbox left non-empty would upload again
    new = [p for p in await my_punches(page) if p["id"] not in before]
    assert len(new) == 1, new  # exactly once
    punch = new[0]
    assert punch["verdict"] == "flagged", punch  # kept, marked for review — not dropped, not silently accepted
    assert punch["reasons"] == []
    assert {"late_upload", "offline_challenge"} <= set(punch["flags"])
    assert "clock_skew" not in punch["flags"]  # sent_at tells the outbox delay from a wrong phone clock
    assert punch["latency_s"] > 30
    assert "liveness_failed" not in punch["reasons"]  # the offline actions really happened
    assert len(posts) == 2  # the failed attempt while offline, then the one upload


async def test_history_lists_only_my_own_punches(phone, server: Server, camera_file):
    page = await phone("enrolled")
    await page.goto(server.url("/m/history"))
    mine = await my_punches(page)
    items = page.locator("#history-list li.punch")
    assert await items.count() == len(mine)
    # the htmx refresh swaps the list fragment in place (waited for through htmx's own event, not a pause)
    await page.evaluate("""() => { window.__settled = false;
        document.body.addEventListener("htmx:afterSettle", () => { window.__settled = true; }, {once: true}); }""")
    await page.click("button[hx-get='/m/history']")
    await page.wait_for_function("window.__settled === true")
    assert await page.locator("#history-list li.punch").count() == len(mine)
    other = await phone("unenrolled")
    await other.goto(server.url("/m/history"))
    theirs = await my_punches(other)
    assert not {p["id"] for p in theirs} & {p["id"] for p in mine}
    if mine:  # another worker's punch is not found, never shown
        res = await other.request.get(server.url(f"/m/punches/{mine[0]['id']}"))
        assert res.status == 404


async def test_not_enrolled_worker_is_told_why(phone, server: Server, camera_file):
    """Issue 19 item 1 changed this: told before the camera, with what to do (the server still refuses such a
    punch: tests/integration/clockin/test_clockin_api.py::test_not_enrolled_worker_is_refused_with_the_reason)."""
    lon, lat = near(server.site.inside)
    page = await phone("unenrolled", lon=lon, lat=lat)
    await page.goto(server.url("/m/clock"))
    face = page.locator("#precheck-list li[data-code=face][data-status=block]")
    await face.wait_for()
    assert "尚未采集人脸" in await face.inner_text() and "请联系班组长采集人脸" in await face.inner_text()
    await page.wait_for_selector("#loc-accuracy:has-text('米')")
    assert await page.is_disabled("#start-clock")
    assert "请联系班组长采集人脸" in await page.inner_text("#start-why")


async def test_makeup_request_with_a_photo_from_the_live_camera(phone, server: Server, camera_file):
    page = await phone("enrolled")
    await page.goto(server.url("/m/makeup"))
    assert await page.locator("input[type=file]").count() == 0  # live camera only
    yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).strftime("%Y-%m-%dT08:00")
    await page.fill("input[name=punch_time]", yesterday)
    await page.select_option("select[name=reason]", "rain")
    await page.select_option("select[name=direction]", "in")
    await page.fill("textarea[name=note]", "暴雨，工地停工，手机无信号")
    await page.click("#evidence-open")
    await page.wait_for_selector("#evidence-shoot:not([disabled])")
    await page.click("#evidence-shoot")
    await page.wait_for_selector("#evidence-thumb:not([hidden])")
    await page.click("#makeup-form button[type=submit]")
    await page.wait_for_selector("#makeup-message.ok")
    assert "等待主管部门审核" in await page.inner_text("#makeup-message")
    await page.wait_for_selector("#makeup-list li.makeup")
    first = page.locator("#makeup-list li.makeup").first
    assert "待审核" in await first.inner_text()
    assert "暴雨" in await first.inner_text()


async def test_no_file_picker_anywhere(phone, server: Server):
    page = await phone("enrolled")
    for path in ("/m/", "/m/clock", "/m/history", "/m/makeup"):
        await page.goto(server.url(path))
        assert await page.locator("input[type=file]").count() == 0, path


# ----------------------------------------------------------------------------- installable


@pytest.fixture
async def profile_page(playwright: Any, server: Server, camera_file, tmp_path) -> Any:
    """A page in a normal (non-incognito) browser profile: Chrome never offers to install an app
    from an incognito window, and Playwright's ordinary contexts are incognito."""
    ctx = await playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=chromium_args(camera_file),
        viewport={"width": 360, "height": 740}, locale="zh-CN", timezone_id="Asia/Shanghai",
    )
    try:
        page = ctx.pages[0] if ctx.pages else await ctx.new_page()
        await log_in(page, server, "enrolled")
        yield page
    finally:
        await ctx.close()


async def test_installable_manifest_and_service_worker(profile_page, server: Server):
    """What Chrome's install criteria and Lighthouse's PWA audits check: a linked manifest with
    name/short_name, start_url, display standalone, 192 and 512 px PNG icons (and a maskable one),
    theme colour + meta theme-color, viewport, apple-touch-icon; a service worker controlling the
    start URL with a fetch handler, and the start URL answering offline."""
    from PIL import Image

    page = profile_page
    await page.goto(server.url("/m/"))

    res = await page.request.get(server.url("/manifest.webmanifest"))
    assert res.status == 200 and res.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(await res.body())
    assert manifest["name"] == "工地实名制考勤" and manifest["short_name"] == "实名打卡"
    assert manifest["start_url"] == "/m/" and manifest["display"] == "standalone"
    assert manifest["theme_color"] and manifest["background_color"]
    sizes: dict[tuple[str, str], tuple[int, int]] = {}
    for icon in manifest["icons"]:
        r = await page.request.get(server.url(icon["src"]))
        assert r.status == 200 and r.headers["content-type"] == "image/png", icon
        im = Image.open(io.BytesIO(await r.body()))
        assert im.format == "PNG" and f"{im.width}x{im.height}" == icon["sizes"], icon
        sizes[(icon.get("purpose", "any"), icon["sizes"])] = im.size
    assert {("any", "192x192"), ("any", "512x512"), ("maskable", "512x512")} <= set(sizes)

    sw = await page.request.get(server.url("/sw.js"))
    assert sw.status == 200 and "javascript" in sw.headers["content-type"]
    assert sw.headers["service-worker-allowed"] == "/"
    assert "__SHELL" not in (await sw.text())

    head = {
        "manifest": await page.get_attribute("link[rel=manifest]", "href"),
        "theme": await page.get_attribute("meta[name=theme-color]", "content"),
        "viewport": await page.get_attribute("meta[name=viewport]", "content"),
        "apple": await page.get_attribute("link[rel=apple-touch-icon]", "href"),
        "lang": await page.get_attribute("html", "lang"),
    }
    assert head["manifest"] == "/manifest.webmanifest" and head["theme"] == manifest["theme_color"]
    assert "width=device-width" in head["viewport"] and head["apple"] and head["lang"] == "zh-CN"

    await page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    scope = await page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.scope)")
    assert scope == server.url("/")

    # Chromium's own verdict (the install criteria behind the install prompt and Lighthouse).
    cdp = await page.context.new_cdp_session(page)
    app_manifest = await cdp.send("Page.getAppManifest")
    assert app_manifest.get("errors") == [], app_manifest.get("errors")
    errors = await cdp.send("Page.getInstallabilityErrors")
    assert errors["installabilityErrors"] == [], errors

    # the start URL opens without the network, from the service worker's cache
    await page.context.set_offline(True)
    try:
        resp = await page.goto(server.url("/m/"))
        assert resp is not None and resp.status == 200
        assert await page.locator("#go-clock").count() == 1
    finally:
        await page.context.set_offline(False)
