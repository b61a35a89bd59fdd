"""The platform simulator and the aiohttp client over real loopback sockets (issue 17, seed 003 数据接口标准).

Checks: the signature, the ±5 min timestamp window and nonce replay are enforced; writes get serial codes and
finish asynchronously after the delay; out-of-order uploads and bad payloads are refused with the platform's
reason; the client turns dropped replies, HTML, garbage, 5xx, timeouts and a platform that is down into
``retryable`` with a reason, and refused data into ``rejected``; the simulator counts each entity once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from backend.platform import signing
from backend.platform.adapter import natural_key
from backend.platform.client import PlatformClient
from backend.platform.simulator import SimulatorHandle, start_simulator
from backend.platform.wire import PlatformCredentials, QueryOutcome, WireRequest
from refdata.idcard import id_check_char

pytestmark = pytest.mark.integration

APPID, SECRET = "4407030001", "sim-secret-for-tests"
PROJECT = "44070300000042"
GC = "91440703MA4UABCDE1"
SUB = "91440703MA4UXYZ123"
DELAY = 0.15
ROOT = Path(__file__).resolve().parents[3]


def id_number(serial: int) -> str:
    first17 = f"44070319850101{serial:03d}"
    return first17 + id_check_char(first17)


def bad_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await start_simulator(appid=APPID, appsecret=SECRET, delay=DELAY, seed=1)
    yield handle
    await handle.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def client_for(sim: SimulatorHandle, session: aiohttp.ClientSession, *, secret: str = SECRET,
               timeout_s: float = 5) -> PlatformClient:
    return PlatformClient(PlatformCredentials(sim.url, APPID, secret), session=session, timeout_s=timeout_s)


def project() -> WireRequest:
    return WireRequest("Project.Add", {"projectCode": PROJECT, "name": "江门市测试项目", "category": "01",
                                       "prjStatus": "003", "areaCode": "440703"})


def unit(corp: str = GC, corp_type: str = "009") -> WireRequest:
    return WireRequest("ProjectSubContractor.Add", {"projectCode": PROJECT, "corpCode": corp, "corpName": "总包公司",
                                                    "corpType": corp_type})


def team(name: str = "钢筋班", corp: str = GC) -> WireRequest:
    return WireRequest("Team.Add", {"projectCode": PROJECT, "corpCode": corp, "corpName": "总包公司", "teamName": name})


def worker(number: str, name: str = "钢筋班", **over: Any) -> WireRequest:
    item = {"workerName": "张三", "idCardType": "01", "idCardNumber": number, "workRole": "20", "workType": "020",
            **over}
    return WireRequest("ProjectWorker.Add", {"projectCode": PROJECT, "corpCode": GC, "corpName": "总包公司",
                                             "teamName": name, "workerList": [item]})


def entry(number: str, *, exit: bool = False) -> WireRequest:
    return WireRequest("WorkerEntryExit.Add", {
        "projectCode": PROJECT, "corpCode": GC, "corpName": "总包公司", "teamName": "钢筋班",
        "workerList": [{"idCardType": "01", "idCardNumber": number, "date": "2026-12-01", "type": "0" if exit else "1"}]})


def attendance(number: str, at: str = "2026-12-02 07:58:00") -> WireRequest:
    return WireRequest("WorkerAttendance.Add", {
        "projectCode": PROJECT, "corpCode": GC, "corpName": "总包公司", "teamName": "钢筋班",
        "dataList": [{"idCardType": "01", "idCardNumber": number, "date": at, "direction": "01", "attendType": "001"}]})


async def settle(client: PlatformClient, serial: str, deadline_s: float = 5) -> QueryOutcome:
    """Poll AsyncHandleResult.Query until it is no longer processing."""
    end = time.monotonic() + deadline_s
    while True:
        out = await client.query(serial)
        if out.kind != "processing" or time.monotonic() > end:
            return out
        await asyncio.sleep(0.03)


async def upload(client: PlatformClient, req: WireRequest) -> QueryOutcome:
    sub = await client.submit(req)
    assert sub.kind == "accepted", sub
    assert sub.serial
    return await settle(client, sub.serial)


async def build_up_to_team(client: PlatformClient) -> None:
    for req in (project(), unit(), team()):
        assert (await upload(client, req)).kind == "success"


async def post_raw(session: aiohttp.ClientSession, sim: SimulatorHandle, form: dict[str, str]) -> dict[str, Any]:
    async with session.post(sim.url, data=form) as resp:
        return await resp.json()


# --- the signed envelope -------------------------------------------------------------------------------------

async def test_a_wrong_signature_is_refused_and_the_client_calls_it_retryable(sim, session) -> None:
    out = await client_for(sim, session, secret="not-the-secret").submit(project())
    assert out.kind == "retryable"
    assert "签名校验错误" in (out.reason or "")
    assert sim.stats.bad_signature == 1
    assert sim.stats.count("project") == 0


async def test_a_replayed_nonce_is_refused(sim, session) -> None:
    client = client_for(sim, session)
    first = await client.submit(project(), nonce="same-nonce-1")
    again = await client.submit(project(), nonce="same-nonce-1")
    assert first.kind == "accepted"
    assert again.kind == "retryable" and "nonce 已使用" in (again.reason or "")
    assert sim.stats.replayed_nonce == 1
    assert sim.stats.created[f"project|{PROJECT}"] == 1


async def test_a_stale_or_future_timestamp_is_refused(sim, session) -> None:
    now = datetime.now(signing.CHINA_TZ)
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        form = signing.build_form(APPID, SECRET, "Project.Add", project().data,
                                  timestamp=signing.china_timestamp(now + skew))
        body = await post_raw(session, sim, form)
        assert body["code"] == -2 and "timestamp" in body["message"]
    inside = signing.build_form(APPID, SECRET, "Project.Add", project().data,
                                timestamp=signing.china_timestamp(now - timedelta(minutes=4)))
    assert (await post_raw(session, sim, inside))["code"] == 0
    assert sim.stats.stale_timestamp == 2


async def test_an_unknown_appid_has_no_access(sim, session) -> None:
    client = PlatformClient(PlatformCredentials(sim.url, "someone-else", SECRET), session=session)
    out = await client.submit(project())
    assert out.kind == "retryable" and "无API访问权限" in (out.reason or "")


# --- asynchronous results, order, validation, duplicates --------------------------------------------------------

async def test_a_write_gets_a_serial_and_finishes_after_the_delay(sim, session) -> None:
    client = client_for(sim, session)
    started = time.monotonic()
    sub = await client.submit(project())
    assert sub.kind == "accepted" and sub.serial and sub.http_status == 200
    assert (await client.query(sub.serial)).kind == "processing"
    done = await settle(client, sub.serial)
    assert done.kind == "success"
    assert time.monotonic() - started >= DELAY
    assert (await client.lookup("project", {"projectCode": PROJECT})).kind == "success"


async def test_a_team_gets_its_team_sys_no_from_the_async_result(sim, session) -> None:
    client = client_for(sim, session)
    await build_up_to_team(client)
    found = await client.lookup("team", natural_key("team", team()))
    assert found.kind == "success" and found.platform_id


async def test_out_of_order_uploads_are_refused_with_the_platforms_reason(sim, session) -> None:
    client = client_for(sim, session)
    number = id_number(1)
    # a team before its unit (and before the project)
    out = await client.submit(team())
    assert out.kind == "rejected" and "项目" in (out.reason or "")
    assert (await upload(client, project())).kind == "success"
    out = await client.submit(team())
    assert out.kind == "rejected" and "参建单位" in (out.reason or "")
    assert (await upload(client, unit())).kind == "success"
    # a worker before its team
    out = await client.submit(worker(number))
    assert out.kind == "rejected" and "班组" in (out.reason or "")
    assert (await upload(client, team())).kind == "success"
    # an entry before the worker, attendance before the entry
    out = await client.submit(entry(number))
    assert out.kind == "rejected" and "未在该项目登记" in (out.reason or "")
    assert number not in (out.reason or "")  # the platform's reason masks the ID number
    assert (await upload(client, worker(number))).kind == "success"
    out = await client.submit(attendance(number))
    assert out.kind == "rejected" and "无进场记录" in (out.reason or "")
    assert (await upload(client, entry(number))).kind == "success"
    assert (await upload(client, attendance(number))).kind == "success"
    assert sim.stats.out_of_order == 5


async def test_a_parent_still_processing_holds_its_child(sim, session) -> None:
    client = client_for(sim, session)
    assert (await client.submit(project())).kind == "accepted"
    out = await client.submit(unit())  # the project is still 处理中
    assert out.kind == "rejected" and "尚未处理完成" in (out.reason or "")


async def test_bad_payloads_are_rejected_with_a_reason(sim, session) -> None:
    client = client_for(sim, session)
    await build_up_to_team(client)
    missing = await client.submit(WireRequest("Project.Add", {"projectCode": "P2", "name": "缺字段项目"}))
    assert missing.kind == "rejected" and "category不能为空" in (missing.reason or "")
    wrong = await client.submit(worker(bad_check_digit(id_number(2))))
    assert wrong.kind == "rejected" and "idCardNumber 校验位错误" in (wrong.reason or "")
    no_type = await client.submit(worker(id_number(3), workType=None))
    assert no_type.kind == "rejected" and "workType" in (no_type.reason or "")
    bad_corp = await client.submit(unit(SUB, corp_type="999"))
    assert bad_corp.kind == "rejected" and "参建单位类型" in (bad_corp.reason or "")
    assert sim.stats.count("worker") == 0


async def test_a_second_add_is_a_duplicate_and_an_update_is_an_update(sim, session) -> None:
    client = client_for(sim, session)
    await build_up_to_team(client)
    again = await client.submit(team())
    assert again.kind == "rejected" and "已存在" in (again.reason or "")
    update = WireRequest("Team.Update", {**team().data, "responsiblePersonName": "李四"})
    assert (await upload(client, update)).kind == "success"
    key = f"team|{PROJECT}|{GC}|钢筋班"
    assert sim.stats.created[key] == 1 and sim.stats.updated[key] == 1
    assert sim.stats.duplicate_adds == 1
    assert sim.stats.duplicates() == {}
    unknown = await client.submit(WireRequest("Team.Update", {**team("木工班").data}))
    assert unknown.kind == "rejected" and "不存在" in (unknown.reason or "")


async def test_fail_mode_ends_in_failure_with_a_reason_and_the_entity_is_not_kept(sim, session) -> None:
    client = client_for(sim, session)
    await sim.set_mode("fail")
    out = await upload(client, project())
    assert out.kind == "failure" and out.reason
    assert (await client.lookup("project", {"projectCode": PROJECT})).kind == "unknown"
    await sim.set_mode("normal")
    assert (await upload(client, project())).kind == "success"
    assert sim.stats.created[f"project|{PROJECT}"] == 1


async def test_an_unknown_serial_is_unknown(sim, session) -> None:
    out = await client_for(sim, session).query("never-issued-0001")
    assert out.kind == "unknown" and "不存在" in (out.reason or "")


# --- misbehaving platform: the client's verdicts ------------------------------------------------------------------

async def test_drop_reply_mode_does_the_work_but_the_client_sees_retryable(sim, session) -> None:
    client = client_for(sim, session)
    await sim.set_mode("drop")
    out = await client.submit(project())
    assert out.kind == "retryable" and out.reason and out.serial is None
    assert sim.stats.dropped == 1
    await sim.set_mode("normal")
    # the work was done: reconciling through the query method finds it, and a resend would be a duplicate
    found = await client.lookup("project", {"projectCode": PROJECT})
    assert found.kind in ("processing", "success")
    assert (await client.submit(project())).kind == "rejected"
    assert sim.stats.created[f"project|{PROJECT}"] == 1


async def test_html_answer_is_retryable_with_the_reason(sim, session) -> None:
    await sim.set_mode("html")
    out = await client_for(sim, session).submit(project())
    assert out.kind == "retryable"
    assert "HTML" in (out.reason or "") and "系统维护" in (out.reason or "")
    assert sim.stats.count("project") == 0


async def test_garbage_answer_is_retryable(sim, session) -> None:
    await sim.set_mode("garbage")
    out = await client_for(sim, session).submit(project())
    assert out.kind == "retryable" and "非JSON" in (out.reason or "")


async def test_5xx_is_retryable_and_does_nothing(sim, session) -> None:
    await sim.set_mode("5xx")
    client = client_for(sim, session)
    out = await client.submit(project())
    assert out.kind == "retryable" and out.http_status == 503 and "HTTP 503" in (out.reason or "")
    assert (await client.query("x")).kind == "retryable"
    assert (await client.lookup("project", {"projectCode": PROJECT})).kind == "retryable"
    assert sim.stats.count("project") == 0


async def test_timeout_mode_is_retryable_after_the_clients_timeout(sim, session) -> None:
    await sim.set_mode("timeout", hang_s=5)
    out = await client_for(sim, session, timeout_s=0.3).submit(project())
    assert out.kind == "retryable" and "超时" in (out.reason or "")


async def test_a_platform_that_is_down_is_retryable_and_comes_back(sim, session) -> None:
    client = client_for(sim, session)
    await sim.set_mode("down")
    out = await client.submit(project())
    assert out.kind == "retryable" and "无法连接平台" in (out.reason or "")
    await sim.set_mode("normal")
    assert (await upload(client, project())).kind == "success"


async def test_admin_endpoint_switches_modes(sim, session) -> None:
    async with session.post(sim.url.replace("/api", "/__sim/mode"), json={"mode": "5xx"}) as resp:
        assert resp.status == 200
    assert (await client_for(sim, session).submit(project())).http_status == 503
    async with session.post(sim.url.replace("/api", "/__sim/mode"), json={"mode": "normal", "error_rate": 0}) as resp:
        assert (await resp.json())["mode"] == "normal"
    async with session.post(sim.url.replace("/api", "/__sim/mode"), json={"mode": "nonsense"}) as resp:
        assert resp.status == 400
    async with session.get(sim.url.replace("/api", "/__sim/stats")) as resp:
        assert (await resp.json())["errors_5xx"] == 1


async def test_rates_drop_and_fail_some_requests_and_each_entity_is_still_counted_once(sim, session) -> None:
    """With 30 % dropped replies and 20 % 5xx, a client that reconciles lost replies through lookup gets
    every worker up exactly once."""
    client = client_for(sim, session)
    await build_up_to_team(client)
    await sim.set_mode(None, drop_rate=0.3, error_rate=0.2)
    numbers = [id_number(100 + i) for i in range(30)]
    for number in numbers:
        req = worker(number)
        for _ in range(50):
            found = await client.lookup("worker", natural_key("worker", req))
            if found.kind in ("success", "processing"):
                break
            if found.kind == "retryable":
                continue
            sub = await client.submit(req)
            if sub.kind == "accepted":
                break
            assert sub.kind == "retryable", sub
    assert sim.stats.dropped > 0 and sim.stats.errors_5xx > 0
    assert sim.stats.count("worker") == 30
    assert sim.stats.duplicates() == {}
    assert sim.stats.duplicate_adds == 0


async def test_payroll_needs_its_workers_on_the_platform(sim, session) -> None:
    client = client_for(sim, session)
    await build_up_to_team(client)
    number = id_number(7)
    payroll = WireRequest("Payroll.Add", {
        "projectCode": PROJECT, "corpCode": GC, "corpName": "总包公司", "payMonth": "2026-11",
        "detailList": [{"idCardType": "01", "idCardNumber": number, "teamName": "钢筋班", "days": 20,
                        "totalPayAmount": "6000.00", "actualAmount": "6000.00"}]})
    early = await client.submit(payroll)
    assert early.kind == "rejected" and "未在该项目登记" in (early.reason or "")
    assert (await upload(client, worker(number))).kind == "success"
    assert (await upload(client, payroll)).kind == "success"
    assert (await client.lookup("payroll", natural_key("payroll", payroll))).kind == "success"
    assert sim.stats.count("payroll") == 1


async def test_smz_platform_sim_command_serves_the_interface(session) -> None:
    """`smz platform-sim` runs the same simulator as a process; SIGTERM stops it cleanly."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "platform-sim", "--port", str(port), "--appid", APPID,
        "--appsecret", SECRET, "--delay", "0.1", cwd=ROOT, env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        creds = PlatformCredentials(f"http://127.0.0.1:{port}/api", APPID, SECRET)
        client = PlatformClient(creds, session=session, timeout_s=2)
        end = time.monotonic() + 30
        while True:
            out = await client.submit(project())
            if out.kind != "retryable" or time.monotonic() > end:
                break
            await asyncio.sleep(0.1)
        assert out.kind == "accepted", out
        assert out.serial is not None
        assert (await settle(client, out.serial)).kind == "success"
        async with session.get(f"http://127.0.0.1:{port}/__sim/stats") as resp:
            assert (await resp.json())["created"] == {f"project|{PROJECT}": 1}
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0


async def test_an_oversized_answer_is_retryable_not_read_whole(session) -> None:
    from aiohttp import web

    async def huge(_request: web.Request) -> web.Response:
        return web.Response(text='{"code":0,"message":"' + "x" * (2 * 1024 * 1024) + '"}',
                            content_type="application/json")

    app = web.Application()
    app.router.add_post("/api", huge)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        client = PlatformClient(PlatformCredentials(f"http://127.0.0.1:{port}/api", APPID, SECRET), session=session)
        out = await client.submit(project())
        assert out.kind == "retryable" and "应答过大" in (out.reason or "")
    finally:
        await runner.cleanup()


async def test_after_an_asynchronous_failure_the_same_add_can_be_sent_again(sim, session) -> None:
    """A failed Add leaves nothing behind, even when nobody polled its serial before resending."""
    client = client_for(sim, session)
    await sim.set_mode("fail")
    assert (await client.submit(project())).kind == "accepted"
    await sim.set_mode("normal")
    await asyncio.sleep(DELAY * 2)  # the platform's processing time (simulated), not a wait for a condition
    assert (await upload(client, project())).kind == "success"
    assert sim.stats.created[f"project|{PROJECT}"] == 1 and sim.stats.failed_async == 1


async def test_calls_beyond_the_rate_limit_are_refused_as_retryable(sim, session) -> None:
    await sim.set_mode(None, rate_limit=3)
    client = client_for(sim, session)
    outs = [await client.query(f"serial-{i}") for i in range(10)]
    refused = [o for o in outs if o.kind == "retryable"]
    assert refused and all("访问超过限制" in (o.reason or "") for o in refused)
    assert outs[0].kind == "unknown"  # the first calls of the second pass
    assert sim.stats.rate_limited == len(refused)
