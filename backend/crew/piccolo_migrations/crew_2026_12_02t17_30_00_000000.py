"""Exit confirmations record what the foreman affirmed (seed 004 §三(五): 确认工作量、结清工资，签署退场确认书):
``crew_exit.workload_confirmed`` and ``crew_exit.wages_settled``.  Two added columns with a default (rows
written before this migration said nothing of either: false); SQLite and PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T17:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "crew_exit.workload_confirmed, crew_exit.wages_settled"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crew", description=DESCRIPTION)

    for column in ("workload_confirmed", "wages_settled"):
        manager.add_column(
            table_class_name="ExitConfirmation",
            tablename="crew_exit",
            column_name=column,
            db_column_name=column,
            column_class_name="Boolean",
            column_class=Boolean,
            params={
                "default": False,
                "null": False,
                "primary_key": False,
                "unique": False,
                "index": False,
                "index_method": IndexMethod.btree,
                "choices": None,
                "db_column_name": None,
                "secret": False,
            },
            schema=None,
        )

    return manager
