"""Device management pages: terminals with their online state (htmx refresh every 10 s), the outage
list, registration by project staff, enable / disable — scoped like the device API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.devices.tables import Terminal
from tests.integration.conftest import PASSWORD, login, unique
from tests.integration.gate.gate_site import register, terminal_row, wait_for

pytestmark = pytest.mark.integration

HX = {"HX-Request": "true"}


async def test_staff_see_their_projects_terminals_with_state_and_auto_refresh(world, http, open_terminal):
    online = await register(world, world.project_a)
    offline = await register(world, world.project_a)
    elsewhere = await register(world, world.project_c)
    await open_terminal(online)
    h = await login(http, world.users["staff_a"])
    r = await http.get("/devices", headers=h)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    page = r.text
    assert online in page and offline in page and elsewhere not in page
    assert 'hx-get="/devices/table"' in page and "every 10s" in page
    assert 'action="/devices/register"' in page  # staff may register
    row = page[page.index(f'<td class="mono">{online}</td>') - 300:]
    assert "在线" in row[:1200]
    frag = await http.get(f"/devices/table?project_id={world.project_a}", headers={**h, **HX})
    assert frag.status_code == 200 and "<html" not in frag.text and online in frag.text


async def test_the_fragment_follows_the_gate_connection(world, http, open_terminal):
    serial = await register(world, world.project_a)
    h = await login(http, world.users["staff_a"])

    async def state() -> str:
        frag = (await http.get(f"/devices/table?project_id={world.project_a}", headers={**h, **HX})).text
        tid = (await terminal_row(serial))["id"]
        start = frag.index(f'id="terminal-{tid}"')
        return frag[start:frag.index("</tr>", start)]

    assert 'data-state="never"' in await state()
    t = await open_terminal(serial)
    assert 'data-state="online"' in await state()
    await t.close()

    async def offline() -> bool:
        return 'data-state="offline"' in await state()

    await wait_for(offline)


async def test_staff_register_a_terminal_which_can_then_log_in(world, http, open_terminal):
    h = await login(http, world.users["staff_a"])
    serial = unique("PAGE-GATE-")
    r = await http.post("/devices/register", headers={**h, **HX}, data={
        "project_id": str(world.project_a), "serial": serial, "vendor_id": str(world.vendor), "channel": "2",
        "direction": "out"})
    assert r.status_code == 200, r.text
    assert f"已登记设备 {serial}" in r.text and r.headers.get("hx-trigger") == "terminals-changed"
    row = await terminal_row(serial)
    assert (row["project"], row["channel"], row["direction"], row["enabled"]) == (world.project_a, 2, "out", True)
    t = await open_terminal(serial)  # logs in
    assert (await t.heartbeat()).ok


async def test_registration_errors_are_shown_in_the_form(world, http):
    h = await login(http, world.users["staff_a"])
    taken = await register(world, world.project_a)
    for data, text in (
        ({"project_id": str(world.project_a), "serial": taken, "vendor_id": str(world.vendor), "channel": "1"},
         "该设备序列号已登记"),
        ({"project_id": str(world.project_c), "serial": unique("X-"), "vendor_id": str(world.vendor), "channel": "1"},
         "项目不存在或无权查看"),
        ({"project_id": str(world.project_a), "serial": "有 空格", "vendor_id": str(world.vendor), "channel": "1"},
         "设备序列号应为"),
        ({"project_id": str(world.project_a), "serial": unique("Y-"), "vendor_id": "", "channel": "1"},
         "请选择设备厂商"),
    ):
        r = await http.post("/devices/register", headers={**h, **HX}, data={"direction": "in", **data})
        assert r.status_code == 200 and 'class="error"' in r.text and text in r.text, (data, r.text[:500])
    assert len(await Terminal.select(Terminal.id).where(Terminal.serial == taken)) == 1


async def test_plain_form_post_without_htmx_redirects_back(world, http):
    h = await login(http, world.users["staff_a"])
    serial = unique("PLAIN-GATE-")
    r = await http.post("/devices/register", headers=h, follow_redirects=False, data={
        "project_id": str(world.project_a), "serial": serial, "vendor_id": str(world.vendor), "channel": "1",
        "direction": "in"})
    assert r.status_code == 303 and r.headers["location"] == f"/devices?project_id={world.project_a}"


@pytest.mark.parametrize("who", ["vendor", "foreman_a", "supervisor_a"])
async def test_only_project_staff_register(world, http, who):
    h = await login(http, world.users[who])
    r = await http.post("/devices/register", headers=h, data={
        "project_id": str(world.project_a), "serial": unique("NOPE-"), "vendor_id": str(world.vendor)})
    assert r.status_code == 403


async def test_disable_and_enable_from_the_page(world, http, open_terminal):
    serial = await register(world, world.project_a)
    tid = (await terminal_row(serial))["id"]
    h = await login(http, world.users["staff_a"])
    r = await http.post(f"/devices/{tid}/enabled", headers={**h, **HX}, data={"enabled": "0"})
    assert r.status_code == 200 and f'id="terminal-{tid}" data-state="disabled"' in r.text
    assert (await terminal_row(serial))["enabled"] is False
    t = await open_terminal(serial, login=False)
    assert "设备已停用" in (await t.login()).message
    r = await http.post(f"/devices/{tid}/enabled", headers={**h, **HX}, data={"enabled": "1"})
    assert (await terminal_row(serial))["enabled"] is True
    assert (await t.login()).ok


async def test_vendor_sees_and_switches_only_its_own_terminals(world, http):
    from backend.devices.services import create_vendor, register_terminal

    mine = await register(world, world.project_a)
    other_vendor = (await create_vendor("别家厂商")).vendor_id
    theirs = unique("THEIRS-")
    their_id = await register_terminal(world.project_a, theirs, other_vendor)
    h = await login(http, world.users["vendor"])
    page = (await http.get("/devices", headers=h)).text
    assert mine in page and theirs not in page and 'action="/devices/register"' not in page
    r = await http.post(f"/devices/{their_id}/enabled", headers=h, data={"enabled": "0"})
    assert r.status_code == 404
    mine_id = (await terminal_row(mine))["id"]
    r = await http.post(f"/devices/{mine_id}/enabled", headers={**h, **HX}, data={"enabled": "0"})
    assert r.status_code == 200 and (await terminal_row(mine))["enabled"] is False


async def test_supervisors_see_their_district_only(world, http):
    a = await register(world, world.project_a)
    c = await register(world, world.project_c)
    page_a = (await http.get("/devices", headers=await login(http, world.users["supervisor_a"]))).text
    page_b = (await http.get("/devices", headers=await login(http, world.users["supervisor_b"]))).text
    assert a in page_a and c not in page_a
    assert c in page_b and a not in page_b
    r = await http.get(f"/devices?project_id={world.project_a}",
                         headers=await login(http, world.users["supervisor_b"]))
    assert r.status_code == 404


async def test_workers_may_not_see_terminals(world, http):
    from backend.accounts.services import create_user
    from backend.workforce import services as workforce

    person = await workforce.upsert_person(id_number=world.id_number(), name="页面工人")
    username = unique("t_worker_")
    await create_user(username, PASSWORD, "worker", person_id=person)
    r = await http.get("/devices", headers=await login(http, username))
    assert r.status_code == 403


async def test_outage_list_shows_terminals_offline_longer_than_the_limit(world, http):
    serial = await register(world, world.project_a)
    await Terminal.update({Terminal.created_at: datetime.now(UTC) - timedelta(days=5, hours=3)}).where(
        Terminal.serial == serial)
    h = await login(http, world.users["staff_a"])
    for url in ("/devices/outages", "/devices"):
        page = (await http.get(url, headers=h)).text
        block = page[page.index('<div class="outages-block">'):]
        block = block[:block.index("</div>")]
        assert serial in block and "5 天 3 小时" in block and "从未上线" in block and "2 天" in block
