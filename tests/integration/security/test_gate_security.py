"""Gate-terminal credentials and tenant isolation (security issue items 1, 2, 17).  Each test plays an
attack over real sockets against the app's gate server (real database) and shows it refused.

1. Vendor codes (厂家识别码) are credentials: made by the server, shown once, stored as a keyed hash,
   never listed; serials are hidden from foremen and workers; failed logins are rate-limited; a
   second login from another address is refused with an alarm; the code can be rotated (old
   connections dropped); a terminal can be bound to source networks.
2. A terminal's 852 enrols only people of its own project's roster and never overwrites an existing
   face (review instead).
17. Connections that do not log in are dropped after a few seconds; the connection cap leaves room
   for the rest of the process.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import resource
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest

from device_tcp.simulator import SimulatedTerminal
from tests.fixtures.faces import face_photos  # noqa: F401  (the session fixture of the face photos)
from tests.integration.conftest import PASSWORD, World, unique
from tests.integration.gate.gate_site import add_worker, make_site, terminal_row, wait_for
from tests.integration.gate.test_gate_enrol import enrolment, terminal_photo

pytestmark = pytest.mark.integration

StartGate = Callable[..., Awaitable[Any]]


@pytest.fixture
async def gate(client: Any) -> AsyncIterator[StartGate]:
    """Start an app gate server of this test on 127.0.0.1 (its own limits and timeouts), working with the
    services of the session's app (``client``): a vendor code rotated through the API reaches it."""
    from backend.devices.gate import AppGateBackend
    from tests.integration.services_fixtures import services_of_client

    servers: list[Any] = []
    services = services_of_client(client)

    async def start(**kw: Any) -> Any:
        backend_kw = {k: kw.pop(k) for k in list(kw) if k.startswith("max_failures") or k == "failure_window_s"}
        server = await services.start_gate_server(0, "127.0.0.1", reset_online=False,
                                                  backend=AppGateBackend(**backend_kw), **kw)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def terminals() -> AsyncIterator[Callable[..., Awaitable[SimulatedTerminal]]]:
    opened: list[SimulatedTerminal] = []

    async def open_(server: Any, code: str, serial: str, *, local_host: str | None = None) -> SimulatedTerminal:
        t = SimulatedTerminal("127.0.0.1", server.port, code, serial, timeout_s=20, local_host=local_host)
        await t.connect()
        opened.append(t)
        return t

    yield open_
    for t in opened:
        await t.close()


async def headers(username: str) -> dict[str, str]:
    from backend.accounts.services import issue_token
    from backend.accounts.tables import User

    row = await User.select(User.id).where(User.username == username).first()
    assert row is not None, username
    return {"Authorization": f"Bearer {await issue_token(row['id'], 'bearer')}"}


async def new_vendor(with_user: bool = False) -> tuple[int, str, str | None]:
    """A vendor of the test's own (rotating the world's code would break the other tests); with a
    vendor account when asked.  Returns (vendor id, code, username)."""
    from backend.accounts.services import create_user
    from backend.devices.services import create_vendor

    made = await create_vendor(unique("安全测试厂商"))
    username = None
    if with_user:
        username = unique("t_sec_vendor_")
        await create_user(username, PASSWORD, "vendor", vendor_id=made.vendor_id)
    return made.vendor_id, made.code, username


async def new_terminal(project: int, vendor: int, networks: list[str] | None = None) -> str:
    from backend.devices.services import register_terminal

    serial = unique("SEC-GATE-")
    await register_terminal(project, serial, vendor, allowed_networks=networks)
    return serial


async def alarms(serial: str) -> list[dict[str, Any]]:
    from backend.devices.tables import TerminalAlarm

    return await TerminalAlarm.select().where(TerminalAlarm.serial == serial).order_by(TerminalAlarm.id)


# --- 1. vendor codes are credentials ---------------------------------------------------------------


async def test_vendor_code_is_generated_shown_once_to_its_creator_and_never_listed(client, world: World):
    from backend.crypto import keyed_hash
    from backend.devices.services import VENDOR_CODE_ALPHABET
    from backend.devices.tables import Vendor

    r = await client.post("/api/vendors", headers=await headers(world.users["admin"]), json={"name": unique("新厂商")})
    assert r.status_code == 201, r.text
    vendor_id, code = r.json()["id"], r.json()["code"]
    assert len(code) == 32 and set(code) <= set(VENDOR_CODE_ALPHABET)
    # a caller-chosen (guessable) code is not accepted
    r = await client.post("/api/vendors", headers=await headers(world.users["admin"]),
                          json={"name": unique("新厂商"), "code": "DEMO-VENDOR-0001"})
    assert r.status_code == 400
    # stored: the keyed hash only
    row = await Vendor.select().where(Vendor.id == vendor_id).first()
    assert row["code_hash"] == keyed_hash(code, "vendor-code") and code not in str(row)
    # listed to the roles that bind devices, without the code; not to foremen and workers
    for who in ("admin", "supervisor_a", "enterprise_gc", "staff_a", "vendor"):
        r = await client.get("/api/vendors", headers=await headers(world.users[who]))
        assert r.status_code == 200, who
        assert code not in r.text and all(set(v) == {"id", "name"} for v in r.json()), who
        assert world.vendor_code not in r.text
    for who in ("foreman_a", "foreman_c"):
        assert (await client.get("/api/vendors", headers=await headers(world.users[who]))).status_code == 403


async def test_foremen_and_workers_never_see_terminal_serials(client, world: World):
    from backend.accounts.services import create_user
    from backend.workforce import services as workforce

    serial = await new_terminal(world.project_a, world.vendor)
    person = await workforce.upsert_person(id_number=world.id_number(), name="安全测试工人")
    await workforce.enter_roster(project_id=world.project_a, person_id=person,
                                 unit_id=world.units[world.project_a]["general_contractor"],
                                 team_id=world.teams[world.project_a]["钢筋班组"], work_role="worker",
                                 entered_on=date.today() - timedelta(days=3))
    worker = unique("t_sec_worker_")
    await create_user(worker, PASSWORD, "worker", person_id=person)
    for who in (world.users["foreman_a"], worker):
        h = await headers(who)
        assert (await client.get("/api/terminals", headers=h)).status_code == 403
        r = await client.get(f"/api/projects/{world.project_a}/terminals", headers=h)
        assert r.status_code == 403
        assert (await client.get("/devices", headers=h)).status_code == 403
        page = await client.get(f"/projects/{world.project_a}", headers={**h, "accept": "text/html"})
        assert serial not in page.text
    # the project's staff, the district's supervisor, the vendor and admin do see it
    for who in ("staff_a", "supervisor_a", "vendor", "admin", "enterprise_gc"):
        r = await client.get("/api/terminals", headers=await headers(world.users[who]))
        assert r.status_code == 200 and serial in r.text, who


async def test_guessing_vendor_codes_is_refused_then_rate_limited_per_serial(world: World, gate, terminals):
    site = await make_site(world)
    serial = await new_terminal(site.project, world.vendor)
    server = await gate(max_failures_per_serial=3, max_failures_per_address=100)
    for k in range(3):
        t = await terminals(server, f"GUESS{k:027d}", serial)
        r = await t.login()
        assert not r.ok and "厂家识别码与登记不符" in r.message
    # even the right code is refused now, with a clear text, until the window passes
    t = await terminals(server, world.vendor_code, serial)
    r = await t.login()
    assert not r.ok and "登录失败次数过多" in r.message and "秒后再试" in r.message
    assert (await terminal_row(serial))["online"] is False
    assert [a["kind"] for a in await alarms(serial)] == ["login_rate_limited"]


async def test_failed_logins_are_rate_limited_per_source_address(world: World, gate, terminals):
    site = await make_site(world)
    serials = [await new_terminal(site.project, world.vendor) for _ in range(4)]
    server = await gate(max_failures_per_serial=100, max_failures_per_address=3)
    for serial in serials[:3]:  # one wrong guess per serial: spraying serials from one address
        assert not (await (await terminals(server, "WRONG", serial)).login()).ok
    r = await (await terminals(server, world.vendor_code, serials[3])).login()
    assert not r.ok and "登录失败次数过多" in r.message
    # another address is not affected
    r = await (await terminals(server, world.vendor_code, serials[3], local_host="127.0.0.2")).login()
    assert r.ok, r.message


async def test_second_login_from_another_address_is_refused_with_an_alarm_and_the_terminal_stays(
        client, world: World, gate, terminals, caplog):
    site = await make_site(world)
    serial = await new_terminal(site.project, world.vendor)
    server = await gate()
    real = await terminals(server, world.vendor_code, serial)
    assert (await real.login()).ok
    attacker = await terminals(server, world.vendor_code, serial, local_host="127.0.0.2")
    with caplog.at_level(logging.WARNING):
        r = await attacker.login()
    assert not r.ok and "已在其他地址在线" in r.message
    assert any(rec.levelno == logging.WARNING and "online from 127.0.0.1" in rec.getMessage() for rec in caplog.records)
    # the real terminal is still connected and served; the attacker gets nothing
    assert (await real.heartbeat()).ok and (await real.whitelist()).ok
    assert not (await attacker.whitelist()).ok
    row = await terminal_row(serial)
    assert row["online"] is True and row["last_peer"].startswith("127.0.0.1:")
    found = await alarms(serial)
    assert [a["kind"] for a in found] == ["login_conflict"] and found[0]["peer"].startswith("127.0.0.2:")
    assert found[0]["project"] == site.project and found[0]["vendor"] == world.vendor
    # the district's supervisor and the vendor see the alarm; the other district and foremen do not
    for who, sees in (("supervisor_a", True), ("vendor", True), ("admin", True), ("supervisor_b", False)):
        r = await client.get("/api/terminal-alarms", headers=await headers(world.users[who]))
        assert r.status_code == 200 and (serial in r.text) is sees, who
    r = await client.get("/api/terminal-alarms", headers=await headers(world.users["foreman_a"]))
    assert r.status_code == 403


async def test_a_new_login_replaces_a_connection_only_after_it_went_silent(world: World, gate, terminals):
    site = await make_site(world)
    serial = await new_terminal(site.project, world.vendor)
    server = await gate(takeover_silence_s=0.5)
    old = await terminals(server, world.vendor_code, serial)
    assert (await old.login()).ok
    await asyncio.sleep(0.8)  # the old connection says nothing (a rebooted terminal's half-open socket)
    new = await terminals(server, world.vendor_code, serial, local_host="127.0.0.2")
    assert (await new.login()).ok
    assert await old.read_frame(timeout_s=5) is None  # the old one was closed
    assert (await new.heartbeat()).ok


async def test_rotating_the_vendor_code_disconnects_its_terminals_and_the_old_code_stops_working(
        client, world: World, gate, terminals):
    site = await make_site(world)
    vendor, code, username = await new_vendor(with_user=True)
    serial = await new_terminal(site.project, vendor)
    server = await gate()
    t = await terminals(server, code, serial)
    assert (await t.login()).ok
    # another vendor may not rotate it; workers and foremen neither
    assert (await client.post(f"/api/vendors/{vendor}/rotate-code",
                              headers=await headers(world.users["vendor"]))).status_code == 404
    assert (await client.post(f"/api/vendors/{vendor}/rotate-code",
                              headers=await headers(world.users["foreman_a"]))).status_code == 403
    r = await client.post(f"/api/vendors/{vendor}/rotate-code", headers=await headers(username))
    assert r.status_code == 200, r.text
    new_code = r.json()["code"]
    assert new_code != code and len(new_code) == 32 and r.json()["disconnected"] == 1
    assert await t.read_frame(timeout_s=5) is None  # dropped

    async def offline() -> bool:
        return (await terminal_row(serial))["online"] is False

    await wait_for(offline)
    r = await (await terminals(server, code, serial)).login()
    assert not r.ok and "厂家识别码与登记不符" in r.message
    assert (await (await terminals(server, new_code, serial)).login()).ok


async def test_a_connection_logged_in_with_a_code_rotated_elsewhere_is_refused_and_closed(world: World, gate,
                                                                                            terminals):
    """The code rotated by another process (``smz rotate-vendor-code``): this server notices at the
    terminal's next request (the cached row is re-read at most terminal_ttl_s old)."""
    from backend.devices.services import rotate_vendor_code

    site = await make_site(world)
    vendor, code, _ = await new_vendor()
    serial = await new_terminal(site.project, vendor)
    server = await gate()
    t = await terminals(server, code, serial)
    assert (await t.login()).ok
    await rotate_vendor_code(vendor)  # no gate.vendor_code_rotated: as if done by another process
    server.backend.terminals.terminal_ttl_s = 0
    r = await t.heartbeat()
    assert not r.ok and "厂家识别码已更换" in r.message
    assert await t.read_frame(timeout_s=5) is None


async def test_login_from_outside_the_terminals_networks_is_refused(client, world: World, gate, terminals):
    site = await make_site(world)
    serial = await new_terminal(site.project, world.vendor, ["10.8.0.0/16"])
    server = await gate()
    r = await (await terminals(server, world.vendor_code, serial)).login()
    assert not r.ok and "不在设备允许的网段内" in r.message
    assert [a["kind"] for a in await alarms(serial)] == ["network_refused"]
    # staff widen it to the loopback network through the API: accepted
    tid = (await terminal_row(serial))["id"]
    staff = await headers(world.users["enterprise_gc"])  # the general contractor of the site
    r = await client.patch(f"/api/terminals/{tid}", headers=staff, json={"allowed_networks": ["127.0.0.0/8"]})
    assert r.status_code == 200 and r.json()["allowed_networks"] == "127.0.0.0/8"
    r = await client.patch(f"/api/terminals/{tid}", headers=staff, json={"allowed_networks": ["not-a-network"]})
    assert r.status_code == 400
    assert (await (await terminals(server, world.vendor_code, serial)).login()).ok


async def test_migration_hashes_plaintext_vendor_codes_and_blanks_them(world: World, gate, terminals):
    """A database from before the fix: the plaintext code is hashed in place, terminals keep logging
    in with the code they have, and the plaintext is gone."""
    from backend.devices.tables import Vendor

    migration = importlib.import_module("backend.piccolo_migrations.smz_2026_12_02t09_10_01_000000")
    old_code = unique("LEGACY-VENDOR-")
    await Vendor.raw("INSERT INTO vendor (name, code, code_hash) VALUES ({}, {}, NULL)", unique("旧厂商"), old_code)
    vendor = (await Vendor.select(Vendor.id).where(Vendor.code == old_code).first())["id"]
    assert await migration.hash_plaintext_codes() >= 1
    row = await Vendor.select().where(Vendor.id == vendor).first()
    assert row["code_hash"] and old_code not in str(row)
    site = await make_site(world)
    serial = await new_terminal(site.project, vendor)
    server = await gate()
    assert (await (await terminals(server, old_code, serial)).login()).ok


# --- 2. a terminal enrols only its own project's people --------------------------------------------


@pytest.mark.usefixtures("face_photos")
async def test_terminal_cannot_overwrite_a_person_of_another_districts_project(world: World, gate, terminals):
    from backend.crew.tables import Registration
    from backend.workforce.tables import Enrolment, Person

    victim_site = await make_site(world, district=world.district_b)
    number = world.id_number(birth=date(1984, 2, 2))
    victim, _, photo = await add_worker(world, victim_site, name="张三", id_number=number)
    await Person.update({Person.address: "湖南省常德市武陵区", Person.id_valid_until: date(2036, 1, 1)}).where(
        Person.id == victim)
    before = await Enrolment.select().where(Enrolment.person == victim).first()
    attacker_site = await make_site(world)  # district A
    serial = await new_terminal(attacker_site.project, world.vendor)
    server = await gate()
    t = await terminals(server, world.vendor_code, serial)
    assert (await t.login()).ok
    r = await t.enrol(enrolment(number, terminal_photo("obama.jpg"), address="攻击者地址", validity="2020.01.01-2045.01.01"))
    assert not r.ok and r.message == "人员不在本项目花名册"
    person = await Person.select().where(Person.id == victim).first()
    assert (person["address"], person["id_valid_until"]) == ("湖南省常德市武陵区", date(2036, 1, 1))
    after = await Enrolment.select().where(Enrolment.person == victim).first()
    assert (after["face_template"], after["face_photo"], after["face_version"]) == (
        before["face_template"], photo, before["face_version"])
    assert not await Registration.exists().where(Registration.person == victim)
    # the victim project's whitelist still sends the original photo
    own = await terminals(server, world.vendor_code, await new_terminal(victim_site.project, world.vendor))
    assert (await own.login()).ok
    wl = await own.whitelist()
    assert [(rec.worker_no, rec.photo_length) for rec in wl.value.records] == [(victim, len(photo))]


@pytest.mark.usefixtures("face_photos")
async def test_terminal_cannot_create_people_nor_enrol_exited_ones(world: World, gate, terminals):
    from backend.crypto import lookup_hash
    from backend.workforce.tables import Enrolment, Person

    site = await make_site(world)
    serial = await new_terminal(site.project, world.vendor)
    server = await gate()
    t = await terminals(server, world.vendor_code, serial)
    assert (await t.login()).ok
    stranger = world.id_number(birth=date(1986, 3, 3))
    r = await t.enrol(enrolment(stranger, terminal_photo("obama.jpg")))
    assert not r.ok and r.message == "人员不在本项目花名册"
    assert not await Person.exists().where(Person.id_hash == lookup_hash(stranger))
    gone = world.id_number(birth=date(1987, 4, 4))
    pid, _, _ = await add_worker(world, site, name="张三", id_number=gone, enrolled=False, entered_days_ago=20,
                                 exited_days_ago=2)
    r = await t.enrol(enrolment(gone, terminal_photo("obama.jpg")))
    assert not r.ok and r.message == "人员不在本项目花名册"
    assert not await Enrolment.exists().where(Enrolment.person == pid)


@pytest.mark.usefixtures("face_photos")
async def test_an_enrolled_person_on_two_projects_gets_a_review_not_a_new_face(world: World, gate, terminals):
    from backend.crew.tables import Registration
    from backend.workforce import services as workforce
    from backend.workforce.tables import Enrolment, Person

    other = await make_site(world, district=world.district_b)
    number = world.id_number(birth=date(1983, 5, 5))
    person, _, photo = await add_worker(world, other, name="张三", id_number=number)
    site = await make_site(world)
    await workforce.enter_roster(project_id=site.project, person_id=person, unit_id=site.unit, team_id=site.team,
                                 work_role="worker", entered_on=date.today() - timedelta(days=1))
    before = await Person.select().where(Person.id == person).first()
    server = await gate()
    t = await terminals(server, world.vendor_code, await new_terminal(site.project, world.vendor))
    assert (await t.login()).ok
    face = terminal_photo("obama.jpg")
    r = await t.enrol(enrolment(number, face, address="新地址"))
    assert not r.ok and r.message == "人脸待审核，暂未生效"
    assert await Person.select().where(Person.id == person).first() == before
    enrol = await Enrolment.select().where(Enrolment.person == person).first()
    assert enrol["face_photo"] == photo and enrol["face_version"] == 1
    reg = await Registration.select().where(Registration.person == person).first()
    assert (reg["project"], reg["status"], reg["existing_entry"] is not None) == (site.project, "pending_review", True)
    assert reg["face_photo"] == face
    # it waits in the supervisors' review list of the terminal's district
    from backend.accounts.services import load_user
    from backend.accounts.tables import User
    from backend.crew.services import list_reviews

    sup = await User.select(User.id).where(User.username == world.users["supervisor_a"]).first()
    assert reg["id"] in {x["id"] for x in await list_reviews(await load_user(sup["id"]))}


# --- 17. unauthenticated connections and the connection cap ----------------------------------------


async def test_a_connection_that_does_not_log_in_is_dropped_after_the_login_timeout(gate, terminals):
    server = await gate(login_timeout_s=0.5)
    t = await terminals(server, "X", "nobody")
    started = asyncio.get_running_loop().time()
    assert await t.read_frame(timeout_s=10) is None
    assert asyncio.get_running_loop().time() - started < 5  # not the 180 s idle timeout
    assert server.connection_count == 0


async def test_the_connection_cap_is_derived_from_the_open_file_limit_and_logged(gate, caplog):
    from device_tcp.server import default_max_connections

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    expected = max(64, soft - 1024) if soft != resource.RLIM_INFINITY else (1 << 20) - 1024
    assert default_max_connections() == expected
    with caplog.at_level(logging.INFO):
        server = await gate()
    assert server.max_connections == expected < soft
    assert any(f"at most {expected} connections" in rec.getMessage() for rec in caplog.records)
