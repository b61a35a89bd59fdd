"""Gate terminals (考勤机), their vendors (设备厂商) and the gate's security alarms."""

from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import Enterprise, Project
from backend.vocabulary import AlarmKind, Direction, TerminalAccess, width


class Vendor(Table, tablename="vendor"):
    name = Varchar(length=200)
    # The vendor code (厂家识别码) sent in login 843 is a credential: only its keyed hash is stored
    # (backend.crypto.keyed_hash, purpose "vendor-code"); the code itself is shown once when made.
    # ``code`` held the plaintext before migration 2026-12-02T09:10:01; it is kept (SQLite cannot drop
    # a UNIQUE column) and now holds a random non-secret placeholder.
    code = Varchar(length=32, unique=True)
    code_hash = Varchar(length=64, null=True, default=None)  # unique index: migration 2026-12-02T09:10:01
    code_rotated_at = Timestamptz(null=True, default=None)
    enterprise = ForeignKey(references=Enterprise, null=True, on_delete=OnDelete.set_null)
    contact_phone = Varchar(length=20, null=True, default=None)


class Terminal(Table, tablename="terminal"):
    serial = Varchar(length=32, unique=True)  # device unique id sent in login 843
    vendor = ForeignKey(references=Vendor, null=False, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    channel = Integer(default=1)  # 通道 number
    direction = Varchar(length=width(Direction, 4), default="in")  # in | out
    enabled = Boolean(default=True)
    online = Boolean(default=False)
    last_seen_at = Timestamptz(null=True, default=None)
    last_login_at = Timestamptz(null=True, default=None)
    last_offline_at = Timestamptz(null=True, default=None)
    last_peer = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # Source networks a login must come from: CIDRs separated by spaces ("10.8.0.0/16 192.168.1.7/32");
    # null = any address.
    allowed_networks = Text(null=True, default=None)
    # The protocol the terminal speaks (a name of backend.devices.protocols.ADAPTERS): a gate server
    # serves only the terminals of its protocol.  Migration 2026-12-02T15:00:00.
    protocol = Varchar(length=32, default="jiangmen-v1")
    # How far the terminal's access application went (backend/onboarding; TerminalAccess): a production login
    # needs ``production`` or ``verified``.  Existing and directly registered terminals are ``verified``.
    # Migration 2026-12-03T01:01:00.
    access_state = Varchar(length=width(TerminalAccess, 16), default="verified")


class TerminalAlarm(Table, tablename="terminal_alarm"):
    """A refused gate login worth a look: a serial already online from another address
    (``login_conflict``), a login from outside the terminal's networks (``network_refused``), too
    many failed logins (``login_rate_limited``).  Seen by the district's supervisors, the vendor and
    the project's staff."""

    kind = Varchar(length=width(AlarmKind, 24))
    serial = Varchar(length=32)
    peer = Varchar(length=64, default="")
    detail = Text(default="")
    terminal = ForeignKey(references=Terminal, null=True, default=None, on_delete=OnDelete.cascade)
    project = ForeignKey(references=Project, null=True, default=None, index=True, on_delete=OnDelete.cascade)
    vendor = ForeignKey(references=Vendor, null=True, default=None, index=True, on_delete=OnDelete.cascade)
    at = Timestamptz(default=TimestamptzNow())
