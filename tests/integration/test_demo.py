"""`smz demo --no-serve` against a fresh database (its district code 440703 is unique per database, so it
cannot run against the shared test database): a fresh SQLite data dir, or a fresh PostgreSQL database when
SMZ_TEST_DATABASE_URL names a server."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 40
ACCOUNTS = ["admin", "jianguan", "zongbao", "xiangmu", "banzu", "gongren", "changshang"]
ROLES = {
    "admin": "admin",
    "jianguan": "supervisor",
    "zongbao": "enterprise",
    "xiangmu": "project_staff",
    "banzu": "foreman",
    "gongren": "worker",
    "changshang": "vendor",
}


def expected_roster_entries(people: int) -> int:
    """demo.load_demo: per project 6 key managers + 1 chief supervising engineer + its share of workers,
    and the road project's foreman (班组长 of the demo worker's team)."""
    shares = {"building": 0.55, "road": 0.30, "suspended": 0.15}
    return sum(7 + max(0, int(people * s) - 7) for s in shares.values()) + 1


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(errors="replace")


class Db:
    """Read-only look at the demo database, on either engine."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        if self.url.startswith("sqlite:///"):
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(r) for r in conn.execute(sql).fetchall()]
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            return [dict(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    async def count(self, table: str) -> int:
        return (await self.rows(f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"]


@pytest.fixture
async def demo_env(tmp_path) -> AsyncIterator[tuple[dict[str, str], Db]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMZ_", "PYTEST"))}
    env.update(
        {
            "SMZ_DATA_DIR": str(tmp_path),
            "PICCOLO_CONF": "piccolo_conf",
            "SMZ_GATE_PORT": "0",
            "SMZ_LOG_LEVEL": "WARNING",
            "COLUMNS": "200",
            "PYTHONPATH": str(ROOT),
        }
    )
    server = os.environ.get("SMZ_TEST_DATABASE_URL")
    if not server:
        url = f"sqlite:///{tmp_path / 'smz.db'}"
        yield env, Db(url)
        return
    import asyncpg

    name = f"smz_demo_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = server.rsplit("/", 1)[0] + "/" + name
    env["SMZ_DATABASE_URL"] = url
    try:
        yield env, Db(url)
    finally:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def test_demo_cli_loads_a_fresh_database_and_prints_the_accounts(demo_env):
    env, db = demo_env
    code, out = await run_cli(env, "demo", "--no-serve", "--people", str(PEOPLE))
    assert code == 0, out
    for username in ACCOUNTS:
        assert re.search(rf"\b{username}\b", out), (username, out)
    assert "demo2026" in out
    assert "数据库已有数据" not in out

    assert await db.count("district") == 1
    assert (await db.rows("SELECT code FROM district"))[0]["code"] == "440703"
    assert await db.count("project") == 3
    assert await db.count("enterprise") == 6
    assert await db.count("terminal") == 2
    assert await db.count("roster_entry") == expected_roster_entries(PEOPLE)
    users = {r["username"]: r for r in await db.rows("SELECT username, role, password_hash FROM app_user")}
    assert {u: users[u]["role"] for u in ACCOUNTS} == ROLES
    assert all(users[u]["password_hash"].startswith("$argon2id$") for u in ACCOUNTS)
    statuses = sorted(r["status"] for r in await db.rows("SELECT status FROM project"))
    assert statuses == ["suspended", "under_construction", "under_construction"]
    # every roster person is valid and stored encrypted: no column holds an ID number in clear
    from backend.validators import id_check_char

    people = await db.rows("SELECT * FROM person")
    assert len(people) == expected_roster_entries(PEOPLE)
    # a stand-alone 18-character ID: a run of digits inside a hex digest is not one (a 64-digit id_hash
    # holds 18 decimal digits in a row about once in a hundred, one such run in eleven has a valid check
    # character, and the demo has dozens of people: with a random key a few runs in a hundred failed)
    id_like = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")
    for p in people:
        assert re.fullmatch(r"4407\*{10}\d{3}[\dX]", p["id_masked"]), p["id_masked"]
        for column, value in p.items():
            for m in id_like.findall(str(value)):
                assert id_check_char(m[:17]) != m[17], (column, value)
    # the worker account is tied to a person on the road project's roster
    worker = await db.rows(
        "SELECT r.project FROM app_user u JOIN roster_entry r ON r.person = u.person WHERE u.username = 'gongren'"
    )
    road = await db.rows("SELECT id FROM project WHERE category = 'municipal'")
    assert [w["project"] for w in worker] == [road[0]["id"]]
    # the foreman account leads the worker's team: a foreman sees the teams they lead
    led = await db.rows(
        "SELECT t.id FROM app_user u JOIN team t ON t.leader = u.person WHERE u.username = 'banzu'"
    )
    mates = await db.rows(
        "SELECT r.team FROM app_user u JOIN roster_entry r ON r.person = u.person WHERE u.username = 'gongren'"
    )
    assert [t["id"] for t in led] == [m["team"] for m in mates]

    # a second run keeps the data and still prints the accounts
    code, out = await run_cli(env, "demo", "--no-serve", "--people", str(PEOPLE))
    assert code == 0, out
    assert "数据库已有数据" in out
    for username in ACCOUNTS:
        assert re.search(rf"\b{username}\b", out), (username, out)
    assert await db.count("project") == 3
