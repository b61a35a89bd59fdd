"""One version number per fence: a unique index on fence_version (fence, version).

Two concurrent edits of the same fence both try to insert version n+1; the index makes the second
fail instead of leaving two versions with the same number.  Plain SQL that SQLite and PostgreSQL
both run (hand-written: Piccolo has no composite unique constraint)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-25T01:01:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (fence, version) on fence_version"


class _Raw(Table, tablename="fence_version"):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="fences", description=DESCRIPTION)

    async def run() -> None:
        await _Raw.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS fence_version_fence_version_uniq ON fence_version (fence, version)"
        )

    async def run_backwards() -> None:
        await _Raw.raw("DROP INDEX IF EXISTS fence_version_fence_version_uniq")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
