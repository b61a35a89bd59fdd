"""Issue 18's fault test: the gate server (``smz gate-server``, its own process) is killed with SIGKILL while
terminals punch through the group commit; it is started again, the terminals reconnect and re-send every punch
they got no acknowledgement for (as real terminals do: a punch stays in the device's queue until flag 0).  In the
end every acknowledged punch is stored, and each punch exactly once (the punch's own key: terminal, worker and
capture second)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backend.attendance.tables import Punch
from device_tcp.simulator import SimulatedTerminal, make_jpeg
from tests.integration.gate.gate_site import add_worker, make_site, register

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
TERMINALS = 12
PUNCHES = 15  # per terminal


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SMZ_UPLOADER": "0"}
    return subprocess.Popen([sys.executable, "-m", "backend.cli", "gate-server", "--host", "127.0.0.1", "--port",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _listening(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        assert proc.poll() is None, "the gate server exited"
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise AssertionError("the gate server did not start")


async def test_sigkill_mid_run_then_restart_loses_no_acknowledged_punch_and_stores_none_twice(world) -> None:
    site = await make_site(world)
    workers = [(await add_worker(world, site, name="断电" + "甲乙丙丁戊己庚辛壬癸子丑"[i]))[0] for i in range(TERMINALS)]
    serials = [await register(world, site.project) for _ in range(TERMINALS)]
    port = _free_port()
    proc = _start(port)
    await _listening(port, proc)
    base = datetime.now().replace(microsecond=0) - timedelta(hours=1)
    acked: set[tuple[str, int, datetime]] = set()
    half = asyncio.Event()
    resent = 0
    photo = make_jpeg(3)

    async def terminal(i: int) -> None:
        nonlocal resent
        serial, worker = serials[i], workers[i]
        t: SimulatedTerminal | None = None
        for k in range(PUNCHES):
            at = base + timedelta(seconds=i * 100 + k)  # one capture second per punch: its own key
            tries = 0
            while True:
                try:
                    if t is None:
                        t = SimulatedTerminal("127.0.0.1", port, world.vendor_code, serial, timeout_s=5)
                        await t.connect()
                        if not (await t.login()).ok:
                            raise ConnectionError("login refused while the server restarts")
                    reply = await t.punch(worker, at, photo=photo)
                    assert reply.ok, reply
                    acked.add((serial, worker, at))
                    if len(acked) >= TERMINALS * PUNCHES // 3:
                        half.set()
                    break
                except (OSError, TimeoutError, asyncio.IncompleteReadError):
                    tries += 1  # no acknowledgement: the punch stays queued and is sent again
                    resent += 1
                    assert tries < 200, "the terminal never got its punch acknowledged"
                    if t is not None:
                        await t.close()
                        t = None
                    await asyncio.sleep(0.25)
        if t is not None:
            await t.close()

    clients = asyncio.gather(*(terminal(i) for i in range(TERMINALS)))
    await asyncio.wait_for(half.wait(), 120)
    proc.send_signal(signal.SIGKILL)  # mid-run: batches in flight, replies unsent
    proc.wait()
    before_restart = len(acked)
    await asyncio.sleep(1.0)
    proc = _start(port)
    try:
        await _listening(port, proc)
        await asyncio.wait_for(clients, 240)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    assert before_restart < TERMINALS * PUNCHES and resent > 0  # the kill happened mid-run
    assert len(acked) == TERMINALS * PUNCHES  # every punch was acknowledged in the end
    rows = await Punch.select(Punch.idempotency_key, Punch.person).where(Punch.project == site.project)
    keys = [r["idempotency_key"] for r in rows]
    assert len(keys) == len(set(keys)) == TERMINALS * PUNCHES  # none lost, none twice
    expected = {f"g:{s}:{w}:{at:%Y%m%d%H%M%S}" for s, w, at in acked}
    assert set(keys) == expected
