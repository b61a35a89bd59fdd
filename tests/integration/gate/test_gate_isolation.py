"""Bad input on one connection never disturbs another terminal of the app's gate server (DESIGN §3:
oversized or malformed frames get a clear error reply or a closed connection — never a crash, never
another terminal affected)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.attendance.tables import Punch
from device_tcp.frames import CMD_PUNCH, encode_frame
from device_tcp.messages import Punch as PunchMsg
from device_tcp.simulator import make_jpeg
from tests.integration.gate.gate_site import add_worker, make_site, register, terminal_row, wait_for

pytestmark = pytest.mark.integration


def local_now() -> datetime:
    return datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)


async def test_garbage_on_one_connection_does_not_disturb_another_terminal(world, open_terminal, gate_server):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    good_serial = await register(world, site.project)
    good = await open_terminal(good_serial)
    assert (await good.punch(worker, local_now() - timedelta(seconds=30))).ok

    # a second device logs in, then sends random bytes; a third connection never logs in and does
    bad_serial = await register(world, site.project)
    bad = await open_terminal(bad_serial)
    anon = await open_terminal("unused", login=False)
    await bad.send_raw(b"\x7f" + os.urandom(4095))  # not a start byte: garbage from the first byte on
    await anon.send_raw(b"GET / HTTP/1.1\r\n\r\n" + os.urandom(1000))
    for conn in (bad, anon):
        assert await conn.read_frame(timeout_s=10) is None  # closed without an answer

    async def bad_offline() -> bool:
        return (await terminal_row(bad_serial))["online"] is False

    await wait_for(bad_offline)

    # the good terminal goes on as before, on the same connection
    for k in range(3):
        assert (await good.punch(worker, local_now() - timedelta(seconds=20 - k))).ok
    assert (await good.heartbeat()).ok
    assert (await good.whitelist()).ok
    tid = (await terminal_row(good_serial))["id"]
    assert len(await Punch.select(Punch.id).where(Punch.terminal == tid)) == 4
    assert (await terminal_row(good_serial))["online"] is True


async def test_bad_checksum_gets_a_refusal_and_the_connection_stays(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    content = bytearray(PunchMsg(worker_no=worker, captured_at=local_now(), photo=make_jpeg(1)).build())
    content[-1] ^= 0xFF  # break the XOR byte
    await t.send_raw(encode_frame(CMD_PUNCH, bytes(content), session_id=t.session_id))
    reply = await t.read_frame()
    assert reply is not None and reply.flag == 1 and "校验" in reply.content.decode("utf-8", "replace")
    assert not await Punch.exists().where(Punch.person == worker)
    assert (await t.punch(worker, local_now())).ok


async def test_oversized_punch_photo_is_refused_clearly(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    t = await open_terminal(await register(world, site.project))
    r = await t.punch(worker, local_now(), photo=b"\xff\xd8" + os.urandom(51 * 1024))
    assert not r.ok and r.message
    assert not await Punch.exists().where(Punch.person == worker)
    assert (await t.heartbeat()).ok


async def test_a_terminal_that_vanishes_mid_frame_does_not_hold_up_others(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    good = await open_terminal(await register(world, site.project))
    half_serial = await register(world, site.project)
    half = await open_terminal(half_serial)
    frame = encode_frame(CMD_PUNCH, PunchMsg(worker_no=worker, captured_at=local_now(), photo=make_jpeg(2)).build(),
                         session_id=half.session_id)
    await half.send_raw(frame[: len(frame) // 2])  # then silence
    results = await asyncio.gather(*(good.punch(worker, local_now() - timedelta(seconds=k)) for k in range(1, 2)))
    assert all(r.ok for r in results)
    await half.close()
