"""Test configuration.

The database is picked before anything imports the app: SQLite in a temp dir by default, or a fresh
database on the PostgreSQL server named by ``SMZ_TEST_DATABASE_URL`` (CI runs the suite once each way).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

_TMP = tempfile.mkdtemp(prefix="smz-test-")
os.environ["SMZ_DATA_DIR"] = _TMP
os.environ.setdefault("SMZ_SECRET_KEY", base64.b64encode(b"test-key-0123456789abcdef-test!!").decode())
os.environ["PICCOLO_CONF"] = "piccolo_conf"
os.environ["SMZ_GATE_PORT"] = "0"
os.environ["SMZ_STRICT_RESPONSES"] = "1"  # response Structs refuse unknown keys: a service's new key fails a test

_PG = os.environ.get("SMZ_TEST_DATABASE_URL")
if _PG:
    import asyncpg

    _DBNAME = f"smz_test_{uuid.uuid4().hex[:10]}"

    async def _create() -> None:
        conn = await asyncpg.connect(_PG)
        try:
            await conn.execute(f'CREATE DATABASE "{_DBNAME}"')
        finally:
            await conn.close()

    asyncio.run(_create())
    os.environ["SMZ_DATABASE_URL"] = _PG.rsplit("/", 1)[0] + "/" + _DBNAME
else:
    os.environ["SMZ_DATABASE_URL"] = f"sqlite:///{_TMP}/test.db"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _PG:
        return

    async def _drop() -> None:
        conn = await asyncpg.connect(_PG)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{_DBNAME}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(_drop())
    except Exception as exc:  # never hide the test result behind a clean-up problem
        print(f"could not drop test database {_DBNAME}: {exc}")


_TESTS_DIR = Path(__file__).parent
_SLOW_TIERS = ("integration", "browser")  # directories under tests/ whose every test is an integration test


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration and tests/browser is marked ``integration``, so the fast tier
    (``pytest -m "not integration"``) never starts a server, a database or a browser."""
    for item in items:
        try:
            tier = item.path.relative_to(_TESTS_DIR).parts[0]
        except ValueError:
            continue
        if tier in _SLOW_TIERS:
            item.add_marker(pytest.mark.integration)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With exactly ``-m "not integration"`` (the fast tier) those directories are not even imported: every
    test in them would be deselected, and importing them costs seconds.  Any other ``-m`` collects them and
    lets the marker above decide."""
    if (collection_path.parent == _TESTS_DIR and collection_path.name in _SLOW_TIERS
            and re.fullmatch(r"\s*not\s+integration\s*", config.getoption("markexpr") or "")):
        return True
    return None


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {os.environ['SMZ_DATABASE_URL']}"


@pytest.fixture(scope="session")
async def migrated_db() -> AsyncIterator[str]:
    """The schema, migrated once per session, with the PostgreSQL pool running."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend import db

    result = await run_forwards(app_name="all")
    assert result.success, result.message
    await db.start_pool()
    try:
        yield os.environ["SMZ_DATABASE_URL"]
    finally:
        await db.close_pool()
