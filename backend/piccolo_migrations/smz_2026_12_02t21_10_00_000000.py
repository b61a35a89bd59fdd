"""No duplicate make-up requests, held by the database too (issue 19 item 15): the service refuses a request whose
twin is pending or approved (same person and project, and the same time — or the same day and direction), but two
requests arriving at the same moment on PostgreSQL (READ COMMITTED) would both pass its check.  Two partial unique
indexes catch the second insert; the service answers 409 ``duplicate_makeup``.  SQLite and PostgreSQL both have
partial indexes.

A database that already holds such twins (made before this guard) keeps them — they wait for the authority's
decision like any request — and gets no index: the migration says so and the service's check still applies.
A migration of its own: Piccolo runs a migration's raw steps before its new tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class _Raw(Table, tablename="makeup_request"):
    pass


ID = "2026-12-02T21:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "no duplicate open make-up requests (partial unique indexes)"

_OPEN = "status IN ('pending', 'approved')"
_INDEXES = {
    "makeup_request_open_time": ("person, project, punch_time", _OPEN),
    "makeup_request_open_day": ("person, project, day, direction", f"{_OPEN} AND direction IS NOT NULL"),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)

    async def run() -> None:
        for name, (columns, where) in _INDEXES.items():
            twins = await _Raw.raw(
                f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM makeup_request WHERE {where} "
                f"GROUP BY {columns} HAVING COUNT(*) > 1) AS twins"
            )
            if twins and twins[0]["n"]:
                print(f"makeup_request: {twins[0]['n']} duplicate open request group(s) exist; index {name} not "
                      "created (the service still refuses new duplicates)")
                continue
            await _Raw.raw(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON makeup_request ({columns}) WHERE {where}")

    async def run_backwards() -> None:
        for name in _INDEXES:
            await _Raw.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
