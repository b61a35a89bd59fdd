"""Biometric consent (单独同意, PIPL §28–29; issue 20 B.1) and corrections of a person's data (issue 20 B.4):
two new tables, ``biometric_consent`` (one row per consent event) and ``person_correction``.  Hand-written in
the style of the generated migrations; SQLite and PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Person(Table, tablename="person", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


ID = "2026-12-03T01:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "biometric_consent and person_correction"

_COMMON = {"primary_key": False, "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
           "secret": False}
_PERSON = {"references": Person, "on_delete": OnDelete.restrict, "on_update": OnUpdate.cascade,
           "target_column": None, "null": False, "unique": False, "index": True}


def _columns(manager: MigrationManager, class_name: str, tablename: str, columns: list) -> None:
    manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
    for name, cls, params in columns:
        manager.add_column(
            table_class_name=class_name, tablename=tablename, column_name=name, db_column_name=name,
            column_class_name=cls.__name__, column_class=cls, params={**_COMMON, "index": False, **params},
            schema=None,
        )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)
    _columns(manager, "ConsentRecord", "biometric_consent", [
        ("person", ForeignKey, _PERSON),
        ("action", Varchar, {"length": 12, "default": "", "null": False, "unique": False}),
        ("version", Varchar, {"length": 16, "default": "", "null": False, "unique": False}),
        ("channel", Varchar, {"length": 16, "default": "", "null": False, "unique": False}),
        ("project", Integer, {"default": None, "null": True, "unique": False}),
        ("recorded_by", Integer, {"default": None, "null": True, "unique": False}),
        ("recorded_by_name", Varchar, {"length": 64, "default": "", "null": False, "unique": False}),
        ("note", Text, {"default": "", "null": False, "unique": False}),
        ("recorded_at", Timestamptz, {"default": TimestamptzNow(), "null": False, "unique": False}),
    ])
    _columns(manager, "PersonCorrection", "person_correction", [
        ("person", ForeignKey, _PERSON),
        ("field", Varchar, {"length": 12, "default": "", "null": False, "unique": False}),
        ("old_value", Varchar, {"length": 60, "default": "", "null": False, "unique": False}),
        ("new_value", Varchar, {"length": 60, "default": "", "null": False, "unique": False}),
        ("reason", Text, {"default": "", "null": False, "unique": False}),
        ("project", Integer, {"default": None, "null": True, "unique": False}),
        ("user_id", Integer, {"default": 0, "null": False, "unique": False}),
        ("username", Varchar, {"length": 64, "default": "", "null": False, "unique": False}),
        ("role", Varchar, {"length": 16, "default": "", "null": False, "unique": False}),
        ("corrected_at", Timestamptz, {"default": TimestamptzNow(), "null": False, "unique": False}),
    ])
    return manager
