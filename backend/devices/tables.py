"""Gate terminals (考勤机) and their vendors (设备厂商)."""

from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import Enterprise, Project


class Vendor(Table, tablename="vendor"):
    name = Varchar(length=200)
    code = Varchar(length=32, unique=True)  # 32-character vendor code sent in login 843
    enterprise = ForeignKey(references=Enterprise, null=True, on_delete=OnDelete.set_null)
    contact_phone = Varchar(length=20, null=True, default=None)


class Terminal(Table, tablename="terminal"):
    serial = Varchar(length=32, unique=True)  # device unique id sent in login 843
    vendor = ForeignKey(references=Vendor, null=False, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    channel = Integer(default=1)  # 通道 number
    direction = Varchar(length=4, default="in")  # in | out
    enabled = Boolean(default=True)
    online = Boolean(default=False)
    last_seen_at = Timestamptz(null=True, default=None)
    last_login_at = Timestamptz(null=True, default=None)
    last_offline_at = Timestamptz(null=True, default=None)
    last_peer = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
