"""Authenticated JSON reads against the real server (uvicorn, one process), beside a bare Litestar app in the same
run, so the ratio is honest on a noisy machine (issue 18: GET /api/me ≥ 0.5× bare on PostgreSQL, ≥ 0.25× on
SQLite; a 110-row roster ≥ 0.25× on PostgreSQL).

    uv run python benchmarks/http_reads.py [--seconds 8] [--connections 50] [--database-url postgresql://…]
                                           [--no-cache]

Starts, each in its own process: a bare Litestar "hello" app, and the product's app over a fresh database
(SQLite in a temporary directory, or a new database on the given PostgreSQL server, whose settings it does not
touch: it prints fsync and synchronous_commit as the server has them) holding a project with 110 people on its
roster and a project-staff account with a bearer token.  Then, for each target, ``--connections`` keep-alive
clients (aiohttp, in this process) request as fast as they can for ``--seconds``: requests/s, p50, p99.
``--no-cache`` runs the app with SMZ_AUTH_CACHE_TTL_S=0 (the who-is-asking cache off: three queries per request).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
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
    from litestar import Litestar, get

    @get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return Litestar([hello])


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


async def load(url: str, headers: dict[str, str], seconds: float, connections: int) -> tuple[float, list[float], int]:
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


def line(name: str, rate: float, lat: list[float], errors: int, bare: float | None) -> str:
    ms = [v * 1000 for v in lat]
    ratio = f"  {rate / bare:.2f}× bare" if bare else ""
    err = f"  ({errors} errors)" if errors else ""
    return f"{name:<34} {rate:8.0f} req/s  p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms{ratio}{err}"


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--database-url", default=None, help="a PostgreSQL server URL (a new database is made on it)")
    ap.add_argument("--no-cache", action="store_true", help="the who-is-asking cache off (SMZ_AUTH_CACHE_TTL_S=0)")
    ap.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare_server:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare_server, log_level="warning")  # type: ignore[arg-type]
        return

    db_url, drop = setup_env(args.database_url)
    if args.no_cache:
        os.environ["SMZ_AUTH_CACHE_TTL_S"] = "0"
    token, pid = asyncio.run(seed())
    engine = asyncio.run(pg_settings(db_url)) if db_url.startswith("postgres") else "SQLite (WAL)"
    bare_port, app_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen([sys.executable, __file__, "--bare-server", str(bare_port)], env=env, cwd=ROOT),
        subprocess.Popen([sys.executable, "-m", "uvicorn", "backend.app:create_app", "--factory", "--host",
                          "127.0.0.1", "--port", str(app_port), "--log-level", "warning"], env=env, cwd=ROOT),
    ]
    try:
        async def run() -> None:
            await wait_up(f"http://127.0.0.1:{bare_port}/")
            await wait_up(f"http://127.0.0.1:{app_port}/health")
            auth = {"Authorization": f"Bearer {token}"}
            print(f"# {engine}; {args.connections} connections × {args.seconds:.0f} s each; "
                  f"who-is-asking cache {'OFF' if args.no_cache else 'on'}")
            rate, lat, err = await load(f"http://127.0.0.1:{bare_port}/", {}, args.seconds, args.connections)
            print(line("bare Litestar GET /", rate, lat, err, None))
            bare = rate
            rate, lat, err = await load(f"http://127.0.0.1:{app_port}/api/me", auth, args.seconds, args.connections)
            print(line("GET /api/me", rate, lat, err, bare))
            url = f"http://127.0.0.1:{app_port}/api/projects/{pid}/roster/"
            rate, lat, err = await load(url, auth, args.seconds, args.connections)
            print(line(f"GET roster ({ROSTER_PEOPLE} rows)", rate, lat, err, bare))

        asyncio.run(run())
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        drop()
    print("command: uv run python benchmarks/http_reads.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
