"""The special wage account (农民工工资专用账户, seed 002 §四.1 and its 专户 notes), the district's bank list and
the wage guarantee deposit (工资保证金, seed 000 §三)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from backend import money
from backend.accounts.services import CurrentUser
from backend.crew.validation import check_upload
from backend.crypto import decrypt_text, encrypt_text
from backend.db import write_transaction
from backend.errors import Conflict, NotFound, invalid
from backend.org import services as org
from backend.org.tables import Project, ProjectUnit
from backend.validators import sanitize_filename
from backend.vocabulary import WageAccountStatus, label, local_today
from backend.wages import access
from backend.wages.tables import WageAccount, WageBank, WageDeposit

ACCOUNT_AAD = b"wage_account_no"
VOUCHER_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})


# --- Banks (the district's list) ------------------------------------------------------------------------------

async def list_banks(district_id: int, *, active_only: bool = True) -> list[dict[str, Any]]:
    q = WageBank.select(WageBank.id, WageBank.name, WageBank.active).where(WageBank.district == district_id)
    if active_only:
        q = q.where(WageBank.active == True)  # noqa: E712
    return await q.order_by(WageBank.name)


async def add_bank(user: CurrentUser, district_id: int, name: str) -> int:
    if not user.is_admin and district_id not in user.district_ids:
        raise NotFound("区县不存在或无权管理", "District not found or not yours", field="district_id")
    name = (name or "").strip()
    if not 2 <= len(name) <= 100:
        raise invalid("name", "银行名称应为 2–100 个字", "The bank name must be 2–100 characters")
    if await WageBank.exists().where((WageBank.district == district_id) & (WageBank.name == name)):
        raise Conflict("该银行已在名录中", "The bank is on the list already", code="bank_exists")
    row = WageBank(district=district_id, name=name)
    await row.save()
    return row.id


# --- Special account ------------------------------------------------------------------------------------------

async def _names(project_id: int) -> tuple[str, list[str], int]:
    p = await Project.select(Project.name, Project.district).where(Project.id == project_id).first()
    if p is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    units = await ProjectUnit.select(ProjectUnit.enterprise.name.as_alias("n")).where(ProjectUnit.project == project_id)
    return p["name"], [u["n"] for u in units], p["district"]


def _account_out(r: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in r.items() if k != "account_no_enc"},
            "status_label": label(r["status"], "WageAccountStatus")}


async def get_account(project_id: int) -> dict[str, Any] | None:
    r = await WageAccount.select(
        WageAccount.id, WageAccount.project, WageAccount.bank, WageAccount.bank.name.as_alias("bank_name"),
        WageAccount.account_name, WageAccount.account_no_masked, WageAccount.opened_on, WageAccount.status,
        WageAccount.note, WageAccount.submitted_at, WageAccount.decided_at,
    ).where(WageAccount.project == project_id).first()
    return _account_out(r) if r else None


async def register_account(user: CurrentUser, project_id: int, *, bank_id: int, account_name: str, account_no: str,
                           opened_on: date) -> dict[str, Any]:
    """Submit (or resubmit) the project's special account for the district's approval: a bank of the district's
    list, the name checked (seed 002 专户 notes §一.1), the number checked and stored encrypted."""
    await access.can_keep(user, project_id)
    project_name, enterprises, district = await _names(project_id)
    bank = await WageBank.select(WageBank.id).where(
        (WageBank.id == bank_id) & (WageBank.district == district) & (WageBank.active == True)).first()  # noqa: E712
    if bank is None:
        raise invalid("bank_id", "请从本区县公布的已签订监管协议的银行中选择", "Choose a bank from the district's list",
                      code="bank_not_listed")
    problem = money.account_name_problem(account_name, enterprises, project_name)
    if problem:
        raise invalid("account_name", problem, "The account name must be the enterprise's or project department's "
                      "name followed by 农民工工资专户", code="bad_account_name")
    number = money.check_account_no(account_no)
    if opened_on > local_today():
        raise invalid("opened_on", "开户日期不能晚于今天", "The opening date cannot be in the future")
    now = datetime.now(UTC)
    values = {WageAccount.bank: bank_id, WageAccount.account_name: account_name.strip(),
              WageAccount.account_no_enc: encrypt_text(number, aad=ACCOUNT_AAD),
              WageAccount.account_no_masked: money.mask_number(number), WageAccount.opened_on: opened_on,
              WageAccount.status: WageAccountStatus.submitted, WageAccount.note: "", WageAccount.submitted_by: user.id,
              WageAccount.submitted_at: now, WageAccount.decided_by: None, WageAccount.decided_at: None}
    async with write_transaction():
        current = await WageAccount.select(WageAccount.id, WageAccount.status).where(
            WageAccount.project == project_id).first()
        if current is None:
            await WageAccount.insert(WageAccount(project=project_id, **{c._meta.name: v for c, v in values.items()}))
        elif current["status"] == WageAccountStatus.approved:
            raise Conflict("专户已核准，不能再修改", "The account is approved already", code="account_approved")
        else:
            await WageAccount.update(values).where(WageAccount.id == current["id"])
    return await get_account(project_id)  # type: ignore[return-value]


async def decide_account(user: CurrentUser, project_id: int, *, approve: bool, note: str = "") -> dict[str, Any]:
    await access.can_decide(user, project_id)
    current = await get_account(project_id)
    if current is None or current["status"] != WageAccountStatus.submitted:
        raise Conflict("没有待核准的专户登记", "No registration is waiting for a decision", code="nothing_to_decide")
    status = WageAccountStatus.approved if approve else WageAccountStatus.returned
    if not approve and not (note or "").strip():
        raise invalid("note", "退回时请说明原因", "Say why the registration is returned")
    await WageAccount.update({WageAccount.status: status, WageAccount.note: (note or "").strip()[:500],
                              WageAccount.decided_by: user.id, WageAccount.decided_at: datetime.now(UTC)}).where(
        WageAccount.id == current["id"])
    return await get_account(project_id)  # type: ignore[return-value]


async def account_number(project_id: int) -> str:
    """The full account number (for the bank file only)."""
    r = await WageAccount.select(WageAccount.account_no_enc).where(WageAccount.project == project_id).first()
    return decrypt_text(r["account_no_enc"], aad=ACCOUNT_AAD) if r else ""


# --- Deposit --------------------------------------------------------------------------------------------------

async def list_deposits(project_id: int) -> list[dict[str, Any]]:
    rows = await WageDeposit.select(
        WageDeposit.id, WageDeposit.amount_fen, WageDeposit.paid_on, WageDeposit.voucher_type, WageDeposit.voucher_name,
        WageDeposit.voucher_size, WageDeposit.recorded_at).where(WageDeposit.project == project_id).order_by(
        WageDeposit.paid_on)
    for r in rows:
        r["amount"] = money.yuan_grouped(r["amount_fen"])
    return rows


async def record_deposit(user: CurrentUser, project_id: int, *, amount: Any, paid_on: date, data: bytes | None,
                         filename: str = "") -> int:
    """A deposit paid, with its voucher (PDF / JPEG / PNG, bounded, type by magic bytes)."""
    await access.can_keep(user, project_id)
    rules = await org.rules_for_project(project_id)
    fen = money.to_fen(amount, field="amount", label="保证金金额")
    if fen <= 0:
        raise invalid("amount", "保证金金额应大于 0", "The deposit must be more than 0")
    if paid_on > local_today():
        raise invalid("paid_on", "缴纳日期不能晚于今天", "The payment date cannot be in the future")
    content_type = check_upload(data, field="voucher", label="缴纳凭证", allowed=VOUCHER_TYPES,
                                max_bytes=rules.wage_voucher_max_bytes)
    assert data is not None
    row = WageDeposit(project=project_id, amount_fen=fen, paid_on=paid_on, voucher_type=content_type,
                      voucher_name=sanitize_filename(filename), voucher_size=len(data), voucher=data,
                      recorded_by=user.id)
    await row.save()
    return row.id


async def get_voucher(user: CurrentUser, project_id: int, deposit_id: int) -> dict[str, Any]:
    await access.can_read(user, project_id)
    r = await WageDeposit.select(WageDeposit.voucher, WageDeposit.voucher_type, WageDeposit.voucher_name).where(
        (WageDeposit.id == deposit_id) & (WageDeposit.project == project_id)).first()
    if r is None:
        raise NotFound("凭证不存在", "Voucher not found", field="deposit_id")
    return r
