"""Bank payment batches (代发, issue 16 item 3): the payment file for the special account — the only place full
ID and card numbers leave the system, each export written to the full-ID access log — and the bank's result file.
Totals are checked on export and on import; a failed row stays unpaid and visible."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from backend import money
from backend.accounts.services import CurrentUser
from backend.bounded import BoundedRunner
from backend.crew.xlsx import ImportLimits
from backend.crypto import decrypt_text
from backend.db import write_transaction
from backend.errors import Conflict, NotFound, PayloadTooLarge, invalid
from backend.org import services as org
from backend.vocabulary import BankStatus, PayrollStatus, label, local_today
from backend.wages import access, xlsx
from backend.wages.payroll import CARD_AAD, versions
from backend.wages.tables import PayBatch, PayResult, PayrollLine
from backend.workforce import id_access

ACCESS_KIND = "wage_bank_file"


class TotalsMismatch(Exception):
    """The file's sum is not the batch's: never written (a bug, not a user error)."""


async def _submitted(project_id: int, month: str) -> dict[str, Any]:
    vs = await versions(project_id, month)
    sub = [v for v in vs if v["status"] == PayrollStatus.submitted]
    if not sub:
        raise Conflict("工资表提交后才能生成银行代发文件", "Submit the payroll before exporting the bank file",
                       code="payroll_not_submitted")
    return sub[-1]


async def list_batches(user: CurrentUser, project_id: int, month: str | None = None) -> list[dict[str, Any]]:
    await access.can_read(user, project_id)
    q = PayBatch.select(PayBatch.all_columns(), PayBatch.payroll.month.as_alias("month"),
                        PayBatch.payroll.version.as_alias("version")).where(PayBatch.project == project_id)
    if month:
        q = q.where(PayBatch.payroll.month == month)
    rows = await q.order_by(PayBatch.id, ascending=False)
    for r in rows:
        r["total"] = money.yuan(r["total_fen"])
        r["paid"] = money.yuan(r["paid_fen"])
    return rows


async def create_batch(user: CurrentUser, project_id: int, month: str, reason: str = "") -> int:
    """A batch of every line of the submitted payroll with money still owed, a card and no batch in flight."""
    await access.can_keep(user, project_id)
    async with write_transaction():
        payroll = await _submitted(project_id, month)
        lines = await PayrollLine.select(PayrollLine.id, PayrollLine.payable_fen, PayrollLine.paid_fen,
                                         PayrollLine.card_enc, PayrollLine.bank_status).where(
            PayrollLine.payroll == payroll["id"]).order_by(PayrollLine.id)
        due = [ln for ln in lines if ln["payable_fen"] > ln["paid_fen"] and ln["card_enc"]
               and ln["bank_status"] != BankStatus.pending]
        if not due:
            raise Conflict("没有需要代发的人员（均已发放、无银行卡或已在待回盘的批次中）", "Nothing to pay",
                           code="nothing_to_pay")
        total = sum(ln["payable_fen"] - ln["paid_fen"] for ln in due)
        batch = PayBatch(payroll=payroll["id"], project=project_id, lines=len(due), total_fen=total,
                         created_by=user.id)
        await batch.save()
        await PayResult.insert(*[PayResult(batch=batch.id, line=ln["id"], seq=i, amount_fen=ln["payable_fen"] - ln["paid_fen"],
                                           status=BankStatus.pending) for i, ln in enumerate(due, start=1)])
        await PayrollLine.update({PayrollLine.bank_status: BankStatus.pending, PayrollLine.bank_reason: ""}).where(
            PayrollLine.id.is_in([ln["id"] for ln in due]))
    return batch.id


async def batch_file(user: CurrentUser, project_id: int, batch_id: int, fmt: str, reason: str = "") -> tuple[bytes, str]:
    """The payment file (.xlsx or .csv) with full ID and card numbers; written to the full-ID access log in the
    same transaction; the file's total is checked against the batch before it leaves."""
    await access.can_keep(user, project_id)
    if fmt not in ("xlsx", "csv"):
        raise invalid("format", "格式应为 xlsx 或 csv", "format must be xlsx or csv")
    b = await PayBatch.select().where((PayBatch.id == batch_id) & (PayBatch.project == project_id)).first()
    if b is None:
        raise NotFound("代发批次不存在", "Batch not found", field="batch_id")
    rows = await PayResult.select(
        PayResult.seq, PayResult.amount_fen, PayResult.line.card_enc.as_alias("card_enc"),
        PayResult.line.person.name.as_alias("name"), PayResult.line.person.id_cipher.as_alias("id_cipher"),
        PayResult.line.person.as_alias("person"),
        PayResult.line.payroll.month.as_alias("month"),
    ).where(PayResult.batch == batch_id).order_by(PayResult.seq)
    out = [{"seq": r["seq"], "name": r["name"], "id_number": decrypt_text(r["id_cipher"]),
            "card_no": decrypt_text(r["card_enc"], aad=CARD_AAD), "amount": money.yuan(r["amount_fen"]),
            "remark": f"{r['month']} 工资"} for r in rows]
    file_total = sum(money.to_fen(r["amount"]) for r in out)
    if file_total != b["total_fen"] or len(out) != b["lines"]:
        raise TotalsMismatch(f"batch {batch_id}: file {file_total}/{len(out)} ≠ batch {b['total_fen']}/{b['lines']}")
    table = xlsx.bank_file_rows(out)
    async with write_transaction():
        await id_access.log_access(user, project_id=project_id, kind=ACCESS_KIND, person_ids=[r["person"] for r in rows],
                                   reason=(reason or "工资代发文件（农民工工资专户）").strip()[:200], records=len(out))
    if fmt == "csv":
        return xlsx.bank_csv(table), "text/csv; charset=utf-8"
    title = f"代发批次 {batch_id}：{len(out)} 人，合计 {money.yuan(b['total_fen'])} 元"
    return xlsx.bank_xlsx(table, title), xlsx.XLSX_TYPE


@dataclass(slots=True)
class ResultOutcome:
    ok: bool
    paid: int = 0
    failed: int = 0
    paid_fen: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


_PAID = {"成功", "已成功", "success", "ok", "paid", "交易成功", "代发成功"}
_FAILED = {"失败", "已失败", "fail", "failed", "交易失败", "代发失败", "退回"}


async def import_result(user: CurrentUser, project_id: int, batch_id: int, data: bytes | None, *,
                        runner: BoundedRunner) -> ResultOutcome:
    """The bank's result file: every exported row exactly once, same name and amount, the sum equal to the
    batch's; all or nothing.  Paid rows add to the line's paid amount (date from the file, else today); failed
    rows keep the bank's reason and stay unpaid."""
    await access.can_keep(user, project_id)
    rules = await org.rules_for_project(project_id)
    if not data:
        raise invalid("file", "请选择银行回盘文件", "Choose the bank's result file", code="file_required")
    if len(data) > rules.wage_import_max_bytes:
        raise PayloadTooLarge("回盘文件过大", "The result file is too large", field="file", code="file_too_large")
    b = await PayBatch.select().where((PayBatch.id == batch_id) & (PayBatch.project == project_id)).first()
    if b is None:
        raise NotFound("代发批次不存在", "Batch not found", field="batch_id")
    if b["result_at"] is not None:
        raise Conflict("该批次的回盘已导入", "The result of this batch is imported already", code="result_imported")
    rows = await runner.run(xlsx.read_table, data, "result", rules.wage_import_max_rows,
                            ImportLimits.from_rules(rules, rules.wage_import_max_rows),
                            timeout_s=rules.crew_import_max_seconds, what_zh="回盘文件", what_en="result file")
    expected = {r["seq"]: r for r in await PayResult.select(
        PayResult.id, PayResult.seq, PayResult.line, PayResult.amount_fen,
        PayResult.line.person.name.as_alias("name")).where(PayResult.batch == batch_id)}
    errors: list[dict[str, Any]] = []
    decided: dict[int, tuple[str, str, date, int]] = {}
    total = 0
    today = local_today()
    for n, raw in rows:
        try:
            seq = int(str(raw.get("seq")).strip().split(".")[0])
        except ValueError:
            errors.append({"row": n, "column": "序号", "message": f"序号无效：{raw.get('seq')}"})
            continue
        e = expected.get(seq)
        if e is None:
            errors.append({"row": n, "column": "序号", "message": f"序号 {seq} 不在本批次中"})
            continue
        if seq in decided:
            errors.append({"row": n, "column": "序号", "message": f"序号 {seq} 重复"})
            continue
        if str(raw.get("name") or "").strip() != e["name"]:
            errors.append({"row": n, "column": "姓名", "message": f"姓名与代发文件不符（应为 {e['name']}）"})
            continue
        try:
            fen = money.to_fen(raw.get("amount"))
        except Exception as ex:  # InvalidInput
            errors.append({"row": n, "column": "金额", "message": getattr(ex, "zh", str(ex))})
            continue
        if fen != e["amount_fen"]:
            errors.append({"row": n, "column": "金额",
                           "message": f"金额 {money.yuan(fen)} 与代发文件的 {money.yuan(e['amount_fen'])} 不符"})
            continue
        result = str(raw.get("result") or "").strip().lower()
        if result in _PAID:
            status = BankStatus.paid
        elif result in _FAILED:
            status = BankStatus.failed
        else:
            errors.append({"row": n, "column": "结果", "message": f"结果应为“成功”或“失败”：{raw.get('result')}"})
            continue
        reason = str(raw.get("reason") or "").strip()[:200]
        if status == BankStatus.failed and not reason:
            reason = "银行未说明原因"
        day = raw.get("paid_on")
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day.strip().replace("/", "-")[:10])
            except ValueError:
                errors.append({"row": n, "column": "日期", "message": f"日期格式应为 YYYY-MM-DD：{day}"})
                continue
        day = day if isinstance(day, date) else today
        decided[seq] = (status, reason, day, e["id"])
        total += fen
    missing = sorted(set(expected) - set(decided))
    if missing and not errors:
        errors.append({"row": 0, "column": "序号",
                       "message": f"回盘缺少 {len(missing)} 行（序号 {'、'.join(map(str, missing[:20]))}）"})
    if not errors and total != b["total_fen"]:
        errors.append({"row": 0, "column": "金额",
                       "message": f"回盘合计 {money.yuan(total)} 元与代发合计 {money.yuan(b['total_fen'])} 元不符"})
    if errors:
        return ResultOutcome(ok=False, errors=errors)
    return await apply_result(batch_id, {seq: (st, rs, d) for seq, (st, rs, d, _id) in decided.items()})


async def apply_result(batch_id: int, decided: dict[int, tuple[str, str, date]]) -> ResultOutcome:
    """Write a checked result (seq → (paid | failed, reason, day)) in one transaction."""
    expected = {r["seq"]: r for r in await PayResult.select(
        PayResult.id, PayResult.seq, PayResult.line, PayResult.amount_fen).where(PayResult.batch == batch_id)}
    outcome = ResultOutcome(ok=True)
    async with write_transaction():
        for seq, (status, reason, day) in decided.items():
            e = expected[seq]
            result_id = e["id"]
            await PayResult.update({PayResult.status: status, PayResult.reason: reason,
                                    PayResult.paid_on: day if status == BankStatus.paid else None}).where(
                PayResult.id == result_id)
            if status == BankStatus.paid:
                await PayrollLine.update({PayrollLine.paid_fen: PayrollLine.paid_fen + e["amount_fen"],
                                          PayrollLine.paid_on: day, PayrollLine.bank_status: BankStatus.paid,
                                          PayrollLine.bank_reason: ""}).where(PayrollLine.id == e["line"])
                outcome.paid += 1
                outcome.paid_fen += e["amount_fen"]
            else:
                await PayrollLine.update({PayrollLine.bank_status: BankStatus.failed,
                                          PayrollLine.bank_reason: reason}).where(PayrollLine.id == e["line"])
                outcome.failed += 1
        await PayBatch.update({PayBatch.result_at: datetime.now(UTC), PayBatch.paid_count: outcome.paid,
                               PayBatch.failed_count: outcome.failed, PayBatch.paid_fen: outcome.paid_fen}).where(
            PayBatch.id == batch_id)
    return outcome


async def batch_rows(user: CurrentUser, project_id: int, batch_id: int) -> list[dict[str, Any]]:
    """A batch's rows for the page (masked numbers only)."""
    await access.can_read(user, project_id)
    rows = await PayResult.select(
        PayResult.seq, PayResult.amount_fen, PayResult.status, PayResult.reason, PayResult.paid_on,
        PayResult.line.person.name.as_alias("name"), PayResult.line.card_masked.as_alias("card_masked"),
    ).where((PayResult.batch == batch_id) & (PayResult.batch.project == project_id)).order_by(PayResult.seq)
    for r in rows:
        r["amount"] = money.yuan(r["amount_fen"])
        r["status_label"] = label(r["status"], "BankStatus")
    return rows


