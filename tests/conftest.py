"""Test configuration.

The database is picked before anything imports the app: SQLite in a temp dir by default, or the PostgreSQL
server named by ``SMZ_TEST_DATABASE_URL`` (CI runs the suite once each way).

Isolation (issue 12): the schema is migrated once per session into a *template* database; every test module
that asks for ``migrated_db`` (directly or through ``world``, ``client`` …) gets a database of its own, cloned
from the template (PostgreSQL: ``CREATE DATABASE … TEMPLATE``; SQLite: a copy of the migrated file), and
dropped after the module.  Modules that use ``world`` clone a second template that already holds the world
(built once per session), so no module sees another module's rows.  The one Piccolo engine (piccolo_conf.DB,
shared by every Table) is re-pointed at the module's database, ``SMZ_DATABASE_URL`` follows it (subprocesses
such as ``smz rollup`` inherit it), and the per-process caches keyed by database ids are emptied.
The fast tier (``-m "not integration"``) never touches a database.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_TMP = tempfile.mkdtemp(prefix="smz-test-")
os.environ["SMZ_DATA_DIR"] = _TMP
os.environ.setdefault("SMZ_SECRET_KEY", base64.b64encode(b"test-key-0123456789abcdef-test!!").decode())
os.environ["PICCOLO_CONF"] = "piccolo_conf"
os.environ["SMZ_GATE_PORT"] = "0"
# Many app instances share one test database: each test's login limiter counts alone (the sharing between
# processes has its own test, tests/integration/security/test_login_limits_shared.py).
os.environ["SMZ_LOGIN_LIMITS_SHARED"] = "0"
os.environ["SMZ_STRICT_RESPONSES"] = "1"  # response Structs refuse unknown keys: a service's new key fails a test

_PG = os.environ.get("SMZ_TEST_DATABASE_URL")
_RUN = uuid.uuid4().hex[:8]  # this session's databases: smz_tpl_<run>, smz_tplw_<run>, smz_t_<run>_<n>
_SEQ = itertools.count(1)


def _url(name: str) -> str:
    """The URL of database ``name``: on the PostgreSQL server, or a SQLite file in the session's temp dir."""
    if _PG:
        return _PG.rsplit("/", 1)[0] + "/" + name
    return f"sqlite:///{_TMP}/{name}.db"


_TEMPLATE = f"smz_tpl_{_RUN}"
_WORLD_TEMPLATE = f"smz_tplw_{_RUN}"
# The engine is made (piccolo_conf) against the template; ``migrated_db`` re-points it for each module.
os.environ["SMZ_DATABASE_URL"] = _url(_TEMPLATE)
_CREATED: list[str] = []  # PostgreSQL databases made by this session (dropped at its end if still there)


# ----------------------------------------------------------------------------------------------- databases
async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_PG)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _create_db(name: str, template: str | None = None) -> str:
    """An empty database (``template`` None) or a clone of ``template``; returns its URL."""
    if _PG:
        _CREATED.append(name)
        await _pg(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    elif template:
        _checkpoint(template)
        shutil.copyfile(f"{_TMP}/{template}.db", f"{_TMP}/{name}.db")
    return _url(name)


async def _drop_db(name: str) -> None:
    if _PG:
        await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in _CREATED:
            _CREATED.remove(name)
        return
    _remove_sqlite_files(name)


def _remove_sqlite_files(name: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{_TMP}/{name}.db{suffix}").unlink(missing_ok=True)


def _checkpoint(name: str) -> None:
    """Fold a SQLite file's write-ahead log into the file, so that copying the file copies everything."""
    with sqlite3.connect(f"{_TMP}/{name}.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _point_engine_at(url: str) -> None:
    """Re-point the one Piccolo engine (every Table holds this same object) and the settings at ``url``.
    On PostgreSQL the pool must be closed: it is opened again by the caller, against the new database."""
    from piccolo.engine.postgres import PostgresEngine

    from backend import db
    from backend.settings import get_settings

    eng = db.engine()
    if isinstance(eng, PostgresEngine):
        assert eng.pool is None, "close the pool before switching databases"
        eng.config["database"] = url.rsplit("/", 1)[1]
    else:
        eng.path = url.removeprefix("sqlite:///")  # type: ignore[attr-defined]
    os.environ["SMZ_DATABASE_URL"] = url
    get_settings.cache_clear()
    _forget_process_caches()


def _forget_process_caches() -> None:
    """Per-process caches keyed by ids or versions of one database: a new database reuses the same ids."""
    import backend.accounts.services as accounts
    from backend.crew import enrolment
    from backend.fences.services import clear_caches

    clear_caches()  # built fences per (fence id, version)
    enrolment._MATRIX.version = None  # the 1:N face matrix, per face-index version
    if getattr(accounts, "_limiter", None) is not None:  # a process-wide login limiter, where there is one:
        accounts._limiter = None  # failed logins per username (the world's usernames repeat in every module)


@dataclass
class _Templates:
    schema: bool = False  # smz_tpl_<run> is migrated
    world: Any = None  # the pristine World, once smz_tplw_<run> holds it


_templates = _Templates()


async def _schema_template() -> None:
    """Migrate the template database (once per session)."""
    if _templates.schema:
        return
    from piccolo.apps.migrations.commands.forwards import run_forwards

    await _create_db(_TEMPLATE)
    _point_engine_at(_url(_TEMPLATE))
    result = await run_forwards(app_name="all")
    assert result.success, result.message
    _templates.schema = True


async def _world_template() -> Any:
    """Clone the migrated template and build the integration world in it (once per session)."""
    if _templates.world is None:
        from backend import db
        from tests.integration.conftest import build_world

        await _schema_template()
        url = await _create_db(_WORLD_TEMPLATE, _TEMPLATE)
        _point_engine_at(url)
        await db.start_pool()
        try:
            _templates.world = await build_world()
        finally:
            await db.close_pool()
    return _templates.world


def _module_wants_world(request: pytest.FixtureRequest) -> bool:
    return any("world" in getattr(item, "fixturenames", ()) for item in request.session.items
               if item.path == request.path)


@pytest.fixture(scope="module")
async def migrated_db(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """This module's own database — migrated (and holding the world when the module uses ``world``) — with
    the PostgreSQL pool running; dropped after the module."""
    from backend import db

    world = _module_wants_world(request)
    if world:
        await _world_template()
    else:
        await _schema_template()
    name = f"smz_t_{_RUN}_{next(_SEQ)}"
    url = await _create_db(name, _WORLD_TEMPLATE if world else _TEMPLATE)
    _point_engine_at(url)
    await db.start_pool()
    try:
        yield url
    finally:
        await db.close_pool()
        await _drop_db(name)


@pytest.fixture(scope="module")
async def pristine_world(migrated_db: str) -> Any:
    """The world as built into the world template (``tests/integration/conftest.py`` hands out copies)."""
    assert _templates.world is not None, "the module's database was cloned without the world"
    return _templates.world


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.shared_services import close_shared_face_service

    close_shared_face_service()
    names = list(_CREATED) if _PG else [_TEMPLATE, _WORLD_TEMPLATE]
    if _PG and names:
        async def _drop_all() -> None:
            for name in names:
                await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        try:
            asyncio.run(_drop_all())
        except Exception as exc:  # never hide the test result behind a clean-up problem
            print(f"could not drop test databases {names}: {exc}")
    shutil.rmtree(_TMP, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- tiers
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
    where = _PG.rsplit("/", 1)[0] if _PG else f"SQLite files in {_TMP}"
    return f"database: one per test module, cloned from {_TEMPLATE} ({where})"
