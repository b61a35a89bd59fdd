"""The uploader's crash safety and its clear ends (issue 17), against the simulator over real sockets.

- ``smz uploader`` killed with SIGKILL mid-run and started again completes with no entity created twice;
- a platform answering HTML ends 上传失败 with the reason after the retries, and opens the circuit breaker
  (the district sees "省平台不可用 since …");
- a serial code that never resolves ends 上传失败 "平台长时间未返回处理结果";
- an entity the platform rejects ends 上传失败 with the platform's reason, and its children wait (等待上级), they
  do not fail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest

from backend.platform import services
from backend.platform.adapter import load_request
from backend.platform.client import PlatformClient
from backend.platform.simulator import SimulatorHandle, start_simulator
from backend.platform.tables import PlatformHealth
from backend.platform.uploader import GAVE_UP, Uploader
from backend.platform.wire import PlatformCredentials
from backend.vocabulary import UploadState
from tests.integration.platform.upload_kit import (
    APPID,
    FAST,
    SECRET,
    all_succeeded,
    make_project,
    open_tasks,
    point_districts_at,
    states,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await start_simulator(appid=APPID, appsecret=SECRET, delay=0.02, seed=9)
    yield handle
    await handle.stop()


async def _drain(project_id: int, config=FAST, timeout_s: float = 60, until=None) -> None:
    """Work until the project record itself has ended (its children may wait for it for good), or ``until()``."""
    uploader = Uploader(config)
    try:
        async def done() -> bool:
            st = await services.get_state("project", project_id)
            return st is not None and st["state"] in (UploadState.failed, UploadState.succeeded)

        await uploader.drain(timeout_s, until=until or done)
        await uploader.run_once()  # the children notice
    finally:
        await uploader.aclose()


async def _start_uploader() -> asyncio.subprocess.Process:
    env = {**os.environ, "SMZ_UPLOAD_LEASE_S": "1", "SMZ_UPLOAD_POLL_INTERVAL_S": "0.05",
           "SMZ_UPLOAD_BACKOFF_BASE_S": "0.05", "SMZ_UPLOAD_TIMEOUT_S": "2", "SMZ_LOG_LEVEL": "WARNING"}
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "backend.cli", "uploader", env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _wait_for(cond, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if await cond():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError


async def test_sigkill_mid_run_then_restart_completes_without_duplicates(world, sim) -> None:
    kit = await make_project(world, "断电工程", 40)
    await point_districts_at(world, sim.url)
    await sim.set_mode(drop_rate=0.1)  # some replies lost too: the restart must reconcile them
    proc = await _start_uploader()
    try:
        async def progressed() -> bool:
            return sim.stats.accepted >= 30

        await _wait_for(progressed, 60)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert await open_tasks(kit.project_id) > 0  # killed mid-run
    proc = await _start_uploader()
    try:
        async def finished() -> bool:
            return await open_tasks(kit.project_id) == 0

        await _wait_for(finished, 120)
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    assert all_succeeded(kit, await states(kit.project_id))
    assert sim.stats.duplicates() == {}
    assert sim.stats.duplicate_adds == 0


async def test_a_platform_answering_html_ends_failed_with_the_reason_and_opens_the_circuit(world, sim) -> None:
    kit = await make_project(world, "网页工程", 0)
    await point_districts_at(world, sim.url)
    await sim.set_mode("html")
    await _drain(kit.project_id, replace(FAST, max_attempts=3, circuit_after_s=0.05))
    st = await services.get_state("project", kit.project_id)
    assert st is not None and st["state"] == UploadState.failed
    assert "多次重试仍失败" in st["reason"] and "HTML" in st["reason"]
    health = await PlatformHealth.select().where(PlatformHealth.base_url == sim.url).first()
    assert health is not None and health["circuit"] == "open" and health["down_since"] is not None
    shown = await services.district_platforms({world.district_a})
    assert shown and shown[0]["down"] and shown[0]["down_since"]
    # units wait for the project: waiting, not failed
    units = (await states(kit.project_id)).get("project_unit", {})
    assert units and set(units.values()) == {UploadState.waiting_parent}


async def test_a_serial_that_never_resolves_ends_failed_after_the_give_up_time(world, sim) -> None:
    kit = await make_project(world, "无回音工程", 0)
    await point_districts_at(world, sim.url)
    await sim.set_mode(delay=10_000)
    await _drain(kit.project_id, replace(FAST, give_up_s=0.5))
    st = await services.get_state("project", kit.project_id)
    assert st is not None and st["state"] == UploadState.failed and st["reason"] == GAVE_UP


async def test_a_rejected_entity_ends_failed_with_the_platform_reason_and_its_children_wait(world, sim) -> None:
    kit = await make_project(world, "重复工程", 2)
    await point_districts_at(world, sim.url)
    # someone else already registered this project on the platform: our Add is refused as a duplicate
    async with aiohttp.ClientSession() as session:
        client = PlatformClient(PlatformCredentials(sim.url, APPID, SECRET), session=session)
        assert (await client.submit(await load_request("project", kit.project_id, "add"))).kind == "accepted"
    async def children_told() -> bool:  # the units learn that their parent failed
        unit = await services.get_state("project_unit", kit.units[0])
        return unit is not None and "上级上传失败" in (unit["reason"] or "")

    await _drain(kit.project_id, until=children_told)
    st = await states(kit.project_id)
    project = await services.get_state("project", kit.project_id)
    assert project is not None and project["state"] == UploadState.failed
    assert "已存在" in project["reason"]
    assert set(st["project_unit"].values()) == {UploadState.waiting_parent}
    unit = await services.get_state("project_unit", kit.units[0])
    assert unit is not None and unit["reason"].startswith("等待项目「重复工程」上传成功")
    assert "上级上传失败" in unit["reason"]
