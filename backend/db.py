"""Database engine and transactions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory
from piccolo.querystring import QueryString

from backend.settings import get_settings

# Kept open (each with its thread); when more queries run at once, the extra connections close after use.  64, not
# 4: fifty web requests at once had opened (and closed) a connection and a thread per query — 3.3 → 1.2 ms of CPU
# per roster request (issue 18, benchmarks/http_reads.py on SQLite).
SQLITE_IDLE_CONNECTIONS = 64


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLiteEngine opens a connection — and its thread — for every query outside a transaction and
    closes it afterwards (~1 ms and ~0.4 ms of CPU each, measured here).  This one lends a kept connection to each
    such query instead: up to ``idle`` stay open, each used by one query at a time (a query never shares a
    connection with another, so one query's commit or rollback never touches another's work).  The connections
    hold no open transaction between queries (WAL checkpoints are not blocked).  Transactions keep Piccolo's own
    connection per transaction.

    The kept connections belong to one event loop and one database file: when a query runs on another loop or
    the engine was pointed at another file (tests), the kept ones are closed and new ones kept.  ``close_idle()``
    (the app's shutdown, ``db.close_pool``) closes them; their threads are daemon threads, so one left open never
    keeps the interpreter from exiting."""

    def __init__(self, path: str, *, idle: int = SQLITE_IDLE_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        self.idle = idle
        self._lock = threading.Lock()  # the server's loop and a test's loop may run in two threads
        self._owner: tuple[int, str] | None = None  # (id of the event loop, database file) of the kept ones
        self._kept: list[aiosqlite.Connection] = []

    async def _open(self) -> aiosqlite.Connection:
        conn = aiosqlite.connect(**self.connection_kwargs)
        thread = getattr(conn, "_thread", None)
        if thread is not None:
            thread.daemon = True
        opened = await conn
        opened.row_factory = dict_factory  # type: ignore[assignment]
        await opened.execute("PRAGMA foreign_keys = 1")
        return opened

    def _owner_now(self) -> tuple[int, str]:
        return id(asyncio.get_running_loop()), str(self.path)

    def _take(self) -> aiosqlite.Connection | None:
        owner = self._owner_now()
        with self._lock:
            if owner != self._owner:
                stale, self._kept, self._owner = self._kept, [], owner
            else:
                return self._kept.pop() if self._kept else None
        for conn in stale:
            conn.stop()  # another loop's or another file's: closed by its own thread
        return None

    def _give_back(self, conn: aiosqlite.Connection) -> None:
        owner = self._owner_now()
        with self._lock:
            if owner == self._owner and len(self._kept) < self.idle:
                self._kept.append(conn)
                return
        asyncio.get_running_loop().create_task(conn.close())

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table: Any = None) -> Any:
        conn = self._take() or await self._open()
        try:
            if query_type == "insert" and self.get_version_sync() < 3.35:  # no RETURNING before 3.35
                async with conn.execute(query, args or []) as cursor:
                    await conn.commit()
                    assert table is not None
                    pk = await self._get_inserted_pk(cursor, table)
                    result = [{table._meta.primary_key._meta.db_column_name: pk}]
            else:
                # execute, fetch and commit in ONE trip to the connection's thread (issue 18: three trips — a
                # thread wake-up and a future each — were most of a small query's CPU on the embedded default)
                result = await conn._execute(_execute_fetch_commit, conn._conn, query, args or [])
        except BaseException:
            try:
                await conn.rollback()
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.close()
                raise
            self._give_back(conn)
            raise
        self._give_back(conn)
        return result

    async def close_idle(self) -> None:
        """Close the kept connections (call on the loop that used them)."""
        with self._lock:
            kept, self._kept, self._owner = self._kept, [], None
        for conn in kept:
            with contextlib.suppress(Exception):
                await conn.close()


def _execute_fetch_commit(raw: sqlite3.Connection, query: str, args: list[Any]) -> list[Any]:
    """In the connection's own thread: the statement's rows, then its commit (the rows of an INSERT … RETURNING
    are all fetched before the commit)."""
    cursor = raw.execute(query, args)
    try:
        rows = cursor.fetchall()
    finally:
        cursor.close()
    raw.commit()
    return rows


def make_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    url = url or settings.database_url
    if url.startswith(("postgres://", "postgresql://")):
        parsed = urlparse(url)
        return PostgresEngine(
            config={
                "host": parsed.hostname or "127.0.0.1",
                "port": parsed.port or 5432,
                "user": parsed.username or "postgres",
                "password": parsed.password or "",
                "database": (parsed.path or "/smz").lstrip("/"),
            }
        )
    if not url.startswith("sqlite:///"):
        raise SystemExit(f"SMZ_DATABASE_URL must start with sqlite:/// or postgresql:// (got {url!r})")
    path = url.removeprefix("sqlite:///")
    # WAL + busy timeout: several writers (gate server, web requests) without "database is locked".
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    # Foreign keys: Piccolo's SQLiteEngine runs "PRAGMA foreign_keys = 1" on every connection it opens
    # (get_connection and the one-off connections); tests/integration/security/test_crew_scope.py checks it.
    return PooledSQLiteEngine(path=path, timeout=30)


def engine() -> Engine:
    """The engine of the Piccolo configuration module (``PICCOLO_CONF``): read from the imported module directly
    — Piccolo's finder imports it again on every call, ≈ 15 µs a query on the gate's hot path (issue 18)."""
    conf = sys.modules.get(os.environ.get("PICCOLO_CONF", "piccolo_conf"))
    found = getattr(conf, "DB", None)
    if not isinstance(found, Engine):
        from piccolo.engine.finder import engine_finder

        found = engine_finder()
    assert found is not None, "piccolo_conf.py not found"
    return found


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A write transaction that takes SQLite's lock at the start (IMMEDIATE), plain on PostgreSQL."""
    eng = engine()
    if isinstance(eng, SQLiteEngine):
        async with eng.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with eng.transaction():
            yield


@functools.cache
def dollar_placeholders(sql: str) -> str:
    """``sql`` with Piccolo's ``{}`` placeholders numbered for asyncpg (``$1``, ``$2`` …)."""
    parts = sql.split("{}")
    return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))


def in_list(column: str, values: Sequence[Any], pg_type: str = "int") -> tuple[str, list[Any]]:
    """``column IN values`` for ``fetch`` and its arguments: on PostgreSQL one array parameter (``= ANY({}::int[])``:
    one statement text whatever the count, prepared once), on SQLite a placeholder per value."""
    if isinstance(engine(), PostgresEngine):
        return f"{column} = ANY({{}}::{pg_type}[])", [list(values)]
    return f"{column} IN ({', '.join('{}' for _ in values)})", list(values)


async def holds(condition: str, *args: Any) -> bool:
    """Whether an SQL boolean expression (``{}`` placeholders) is true, asked with ``fetch``."""
    return bool((await fetch(f"SELECT {condition} AS ok", *args))[0]["ok"])


async def fetch(sql: str, *args: Any) -> list[Any]:
    """Rows of a FIXED statement (``{}`` placeholders, the same text on both engines), each readable by column
    name (``row["id"]``) and by ``row.values()`` in column order.  On PostgreSQL outside a transaction it runs on
    a pooled connection directly: asyncpg prepares the text once per connection and hands back its Records, none
    of Piccolo's per-query work (building the query string, converting each argument, a dict per row) — a
    tenth of a millisecond of CPU per query on the hot paths (issue 18: the gate's batches, the roster read).
    In a transaction, without a pool, or on SQLite: through Piccolo's ``raw`` (dicts)."""
    eng = engine()
    if isinstance(eng, PostgresEngine) and eng.pool is not None and eng.current_transaction.get() is None:
        async with eng.pool.acquire() as conn:
            return await conn.fetch(dollar_placeholders(sql), *args)  # type: ignore[no-any-return]
    return await eng.run_querystring(QueryString(sql, *args))  # type: ignore[no-any-return]


async def start_pool(*, warm: bool = False) -> None:
    """Open the PostgreSQL connection pool, unless one is open already (a CLI command or a benchmark that
    set up data before the app's own start); nothing on SQLite.  ``warm``: a server process — open
    ``db_pool_warm`` connections now rather than when the first load arrives."""
    eng = engine()
    if isinstance(eng, PostgresEngine) and eng.pool is None:
        s = get_settings()
        largest = max(2, s.db_pool_max)
        await eng.start_connection_pool(min_size=min(largest, max(2, s.db_pool_warm)) if warm else 2,
                                        max_size=largest, reset=_keep_session)


async def _keep_session(_conn: Any) -> None:
    """The pool's reset when a connection goes back: nothing beyond asyncpg's own (which still rolls back an open
    transaction and drops listeners).  Its default also sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`` — one more round trip for EVERY query Piccolo runs (it takes a connection per query):
    a fifth of PostgreSQL's CPU per web request and per gate batch (issue 18, benchmarks/http_reads.py).  Nothing
    here leaves session state on a pooled connection: advisory locks are transaction-scoped
    (``pg_advisory_xact_lock``) or held on connections of their own (the uploader's leader), LISTEN runs on
    connections of its own (``listen``), there are no cursors, SETs or temporary tables."""


async def close_pool() -> None:
    eng = engine()
    if isinstance(eng, PostgresEngine) and eng.pool is not None:
        await eng.close_connection_pool()
    elif isinstance(eng, PooledSQLiteEngine):
        await eng.close_idle()


def discover_apps() -> list[str]:
    """Domain packages with their own Piccolo app (``backend/<domain>/piccolo_app.py``)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent
    return sorted(f"backend.{p.parent.name}.piccolo_app" for p in root.glob("*/piccolo_app.py"))


class MigrationFailed(Exception):
    """The schema could not be brought up to date (the message says why, in Chinese and English)."""


async def migrate() -> None:
    """Create or upgrade the schema of every Piccolo app (``smz migrate``, the jobs, the server start)."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="all")
    if not result.success:
        raise MigrationFailed(f"数据库迁移失败 / migration failed: {result.message}")


LISTEN_RECONNECT_MAX_S = 30.0
_listen_log = logging.getLogger("smz.db.listen")


async def listen_forever(channel: str, on_payload: Callable[[str], None], *, on_up: Callable[[], None],
                         on_down: Callable[[], None], what: str) -> None:
    """PostgreSQL ``LISTEN channel`` on a connection of its own, for as long as the task runs: ``on_payload`` for
    each notification, ``on_up`` once listening, ``on_down`` whenever the connection is lost (then it reconnects,
    waiting 1 s, 2 s, … up to 30 s).  Survives a database restart; ``what`` names the listener in the log."""
    import asyncpg

    config = dict(engine().config)  # type: ignore[attr-defined]
    delay = 1.0
    while True:
        conn: Any = None
        try:
            conn = await asyncpg.connect(**config)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(channel, lambda _conn, _pid, _channel, payload: on_payload(payload))
            on_up()
            delay = 1.0
            await lost.wait()
            _listen_log.warning("%s: LISTEN connection lost; reconnecting", what)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _listen_log.warning("%s: LISTEN failed (%s); retrying in %.0f s", what, exc, delay)
        finally:
            on_down()
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close()
        await asyncio.sleep(delay)
        delay = min(delay * 2, LISTEN_RECONNECT_MAX_S)
