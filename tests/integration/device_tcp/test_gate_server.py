"""GateServer over real sockets on 127.0.0.1 with an in-memory backend (seed 001 江门市实名设备直连
对接标准 V1.0; DESIGN §3: one request at a time per device, a second connection replaces the first,
bad frames never crash the server or disturb other terminals)."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from gate_fake_backend import VENDOR, FakeBackend

from device_tcp.frames import (
    CMD_ENROL,
    CMD_HEARTBEAT,
    CMD_LOGIN,
    CMD_PUNCH,
    HEADER_LEN,
    ZERO_SESSION,
    encode_frame,
)
from device_tcp.messages import EnrolmentReply, Punch, parse_text, with_checksum
from device_tcp.server import GateServer
from device_tcp.simulator import SimulatedTerminal, make_jpeg, run_load

pytestmark = pytest.mark.integration

MakeServer = Callable[..., Awaitable[GateServer]]


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
async def make_server(backend: FakeBackend) -> AsyncIterator[MakeServer]:
    servers: list[GateServer] = []

    async def make(**kw: object) -> GateServer:
        kw.setdefault("idle_timeout_s", 10.0)
        kw.setdefault("read_timeout_s", 2.0)
        srv = GateServer(backend, "127.0.0.1", 0, **kw)  # type: ignore[arg-type]
        await srv.start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        await srv.close()


@pytest.fixture
async def server(make_server: MakeServer) -> GateServer:
    return await make_server()


@pytest.fixture
async def terminals(server: GateServer) -> AsyncIterator[Callable[..., Awaitable[SimulatedTerminal]]]:
    opened: list[SimulatedTerminal] = []

    async def open_terminal(serial: str = "SN0001", *, vendor: str = VENDOR, **kw: object) -> SimulatedTerminal:
        t = SimulatedTerminal("127.0.0.1", server.port, vendor, serial, timeout_s=5, **kw)  # type: ignore[arg-type]
        await t.connect()
        opened.append(t)
        return t

    yield open_terminal
    for t in opened:
        await t.close()


async def wait_until(cond: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


# -- login -------------------------------------------------------------------------------------
async def test_login_ok(server: GateServer, terminals, backend: FakeBackend) -> None:
    t = await terminals("SN0001")
    r = await t.login()
    assert r.ok and r.frame.content == b"" and r.frame.command == CMD_LOGIN
    assert t.session_id != ZERO_SESSION and len(t.session_id) == 16
    assert set(server.connected_serials()) == {"SN0001"}
    assert backend.logins[0][:2] == (VENDOR, "SN0001")
    assert backend.logins[0][2].startswith("127.0.0.1:")
    hb = await t.heartbeat()
    assert hb.ok and hb.frame.content == b"" and hb.frame.session_id == t.session_id
    assert backend.heartbeats == ["SN0001"]


async def test_login_refused(server: GateServer, terminals) -> None:
    t = await terminals("SN0001", vendor="UNKNOWN")
    r = await t.login()
    assert not r.ok and r.message == "厂家识别码无效"
    t2 = await terminals("NOT-REGISTERED")
    r2 = await t2.login()
    assert not r2.ok and r2.message == "设备未注册"
    assert len(server.connected_serials()) == 0
    # the connection stays: a later login with the right data works
    t.vendor_code = VENDOR
    assert (await t.login()).ok


async def test_commands_before_login_refused(server: GateServer, terminals, backend: FakeBackend) -> None:
    t = await terminals()
    hb = await t.heartbeat()
    assert not hb.ok and hb.message == "请先登录 / login first"
    p = await t.punch(1)
    assert not p.ok and p.message.startswith("请先登录")
    assert backend.heartbeats == [] and backend.punches == []
    assert (await t.login()).ok
    assert (await t.punch(1)).ok


async def test_wrong_session_id_refused(server: GateServer, terminals) -> None:
    t = await terminals()
    await t.login()
    frame = await t.request(CMD_HEARTBEAT, b"", session_id=bytes(range(16)))
    assert frame.flag == 1 and parse_text(frame.content).startswith("会话标识无效")
    assert (await t.heartbeat()).ok


async def test_reply_echoes_version(server: GateServer, terminals) -> None:
    t = await terminals(version=2)
    r = await t.login()
    assert r.ok and r.frame.version == 2


# -- the data flow of the text: 843 -> 65535 -> 852 -> 849 -> 845 -> 848 ---------------------------
async def test_whole_data_flow(server: GateServer, terminals, backend: FakeBackend) -> None:
    t = await terminals()
    assert (await t.login()).ok
    assert (await t.heartbeat()).ok
    enrol = await t.enrol(name="李四", id_number="440703198805051239")
    assert enrol.ok and enrol.value == EnrolmentReply(result=0)
    serial, e = backend.enrolments[0]
    assert serial == "SN0001" and e.name == "李四" and e.ethnicity == "01"
    assert e.face_photo[:2] == b"\xff\xd8" and e.id_photo[:2] == b"\xff\xd8"  # real JPEGs
    again = await t.enrol(name="李四", id_number="440703198805051239")
    assert not again.ok and again.value == EnrolmentReply(result=1, reason="该人员已采集")

    wl = await t.whitelist()
    assert wl.ok and wl.value is not None
    assert wl.value.project_no == 88 and wl.value.project_name == "江门市示范工程"
    names = [r.name for r in wl.value.records]
    assert names == ["张三", "欧阳娜", "李四"]  # 欧阳娜娜 cut to 10 bytes on a character boundary

    pf = await t.person_features("440703198805051239")
    assert pf.ok and pf.value is not None and pf.value.name == "李四"
    assert pf.value.face_photo == e.face_photo
    missing = await t.person_features("440703199909091234")
    assert not missing.ok and missing.message == "人员不存在"

    captured = datetime(2026, 11, 22, 8, 30, 0)
    punch = await t.punch(3, captured)
    assert punch.ok and punch.frame.content == b""
    serial, p, received_at = backend.punches[0]
    assert (serial, p.worker_no, p.captured_at, p.mode) == ("SN0001", 3, captured, 6)
    assert p.photo[:2] == b"\xff\xd8"
    assert received_at.tzinfo is not None and abs(received_at - datetime.now(UTC)).total_seconds() < 5
    refused = await t.punch(999)
    assert not refused.ok and refused.message == "不在白名单"


# -- punch acknowledged only after the backend committed it -----------------------------------------
async def test_punch_ack_only_after_backend_returned(server: GateServer, terminals, backend: FakeBackend,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The reply to a punch is written only once the backend's ``punch`` returned (the record is committed):
    the order of the server's writes and the backend's commit is recorded, not guessed from a pause."""
    events: list[str] = []
    write_reply = server._send

    async def recording_send(conn: object, reply: object, **kw: object) -> bool:
        events.append(f"reply {reply.frame.command} ({len(backend.punches)} committed)")  # type: ignore[attr-defined]
        return await write_reply(conn, reply, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(server, "_send", recording_send)  # a spy on the one place replies are written
    backend.punch_gate = asyncio.Event()
    t = await terminals()
    await t.login()
    task = asyncio.create_task(t.punch(1))
    await asyncio.wait_for(backend.punch_started.wait(), 3)
    assert events == [f"reply {CMD_LOGIN} (0 committed)"]  # the backend holds the punch: no reply written yet
    assert backend.punches == []
    backend.punch_gate.set()
    reply = await asyncio.wait_for(task, 3)
    assert reply.ok
    assert len(backend.punches) == 1
    assert events == [f"reply {CMD_LOGIN} (0 committed)", f"reply {CMD_PUNCH} (1 committed)"]  # committed, then acked


async def test_requests_are_served_one_at_a_time(server: GateServer, terminals, backend: FakeBackend) -> None:
    """Frames sent back to back on one connection are answered in order, one after the other."""
    backend.delay_s = 0.05
    t = await terminals()
    await t.login()
    contents = [
        Punch(worker_no=1, captured_at=datetime(2026, 1, 1, 8, 0, s), photo=b"\xff\xd8").build() for s in range(5)
    ]
    await t.send_raw(b"".join(encode_frame(CMD_PUNCH, c, session_id=t.session_id) for c in contents))
    for _ in contents:
        f = await t.read_frame()
        assert f is not None and f.command == CMD_PUNCH and f.flag == 0
    assert [p.captured_at.second for _, p, _ in backend.punches] == [0, 1, 2, 3, 4]


# -- multipart ---------------------------------------------------------------------------------------
async def test_multipart_upload(server: GateServer, terminals, backend: FakeBackend) -> None:
    t = await terminals(part_len=1000)
    assert (await t.login()).ok
    photo = make_jpeg(5)
    assert len(photo) > 3000
    r = await t.punch(1, datetime(2026, 3, 1, 7, 0), photo=photo)
    assert r.ok
    assert backend.punches[-1][1].photo == photo
    enrol = await t.enrol()
    assert enrol.ok and backend.enrolments[-1][1].face_photo[:2] == b"\xff\xd8"


async def test_multipart_reply(make_server: MakeServer, backend: FakeBackend) -> None:
    srv = await make_server(reply_part_len=100)
    async with SimulatedTerminal("127.0.0.1", srv.port, VENDOR, "SN0001") as t:
        await t.login()
        pf = await t.person_features("44070319900101123X")
        assert pf.ok and pf.value is not None and pf.value.name == "张三"
        assert pf.frame.parts > 1


# -- one device, one connection ---------------------------------------------------------------------
async def test_second_connection_replaces_the_first(server: GateServer, terminals, backend: FakeBackend,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="device_tcp")
    a = await terminals("SN0007")
    assert (await a.login()).ok
    b = await terminals("SN0007")
    assert (await b.login()).ok
    assert await a.read_frame(timeout_s=3) is None  # the old connection was closed
    # the server has finished with the old connection (it logs "closed (replaced)" as it decides whether to
    # tell the backend) ...
    await wait_until(lambda: any("SN0007" in r.getMessage() and r.getMessage().endswith("closed (replaced)")
                                 for r in caplog.records))
    assert (await b.heartbeat()).ok  # ... and a whole request on b has been served since
    assert set(server.connected_serials()) == {"SN0007"}
    assert backend.closed == []  # the device is still connected (through b): no connection_closed for a
    await b.close()
    await wait_until(lambda: backend.closed == ["SN0007"])
    assert len(server.connected_serials()) == 0


async def test_failed_login_does_not_replace(server: GateServer, terminals) -> None:
    a = await terminals("SN0008")
    assert (await a.login()).ok
    b = await terminals("SN0008", vendor="WRONG")
    assert not (await b.login()).ok
    assert (await a.heartbeat()).ok


# -- timeouts --------------------------------------------------------------------------------------
async def test_idle_connection_closed(make_server: MakeServer, backend: FakeBackend) -> None:
    srv = await make_server(idle_timeout_s=0.3)
    async with SimulatedTerminal("127.0.0.1", srv.port, VENDOR, "SN0002") as t:
        await t.login()
        for _ in range(3):  # heartbeats keep it open
            await asyncio.sleep(0.15)
            assert (await t.heartbeat()).ok
        t0 = time.monotonic()
        assert await t.read_frame(timeout_s=3) is None
        assert 0.2 < time.monotonic() - t0 < 2
    await wait_until(lambda: backend.closed == ["SN0002"])
    assert "SN0002" not in srv.connected_serials()


async def test_idle_connection_without_login_closed(make_server: MakeServer) -> None:
    srv = await make_server(idle_timeout_s=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()


async def test_slow_sender_closed_by_read_timeout(make_server: MakeServer, backend: FakeBackend) -> None:
    srv = await make_server(idle_timeout_s=30, read_timeout_s=0.3)
    async with SimulatedTerminal("127.0.0.1", srv.port, VENDOR, "SN0003") as t:
        await t.login()
        raw = encode_frame(CMD_HEARTBEAT, b"", session_id=t.session_id)
        t0 = time.monotonic()
        for b in raw[:20]:  # trickle a frame byte by byte, too slowly
            try:
                await t.send_raw(bytes((b,)))
            except ConnectionError:
                break
            await asyncio.sleep(0.05)
        assert await t.read_frame(timeout_s=3) is None
        assert time.monotonic() - t0 < 3
    await wait_until(lambda: backend.closed == ["SN0003"])


# -- bad input ----------------------------------------------------------------------------------------
async def test_garbage_closes_only_that_connection(server: GateServer, terminals, caplog) -> None:
    good = await terminals("SN0010")
    await good.login()
    bad = await terminals("SN0011")
    await bad.login()
    caplog.set_level(logging.INFO, logger="device_tcp")
    await bad.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await bad.read_frame(timeout_s=3) is None  # closed without a reply
    assert (await good.heartbeat()).ok
    assert (await good.punch(1)).ok
    assert set(server.connected_serials()) == {"SN0010"}
    assert any("SN0011" in r.getMessage() and "bad_header" in r.getMessage() for r in caplog.records)


async def test_random_garbage_from_many_connections(server: GateServer, terminals) -> None:
    good = await terminals("SN0012")
    await good.login()
    rng = random.Random(7)
    for _ in range(20):
        _, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
        await w.drain()
        w.close()
    assert (await good.heartbeat()).ok


async def test_bad_checksum_gets_error_reply_connection_kept(server: GateServer, terminals, caplog) -> None:
    t = await terminals("SN0013")
    await t.login()
    caplog.set_level(logging.WARNING, logger="device_tcp")
    content = bytearray(Punch(worker_no=1, captured_at=datetime(2026, 1, 1), photo=b"x").build())
    content[-1] ^= 0x55
    f = await t.request(CMD_PUNCH, bytes(content))
    assert f.flag == 1 and parse_text(f.content).startswith("校验和错误")
    assert (await t.heartbeat()).ok
    assert any("SN0013" in r.getMessage() and "bad_checksum" in r.getMessage() for r in caplog.records)


async def test_truncated_content_gets_error_reply(server: GateServer, terminals) -> None:
    t = await terminals()
    await t.login()
    f = await t.request(CMD_PUNCH, with_checksum(b"\x01\x00\x00\x00\x20\x26"))
    assert f.flag == 1 and parse_text(f.content).startswith("数据内容不完整")
    assert (await t.heartbeat()).ok


async def test_unknown_command_gets_error_reply(server: GateServer, terminals) -> None:
    t = await terminals()
    await t.login()
    f = await t.request(4242, b"hello")
    assert f.command == 4242 and f.flag == 1 and parse_text(f.content).startswith("未知命令")
    assert (await t.heartbeat()).ok


async def test_oversized_punch_photo_refused(server: GateServer, terminals, backend: FakeBackend) -> None:
    t = await terminals()
    await t.login()
    r = await t.punch(1, photo=b"\xff\xd8" + bytes(50 * 1024))
    assert not r.ok and r.message.startswith("考勤照片过大")
    assert backend.punches == []
    assert (await t.punch(1)).ok


async def test_photo_limits_are_server_parameters(make_server: MakeServer, backend: FakeBackend) -> None:
    srv = await make_server(punch_photo_max=1000, id_photo_max=500)
    async with SimulatedTerminal("127.0.0.1", srv.port, VENDOR, "SN0001") as t:
        await t.login()
        assert not (await t.punch(1, photo=bytes(1001))).ok
        assert (await t.punch(1, photo=bytes(1000))).ok
        r = await t.enrol(id_photo=bytes(501), face_photo=bytes(10))
        assert not r.ok and r.value is not None and r.value.reason.startswith("身份证照片过大")


async def test_len_beyond_limit_reply_then_close(make_server: MakeServer, backend: FakeBackend) -> None:
    srv = await make_server(max_frame_len=4096)
    async with SimulatedTerminal("127.0.0.1", srv.port, VENDOR, "SN0004") as t:
        await t.login()
        raw = encode_frame(CMD_PUNCH, bytes(5000), session_id=t.session_id)
        await t.send_raw(raw[:HEADER_LEN])  # the header alone is enough to refuse
        f = await t.read_frame(timeout_s=3)
        assert f is not None and f.flag == 1 and f.command == CMD_PUNCH
        assert parse_text(f.content).startswith("数据包过长")
        assert await t.read_frame(timeout_s=3) is None


async def test_bad_tail_reply_then_close(server: GateServer, terminals) -> None:
    t = await terminals()
    await t.login()
    raw = bytearray(encode_frame(CMD_HEARTBEAT, b"", session_id=t.session_id))
    raw[-1] = 0x7E
    await t.send_raw(bytes(raw))
    f = await t.read_frame(timeout_s=3)
    assert f is not None and f.flag == 1 and f.command == CMD_HEARTBEAT
    assert await t.read_frame(timeout_s=3) is None


async def test_backend_exception_gives_internal_error(server: GateServer, terminals, backend, caplog) -> None:
    t = await terminals("SN0005")
    await t.login()
    caplog.set_level(logging.ERROR, logger="device_tcp")
    backend.fail_next = RuntimeError("database is down")
    r = await t.punch(1)
    assert not r.ok and r.message.startswith("服务器内部错误")
    assert any("SN0005" in rec.getMessage() for rec in caplog.records if rec.exc_info)
    assert (await t.punch(1)).ok  # connection kept


async def test_backend_exception_on_enrol(server: GateServer, terminals, backend: FakeBackend) -> None:
    t = await terminals()
    await t.login()
    backend.fail_next = ValueError("boom")
    r = await t.enrol()
    assert not r.ok and r.frame.command == CMD_ENROL
    assert r.value == EnrolmentReply(result=1, reason="服务器内部错误")


async def test_backend_timeout(make_server: MakeServer, backend: FakeBackend) -> None:
    srv = await make_server(backend_timeout_s=0.2)
    backend.punch_gate = asyncio.Event()  # never set
    async with SimulatedTerminal("127.0.0.1", srv.port, VENDOR, "SN0006") as t:
        await t.login()
        r = await t.punch(1)
        assert not r.ok and r.message.startswith("服务器内部错误")
        assert (await t.heartbeat()).ok


async def test_close_with_open_connections(make_server: MakeServer, backend: FakeBackend) -> None:
    srv = await make_server()
    ts = [SimulatedTerminal("127.0.0.1", srv.port, VENDOR, f"SN{i:04d}") for i in range(1, 4)]
    for t in ts:
        await t.connect()
        await t.login()
    assert len(srv.connected_serials()) == 3
    await asyncio.wait_for(srv.close(), 10)
    for t in ts:
        assert await t.read_frame(timeout_s=3) is None
        await t.close()
    assert sorted(backend.closed) == ["SN0001", "SN0002", "SN0003"]


# -- the simulator as a load generator and as a program ---------------------------------------------
async def test_load_mode(server: GateServer, backend: FakeBackend) -> None:
    res = await run_load("127.0.0.1", server.port, VENDOR, terminals=8, punches=5, serial_prefix="SN")
    assert res.errors == [] and res.ok == 40 and res.failed == 0
    assert len(backend.punches) == 40
    assert "p50" in res.summary() and "p95" in res.summary()


async def test_simulator_command_line(server: GateServer, backend: FakeBackend) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "device_tcp.simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--vendor",
        VENDOR,
        "--serial",
        "SN0009",
        "--punches",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "login SN0009: ok" in text
    assert text.count("recorded") == 2
    assert [s for s, _, _ in backend.punches] == ["SN0009", "SN0009"]


async def test_connection_limit(make_server: MakeServer) -> None:
    srv = await make_server(max_connections=1)
    async with SimulatedTerminal("127.0.0.1", srv.port, VENDOR, "SN0001") as first:
        assert (await first.login()).ok
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            assert await asyncio.wait_for(reader.read(), 3) == b""
        except ConnectionResetError:
            pass
        writer.close()
        assert (await first.heartbeat()).ok


async def test_session_id_check_off(make_server: MakeServer) -> None:
    srv = await make_server(check_session_id=False)
    async with SimulatedTerminal("127.0.0.1", srv.port, VENDOR, "SN0001") as t:
        assert (await t.login()).ok
        f = await t.request(CMD_HEARTBEAT, b"", session_id=ZERO_SESSION)
        assert f.flag == 0
