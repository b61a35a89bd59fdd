"""``smz serve --workers 2`` (issue 18: several processes sharing the web and gate ports with SO_REUSEPORT, on
PostgreSQL): punches taken by either process reach a live-map stream served by one of them, and the login limiter
counts failures made through both as one.  SQLite is single-process: ``--workers 2`` is refused there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import PASSWORD, unique
from tests.integration.gate.gate_site import add_worker, make_site

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("SMZ_TEST_DATABASE_URL", "").startswith("postgres")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(workers: int, port: int, gate_port: int) -> Iterator[subprocess.Popen[bytes]]:
    with supervised(["serve", "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port), "--gate-port",
                     str(gate_port)]) as proc:
        yield proc


@contextlib.contextmanager
def supervised(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """``smz <args>`` in its own process group, stopped with SIGTERM (SIGKILL of the group after 30 s)."""
    env = {**os.environ, "SMZ_UPLOADER": "0", "SMZ_LOGIN_LIMITS_SHARED": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def _up(base: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as c:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get(base + "/health")).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise AssertionError("smz serve --workers did not come up")


async def _events(base: str, token: str) -> AsyncIterator[dict[str, object]]:
    async with httpx.AsyncClient(timeout=None) as c, c.stream(
            "GET", base + "/api/supervision/live", headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status_code == 200
        event = ""
        async for line in resp.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "punch":
                yield json.loads(line.split(":", 1)[1])


async def _token(base: str, username: str) -> str:
    async with httpx.AsyncClient() as c:
        r = await c.post(base + "/api/auth/token", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


async def _site(world: Any, *, workers: int, terminals: int) -> tuple[Any, str]:
    """A site with ``workers`` enrolled workers and ``terminals`` registered terminals named ``<prefix>0001`` …"""
    from backend.devices.services import register_terminal

    site = await make_site(world)
    for i in range(workers):
        await add_worker(world, site, name="多进程" + "甲乙丙丁戊己庚辛壬癸"[i])
    prefix = unique("WRK-")
    for i in range(terminals):
        await register_terminal(site.project, f"{prefix}{i + 1:04d}", world.vendor)
    return site, prefix


async def _simulate(gate_port: int, vendor_code: str, prefix: str, *, terminals: int, punches: int) -> bytes:
    """``smz simulate-gate``: ``terminals`` connections each sending ``punches`` punches; its output."""
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "simulate-gate", "--port", str(gate_port), "--vendor", vendor_code,
        "--serial", prefix, "--terminals", str(terminals), "--punches", str(punches), cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(sim.communicate(), 120)
    assert sim.returncode == 0, out.decode()
    return out


@pytest.mark.skipif(not PG, reason="several processes need PostgreSQL (SQLite is the single-process default)")
async def test_two_workers_share_the_live_map_and_the_login_limiter(world) -> None:
    site, prefix = await _site(world, workers=8, terminals=8)
    port, gate_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    with serve(2, port, gate_port) as proc:
        await _up(base)
        token = await _token(base, world.users["admin"])
        seen: list[dict[str, object]] = []
        all_seen = asyncio.Event()

        async def watch() -> None:
            async for ev in _events(base, token):
                if ev.get("project_id") == site.project:
                    seen.append(ev)
                    if len({e["id"] for e in seen}) >= 8:
                        all_seen.set()

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(1.0)  # subscribed
        # 8 terminals, 8 connections: the kernel spreads them over both workers; every punch reaches the stream
        out = await _simulate(gate_port, world.vendor_code, prefix, terminals=8, punches=1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_seen.wait(), 20)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        assert len({ev["id"] for ev in seen}) == 8, (len(seen), out.decode()[-800:])

        # the login limiter: five failures over fresh connections (spread over both workers), then refused
        from backend.accounts.services import create_user

        username = unique("t_workers_")
        await create_user(username, PASSWORD, "project_staff")
        codes = []
        for _ in range(8):
            async with httpx.AsyncClient() as c:  # a new connection each time
                r = await c.post(base + "/api/auth/token", json={"username": username, "password": "wrong-pass-1"})
                codes.append(r.status_code)
            await asyncio.sleep(0.3)  # NOTIFY delivers in milliseconds
        assert codes == [401] * 5 + [429] * 3, codes
        assert proc.poll() is None


@pytest.mark.skipif(PG, reason="the refusal is SQLite's")
@pytest.mark.parametrize("command", [["serve", "--gate-port", "0"], ["gate-server"]], ids=["serve", "gate-server"])
def test_several_workers_on_sqlite_are_refused(command: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "backend.cli", *command, "--workers", "2", "--port",
                           str(_free_port())], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode != 0
    assert "需要 PostgreSQL" in proc.stdout + proc.stderr



@contextlib.contextmanager
def gate_workers(workers: int, gate_port: int) -> Iterator[subprocess.Popen[bytes]]:
    with supervised(["gate-server", "--workers", str(workers), "--host", "127.0.0.1", "--port", str(gate_port)]) as p:
        yield p


def _listeners(port: int) -> int:
    """Sockets listening on the port (each SO_REUSEPORT worker has its own)."""
    return sum(1 for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
               if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A")


@pytest.mark.skipif(not PG, reason="several processes need PostgreSQL (SQLite is the single-process default)")
async def test_gate_server_workers_share_the_port_and_store_every_punch_once(world) -> None:
    """``smz gate-server --workers 2``: two gate processes listen on one port; 12 terminals punch through both."""
    from backend.attendance.tables import Punch

    site, prefix = await _site(world, workers=4, terminals=12)
    gate_port = _free_port()
    with gate_workers(2, gate_port) as proc:
        deadline = time.monotonic() + 90
        while _listeners(gate_port) < 2:
            assert proc.poll() is None, "smz gate-server --workers 2 exited"
            assert time.monotonic() < deadline, "two gate workers did not come up"
            await asyncio.sleep(0.3)
        out = await _simulate(gate_port, world.vendor_code, prefix, terminals=12, punches=2)
        rows = await Punch.select(Punch.idempotency_key).where(Punch.project == site.project)
        keys = [r["idempotency_key"] for r in rows]
        assert len(keys) == len(set(keys)) == 24, out.decode()[-800:]
        assert proc.poll() is None

