"""Inputs and responses of the wage API (msgspec).  Money leaves as fen (integers) and as yuan text with two
decimals; card and account numbers only masked; ID numbers only as ``MaskedId``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from backend.org.schemas import Strict
from backend.schemas import MaskedId, Out


def pick(cls: type, row: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``row`` that the response type ``cls`` declares (services return richer rows)."""
    return {k: row[k] for k in cls.__struct_fields__ if k in row}  # type: ignore[attr-defined]


class AccountIn(Strict):
    bank_id: int
    account_name: str
    account_no: str
    opened_on: date


class DecisionIn(Strict):
    approve: bool
    note: str = ""


class BankIn(Strict):
    name: str


class RateIn(Strict):
    unit: str
    rate: str


class CorrectionIn(Strict):
    reason: str


class LineIn(Strict):
    payable: str | None = None
    paid: str | None = None
    paid_on: str | None = None
    card_no: str | None = None
    card_holder: str | None = None
    card_bank: str | None = None
    leader_confirmed: bool | None = None
    worker_confirmed: bool | None = None
    note: str | None = None


class FlagIn(Strict):
    note: str = ""


class BankOut(Out):
    id: int
    name: str
    active: bool


class AccountOut(Out):
    id: int
    project: int
    bank: int
    bank_name: str
    account_name: str
    account_no_masked: str
    opened_on: date
    status: str
    status_label: str
    note: str
    submitted_at: datetime | None
    decided_at: datetime | None


class DepositOut(Out):
    id: int
    amount_fen: int
    amount: str
    paid_on: date
    voucher_type: str
    voucher_name: str
    voucher_size: int
    recorded_at: datetime


class AccountStateOut(Out):
    account: AccountOut | None
    deposits: list[DepositOut]
    banks: list[BankOut]


class VersionOut(Out):
    id: int
    version: int
    status: str
    status_label: str
    reason: str
    created_at: datetime
    submitted_at: datetime | None


class LineOut(Out):
    id: int
    person: int
    name: str
    id_masked: MaskedId
    team: int | None
    team_name: str | None
    days_worked: int
    unit: str
    unit_label: str
    rate_fen: int | None
    payable_fen: int
    paid_fen: int
    unpaid_fen: int
    payable: str
    paid: str
    unpaid: str
    paid_on: date | None
    card_masked: str
    card_holder: str
    card_bank: str
    leader_confirmed: bool
    worker_confirmed: bool
    bank_status: str
    bank_label: str
    bank_reason: str
    note: str


class TotalsOut(Out):
    lines: int
    payable_fen: int
    paid_fen: int
    unpaid_fen: int
    payable: str
    paid: str
    unpaid: str


class PayrollOut(Out):
    project_id: int
    month: str
    versions: list[VersionOut]
    version: int | None
    status: str | None
    editable: bool
    team_limited: bool
    lines: list[LineOut]
    totals: TotalsOut


class ImportOut(Out):
    ok: bool
    lines: int
    errors: list[dict[str, Any]]


class BatchOut(Out):
    id: int
    month: str
    version: int
    lines: int
    total_fen: int
    total: str
    created_at: datetime
    result_at: datetime | None
    paid_count: int
    failed_count: int
    paid_fen: int


class BatchRowOut(Out):
    seq: int
    name: str
    card_masked: str
    amount_fen: int
    amount: str
    status: str
    status_label: str
    reason: str
    paid_on: date | None


class ResultOut(Out):
    ok: bool
    paid: int
    failed: int
    paid_fen: int
    errors: list[dict[str, Any]]


class FindingOut(Out):
    id: int
    month: str
    kind: str
    kind_label: str
    person: int | None
    line: int | None
    amount_fen: int
    amount: str
    message: str
    raised_by: str
    status: str
    status_label: str
    unpaid_kind: bool


class ReconcileOut(Out):
    month: str
    findings: list[FindingOut]
    referred: bool


class DashboardRowOut(Out):
    id: int
    name: str
    district: int
    district_name: str
    status: str
    status_label: str
    findings: int
    unpaid_findings: int
    unpaid_fen: int
    unpaid: str
    months_overdue: int
    account_status: str
    account_label: str
    account_ok: bool
    deposit: bool
    referred: bool


class DashboardOut(Out):
    rows: list[DashboardRowOut]
    total: int
    page: int
    pages: int
    sums: dict[str, Any]


class MyPayOut(Out):
    id: int
    project: int
    project_name: str
    month: str
    days_worked: int
    payable_fen: int
    paid_fen: int
    payable: str
    paid: str
    paid_on: date | None
    bank_status: str
    bank_label: str
    bank_reason: str
    card_masked: str
    flagged: bool
