"""Authenticated JSON reads against the real server (uvicorn, one process), beside a bare Litestar app in the same
run, so the ratio is honest on a noisy machine (issue 18: GET /api/me ≥ 0.5× bare on PostgreSQL, ≥ 0.25× on
SQLite; a 110-row roster ≥ 0.25× on PostgreSQL).  With the roster, the bare app also answers the same 110 rows
from memory (``bare, 110 rows in memory``): the floor of a response that size on this machine.

    uv run python benchmarks/http_reads.py [--seconds 8] [--connections 50] [--database-url postgresql://… |
                                           --pg-cluster] [--no-cache] [--only me,roster] [--repeat N]

Starts, each in its own process: a bare Litestar "hello" app, and the product's app over a fresh database
(SQLite in a temporary directory, or a new database on the given PostgreSQL server, whose settings it does not
touch: it prints fsync and synchronous_commit as the server has them) holding a project with 110 people on its
roster and a project-staff account with a bearer token.  Then, for each target, ``--connections`` keep-alive
clients (aiohttp, in this process) request as fast as they can for ``--seconds``: requests/s, p50, p99.
``--no-cache`` runs the app with SMZ_AUTH_CACHE_TTL_S=0 (the who-is-asking cache off: three queries per request).
``--pg-cluster``: a private PostgreSQL cluster with PostgreSQL's defaults (fsync on, synchronous_commit on),
started for the run and removed afterwards (``benchmarks/gate.py``'s).  ``--repeat N``: the bare/app rounds N
times over the same servers (the machine's noise shows as the spread between rounds).

Besides requests/s and latency, each line gives the CPU time per request of the server process (``app
CPU/req``, from /proc) and, on a PostgreSQL server on this machine, of its backends serving the app (``PG
CPU/req``: the app's connections, from pg_stat_activity and /proc) — a ratio moves with the machine's load,
CPU per request much less.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import pct, setup_env  # noqa: E402

ROSTER_PEOPLE = 110
PASSWORD = "bench-pass-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bare_app() -> object:
    """Litestar alone: ``/`` a hello; ``/rows`` ROSTER_PEOPLE roster rows kept in memory (the roster's Struct,
    encoded on every request) — the floor of a response the roster's size, without auth, database or rows."""
    from datetime import date

    from litestar import Litestar, get

    from backend.workforce.schemas import RosterRowOut

    rows = [RosterRowOut(id=i, person=i, name="压测工人", id_masked="4407**********123X", gender="M", unit=1, team=2,
                         team_name="压测班组", work_role="worker", work_role_label="工人", post=None, post_label="",
                         work_type="020", work_type_label="钢筋工", entered_on=date(2026, 12, 3), exited_on=None)
            for i in range(1, ROSTER_PEOPLE + 1)]

    @get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @get("/rows")
    async def roster_rows() -> list[RosterRowOut]:
        return rows

    return Litestar([hello, roster_rows], signature_namespace={"RosterRowOut": RosterRowOut})


async def seed() -> tuple[str, int]:
    """A district, a project with ROSTER_PEOPLE on its roster, a project-staff account: (token, project id)."""
    import random

    from backend.accounts import services as accounts
    from backend.db import migrate, start_pool
    from backend.demo import fake_id_number, fake_name, fake_uscc
    from backend.org import services as org
    from backend.vocabulary import Role
    from backend.workforce import services as workforce

    await migrate()
    await start_pool()
    rng = random.Random(18)
    district = await org.create_district("449918", "压测区")
    ent = await org.create_enterprise("压测总包有限公司", fake_uscc(rng))
    pid = await org.create_project(name="压测项目", district_id=district, category="building", permit_no="B18",
                                   address="压测路 1 号", floor_area_m2=10_000, contract_value_yuan=1_000_000,
                                   lon=113.09, lat=22.60)
    unit = await org.add_unit(pid, ent, "general_contractor")
    team = await org.create_team(pid, unit, "压测班组")
    for _ in range(ROSTER_PEOPLE):
        person = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng))
        await workforce.enter_roster(project_id=pid, person_id=person, unit_id=unit, team_id=team,
                                     work_role="worker", work_type="020")
    uid = await accounts.create_user("bench_staff", PASSWORD, Role.project_staff, project_ids=[pid])
    from backend.accounts.tables import User

    await User.update({User.must_change_password: False}).where(User.id == uid)
    return await accounts.issue_token(uid, "bearer"), pid


async def wait_up(url: str, timeout_s: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            try:
                async with s.get(url) as r:
                    await r.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


async def load(url: str, headers: dict[str, str], seconds: float,
               connections: int) -> tuple[float, list[float], int]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=conn, headers=headers) as s:
        async def client() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                async with s.get(url) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.perf_counter() - t0
    return len(latencies) / elapsed, latencies, errors


def line(name: str, rate: float, lat: list[float], errors: int, bare: float | None, cpu: str = "") -> str:
    ms = [v * 1000 for v in lat]
    ratio = f"  {rate / bare:.2f}× bare" if bare else ""
    err = f"  ({errors} errors)" if errors else ""
    return f"{name:<26} {rate:7.0f} req/s  p50 {pct(ms, 50):6.1f} ms  p99 {pct(ms, 99):6.1f} ms{ratio}{cpu}{err}"


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc); 0 when it is gone or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


class CpuMeter:
    """CPU seconds spent by the app's server process and by the PostgreSQL backends serving its database
    (those visible in this machine's /proc) between ``start`` and ``stop``."""

    def __init__(self, app_pid: int, db_url: str | None) -> None:
        self.app_pid, self.db_url = app_pid, db_url
        self._app0 = 0.0
        self._pg0: dict[int, float] = {}

    async def _backends(self) -> dict[int, float]:
        if not self.db_url:
            return {}
        import asyncpg

        conn = await asyncpg.connect(self.db_url)
        try:
            pids = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid()")
        finally:
            await conn.close()
        return {r["pid"]: cpu_seconds(r["pid"]) for r in pids}

    async def start(self) -> None:
        self._app0, self._pg0 = cpu_seconds(self.app_pid), await self._backends()

    async def stop(self, requests: int) -> str:
        app = cpu_seconds(self.app_pid) - self._app0
        text = f"  app CPU/req {app / max(requests, 1) * 1000:.2f} ms"
        if self.db_url:
            now = await self._backends()
            pg = sum(v - self._pg0.get(pid, 0.0) for pid, v in now.items())
            text += f", PG {pg / max(requests, 1) * 1000:.2f} ms"
        return text


async def pg_settings(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        fsync = await conn.fetchval("SHOW fsync")
        sync = await conn.fetchval("SHOW synchronous_commit")
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return f"PostgreSQL {version}, fsync={fsync}, synchronous_commit={sync}"


def serve(args: argparse.Namespace, db_url: str, token: str, pid: int) -> None:
    """Start the bare app and the product's app, load them in turn, print a line for each, stop them."""
    engine = asyncio.run(pg_settings(db_url)) if db_url.startswith("postgres") else "SQLite (WAL)"
    bare_port, app_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen([sys.executable, __file__, "--bare-server", str(bare_port)], env=env, cwd=ROOT),
        subprocess.Popen([sys.executable, "-m", "uvicorn", "backend.app:create_app", "--factory", "--host",
                          "127.0.0.1", "--port", str(app_port), "--log-level", "warning"], env=env, cwd=ROOT),
    ]
    targets = [t.strip() for t in args.only.split(",") if t.strip()]
    try:
        async def run() -> None:
            await wait_up(f"http://127.0.0.1:{bare_port}/")
            await wait_up(f"http://127.0.0.1:{app_port}/health")
            auth = {"Authorization": f"Bearer {token}"}
            print(f"# {engine}; {args.connections} connections × {args.seconds:.0f} s each; "
                  f"who-is-asking cache {'OFF' if args.no_cache else 'on'}")
            urls = {"me": ("GET /api/me", f"http://127.0.0.1:{app_port}/api/me"),
                    "roster": (f"GET roster ({ROSTER_PEOPLE} rows)",
                               f"http://127.0.0.1:{app_port}/api/projects/{pid}/roster/")}
            bare_meter = CpuMeter(procs[0].pid, None)
            app_meter = CpuMeter(procs[1].pid, db_url if db_url.startswith("postgres") else None)
            for _ in range(max(args.repeat, 1)):
                await bare_meter.start()
                rate, lat, err = await load(f"http://127.0.0.1:{bare_port}/", {}, args.seconds, args.connections)
                print(line("bare Litestar GET /", rate, lat, err, None, await bare_meter.stop(len(lat))))
                bare = rate
                if "roster" in targets:
                    await bare_meter.start()
                    rate, lat, err = await load(f"http://127.0.0.1:{bare_port}/rows", {}, args.seconds,
                                                args.connections)
                    print(line(f"bare, {ROSTER_PEOPLE} rows in memory", rate, lat, err, bare,
                               await bare_meter.stop(len(lat))))
                for target in targets:
                    name, url = urls[target]
                    await app_meter.start()
                    rate, lat, err = await load(url, auth, args.seconds, args.connections)
                    print(line(name, rate, lat, err, bare, await app_meter.stop(len(lat))))

        asyncio.run(run())
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--database-url", default=None, help="a PostgreSQL server URL (a new database is made on it)")
    ap.add_argument("--pg-cluster", action="store_true",
                    help="PostgreSQL: a private cluster with fsync on (PostgreSQL's defaults), removed afterwards")
    ap.add_argument("--no-cache", action="store_true", help="the who-is-asking cache off (SMZ_AUTH_CACHE_TTL_S=0)")
    ap.add_argument("--only", default="me,roster", help="which app targets, comma-separated: me, roster")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of bare + targets over the same servers")
    ap.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare_server:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare_server, log_level="warning")  # type: ignore[arg-type]
        return

    stop_cluster: Callable[[], None] = lambda: None  # noqa: E731
    server = args.database_url
    if args.pg_cluster:
        from benchmarks.gate import start_pg_cluster

        server, stop_cluster = start_pg_cluster()
    try:
        db_url, drop = setup_env(server)
    except BaseException:
        stop_cluster()
        raise
    try:
        if args.no_cache:
            os.environ["SMZ_AUTH_CACHE_TTL_S"] = "0"
        token, pid = asyncio.run(seed())
        serve(args, db_url, token, pid)
    finally:
        drop()
        stop_cluster()
    print("command: uv run python benchmarks/http_reads.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
