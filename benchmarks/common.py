"""Helpers the benchmark scripts share: percentiles, the event-loop lag probe, a throw-away database.

Import it AFTER the script has put the project root first on ``sys.path`` (each script does that before
anything else, so that its siblings — benchmarks/geofence.py … — do not shadow the packages).
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
import time
import uuid
from collections.abc import Callable

import numpy as np


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (linear interpolation); NaN for no values."""
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


class Ticker:
    """Measures how late ``asyncio.sleep(interval)`` wakes up: the event loop's lag."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(time.perf_counter() - t0 - self.interval)

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def ms(self) -> list[float]:
        return [v * 1000 for v in self.lags]

    def summary(self) -> str:
        ms = self.ms()
        return f"p50 {pct(ms, 50):.2f} ms, p99 {pct(ms, 99):.2f} ms, max {max(ms):.2f} ms ({len(ms)} ticks)"


def setup_env(pg: str | None, prefix: str = "smz-bench-") -> tuple[str, Callable[[], None]]:
    """Point the app at a fresh database: SQLite in a temporary directory, or (``pg`` = a PostgreSQL
    server URL) a new database on that server.  Returns its URL and a function that drops it."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.environ["SMZ_DATA_DIR"] = tmp
    os.environ.setdefault("SMZ_SECRET_KEY", base64.b64encode(b"bench-key-0123456789abcdef-bench").decode())
    os.environ["PICCOLO_CONF"] = "piccolo_conf"
    if not pg:
        os.environ["SMZ_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        return os.environ["SMZ_DATABASE_URL"], lambda: None
    import asyncpg

    name = f"smz_bench_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(pg)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    os.environ["SMZ_DATABASE_URL"] = pg.rsplit("/", 1)[0] + "/" + name
    return os.environ["SMZ_DATABASE_URL"], lambda: asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
