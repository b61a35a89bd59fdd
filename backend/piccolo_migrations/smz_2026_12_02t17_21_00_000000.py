"""One open change request per project and kind, held by the database too (issue 14 item 2): two requests arriving
at the same moment on PostgreSQL (READ COMMITTED) both pass the service's check; with this partial unique index the
second insert fails and the service answers 409 ``change_request_pending``.  SQLite and PostgreSQL both have partial
indexes.  A migration of its own: Piccolo runs a migration's raw steps before its new tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class _Raw(Table, tablename="project_change_request"):
    pass


ID = "2026-12-02T17:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open project change request per project and kind (partial unique index)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)

    async def run() -> None:
        await _Raw.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS project_change_request_one_open ON project_change_request "
            "(project, kind) WHERE status IN ('pending', 'level1_approved')"
        )

    async def run_backwards() -> None:
        await _Raw.raw("DROP INDEX IF EXISTS project_change_request_one_open")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
