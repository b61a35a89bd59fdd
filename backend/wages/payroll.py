"""The monthly payroll (工资发放表, seed 000 §七): one version per project and month at a time, one line per rostered
worker with the valid days from our attendance (``supervision.monthly_matrix``: the same count as the monthly
attendance page), unit and rate from the labour contract, amounts in fen, the card encrypted.  A draft is edited
or imported (all or nothing); project staff submit it, which locks it; a correction is a new version with a
reason that replaces the submitted one when it is submitted in turn."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from backend import money
from backend.accounts.services import CurrentUser
from backend.bounded import BoundedRunner
from backend.crew.tables import LabourContract
from backend.crew.xlsx import ImportLimits
from backend.crypto import encrypt_text, lookup_hashes
from backend.db import write_transaction
from backend.errors import Conflict, NotFound, PayloadTooLarge, invalid
from backend.org import services as org
from backend.org.tables import Project
from backend.outbox import enqueue
from backend.supervision.days import parse_month
from backend.supervision.services.monthly import monthly_matrix
from backend.vocabulary import PayrollStatus, WorkRole, label, local_today
from backend.wages import access, xlsx
from backend.wages.tables import Payroll, PayrollLine
from backend.workforce.services import on_roster_between
from backend.workforce.tables import RosterEntry

CARD_AAD = b"wage_card_no"
EDITABLE = ("payable", "paid", "paid_on", "card_no", "card_holder", "card_bank", "leader_confirmed",
            "worker_confirmed", "note")


def check_month(month: str, today: date | None = None) -> tuple[date, date]:
    first, last = parse_month(month)
    if first > (today or local_today()):
        raise invalid("month", "不能编制未来月份的工资表", "A payroll cannot be for a future month")
    return first, last


def month_after(month: str, day: int) -> date:
    """Day ``day`` of the month after ``month`` (clamped to its length)."""
    _first, last = parse_month(month)
    nxt_first, nxt_last = parse_month(f"{last.year + (last.month == 12)}-{last.month % 12 + 1:02d}")
    return nxt_first.replace(day=max(1, min(day, nxt_last.day)))


# --- Attendance and contracts (read, never recounted) ------------------------------------------------------------

@dataclass(slots=True)
class Attended:
    person_id: int
    name: str
    id_masked: str
    team_id: int | None
    team_name: str
    valid_days: int


async def month_attendance(project_id: int, month: str, as_of: date | None = None) -> dict[int, Attended]:
    """Workers on the project's roster in ``month`` with their valid days (``monthly_matrix``'s count)."""
    m = await monthly_matrix({project_id}, month, work_role=WorkRole.worker, as_of=as_of)
    return {r.person_id: Attended(r.person_id, r.name, r.id_masked, r.team_id, r.team_name, r.valid_days)
            for r in m.rows if r.project_id == project_id}


async def contract_rates(project_id: int, person_ids: Iterable[int] | None = None) -> dict[int, tuple[str, int | None]]:
    """person → (unit, rate in fen) of their latest labour contract on the project that states them."""
    q = LabourContract.select(LabourContract.person, LabourContract.wage_unit, LabourContract.wage_rate_fen).where(
        LabourContract.project == project_id).order_by(LabourContract.id)
    out: dict[int, tuple[str, int | None]] = {}
    for r in await q:
        if r["wage_unit"]:
            out[r["person"]] = (r["wage_unit"], r["wage_rate_fen"])
    return out


async def set_contract_rate(user: CurrentUser, project_id: int, contract_id: int, unit: str, rate: Any) -> None:
    """计量单位 / 计量单价 of a labour contract (seed 001 §2.9)."""
    await access.can_keep(user, project_id)
    if unit not in ("day", "month", "piece"):
        raise invalid("unit", "计量单位应为 按日 / 按月 / 按件", "unit must be day, month or piece")
    fen = money.to_fen(rate, field="rate", label="计量单价")
    n = await LabourContract.count().where((LabourContract.id == contract_id) & (LabourContract.project == project_id))
    if not n:
        raise NotFound("劳动合同不存在", "Contract not found", field="contract_id")
    await LabourContract.update({LabourContract.wage_unit: unit, LabourContract.wage_rate_fen: fen}).where(
        LabourContract.id == contract_id)


# --- Reading ----------------------------------------------------------------------------------------------------

async def versions(project_id: int, month: str) -> list[dict[str, Any]]:
    return await Payroll.select().where((Payroll.project == project_id) & (Payroll.month == month)).order_by(
        Payroll.version)


def effective(vs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The version that stands: the latest submitted one, else the latest draft."""
    submitted = [v for v in vs if v["status"] == PayrollStatus.submitted]
    return submitted[-1] if submitted else (vs[-1] if vs else None)


LINE_COLUMNS = (PayrollLine.id, PayrollLine.payroll, PayrollLine.person, PayrollLine.person.name.as_alias("name"),
                PayrollLine.person.id_masked.as_alias("id_masked"), PayrollLine.team,
                PayrollLine.team.name.as_alias("team_name"), PayrollLine.days_worked, PayrollLine.unit,
                PayrollLine.rate_fen, PayrollLine.payable_fen, PayrollLine.paid_fen, PayrollLine.paid_on,
                PayrollLine.card_masked, PayrollLine.card_holder, PayrollLine.card_bank, PayrollLine.leader_confirmed,
                PayrollLine.worker_confirmed, PayrollLine.bank_status, PayrollLine.bank_reason, PayrollLine.note)


async def lines_of(payroll_id: int, teams: set[int] | None = None) -> list[dict[str, Any]]:
    if teams is not None and not teams:
        return []
    q = PayrollLine.select(*LINE_COLUMNS).where(PayrollLine.payroll == payroll_id)
    if teams is not None:
        q = q.where(PayrollLine.team.is_in(sorted(teams)))
    rows = await q.order_by(PayrollLine.id)
    for r in rows:
        decorate_line(r)
    return rows


def decorate_line(r: dict[str, Any]) -> None:
    r["payable"] = money.yuan(r["payable_fen"])
    r["paid"] = money.yuan(r["paid_fen"])
    r["rate"] = money.yuan(r["rate_fen"])
    r["unpaid_fen"] = max(0, r["payable_fen"] - r["paid_fen"])
    r["unpaid"] = money.yuan(r["unpaid_fen"])
    r["unit_label"] = label(r["unit"], "WageUnit")
    r["bank_label"] = label(r["bank_status"], "BankStatus")


def totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    payable = sum(r["payable_fen"] for r in lines)
    paid = sum(r["paid_fen"] for r in lines)
    unpaid = sum(max(0, r["payable_fen"] - r["paid_fen"]) for r in lines)
    return {"lines": len(lines), "payable_fen": payable, "paid_fen": paid, "unpaid_fen": unpaid,
            "payable": money.yuan(payable), "paid": money.yuan(paid), "unpaid": money.yuan(unpaid)}


async def payroll_view(user: CurrentUser, project_id: int, month: str, version: int | None = None) -> dict[str, Any]:
    teams = await access.can_read(user, project_id)
    check_month(month)
    vs = await versions(project_id, month)
    chosen = next((v for v in vs if v["version"] == version), None) if version else (vs[-1] if vs else None)
    if version and chosen is None:
        raise NotFound("该版本不存在", "No such version", field="version")
    lines = await lines_of(chosen["id"], teams) if chosen else []
    for v in vs:
        v["status_label"] = label(v["status"], "PayrollStatus")
    return {"project_id": project_id, "month": month, "versions": vs, "payroll": chosen, "lines": lines,
            "totals": totals(lines), "editable": bool(chosen and chosen["status"] == PayrollStatus.draft),
            "team_limited": teams is not None}


# --- Writing ----------------------------------------------------------------------------------------------------

async def _latest(project_id: int, month: str) -> dict[str, Any] | None:
    vs = await versions(project_id, month)
    return vs[-1] if vs else None


async def _prefill(project_id: int, month: str, payroll_id: int) -> int:
    """One line per worker on the roster in the month: valid days, contract unit/rate, payable where the
    contract allows; the card of the person's latest earlier line."""
    attended = await month_attendance(project_id, month)
    rates = await contract_rates(project_id)
    cards = await last_cards(project_id, list(attended))
    rows = []
    for pid, a in attended.items():
        unit, rate = rates.get(pid, ("", None))
        payable = money.payable_fen(unit, rate, a.valid_days)
        card = cards.get(pid, {})
        rows.append(PayrollLine(payroll=payroll_id, person=pid, team=a.team_id, days_worked=a.valid_days, unit=unit,
                                rate_fen=rate, payable_fen=payable or 0, card_enc=card.get("card_enc", ""),
                                card_masked=card.get("card_masked", ""), card_holder=card.get("card_holder", ""),
                                card_bank=card.get("card_bank", "")))
    for i in range(0, len(rows), 500):
        await PayrollLine.insert(*rows[i:i + 500])
    return len(rows)


async def last_cards(project_id: int, person_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not person_ids:
        return {}
    rows = await PayrollLine.select(PayrollLine.person, PayrollLine.card_enc, PayrollLine.card_masked,
                                    PayrollLine.card_holder, PayrollLine.card_bank).where(
        (PayrollLine.payroll.project == project_id) & (PayrollLine.card_enc != "")).order_by(PayrollLine.id)
    wanted = set(person_ids)
    return {r["person"]: r for r in rows if r["person"] in wanted}


async def create_draft(user: CurrentUser, project_id: int, month: str) -> dict[str, Any]:
    """Version 1 of a month's payroll, prefilled from the roster and attendance."""
    await access.can_keep(user, project_id)
    check_month(month)
    async with write_transaction():
        if await _latest(project_id, month):
            raise Conflict("该月工资表已存在", "The month's payroll exists already", code="payroll_exists")
        p = Payroll(project=project_id, month=month, version=1, status=PayrollStatus.draft, created_by=user.id)
        await p.save()
        await _prefill(project_id, month, p.id)
    return await payroll_view(user, project_id, month)


async def refresh_days(user: CurrentUser, project_id: int, month: str) -> int:
    """A draft's valid days again from attendance (payable recomputed where the contract gives it)."""
    await access.can_keep(user, project_id)
    draft = await _draft(project_id, month)
    attended = await month_attendance(project_id, month)
    async with write_transaction():
        for r in await PayrollLine.select(PayrollLine.id, PayrollLine.person, PayrollLine.unit,
                                          PayrollLine.rate_fen).where(PayrollLine.payroll == draft["id"]):
            days = attended[r["person"]].valid_days if r["person"] in attended else 0
            values: dict[Any, Any] = {PayrollLine.days_worked: days}
            p = money.payable_fen(r["unit"], r["rate_fen"], days)
            if p is not None:
                values[PayrollLine.payable_fen] = p
            await PayrollLine.update(values).where(PayrollLine.id == r["id"])
    return len(attended)


async def _draft(project_id: int, month: str) -> dict[str, Any]:
    latest = await _latest(project_id, month)
    if latest is None:
        raise NotFound("该月还没有工资表", "No payroll for this month yet", field="month")
    if latest["status"] != PayrollStatus.draft:
        raise Conflict("工资表已提交并锁定；如需修改请发起更正（新版本）",
                       "The payroll is submitted and locked; start a correction (a new version)",
                       code="payroll_locked")
    return latest


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return str(v or "").strip().lower() in ("是", "y", "yes", "true", "1", "已确认", "√")


def line_values(changes: dict[str, Any], person_name: str) -> dict[Any, Any]:
    """Column values of a line edit (checked): amounts to fen, the card encrypted and masked."""
    out: dict[Any, Any] = {}
    if "payable" in changes and changes["payable"] not in (None, ""):
        out[PayrollLine.payable_fen] = money.to_fen(changes["payable"], field="payable", label="应发工资")
    if "paid" in changes:
        out[PayrollLine.paid_fen] = (money.to_fen(changes["paid"], field="paid", label="实发工资")
                                     if changes["paid"] not in (None, "") else 0)
    if "paid_on" in changes:
        v = changes["paid_on"]
        if v in (None, ""):
            out[PayrollLine.paid_on] = None
        else:
            try:
                d = v if isinstance(v, date) else date.fromisoformat(str(v).strip().replace("/", "-"))
            except ValueError:
                raise invalid("paid_on", f"发放日期格式应为 YYYY-MM-DD：{v}", "paid_on must be YYYY-MM-DD") from None
            if d > local_today():
                raise invalid("paid_on", "发放日期不能晚于今天", "paid_on cannot be in the future")
            out[PayrollLine.paid_on] = d
    if "card_no" in changes and changes["card_no"] not in (None, ""):
        n = money.check_card_no(changes["card_no"])
        out[PayrollLine.card_enc] = encrypt_text(n, aad=CARD_AAD)
        out[PayrollLine.card_masked] = money.mask_number(n)
        out.setdefault(PayrollLine.card_holder, person_name)
    if "card_holder" in changes and changes["card_holder"] not in (None, ""):
        out[PayrollLine.card_holder] = str(changes["card_holder"]).strip()[:60]
    if "card_bank" in changes:
        out[PayrollLine.card_bank] = str(changes["card_bank"] or "").strip()[:100]
    for k in ("leader_confirmed", "worker_confirmed"):
        if k in changes:
            out[getattr(PayrollLine, k)] = _bool(changes[k])
    if "note" in changes:
        out[PayrollLine.note] = str(changes["note"] or "").strip()[:500]
    return out


async def update_line(user: CurrentUser, project_id: int, line_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Edit a draft's line (keepers); a foreman may only confirm lines of their own teams (班组长确认)."""
    teams = await access.can_read(user, project_id)
    row = await PayrollLine.select(PayrollLine.id, PayrollLine.team, PayrollLine.payroll,
                                   PayrollLine.payroll.status.as_alias("status"),
                                   PayrollLine.payroll.project.as_alias("project"),
                                   PayrollLine.person.name.as_alias("name")).where(PayrollLine.id == line_id).first()
    if row is None or row["project"] != project_id or (teams is not None and row["team"] not in teams):
        raise NotFound("工资行不存在", "Payroll line not found", field="line_id")
    if user.role not in access.KEEPERS:
        if set(changes) - {"leader_confirmed"}:
            await access.can_keep(user, project_id)
    if row["status"] != PayrollStatus.draft:
        raise Conflict("工资表已提交并锁定；如需修改请发起更正（新版本）", "The payroll is locked", code="payroll_locked")
    values = line_values({k: v for k, v in changes.items() if k in EDITABLE}, row["name"])
    if values:
        await PayrollLine.update(values).where(PayrollLine.id == line_id)
    out = await PayrollLine.select(*LINE_COLUMNS).where(PayrollLine.id == line_id).first()
    decorate_line(out)
    return out


async def submit(user: CurrentUser, project_id: int, month: str) -> dict[str, Any]:
    """Submit the draft: it is locked; the version it corrects is superseded."""
    await access.can_keep(user, project_id)
    async with write_transaction():
        draft = await _draft(project_id, month)
        if not await PayrollLine.exists().where(PayrollLine.payroll == draft["id"]):
            raise invalid("month", "工资表没有任何人员，不能提交", "An empty payroll cannot be submitted",
                          code="payroll_empty")
        now = datetime.now(UTC)
        await Payroll.update({Payroll.status: PayrollStatus.superseded}).where(
            (Payroll.project == project_id) & (Payroll.month == month) & (Payroll.status == PayrollStatus.submitted))
        await Payroll.update({Payroll.status: PayrollStatus.submitted, Payroll.submitted_by: user.id,
                              Payroll.submitted_at: now}).where(Payroll.id == draft["id"])
        # 工资发放记录 to the worker platform (issue 17), in this transaction: the month's upload entity is its
        # first version (backend/wages/upload.py; a later correction finds the month already there).
        first = (await versions(project_id, month))[0]["id"]
        await enqueue("payroll", first, "add", project_id=project_id)
    return await payroll_view(user, project_id, month)


async def start_correction(user: CurrentUser, project_id: int, month: str, reason: str) -> dict[str, Any]:
    """A new draft version copying the submitted one, with the reason for the correction."""
    await access.can_keep(user, project_id)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise invalid("reason", "请填写更正原因", "Say why the payroll is corrected", code="reason_required")
    async with write_transaction():
        latest = await _latest(project_id, month)
        if latest is None or latest["status"] != PayrollStatus.submitted:
            raise Conflict("只有已提交的工资表才能更正", "Only a submitted payroll can be corrected",
                           code="nothing_to_correct")
        p = Payroll(project=project_id, month=month, version=latest["version"] + 1, status=PayrollStatus.draft,
                    reason=reason[:500], created_by=user.id)
        await p.save()
        src = await PayrollLine.select().where(PayrollLine.payroll == latest["id"]).order_by(PayrollLine.id)
        copies = [PayrollLine(**{**{k: v for k, v in r.items() if k not in ("id", "payroll")}, "payroll": p.id})
                  for r in src]
        for i in range(0, len(copies), 500):
            await PayrollLine.insert(*copies[i:i + 500])
    return await payroll_view(user, project_id, month)


# --- Import ------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class ImportOutcome:
    ok: bool
    lines: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def _err(n: int, column: str, zh: str, code: str) -> dict[str, Any]:
    return {"row": n, "column": column, "code": code, "message": zh}


async def import_payroll(user: CurrentUser, project_id: int, month: str, data: bytes | None, *,
                         runner: BoundedRunner) -> ImportOutcome:
    """The month's payroll from the .xlsx a site keeps: every row checked, then all lines written in one
    transaction — or nothing, with per-row Chinese errors.  Days are ours (attendance), never the sheet's."""
    await access.can_keep(user, project_id)
    check_month(month)
    rules = await org.rules_for_project(project_id)
    if not data:
        raise invalid("file", "请选择要导入的 Excel 文件", "Choose an .xlsx file", code="file_required")
    if len(data) > rules.wage_import_max_bytes:
        raise PayloadTooLarge(f"导入文件过大（上限 {rules.wage_import_max_bytes // 1024 // 1024} MB）",
                              "The import file is too large", field="file", code="file_too_large")
    latest = await _latest(project_id, month)
    if latest is not None and latest["status"] != PayrollStatus.draft:
        raise Conflict("该月工资表已提交并锁定；如需修改请先发起更正（新版本）再导入",
                       "The payroll is locked; start a correction first", code="payroll_locked")
    rows = await runner.run(xlsx.read_table, data, "payroll", rules.wage_import_max_rows,
                            ImportLimits.from_rules(rules, rules.wage_import_max_rows),
                            timeout_s=rules.crew_import_max_seconds, what_zh="Excel 文件", what_en="workbook")
    attended = await month_attendance(project_id, month)
    first, last = parse_month(month)
    roster = await RosterEntry.select(RosterEntry.person, RosterEntry.team, RosterEntry.person.id_hash.as_alias("h"),
                                      RosterEntry.person.name.as_alias("name")).where(
        (RosterEntry.project == project_id) & on_roster_between(first, last)).order_by(RosterEntry.id)
    by_hash = {r["h"]: r for r in roster}
    rates = await contract_rates(project_id)
    H = {c.key: c.header for c in xlsx.PAYROLL_COLUMNS}
    errors: list[dict[str, Any]] = []
    good: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    for n, raw in rows:
        idn = raw.get("id_number")
        if isinstance(idn, int | float):
            errors.append(_err(n, H["id_number"], "身份证号被 Excel 存成了数字（末几位会丢失），请将该列设为文本格式后重新填写",
                               "id_not_text"))
            continue
        # any key of the ring (a person not yet re-hashed by ``smz rotate-key`` is still found)
        who = next((by_hash[h] for h in lookup_hashes(str(idn or "")) if h in by_hash), None) if idn else None
        if who is None:
            errors.append(_err(n, H["id_number"], f"身份证号不在本项目 {month} 的花名册中", "not_on_roster"))
            continue
        if str(raw.get("name") or "").strip() != who["name"]:
            errors.append(_err(n, H["name"], f"姓名与身份证号不符（花名册中为 {who['name']}）", "name_mismatch"))
            continue
        pid = who["person"]
        if pid in seen:
            errors.append(_err(n, H["id_number"], f"与第 {seen[pid]} 行是同一人", "duplicate_in_file"))
            continue
        seen[pid] = n
        days = attended[pid].valid_days if pid in attended else 0
        unit, rate = rates.get(pid, ("", None))
        try:
            values = line_values({k: raw.get(k) for k in EDITABLE if k in raw}, who["name"])
        except Exception as e:  # an InvalidInput: which column and why
            column = H.get(getattr(e, "field", "") or "", "")
            errors.append(_err(n, column, getattr(e, "zh", str(e)), getattr(e, "code", "invalid_input")))
            continue
        if PayrollLine.payable_fen not in values:
            p = money.payable_fen(unit, rate, days)
            if p is None:
                errors.append(_err(n, H["payable"], "应发工资不能为空（劳动合同未载明按日或按月的计量单价）",
                                   "payable_required"))
                continue
            values[PayrollLine.payable_fen] = p
        if values.get(PayrollLine.paid_fen) and PayrollLine.paid_on not in values:
            errors.append(_err(n, H["paid_on"], "已填实发工资，请填写发放日期", "paid_on_required"))
            continue
        good.append({"person": pid, "team": who["team"], "days_worked": days, "unit": unit, "rate_fen": rate,
                     **{col._meta.name: v for col, v in values.items()}})
    if errors:
        return ImportOutcome(ok=False, errors=errors)
    async with write_transaction():
        latest = await _latest(project_id, month)
        if latest is None:
            p = Payroll(project=project_id, month=month, version=1, status=PayrollStatus.draft, created_by=user.id)
            await p.save()
            payroll_id = p.id
        elif latest["status"] != PayrollStatus.draft:
            raise Conflict("该月工资表已提交并锁定", "The payroll is locked", code="payroll_locked")
        else:
            payroll_id = latest["id"]
            await PayrollLine.delete().where(PayrollLine.payroll == payroll_id)
        lines = [PayrollLine(payroll=payroll_id, **g) for g in good]
        for i in range(0, len(lines), 500):
            await PayrollLine.insert(*lines[i:i + 500])
    return ImportOutcome(ok=True, lines=len(good))


async def template(user: CurrentUser, project_id: int, month: str) -> bytes:
    await access.can_keep(user, project_id)
    check_month(month)
    attended = await month_attendance(project_id, month)
    return xlsx.payroll_template_bytes(month, [{"name": a.name} for a in attended.values()])


async def project_name(project_id: int) -> str:
    r = await Project.select(Project.name).where(Project.id == project_id).first()
    return r["name"] if r else ""

