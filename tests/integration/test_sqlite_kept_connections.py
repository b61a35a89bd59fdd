"""The embedded default's kept connections (backend.db.PooledSQLiteEngine): a query outside a transaction runs on a
kept connection in one trip to its thread — statement, rows, commit (issue 18) — and a failing one leaves nothing
behind: its work rolled back, the connection still good for the next query."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from backend.db import PooledSQLiteEngine, engine, fetch
from backend.org.tables import District

pytestmark = pytest.mark.integration


@pytest.fixture
def sqlite_engine(world) -> PooledSQLiteEngine:
    eng = engine()
    if not isinstance(eng, PooledSQLiteEngine):
        pytest.skip("the kept connections are the SQLite engine's (PostgreSQL has its pool)")
    return eng


async def test_an_insert_returning_gives_its_rows_and_is_committed_for_every_other_connection(sqlite_engine):
    rows = await fetch("INSERT INTO district (name, code) VALUES ({}, {}) RETURNING id, name", "连接区", "990001")
    assert [r["name"] for r in rows] == ["连接区"]
    with sqlite3.connect(sqlite_engine.path) as other:  # another connection: committed, not just written
        assert other.execute("SELECT name FROM district WHERE id = ?", (rows[0]["id"],)).fetchone() == ("连接区",)


async def test_a_failing_statement_leaves_nothing_and_the_connection_serves_the_next_query(sqlite_engine):
    [first] = await fetch("INSERT INTO district (name, code) VALUES ({}, {}) RETURNING id", "唯一区", "990002")
    kept = len(sqlite_engine._kept)
    with pytest.raises(sqlite3.IntegrityError):  # a second row with the same primary key
        await fetch("INSERT INTO district (id, name, code) VALUES ({}, {}, {})", first["id"], "重复区", "990003")
    assert len(sqlite_engine._kept) == kept  # given back, not lost
    assert [r["name"] for r in await fetch("SELECT name FROM district WHERE id = {}", first["id"])] == ["唯一区"]
    assert await District.count().where(District.name == "重复区") == 0


async def test_many_queries_at_once_each_get_a_connection_of_their_own_and_the_kept_ones_stay_bounded(sqlite_engine):
    results = await asyncio.gather(*(fetch("SELECT {} AS n", i) for i in range(3 * sqlite_engine.idle)))
    assert [r[0]["n"] for r in results] == list(range(3 * sqlite_engine.idle))
    await asyncio.sleep(0.05)  # the extra connections close after use
    assert len(sqlite_engine._kept) <= sqlite_engine.idle
