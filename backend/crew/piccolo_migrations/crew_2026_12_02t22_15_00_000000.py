"""Labour contracts state their 计量单位 and 计量单价 (seed 001 §2.9 登记合同; issue 16 item 2):
``crew_contract.wage_unit`` (vocabulary.WageUnit, "" when not stated) and ``crew_contract.wage_rate_fen`` (fen,
null when not stated).  Two added columns with defaults; SQLite and PostgreSQL both run it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T22:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "crew_contract.wage_unit, crew_contract.wage_rate_fen"

_COMMON = {"primary_key": False, "unique": False, "index": False, "index_method": IndexMethod.btree, "choices": None,
           "db_column_name": None, "secret": False}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crew", description=DESCRIPTION)
    manager.add_column(
        table_class_name="LabourContract", tablename="crew_contract", column_name="wage_unit",
        db_column_name="wage_unit", column_class_name="Varchar", column_class=Varchar,
        params={"length": 8, "default": "", "null": False, **_COMMON}, schema=None,
    )
    manager.add_column(
        table_class_name="LabourContract", tablename="crew_contract", column_name="wage_rate_fen",
        db_column_name="wage_rate_fen", column_class_name="Integer", column_class=Integer,
        params={"default": None, "null": True, **_COMMON}, schema=None,
    )
    return manager
