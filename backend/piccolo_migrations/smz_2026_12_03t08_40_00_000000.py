"""Gate punch photos in pack files (issue 18): ``punch.photo_loc``, the photo's place in a pack of the file store
("<day>/<name>.pack:<offset>:<length>", backend.photostore), null for a photo kept as a file of its own (the
phone's, the migrated ones, an object store's) or no photo.  One nullable column: SQLite and PostgreSQL (the
partitioned table passes it to every partition) both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T08:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "punch.photo_loc"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Punch",
        tablename="punch",
        column_name="photo_loc",
        db_column_name="photo_loc",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 96,
            "default": None,
            "null": True,
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
