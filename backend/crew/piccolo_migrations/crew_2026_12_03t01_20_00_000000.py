"""The full-ID access log names the people whose numbers were read (issue 20 B.3): ``id_access_log.person_ids``
(JSON list).  The table class now lives in backend/workforce/tables.py (crew, wages and devices use it); its
migrations stay this app's, where it was created.  SQLite and PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T01:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "id_access_log.person_ids"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crew", description=DESCRIPTION)
    manager.add_column(
        table_class_name="IdAccessLog", tablename="id_access_log", column_name="person_ids",
        db_column_name="person_ids", column_class_name="JSON", column_class=JSON,
        params={"default": "[]", "null": False, "primary_key": False, "unique": False, "index": False,
                "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False},
        schema=None,
    )
    return manager
