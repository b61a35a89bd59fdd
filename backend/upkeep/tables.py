"""Device upkeep (issue 20, seed 002 §四.5 and §五): repair tickets, removal/move notices, findings."""

from __future__ import annotations

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.devices.tables import Terminal, Vendor
from backend.org.tables import Project
from backend.vocabulary import FaultKind, RemovalAction, RemovalStatus, TicketStatus, UpkeepFindingKind, width


class RepairTicket(Table, tablename="repair_ticket"):
    """A fault of a terminal and its repair (seed 002 §五.1 告警, §五.4 24 小时内修复).  Opened by the fault
    detection (``upkeep.faults``) or by project staff (报障); the vendor acknowledges and closes it with a note."""

    terminal = ForeignKey(references=Terminal, null=False, index=True, on_delete=OnDelete.cascade)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.cascade)
    vendor = ForeignKey(references=Vendor, null=False, index=True, on_delete=OnDelete.cascade)
    kind = Varchar(length=width(FaultKind, 16))
    detail = Text(default="")
    status = Varchar(length=width(TicketStatus, 12), default=TicketStatus.open)
    opened_at = Timestamptz(default=TimestamptzNow())
    due_at = Timestamptz(default=TimestamptzNow())
    opened_by = Integer(null=True, default=None)  # user id when reported by hand
    acknowledged_at = Timestamptz(null=True, default=None)
    acknowledged_by = Integer(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    closed_by = Integer(null=True, default=None)
    close_note = Text(default="")
    escalated_at = Timestamptz(null=True, default=None)
    # "<terminal>:<kind>" while the ticket is not closed, NULL after: one open ticket per terminal and kind, even
    # with several server processes detecting at once (a UNIQUE column holds any number of NULLs on both engines).
    open_key = Varchar(length=48, null=True, default=None, unique=True)


class RemovalNotice(Table, tablename="removal_notice"):
    """A removal or move of a terminal (seed 002 §四.5): filed by the project ≥ 3 working days ahead, done, then the
    vendor's compliance acceptance (合规性验收) within 1 working day."""

    terminal = ForeignKey(references=Terminal, null=False, index=True, on_delete=OnDelete.cascade)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.cascade)
    vendor = ForeignKey(references=Vendor, null=False, index=True, on_delete=OnDelete.cascade)
    action = Varchar(length=width(RemovalAction, 8))
    reason = Text(default="")
    new_location = Text(default="")
    planned_on = Date()
    filed_on = Date()  # the project's local day of filing
    filed_at = Timestamptz(default=TimestamptzNow())
    filed_by = Integer(null=True, default=None)
    notice_on_time = Boolean(default=True)
    status = Varchar(length=width(RemovalStatus, 10), default=RemovalStatus.filed)
    done_on = Date(null=True, default=None)
    done_at = Timestamptz(null=True, default=None)
    done_by = Integer(null=True, default=None)
    acceptance_due_on = Date(null=True, default=None)
    accepted_on = Date(null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)
    accepted_by = Integer(null=True, default=None)
    acceptance_note = Text(default="")
    acceptance_on_time = Boolean(null=True, default=None)


class UpkeepFinding(Table, tablename="upkeep_finding"):
    """A breach of an upkeep deadline, shown to the district: a repair not done within 24 h, a removal notice filed
    late, a compliance acceptance late or missing.  One per breach (``key``)."""

    kind = Varchar(length=width(UpkeepFindingKind, 20))
    key = Varchar(length=64, unique=True)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.cascade)
    vendor = ForeignKey(references=Vendor, null=True, default=None, index=True, on_delete=OnDelete.cascade)
    terminal = ForeignKey(references=Terminal, null=True, default=None, on_delete=OnDelete.cascade)
    ticket = Integer(null=True, default=None)
    notice = Integer(null=True, default=None)
    message = Text(default="")
    at = Timestamptz(default=TimestamptzNow())
