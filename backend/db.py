"""Database engine and transactions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlparse

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from backend.settings import get_settings


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
    return SQLiteEngine(path=path, timeout=30)


def engine() -> Engine:
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


async def start_pool() -> None:
    """Open the PostgreSQL connection pool, unless one is open already (a CLI command or a benchmark that
    set up data before the app's own start); nothing on SQLite."""
    eng = engine()
    if isinstance(eng, PostgresEngine) and eng.pool is None:
        await eng.start_connection_pool(min_size=2, max_size=10)


async def close_pool() -> None:
    eng = engine()
    if isinstance(eng, PostgresEngine) and eng.pool is not None:
        await eng.close_connection_pool()


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
