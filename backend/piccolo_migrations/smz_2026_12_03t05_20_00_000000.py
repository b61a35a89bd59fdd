"""Punch photos out of the punch table (issue 18): ``punch.photo_sha256`` (the SHA-256 hex of the photo in
backend.photostore) and ``punch.photo_type`` (its content type), both null, the hash indexed.  The legacy
``punch_photo`` table stays (read as a fallback, emptied by ``smz photos migrate``).  Two nullable columns: SQLite
and PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T05:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "punch.photo_sha256 and punch.photo_type"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)
    # photo_sha256 is indexed: retention asks which hashes other punches still hold before it deletes a file.
    for name, length, index in (("photo_sha256", 64, True), ("photo_type", 32, False)):
        manager.add_column(
            table_class_name="Punch",
            tablename="punch",
            column_name=name,
            db_column_name=name,
            column_class_name="Varchar",
            column_class=Varchar,
            params={
                "length": length,
                "default": None,
                "null": True,
                "index": index,
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
