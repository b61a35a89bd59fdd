"""843 login against the app's gate server over real sockets, and the online/offline state it records
(seed 001 附件3 §1.2.1: 失败 flag = 1, Content = 用于设备显示的错误提示; §六(十八) outages need the
state and the last-seen time of every terminal)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import pytest

from backend.devices import services as devices
from backend.devices.gate import start_gate_server
from backend.runtime import services_of
from device_tcp.simulator import SimulatedTerminal
from tests.integration.gate.gate_site import make_site, register, terminal_row, wait_for

_PG = os.environ.get("SMZ_TEST_DATABASE_URL", "").startswith("postgres")

pytestmark = pytest.mark.integration


async def test_login_of_a_registered_terminal_with_its_vendor_code_is_accepted_and_marks_it_online(
    world, open_terminal
):
    site = await make_site(world)
    serial = await register(world, site.project)
    before = datetime.now(UTC) - timedelta(seconds=1)
    t = await open_terminal(serial)
    assert t.session_id != bytes(16)
    row = await terminal_row(serial)
    assert row["online"] is True
    assert row["last_login_at"] >= before and row["last_seen_at"] >= before
    assert row["last_peer"].startswith("127.0.0.1:")


async def test_disconnect_marks_the_terminal_offline_with_the_time(world, open_terminal, gate_server):
    site = await make_site(world)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    assert (await t.heartbeat()).ok
    lifecycle = gate_server.backend.terminals
    assert serial in lifecycle._terminals and serial in lifecycle._login_hash
    await t.close()

    async def offline() -> bool:
        return (await terminal_row(serial))["online"] is False

    await wait_for(offline)
    row = await terminal_row(serial)
    assert row["last_offline_at"] is not None and row["last_offline_at"] >= row["last_login_at"]
    # the lifecycle's per-serial state is forgotten with the connection (it held every serial ever seen)
    for state in (lifecycle._terminals, lifecycle._touched, lifecycle._login_hash):
        assert serial not in state


async def test_unknown_serial_is_refused_with_a_message(world, open_terminal):
    t = await open_terminal("NO-SUCH-GATE-0001", login=False)
    r = await t.login()
    assert not r.ok and "设备未登记" in r.message


async def test_wrong_vendor_code_is_refused_and_state_unchanged(world, open_terminal):
    site = await make_site(world)
    serial = await register(world, site.project)
    t = await open_terminal(serial, vendor="SOME-OTHER-VENDOR-CODE", login=False)
    r = await t.login()
    assert not r.ok and "厂家识别码与登记不符" in r.message
    row = await terminal_row(serial)
    assert row["online"] is False and row["last_login_at"] is None


async def test_disabled_terminal_is_refused(world, open_terminal):
    site = await make_site(world)
    serial = await register(world, site.project, enabled=False)
    t = await open_terminal(serial, login=False)
    r = await t.login()
    assert not r.ok and "设备已停用" in r.message
    assert (await terminal_row(serial))["online"] is False


async def test_terminal_disabled_while_connected_is_refused_on_its_next_request(world, open_terminal, running_app):
    site = await make_site(world)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    assert (await t.heartbeat()).ok
    await devices.update_terminal((await terminal_row(serial))["id"], {"enabled": False},  # as the app's API does
                                  terminal_changes=services_of(running_app.state).terminal_changes)
    r = await t.heartbeat()
    assert not r.ok and "设备已停用" in r.message


async def test_heartbeat_updates_last_seen_at_most_every_touch_interval(world, open_terminal, gate_server):
    site = await make_site(world)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    first = (await terminal_row(serial))["last_seen_at"]
    assert (await t.heartbeat()).ok
    assert (await terminal_row(serial))["last_seen_at"] == first  # within the interval: no write
    lifecycle = gate_server.backend.terminals
    interval, lifecycle.touch_interval_s = lifecycle.touch_interval_s, 0.0
    try:
        assert (await t.heartbeat()).ok
    finally:
        lifecycle.touch_interval_s = interval
    assert (await terminal_row(serial))["last_seen_at"] > first


async def test_commands_before_login_are_refused(world, open_terminal):
    site = await make_site(world)
    serial = await register(world, site.project)
    t = await open_terminal(serial, login=False)
    r = await t.whitelist()
    assert not r.ok and "请先登录" in r.message


async def test_second_connection_of_a_device_replaces_the_first_and_it_stays_online(world, open_terminal):
    site = await make_site(world)
    serial = await register(world, site.project)
    first = await open_terminal(serial)
    second = await open_terminal(serial)
    assert (await second.heartbeat()).ok
    assert await first.read_frame(timeout_s=5) is None  # the old connection was closed by the server
    assert (await terminal_row(serial))["online"] is True
    assert (await second.heartbeat()).ok


async def test_server_stop_marks_every_terminal_it_served_offline(world):
    site = await make_site(world)
    serials = [await register(world, site.project) for _ in range(3)]
    code = world.vendor_code
    server = await start_gate_server(0, "127.0.0.1", reset_online=False)
    terms = []
    try:
        for s in serials:
            t = SimulatedTerminal("127.0.0.1", server.port, code, s, timeout_s=30)
            await t.connect()
            assert (await t.login()).ok
            terms.append(t)
        for s in serials:
            assert (await terminal_row(s))["online"] is True
    finally:
        await server.close()
        for t in terms:
            await t.close()
    for s in serials:
        row = await terminal_row(s)
        assert row["online"] is False and row["last_offline_at"] is not None


async def test_start_up_resets_terminals_left_online_by_a_crashed_server_as_of_their_last_sign_of_life(world):
    site = await make_site(world)
    serial = await register(world, site.project)
    seen = datetime.now(UTC) - timedelta(hours=30)
    await devices.mark_online(serial, True, "10.0.0.9:4000", now=seen)  # as a server killed 30 h ago left it
    assert await devices.reset_online() >= 1
    row = await terminal_row(serial)
    assert row["online"] is False
    assert abs((row["last_offline_at"] - seen).total_seconds()) < 1


async def test_expired_terminal_rows_are_re_read_together_in_one_query(world, monkeypatch):
    """Issue 18: after a mass login every cached terminal row expires at once; they are re-read in one query
    (with every other row past half its TTL), not one query each — and a disabled terminal is still refused."""
    from backend.devices import services as devices
    from backend.devices.terminals import TerminalLifecycle, TerminalRefused

    site = await make_site(world)
    serials = [await register(world, site.project) for _ in range(6)]
    life = TerminalLifecycle("jiangmen-v1", terminal_ttl_s=60)
    for s in serials:
        await life.terminal(s, touch=False)  # cached now
    calls: list[int] = []
    real = devices.gate_terminals

    async def counting(wanted):
        calls.append(len(set(wanted)))
        return await real(wanted)

    monkeypatch.setattr(devices, "gate_terminals", counting)
    life.terminal_ttl_s = 0.0  # everything expired
    rows = await asyncio.gather(*(life.terminal(s, touch=False) for s in serials))
    assert [r["serial"] for r in rows] == serials
    assert calls == [6]  # one query for all six
    await devices.update_terminal((await terminal_row(serials[0]))["id"], {"enabled": False})
    with pytest.raises(TerminalRefused):
        await life.terminal(serials[0], touch=False)


@pytest.mark.skipif(not _PG, reason="NOTIFY between processes is PostgreSQL's (SQLite runs one process)")
async def test_a_change_made_by_another_process_reaches_the_gate_at_once_through_notify(world, open_terminal,
                                                                                         gate_server):
    """The gate keeps terminal rows for a minute only while it hears every process's changes (NOTIFY
    smz_terminals); a terminal disabled elsewhere — no TerminalChanges of this app handed in — is refused on its
    next request, not after the TTL."""
    lifecycle = gate_server.backend.terminals
    changes = lifecycle.changes

    async def listening() -> bool:
        return changes.listening

    await wait_for(listening, timeout_s=10)  # the gate's LISTEN is up
    assert lifecycle._ttl() == lifecycle.listening_ttl_s > lifecycle.terminal_ttl_s
    site = await make_site(world)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    assert (await t.heartbeat()).ok
    before = changes.generation
    await devices.update_terminal((await terminal_row(serial))["id"], {"enabled": False})  # as another process would

    async def heard() -> bool:
        return changes.generation > before

    await wait_for(heard)  # the NOTIFY reached the gate
    r = await t.heartbeat()
    assert not r.ok and "设备已停用" in r.message


async def test_without_the_listen_the_gate_keeps_terminal_rows_only_briefly(gate_server):
    lifecycle = gate_server.backend.terminals
    listening = lifecycle.changes.listening
    lifecycle.changes.listening = False
    try:
        assert lifecycle._ttl() == lifecycle.terminal_ttl_s <= 5
    finally:
        lifecycle.changes.listening = listening
