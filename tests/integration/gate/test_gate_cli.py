"""``smz simulate-gate`` against the running app's gate server: replies printed in Chinese, punches
stored."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from backend.attendance.tables import Punch
from backend.cli import main
from tests.integration.gate.gate_site import add_worker, make_site, register, terminal_row

pytestmark = pytest.mark.integration


async def invoke(args: list[str]) -> tuple[int, str]:
    """Run the command in a thread (it runs its own event loop) while the server goes on in ours."""
    result = await asyncio.to_thread(CliRunner().invoke, main, args)
    return result.exit_code, result.output.replace("\n", "")  # rich wraps long lines at 80 columns


async def test_simulate_gate_logs_in_reads_the_whitelist_and_punches(world, gate_server):
    site = await make_site(world)
    await add_worker(world, site, name="周八")
    serial = await register(world, site.project)
    code, out = await invoke(["simulate-gate", "--port", str(gate_server.port), "--vendor", world.vendor_code,
                              "--serial", serial, "--punches", "2"])
    assert code == 0, out
    assert "登录（843）成功" in out and "心跳（65535）：正常" in out
    assert "白名单（849）" in out and "1 人" in out and "周八" in out
    assert out.count("已记录（flag 0）") == 2 and "共上传 2 次：已记录 2 次，被拒绝 0 次" in out
    tid = (await terminal_row(serial))["id"]
    assert await Punch.count().where(Punch.terminal == tid) >= 1  # two punches in one second are one punch


async def test_simulate_gate_prints_refusals_in_chinese(world, gate_server):
    site = await make_site(world)
    serial = await register(world, site.project)
    code, out = await invoke(["simulate-gate", "--port", str(gate_server.port), "--vendor", "NOT-THE-VENDOR",
                              "--serial", serial])
    assert code == 1 and "登录（843）被拒绝：厂家识别码与登记不符" in out
    code, out = await invoke(["simulate-gate", "--port", str(gate_server.port), "--vendor", world.vendor_code,
                              "--serial", serial, "--punches", "1", "--worker-no", "987654321"])
    assert code == 1 and "被拒绝：工人编号 987654321 不存在" in out


async def test_simulate_gate_load_mode_shows_a_summary(world, gate_server):
    site = await make_site(world)
    workers = [(await add_worker(world, site))[0] for _ in range(3)]
    prefix = f"CLI-LOAD-{site.project}-"
    from backend.devices.services import register_terminal

    for i in range(3):
        await register_terminal(site.project, f"{prefix}{i + 1:04d}", world.vendor)
    code, out = await invoke(["simulate-gate", "--port", str(gate_server.port), "--vendor", world.vendor_code,
                              "--serial", prefix, "--terminals", "3", "--punches", "3"])
    assert code == 0, out
    assert "3 台设备 × 3 次：已记录 9，被拒绝 0，连接错误 0" in out and "应答延迟：p50" in out
    assert workers


async def test_simulate_gate_without_vendor_uses_the_demo_code_file_readable_by_its_owner_only(world, gate_server):
    import stat

    from backend.demo import demo_vendor_code_path, save_demo_vendor_code

    site = await make_site(world)
    serial = await register(world, site.project)
    path = save_demo_vendor_code(world.vendor_code)  # what `smz demo` does with the vendor code it made
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        code, out = await invoke(["simulate-gate", "--port", str(gate_server.port), "--serial", serial,
                                  "--punches", "0"])
        assert code == 0, out
        assert "登录（843）成功" in out and world.vendor_code not in out  # the code is never printed
    finally:
        demo_vendor_code_path().unlink(missing_ok=True)
