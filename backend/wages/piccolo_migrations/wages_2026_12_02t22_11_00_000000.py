"""One payroll version number per project and month, held by the database too: two corrections started at the
same moment both pass the service's check; with this unique index the second insert fails (409).  A migration of
its own: Piccolo runs a migration's raw steps before its new tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class _Raw(Table, tablename="payroll"):
    pass


ID = "2026-12-02T22:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payroll: unique (project, month, version); wage_finding (project, month) index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wages", description=DESCRIPTION)

    async def run() -> None:
        await _Raw.raw("CREATE UNIQUE INDEX IF NOT EXISTS payroll_version ON payroll (project, month, version)")
        await _Raw.raw("CREATE INDEX IF NOT EXISTS wage_finding_month ON wage_finding (project, month)")

    async def run_backwards() -> None:
        await _Raw.raw("DROP INDEX IF EXISTS payroll_version")
        await _Raw.raw("DROP INDEX IF EXISTS wage_finding_month")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
