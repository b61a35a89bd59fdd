"""``smz serve --workers N``: N server processes sharing the web port and the gate port (issue 18).

Each worker is a whole ``smz serve`` (web app, gate server, live map, the uploader and upkeep jobs) bound with
SO_REUSEPORT, so the kernel spreads connections over them.  What must agree across processes already does on
PostgreSQL: who-is-asking invalidation and the live map (LISTEN/NOTIFY), the login limiter
(``backend.accounts.shared_limits``), the uploader (one leader by advisory lock), the upkeep job (one ticket per
terminal and kind).  The face pool is per process.  SQLite is the embedded single-process default: several
workers need PostgreSQL (refused otherwise).  This parent process migrates once, marks the terminals a previous
run left online offline once, starts the workers, restarts one that dies, and stops them all on SIGTERM/SIGINT.

Known limit (docs/deployment.md): a terminal that reconnects while its old connection is still open on another
worker is not taken over there (takeover is per process); the old connection ends at its idle timeout.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

log = logging.getLogger("smz.serve")
RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 15.0


def settle_heap() -> None:
    """Once a server process has started: move what start-up allocated (modules, classes, caches) out of the
    cyclic collector's reach (``gc.freeze``), so the collections while serving walk only the objects of the
    work in hand — a full collection over the start-up heap was a tens-of-milliseconds pause in the gate
    acknowledgement tail (issue 18).  Only for server processes (a test process keeps its collector whole)."""
    gc.collect()
    gc.freeze()


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that other processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def worker_command(host: str, port: int, gate_port: int) -> list[str]:
    return [sys.executable, "-m", "backend.cli", "serve", "--host", host, "--port", str(port), "--gate-port",
            str(gate_port), "--worker"]


def gate_worker_command(host: str, gate_port: int) -> list[str]:
    """One process of ``smz gate-server --workers N``: the gate port only."""
    return [sys.executable, "-m", "backend.cli", "gate-server", "--host", host, "--port", str(gate_port), "--worker"]


def run_workers(n: int, host: str, port: int, gate_port: int, cmd: list[str] | None = None) -> int:
    """Start ``n`` workers (``cmd``, default ``smz serve --worker``) and look after them until SIGTERM/SIGINT;
    returns the exit code."""
    stopping = False

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    cmd = cmd or worker_command(host, port, gate_port)
    procs: list[subprocess.Popen[bytes]] = [subprocess.Popen(cmd) for _ in range(n)]
    log.info("started %d workers (pids %s) on %s:%s, gate port %s", n, ", ".join(str(p.pid) for p in procs), host,
             port, gate_port or "off")
    try:
        while not stopping:
            time.sleep(0.2)
            for i, p in enumerate(procs):
                if p.poll() is not None and not stopping:
                    log.warning("worker %s exited with %s: restarting it", p.pid, p.returncode)
                    time.sleep(RESTART_DELAY_S)
                    procs[i] = subprocess.Popen(cmd)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
    return 0
