"""Device access (issue 20 A.2, seed 001 供应商操作指引 §2.4): ``terminal.access_state`` — how far the terminal's
access application went (applied / test / production / verified, backend.vocabulary.TerminalAccess).  Every
existing terminal is ``verified`` (the column's default fills them), so existing sites keep working.  One added
column with a default: SQLite and PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T01:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "terminal.access_state"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Terminal",
        tablename="terminal",
        column_name="access_state",
        db_column_name="access_state",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
            "default": "verified",
            "null": False,
            "index": False,
            "primary_key": False,
            "unique": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
