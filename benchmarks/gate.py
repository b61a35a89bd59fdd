"""Gate server figures: N simulated terminals × M punches against the app's real gate server.

    uv run python benchmarks/gate.py [--terminals 50] [--punches 40] [--rate 0] [--idle 1000] [--workers 200]
    SMZ_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/postgres uv run python benchmarks/gate.py
    uv run python benchmarks/gate.py --only postgres --pg-cluster --terminals 1000 --punches 10 --idle 0
    uv run python benchmarks/gate.py --only postgres --pg-cluster --terminals 1000 --punches 10 --rate 1 --idle 0

``--rate R``: each terminal sends R punches a second (random phase) instead of one after another as fast as
the replies come; 1,000 terminals × 1 punch/s is the latency goal of issue 18.  ``--pg-cluster``: start a
private PostgreSQL cluster (initdb in a temporary directory, PostgreSQL's defaults: fsync on,
synchronous_commit on; stopped and removed afterwards) instead of SMZ_BENCH_DATABASE_URL — the test server
runs with fsync off, which hides the cost of a commit.  A server named by SMZ_BENCH_DATABASE_URL is never
reconfigured: its fsync and synchronous_commit are printed beside the figures.  ``--profile FILE``: run the
gate server under cProfile and print where its CPU went.

The server is ``smz gate-server`` in its own process (as deployed) on a fresh database — SQLite in a
temporary directory, and, when SMZ_BENCH_DATABASE_URL names a PostgreSQL server, a fresh database
created there (dropped afterwards).  This process sets up the data (a project, its roster of enrolled
workers, the terminals), then plays the terminals over real sockets on 127.0.0.1.

Prints: the database's floor in the same run (bare driver inserts of rows of the punch's shape — unique key,
8 KB photo — one per transaction and 50 per transaction, from 50 connections), punches/s and its ratio to
that floor, acknowledgement latency p50/p95/p99/max (seed 002: 上传延时不超过 5 秒钟), that every
acknowledged punch is in the database exactly once, the server's CPU time per punch, and the server's
memory per idle logged-in connection.  Asserts nothing (DESIGN.md §2).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
# this script's folder is sys.path[0]: its siblings (benchmarks/geofence.py …) would shadow packages
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
from benchmarks.common import pct  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def proc_cpu_s(pid: int, *, children: bool = True) -> float:
    """CPU seconds of the process and (``children``) of its live children (``--server-procs``: the workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    if not children:
        return own
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        kids += [int(c) for c in task.read_text().split()]
    for child in kids:
        try:
            own += proc_cpu_s(child)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return own


@dataclass
class Setup:
    project: int
    workers: list[int]
    serials: list[str]
    idle_serials: list[str]
    vendor_code: str  # made by create_vendor, shown once: the terminals log in with it


async def setup(n_terminals: int, n_idle: int, n_workers: int) -> Setup:
    """A district, a project under construction, ``n_workers`` enrolled workers on its roster and the
    terminals — through the domain services, as the app would."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend import db
    from backend.crew.enrolment import save_enrolment
    from backend.demo import fake_id_number, fake_name, fake_uscc
    from backend.devices import services as devices
    from backend.org import services as org
    from backend.workforce import services as workforce
    from device_tcp.simulator import make_jpeg

    try:
        from backend.workforce import consent as consents
    except ImportError:  # a tree from before biometric consent (a baseline run)
        consents = None  # type: ignore[assignment]
    result = await run_forwards(app_name="all")
    assert result.success, result.message
    await db.start_pool()
    try:
        rng = random.Random(5)
        district = await org.create_district("440703", "蓬江区")
        ent = await org.create_enterprise("基准测试建设有限公司", fake_uscc(rng, "440703"))
        project = await org.create_project(name="闸机基准测试工程", district_id=district, category="building",
                                           floor_area_m2=60_000, planned_start=date.today() - timedelta(days=90))
        await org.change_status(project, "under_construction", effective_on=date.today() - timedelta(days=80),
                                note="开工", user_id=None)
        unit = await org.add_unit(project, ent, "general_contractor")
        team = await org.create_team(project, unit, "钢筋班组")
        made = await devices.create_vendor("基准测试厂商")
        vendor = made.vendor_id
        template = bytes(512)
        workers = []
        for i in range(n_workers):
            pid = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng))
            await workforce.enter_roster(project_id=project, person_id=pid, unit_id=unit, team_id=team,
                                         work_role="worker", entered_on=date.today() - timedelta(days=30))
            if consents is not None:  # issue 20: no face is enrolled without the person's consent
                await consents.record(pid, "given", channel="paper")
            await save_enrolment(pid, template, make_jpeg(i), None, source="import")
            workers.append(pid)
        serials = [f"BENCH-{i:05d}" for i in range(n_terminals)]
        idle = [f"IDLE-{i:05d}" for i in range(n_idle)]
        for s in serials + idle:
            await devices.register_terminal(project, s, vendor, channel=1, direction="in")
        return Setup(project, workers, serials, idle, made.code)
    finally:
        await db.close_pool()


def unique_photo(photos: list[bytes]) -> Callable[[int, int], bytes]:
    """Terminal i's k-th photo: one of ``photos`` with a JPEG comment segment (FF FE) naming (i, k) after the start
    marker — still a valid JPEG, and different bytes for every punch, so that the photo store writes (and fsyncs)
    a new file for each, as with real cameras."""
    def photo(i: int, k: int) -> bytes:
        base = photos[(i + k) % len(photos)]
        tag = f"smz-bench {i} {k}".encode()
        return base[:2] + b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag + base[2:]
    return photo


async def punch_load(port: int, s: Setup, punches: int, rate: float = 0.0,
                     logged_in: Callable[[], None] | None = None) -> tuple[list[float], int, int, float, list[str]]:
    """Every terminal logs in, then sends ``punches`` punches one after another (one request at a time
    per device; ``rate`` > 0: one every 1/rate s, random phase); all terminals at once.  Capture times are
    "now" in the project's time zone, distinct per (terminal, worker, second), so every punch is a new record."""
    from device_tcp.simulator import SimulatedTerminal, make_jpeg

    photos = [make_jpeg(i) for i in range(16)]
    photo = unique_photo(photos)
    latencies: list[float] = []
    ack_seconds: list[int] = []  # the second of the run in which each reply came (the tail over time)
    ok = refused = 0
    errors: list[str] = []
    tz = ZoneInfo("Asia/Shanghai")
    terms = [SimulatedTerminal("127.0.0.1", port, s.vendor_code, serial, timeout_s=60) for serial in s.serials]
    for i in range(0, len(terms), 50):  # in groups: each must log in within the server's login timeout
        group = terms[i:i + 50]
        await asyncio.gather(*(t.connect() for t in group))
        for t, r in zip(group, await asyncio.gather(*(t.login() for t in group)), strict=True):
            if not r.ok:
                errors.append(f"{t.serial}: {r.message}")
    if logged_in is not None:
        logged_in()  # the CPU of the logins (once a day per terminal) is counted apart from the punches'
    phase = random.Random(7)

    async def run(i: int, t: SimulatedTerminal) -> None:
        nonlocal ok, refused
        start = time.perf_counter() + (phase.random() / rate if rate > 0 else 0.0)
        for k in range(punches):
            if rate > 0:
                await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
            worker = s.workers[(i * 7 + k) % len(s.workers)]
            at = datetime.now(tz).replace(tzinfo=None, microsecond=0)
            try:
                r = await t.punch(worker, at, photo=photo(i, k))
            except (OSError, TimeoutError, ConnectionError) as exc:
                errors.append(f"{t.serial}: {exc!r}")
                return
            latencies.append(r.latency_s)
            ack_seconds.append(int(time.perf_counter() - t0))
            if r.ok:
                ok += 1
            else:
                refused += 1
                errors.append(f"{t.serial}: {r.message}")

    t0 = time.perf_counter()
    await asyncio.gather(*(run(i, t) for i, t in enumerate(terms)))
    wall = time.perf_counter() - t0
    await asyncio.gather(*(t.close() for t in terms))
    by_second: dict[int, list[float]] = {}
    for second, lat in zip(ack_seconds, latencies, strict=True):
        by_second.setdefault(second, []).append(lat * 1000)
    p99s = [pct(v, 99) for _, v in sorted(by_second.items()) if len(v) >= 20]
    if p99s:
        print(f"ack p99 second by second: {' '.join(f'{x:.0f}' for x in p99s)} ms")
    steady = [ms for second, values in by_second.items() if second >= 1 for ms in values]
    if rate > 0 and steady:  # the first second opens the pool's connections and prepares the statements
        print(f"ack latency after the first second (steady): p50 {pct(steady, 50):.1f} ms, p95 {pct(steady, 95):.1f} "
              f"ms, p99 {pct(steady, 99):.1f} ms ({len(steady)} punches)")
    return latencies, ok, refused, wall, errors


async def idle_connections(port: int, pid: int, serials: list[str], vendor_code: str) -> tuple[int, int, int, int]:
    """Logged-in connections that then stay idle, opened in two halves: the first half warms up
    what the server allocates once (database threads' malloc arenas, caches), the second half's
    growth of the server's RSS is what a connection costs.  Returns (RSS before, after the first
    half, after the second half, connections logged in in the second half)."""
    from device_tcp.simulator import SimulatedTerminal

    async def open_logged_in(part: list[str]) -> tuple[list[SimulatedTerminal], int]:
        terms = [SimulatedTerminal("127.0.0.1", port, vendor_code, s, timeout_s=60) for s in part]
        logged = 0
        for i in range(0, len(terms), 100):
            batch = terms[i:i + 100]
            await asyncio.gather(*(t.connect() for t in batch))
            replies = await asyncio.gather(*(t.login() for t in batch))
            logged += sum(1 for r in replies if r.ok)
        await asyncio.sleep(2.0)
        return terms, logged

    await asyncio.sleep(1.0)
    before = proc_rss_kb(pid)
    half = len(serials) // 2
    first, _ = await open_logged_in(serials[:half])
    middle = proc_rss_kb(pid)
    second, logged = await open_logged_in(serials[half:])
    after = proc_rss_kb(pid)
    await asyncio.gather(*(t.close() for t in first + second))
    return before, middle, after, logged


async def kill9_load(port: int, s: Setup, punches: int, rate: float, kill_at: float,
                     restart: Callable[[], None]) -> tuple[set[str], int, float, list[str]]:
    """The fault run: every terminal punches as in ``punch_load``, each punch kept until acknowledged (as real
    terminals queue them); when ``kill_at`` of all punches are acknowledged, ``restart`` SIGKILLs the server and
    starts it again on the same port.  Terminals reconnect, log in again and re-send what got no flag 0.
    Returns (the keys acknowledged, punches re-sent, wall time, errors)."""
    from device_tcp.simulator import SimulatedTerminal, make_jpeg

    photos = [make_jpeg(i) for i in range(16)]
    photo = unique_photo(photos)
    acked: set[str] = set()
    errors: list[str] = []
    resent = 0
    total = len(s.serials) * punches
    killed = asyncio.Event()
    base = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    phase = random.Random(7)
    login_slots = asyncio.Semaphore(50)  # terminals come back in waves, as after a site's power cut

    async def run(i: int, serial: str) -> None:
        nonlocal resent
        t: SimulatedTerminal | None = None
        start = time.perf_counter() + (phase.random() / rate if rate > 0 else 0.0)
        for k in range(punches):
            if rate > 0:
                await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
            worker = s.workers[(i * 7 + k) % len(s.workers)]
            at = base + timedelta(seconds=k)  # the key: terminal, worker, capture second
            for tries in range(400):
                try:
                    if t is None:
                        async with login_slots:
                            t = SimulatedTerminal("127.0.0.1", port, s.vendor_code, serial, timeout_s=10)
                            await t.connect()
                            if not (await t.login()).ok:
                                raise ConnectionError("login refused")
                    r = await t.punch(worker, at, photo=photo(i, k))
                    if not r.ok:
                        errors.append(f"{serial}: {r.message}")
                        break
                    acked.add(f"g:{serial}:{worker}:{at:%Y%m%d%H%M%S}")
                    if len(acked) >= total * kill_at and not killed.is_set():
                        killed.set()
                    break
                except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                    if tries == 0:  # this punch goes again (counted once however many tries it takes)
                        resent += 1
                    if t is not None:
                        await t.close()
                        t = None
                    await asyncio.sleep(0.2 + phase.random() * 0.3)
            else:
                errors.append(f"{serial}: punch {k} never acknowledged")
        if t is not None:
            await t.close()

    async def killer() -> None:
        await killed.wait()
        await asyncio.get_running_loop().run_in_executor(None, restart)

    t0 = time.perf_counter()
    kill_task = asyncio.ensure_future(killer())
    await asyncio.gather(*(run(i, serial) for i, serial in enumerate(s.serials)))
    if not kill_task.done():
        kill_task.cancel()
    return acked, resent, time.perf_counter() - t0, errors


async def stored_keys(serials: list[str]) -> list[str]:
    """The idempotency keys stored for the load terminals' punches (one per row)."""
    from backend import db
    from backend.attendance.tables import Punch
    from backend.devices.tables import Terminal

    await db.start_pool()
    try:
        ids = [r["id"] for r in await Terminal.select(Terminal.id).where(Terminal.serial.is_in(serials))]
        return [r["idempotency_key"] for r in await Punch.select(Punch.idempotency_key).where(Punch.terminal.is_in(ids))]
    finally:
        await db.close_pool()


async def photos_readable(serials: list[str]) -> tuple[int, int]:
    """(photos read back whole, photos named by a row but missing or not matching their hash) of the load
    terminals' punches — after a kill, every acknowledged punch's photo must read back."""
    from backend import db, photostore
    from backend.attendance.tables import Punch
    from backend.devices.tables import Terminal

    await db.start_pool()
    try:
        ids = [r["id"] for r in await Terminal.select(Terminal.id).where(Terminal.serial.is_in(serials))]
        rows = await Punch.select(Punch.photo_sha256, Punch.photo_loc).where(
            Punch.terminal.is_in(ids) & Punch.photo_sha256.is_not_null())
    finally:
        await db.close_pool()
    good = sum([await photostore.get(r["photo_sha256"], r["photo_loc"]) is not None for r in rows])
    return good, len(rows) - good


async def count_rows(serials: list[str]) -> tuple[int, int]:
    """(punch rows, distinct idempotency keys) of the load terminals."""
    keys = await stored_keys(serials)
    return len(keys), len(set(keys))


async def offline_after_stop(serials: list[str]) -> int:
    from backend import db
    from backend.devices.tables import Terminal

    await db.start_pool()
    try:
        return await Terminal.count().where(Terminal.serial.is_in(serials) & (Terminal.online == True))  # noqa: E712
    finally:
        await db.close_pool()


FLOOR_CONNECTIONS = 50
FLOOR_ROWS = 4000


def floor_rows(n: int, tag: str) -> list[tuple[str, int, int, datetime, bytes]]:
    """Rows of the punch's shape: a unique key, two ids, a time, an 8 KB photo (incompressible)."""
    rng = random.Random(11)
    photos = [rng.randbytes(8192) for _ in range(16)]
    now = datetime.now(ZoneInfo("UTC"))
    return [(f"floor:{tag}:{i}", 1, i % 200, now, photos[i % 16]) for i in range(n)]


async def pg_floor(url: str) -> dict[str, float]:
    """Bare asyncpg inserts from FLOOR_CONNECTIONS connections: rows/s one row per transaction, and 50 rows per
    transaction (group commit).  The database's own limit for rows of this shape, measured in this run."""
    import asyncpg

    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, key varchar(128) UNIQUE, "
                       "project int, person int, captured_at timestamptz, photo bytea)")
    await conn.close()
    pool = await asyncpg.create_pool(url, min_size=FLOOR_CONNECTIONS, max_size=FLOOR_CONNECTIONS)
    sql = ("INSERT INTO bench_floor (key, project, person, captured_at, photo) VALUES ($1, $2, $3, $4, $5) "
           "ON CONFLICT (key) DO NOTHING")
    out: dict[str, float] = {}
    try:
        for per_tx in (1, 50):
            rows = floor_rows(FLOOR_ROWS, f"pg{per_tx}")
            chunks = [rows[i:i + per_tx] for i in range(0, len(rows), per_tx)]
            queue = list(reversed(chunks))

            async def worker(queue: list[list[tuple[Any, ...]]] = queue, per_tx: int = per_tx) -> None:
                async with pool.acquire() as c:
                    while queue:
                        chunk = queue.pop()
                        async with c.transaction():
                            if per_tx == 1:
                                await c.execute(sql, *chunk[0])
                            else:
                                await c.executemany(sql, chunk)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(FLOOR_CONNECTIONS)))
            out[f"{per_tx}/tx"] = len(rows) / (time.perf_counter() - t0)
        # the commit latency itself: one connection, one row per transaction, one after another (the disk's fsync
        # time — no acknowledgement after a commit can be faster than this)
        commits: list[float] = []
        async with pool.acquire() as c:
            for row in floor_rows(300, "lat"):
                t0 = time.perf_counter()
                await c.execute(sql, *row)
                commits.append((time.perf_counter() - t0) * 1000)
        out["commit p50"], out["commit p99"] = pct(commits, 50), pct(commits, 99)
    finally:
        await pool.close()
    return out


def sqlite_floor(path: str) -> dict[str, float]:
    """Bare sqlite3 inserts (WAL, one connection: SQLite has one writer): rows/s one row per transaction and
    50 per transaction."""
    import sqlite3

    out: dict[str, float] = {}
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id integer PRIMARY KEY, key varchar(128) UNIQUE, "
                 "project int, person int, captured_at text, photo blob)")
    sql = ("INSERT INTO bench_floor (key, project, person, captured_at, photo) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT (key) DO NOTHING")
    try:
        for per_tx in (1, 50):
            rows = [(k, p, q, at.isoformat(), b) for k, p, q, at, b in floor_rows(FLOOR_ROWS // 2, f"sq{per_tx}")]
            t0 = time.perf_counter()
            for i in range(0, len(rows), per_tx):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows[i:i + per_tx])
                conn.execute("COMMIT")
            out[f"{per_tx}/tx"] = len(rows) / (time.perf_counter() - t0)
    finally:
        conn.close()
    return out


async def pg_settings(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes")
        return ", ".join([f"{n}={await conn.fetchval(f'SHOW {n}')}" for n in names])
    finally:
        await conn.close()


PG_POSTMASTER: list[int] = []  # the private cluster's postmaster (its CPU and its backends' is measured)


def pg_cpu_s() -> float | None:
    """CPU seconds of the private cluster so far (postmaster and every backend, WAL writer, checkpointer …), or None
    for a server this benchmark did not start."""
    return proc_cpu_s(PG_POSTMASTER[0]) if PG_POSTMASTER else None


def start_pg_cluster() -> tuple[str, Callable[[], None]]:
    """A private PostgreSQL cluster with PostgreSQL's defaults (fsync on, synchronous_commit on) in a temporary
    directory on the machine's disk; returns its URL and a function that stops and removes it."""
    import shutil

    base = Path(tempfile.mkdtemp(prefix="smz-bench-pg-", dir="/var/tmp"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", free_port()
    subprocess.run([*as_user, "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--locale=C.UTF-8"], check=True, stdout=subprocess.DEVNULL)
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB"
    subprocess.run([*as_user, "pg_ctl", "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
                   check=True, stdout=subprocess.DEVNULL)

    PG_POSTMASTER[:] = [int((data / "postmaster.pid").read_text().split()[0])]

    def stop() -> None:
        PG_POSTMASTER.clear()
        subprocess.run([*as_user, "pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"], check=False,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def print_profile(path: str, top: int = 30) -> None:
    import pstats

    print(f"\n--- server profile ({path}), top {top} by own time ---")
    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(top)
    print(f"--- top {top} by cumulative time ---")
    stats.sort_stats("cumulative").print_stats(top)


def wait_listeners(port: int, n: int, timeout_s: float = 60) -> None:
    """Until ``n`` sockets listen on the port (SO_REUSEPORT workers: the kernel spreads only over those)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listening = sum(1 for table in ("/proc/net/tcp", "/proc/net/tcp6") if Path(table).exists()
                        for line in Path(table).read_text().splitlines()[1:]
                        if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A")
        if listening >= n:
            return
        time.sleep(0.2)
    raise SystemExit(f"only some of the {n} gate server processes listen on port {port}")


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gate server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gate server did not start")


def create_pg_database(url: str) -> tuple[str, str]:
    import asyncpg

    name = f"smz_bench_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return url.rsplit("/", 1)[0] + "/" + name, name


def drop_pg_database(url: str, name: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def run(label: str, database_url: str, args: argparse.Namespace) -> None:
    data_dir = tempfile.mkdtemp(prefix="smz-bench-gate-")
    env = {**os.environ, "SMZ_DATA_DIR": data_dir, "SMZ_DATABASE_URL": database_url, "PICCOLO_CONF": "piccolo_conf",
           "SMZ_LOG_LEVEL": "WARNING"}
    env.setdefault("SMZ_SECRET_KEY", "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2ghISE=")
    os.environ.update({k: env[k] for k in ("SMZ_DATA_DIR", "SMZ_DATABASE_URL", "PICCOLO_CONF", "SMZ_SECRET_KEY")})
    from backend.settings import get_settings

    get_settings.cache_clear()
    procs = f", {args.server_procs} server processes" if args.server_procs > 1 else ""
    print(f"\n=== {label}: {args.terminals} terminals × {args.punches} punches, {args.workers} enrolled workers{procs} ===")
    t0 = time.perf_counter()
    s = asyncio.run(setup(args.terminals, args.idle, args.workers))
    print(f"set-up: {time.perf_counter() - t0:.1f} s")
    if database_url.startswith("postgresql://"):
        print(f"server: {asyncio.run(pg_settings(database_url))}")
        floor = asyncio.run(pg_floor(database_url))
        print(f"floor (bare asyncpg, {FLOOR_CONNECTIONS} connections, 8 KB photo, unique key): "
              f"{floor['1/tx']:.0f} rows/s one per transaction, {floor['50/tx']:.0f} rows/s 50 per transaction; "
              f"one commit alone: p50 {floor['commit p50']:.1f} ms, p99 {floor['commit p99']:.1f} ms")
    else:
        floor = sqlite_floor(database_url.removeprefix("sqlite:///"))
        print(f"floor (bare sqlite3, WAL, one writer, 8 KB photo, unique key): {floor['1/tx']:.0f} rows/s one per "
              f"transaction, {floor['50/tx']:.0f} rows/s 50 per transaction")

    port = free_port()
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []

    def start_server() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, *profile, "-m", "backend.cli", "gate-server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(args.server_procs)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=raise_fd_limit,
        )

    server = start_server()
    try:
        wait_port(port, server)
        wait_listeners(port, args.server_procs)
        if args.kill9:
            def restart() -> None:
                nonlocal server
                server.send_signal(signal.SIGKILL)
                server.wait()
                print(f"  SIGKILL of the gate server at {args.kill_at:.0%} of the punches acknowledged; starting it again")
                server = start_server()
                wait_port(port, server)

            acked, resent, wall, errors = asyncio.run(
                kill9_load(port, s, args.punches, args.rate, args.kill_at, restart))
            keys = asyncio.run(stored_keys(s.serials))
            stored = set(keys)
            lost = len(acked - stored)
            doubled = len(keys) - len(stored)
            print(f"kill -9 run: {len(acked)} of {args.terminals * args.punches} punches acknowledged in {wall:.1f} s, "
                  f"{resent} re-sent after the kill; {len(keys)} rows stored → {lost} acknowledged punches lost, "
                  f"{doubled} stored twice, {len(stored - acked)} stored but never acknowledged")
            good, bad = asyncio.run(photos_readable(s.serials))
            print(f"  photos: {good} read back whole from the photo store, {bad} missing or damaged")
            for e in errors[:5]:
                print("  error:", e)
            return
        cpu0 = proc_cpu_s(server.pid)
        marks: dict[str, float] = {}

        def logged_in() -> None:
            marks["server"], marks["client"] = proc_cpu_s(server.pid), proc_cpu_s(os.getpid(), children=False)
            marks["pg"] = pg_cpu_s() or 0.0

        latencies, ok, refused, wall, errors = asyncio.run(punch_load(port, s, args.punches, args.rate, logged_in))
        cpu = proc_cpu_s(server.pid) - marks["server"]
        client_cpu = proc_cpu_s(os.getpid(), children=False) - marks["client"]
        pg_now = pg_cpu_s()
        login_cpu = marks["server"] - cpu0
        n = ok + refused
        ms = [x * 1000 for x in latencies]
        offered = f", offered {args.terminals * args.rate:.0f}/s" if args.rate > 0 else ""
        print(f"punches: {ok} acknowledged, {refused} refused, {len(errors)} errors in {wall:.2f} s "
              f"→ {n / wall:.0f} punches/s{offered} (= {n / wall / floor['1/tx']:.2f}× the floor one per "
              f"transaction, {n / wall / floor['50/tx']:.2f}× 50 per transaction)")
        print(f"ack latency (send → flag-0 reply, commit included): p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms, "
              f"p99 {pct(ms, 99):.1f} ms, max {max(ms, default=float('nan')):.1f} ms  (seed 002 limit: 5000 ms)")
        print(f"server CPU while punching: {cpu:.2f} s → {cpu / max(n, 1) * 1000:.2f} ms per punch (the terminals, "
              f"this process: {client_cpu:.2f} s; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}); "
              f"the {args.terminals} logins before: {login_cpu:.2f} s → {login_cpu / args.terminals * 1000:.2f} ms each")
        if pg_now is not None and n:
            db_ms = (pg_now - marks["pg"]) / n * 1000
            node_ms = cpu / n * 1000 + db_ms
            print(f"PostgreSQL CPU while punching: {db_ms:.2f} ms per punch → server + database {node_ms:.2f} ms: a "
                  f"{os.cpu_count()}-core node whose terminals are elsewhere takes ≈ {(os.cpu_count() or 1) / node_ms * 1000:.0f} "
                  "punches/s by CPU (the simulated terminals ran on the same cores here)")
        for e in errors[:5]:
            print("  error:", e)
        rows, keys = asyncio.run(count_rows(s.serials))
        print(f"database: {rows} punch rows, {keys} distinct keys (acknowledged {ok}: "
              f"{'none lost, none doubled' if rows == keys == ok else 'MISMATCH'})")
        if args.idle:
            before, middle, after, logged = asyncio.run(idle_connections(port, server.pid, s.idle_serials, s.vendor_code))
            print(f"idle: {len(s.idle_serials)} logged-in connections held; server RSS {before / 1024:.1f} → "
                  f"{middle / 1024:.1f} (first half) → {after / 1024:.1f} MiB; second half: "
                  f"{(after - middle) / max(logged, 1):.1f} KiB per idle connection")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
        if server.returncode not in (0, -signal.SIGTERM):
            print("server stderr:", err.decode(errors="replace")[-6000:])
    still = asyncio.run(offline_after_stop(s.serials + s.idle_serials))
    print(f"after the server stopped: {still} terminals still marked online (expected 0)")
    if args.profile and Path(args.profile).exists():
        print_profile(args.profile)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--terminals", type=int, default=50)
    p.add_argument("--punches", type=int, default=40, help="punches per terminal")
    p.add_argument("--workers", type=int, default=200, help="enrolled workers on the roster")
    p.add_argument("--rate", type=float, default=0.0,
                   help="punches per second per terminal (0: one after another, as fast as the replies come)")
    p.add_argument("--idle", type=int, default=1000, help="idle connections for the memory figure (0: skip)")
    p.add_argument("--pg-cluster", action="store_true",
                   help="PostgreSQL: start a private cluster with fsync on instead of SMZ_BENCH_DATABASE_URL")
    p.add_argument("--profile", default=None, help="run the gate server under cProfile, writing this file")
    p.add_argument("--server-procs", type=int, default=1,
                   help="gate server processes sharing the port (smz gate-server --workers N; PostgreSQL only)")
    p.add_argument("--kill9", action="store_true",
                   help="the fault run: SIGKILL the gate server mid-run, start it again; count lost and doubled punches")
    p.add_argument("--kill-at", type=float, default=0.4, help="--kill9: the share of punches acknowledged at the kill")
    p.add_argument("--only", choices=["sqlite", "postgres"], default=None,
                   help="one database only (each runs in its own process: the engine is chosen at import)")
    args = p.parse_args()
    raise_fd_limit()
    pg = os.environ.get("SMZ_BENCH_DATABASE_URL")
    if args.only is None:
        common = ["--terminals", str(args.terminals), "--punches", str(args.punches), "--workers", str(args.workers),
                  "--idle", str(args.idle), "--rate", str(args.rate), *(["--pg-cluster"] if args.pg_cluster else []),
                  *(["--kill9", "--kill-at", str(args.kill_at)] if args.kill9 else []),
                  "--server-procs", str(args.server_procs)]
        for only in ("sqlite", "postgres") if pg or args.pg_cluster else ("sqlite",):
            subprocess.run([sys.executable, __file__, "--only", only, *common], check=False)
        if not pg and not args.pg_cluster:
            print("\n(PostgreSQL skipped: set SMZ_BENCH_DATABASE_URL or pass --pg-cluster to run it too)")
        return
    if args.only == "sqlite":
        tmp = tempfile.mkdtemp(prefix="smz-bench-db-")
        run("SQLite", f"sqlite:///{tmp}/bench.db", args)
        return
    stop_cluster: Callable[[], None] | None = None
    if args.pg_cluster:
        pg, stop_cluster = start_pg_cluster()
    if not pg:
        raise SystemExit("SMZ_BENCH_DATABASE_URL is not set (or pass --pg-cluster)")
    try:
        url, name = create_pg_database(pg)
        try:
            run("PostgreSQL (private cluster)" if stop_cluster else "PostgreSQL", url, args)
        finally:
            drop_pg_database(pg, name)
    finally:
        if stop_cluster is not None:
            stop_cluster()


if __name__ == "__main__":
    main()
