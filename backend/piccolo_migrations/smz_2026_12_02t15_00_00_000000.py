"""Terminal protocols: a terminal records the protocol it speaks (``terminal.protocol``, a name of
``backend.devices.protocols.ADAPTERS``); every existing terminal speaks ``jiangmen-v1`` (seed 001 附件3,
the only protocol so far).  A gate server serves only the terminals of its protocol.  One added
column with a default: SQLite and PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "terminal.protocol"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Terminal",
        tablename="terminal",
        column_name="protocol",
        db_column_name="protocol",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 32,
            "default": "jiangmen-v1",
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
