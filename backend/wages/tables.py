"""Wage tables (DESIGN §2 names): ``wage_bank``, ``wage_account``, ``wage_deposit``, ``payroll``, ``payroll_line``,
``pay_batch``, ``pay_result``, ``wage_finding``.  Money in integer fen; account and card numbers encrypted
(``backend.crypto``, own AAD) with a masked copy for pages."""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, Bytea, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import District, Project, Team
from backend.workforce.tables import Person


class WageBank(Table, tablename="wage_bank"):
    """A bank under agreement (已签订监管协议的银行, seed 002 §四.1 附件3) — the district's list."""

    district = ForeignKey(references=District, null=False, index=True, on_delete=OnDelete.restrict)
    name = Varchar(length=100)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class WageAccount(Table, tablename="wage_account"):
    """农民工工资专用账户 of a project (seed 002 专户 notes §一): registered online, approved by the district."""

    project = ForeignKey(references=Project, null=False, unique=True, on_delete=OnDelete.restrict)
    bank = ForeignKey(references=WageBank, null=False, on_delete=OnDelete.restrict)
    account_name = Varchar(length=120)
    account_no_enc = Text()
    account_no_masked = Varchar(length=40)
    opened_on = Date()
    status = Varchar(length=12, default="submitted")  # WageAccountStatus
    note = Text(default="")
    submitted_by = Integer(null=True, default=None)
    submitted_at = Timestamptz(default=TimestamptzNow())
    decided_by = Integer(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)


class WageDeposit(Table, tablename="wage_deposit"):
    """工资保证金 paid for a project, with its voucher (缴纳凭证, seed 000 §三)."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    amount_fen = Integer()
    paid_on = Date()
    voucher_type = Varchar(length=40)
    voucher_name = Varchar(length=200, default="")
    voucher_size = Integer(default=0)
    voucher = Bytea()
    recorded_by = Integer(null=True, default=None)
    recorded_at = Timestamptz(default=TimestamptzNow())


class Payroll(Table, tablename="payroll"):
    """工资发放表 of a project and month, one version; a correction is a new version with its reason."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    month = Varchar(length=7)  # YYYY-MM
    version = Integer(default=1)
    status = Varchar(length=12, default="draft")  # PayrollStatus
    reason = Text(default="")  # why this version corrects the previous one
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    submitted_by = Integer(null=True, default=None)
    submitted_at = Timestamptz(null=True, default=None)


class PayrollLine(Table, tablename="payroll_line"):
    """One worker's line of a payroll version."""

    payroll = ForeignKey(references=Payroll, null=False, index=True, on_delete=OnDelete.cascade)
    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.restrict)
    team = ForeignKey(references=Team, null=True, default=None, on_delete=OnDelete.restrict)
    days_worked = Integer(default=0)  # valid days from our attendance (filled in, not typed)
    unit = Varchar(length=8, default="")  # WageUnit, from the labour contract
    rate_fen = Integer(null=True, default=None)
    payable_fen = Integer(default=0)
    paid_fen = Integer(default=0)
    paid_on = Date(null=True, default=None)
    card_enc = Text(default="")
    card_masked = Varchar(length=32, default="")
    card_holder = Varchar(length=60, default="")  # 户名 of the card
    card_bank = Varchar(length=100, default="")
    leader_confirmed = Boolean(default=False)
    worker_confirmed = Boolean(default=False)
    bank_status = Varchar(length=8, default="none")  # BankStatus
    bank_reason = Text(default="")
    note = Text(default="")


class PayBatch(Table, tablename="pay_batch"):
    """A bank payment file (代发) exported from a submitted payroll, and its result."""

    payroll = ForeignKey(references=Payroll, null=False, index=True, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    lines = Integer(default=0)
    total_fen = Integer(default=0)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    result_at = Timestamptz(null=True, default=None)
    paid_count = Integer(default=0)
    failed_count = Integer(default=0)
    paid_fen = Integer(default=0)


class PayResult(Table, tablename="pay_result"):
    """One row of a batch: exported (pending), then paid or failed with the bank's reason."""

    batch = ForeignKey(references=PayBatch, null=False, index=True, on_delete=OnDelete.cascade)
    line = ForeignKey(references=PayrollLine, null=False, index=True, on_delete=OnDelete.restrict)
    seq = Integer()
    amount_fen = Integer()
    status = Varchar(length=8, default="pending")  # BankStatus (pending | paid | failed)
    reason = Text(default="")
    paid_on = Date(null=True, default=None)


class WageFinding(Table, tablename="wage_finding"):
    """A reconciliation mismatch (WageFindingKind) of a project's month; ``raised_by`` the system or the worker (未收到)."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    district = ForeignKey(references=District, null=False, index=True, on_delete=OnDelete.restrict)
    month = Varchar(length=7)
    kind = Varchar(length=24)  # WageFindingKind
    person = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.restrict)
    line = Integer(null=True, default=None)  # payroll_line id (no FK: lines of drafts may go)
    amount_fen = Integer(default=0)
    message = Text(default="")
    detail = JSON(default="{}")
    raised_by = Varchar(length=8, default="system")  # system | worker
    status = Varchar(length=8, default="open")  # WageFindingStatus
    created_at = Timestamptz(default=TimestamptzNow())
    resolved_at = Timestamptz(null=True, default=None)


TABLES = [WageBank, WageAccount, WageDeposit, Payroll, PayrollLine, PayBatch, PayResult, WageFinding]
