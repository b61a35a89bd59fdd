"""Rule profiles: a district names the rule profile that judges its projects (``district.rule_profile``, a
key of ``backend.rules.PROFILES``: baseline, jiangxi, jiangmen, changde, zhongshan).  Every existing
district keeps the values it had: the column's default is the baseline.  One added column with a
default: SQLite and PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "district.rule_profile"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)

    manager.add_column(
        table_class_name="District",
        tablename="district",
        column_name="rule_profile",
        db_column_name="rule_profile",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 32,
            "default": "baseline",
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
