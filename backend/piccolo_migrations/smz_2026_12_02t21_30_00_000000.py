"""Evidence files of project change requests (issue 15: 证明材料 of a start-date change, stop, resume or completion
request, seed 004 §三(八)–(十)): a new table ``project_change_evidence``, one row per request.  SQLite and
PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import Bytea, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class ProjectChangeRequest(Table, tablename="project_change_request", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


ID = "2026-12-02T21:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "evidence files of project change requests; district.change_level1"

_COMMON = {"primary_key": False, "index": False, "index_method": IndexMethod.btree, "choices": None,
           "db_column_name": None, "secret": False}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)
    manager.add_table(class_name="ProjectChangeEvidence", tablename="project_change_evidence", schema=None,
                      columns=None)
    columns = [
        ("request", ForeignKey, {"references": ProjectChangeRequest, "on_delete": OnDelete.restrict,
                                 "on_update": OnUpdate.cascade, "target_column": None, "null": False,
                                 "unique": True}),
        ("filename", Varchar, {"length": 200, "default": "", "null": False, "unique": False}),
        ("content_type", Varchar, {"length": 40, "default": "", "null": False, "unique": False}),
        ("size", Integer, {"default": 0, "null": False, "unique": False}),
        ("data", Bytea, {"default": b"", "null": False, "unique": False}),
        ("uploaded_at", Timestamptz, {"default": TimestamptzNow(), "null": False, "unique": False}),
    ]
    for name, cls, params in columns:
        manager.add_column(
            table_class_name="ProjectChangeEvidence", tablename="project_change_evidence", column_name=name,
            db_column_name=name, column_class_name=cls.__name__, column_class=cls, params={**_COMMON, **params},
            schema=None,
        )
    manager.add_column(
        table_class_name="District", tablename="district", column_name="change_level1",
        db_column_name="change_level1", column_class_name="Varchar", column_class=Varchar,
        params={**_COMMON, "length": 16, "default": "units", "null": False, "unique": False}, schema=None,
    )
    return manager
