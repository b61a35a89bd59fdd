"""Gate security (1/2): the vendor code becomes a credential stored as a keyed hash (``vendor.code_hash``,
``vendor.code_rotated_at``), terminals may be bound to source networks (``terminal.allowed_networks``),
and refused logins worth a look are recorded (``terminal_alarm``).  Schema only; the next migration
fills the hashes and blanks the plaintext codes (Piccolo runs a migration's raw steps first)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Project(Table, tablename="project", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )

class Terminal(Table, tablename="terminal", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )

class Vendor(Table, tablename="vendor", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


ID = "2026-12-02T09:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "vendor code hash, terminal networks, terminal alarms"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)

    manager.add_table(class_name="TerminalAlarm", tablename="terminal_alarm", schema=None, columns=None)

    manager.add_column(
        table_class_name="Vendor",
        tablename="vendor",
        column_name="code_hash",
        db_column_name="code_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
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

    manager.add_column(
        table_class_name="Vendor",
        tablename="vendor",
        column_name="code_rotated_at",
        db_column_name="code_rotated_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
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

    manager.add_column(
        table_class_name="Terminal",
        tablename="terminal",
        column_name="allowed_networks",
        db_column_name="allowed_networks",
        column_class_name="Text",
        column_class=Text,
        params={
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

    manager.add_column(
        table_class_name="TerminalAlarm",
        tablename="terminal_alarm",
        column_name="kind",
        db_column_name="kind",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 24,
            "default": "",
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

    manager.add_column(
        table_class_name="TerminalAlarm",
        tablename="terminal_alarm",
        column_name="serial",
        db_column_name="serial",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 32,
            "default": "",
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

    manager.add_column(
        table_class_name="TerminalAlarm",
        tablename="terminal_alarm",
        column_name="peer",
        db_column_name="peer",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
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

    manager.add_column(
        table_class_name="TerminalAlarm",
        tablename="terminal_alarm",
        column_name="detail",
        db_column_name="detail",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
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

    manager.add_column(
        table_class_name="TerminalAlarm",
        tablename="terminal_alarm",
        column_name="terminal",
        db_column_name="terminal",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": Terminal,
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
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

    manager.add_column(
        table_class_name="TerminalAlarm",
        tablename="terminal_alarm",
        column_name="project",
        db_column_name="project",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": Project,
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "default": None,
            "null": True,
            "index": True,
            "primary_key": False,
            "unique": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="TerminalAlarm",
        tablename="terminal_alarm",
        column_name="vendor",
        db_column_name="vendor",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": Vendor,
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "default": None,
            "null": True,
            "index": True,
            "primary_key": False,
            "unique": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="TerminalAlarm",
        tablename="terminal_alarm",
        column_name="at",
        db_column_name="at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
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
