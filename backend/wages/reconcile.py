"""Reconciliation of pay with attendance, per project and month (issue 16 item 4) — the check nobody does by hand.

``reconcile_month`` compares the month's roster and valid days (``supervision.monthly_matrix``) with the payroll
that stands (``payroll.effective``) and its bank results, and stores every mismatch as a ``wage_finding``
(the system's findings of that month are replaced; a worker's 未收到 flag stays until someone resolves it).
``sync_warnings`` turns missing accounts and deposits (seed 000 §三 缺少其中一项 → 黄灯, 5 日内不能整改 → 红灯)
and open findings into the yellow/red warnings (``supervision.apply_findings``).  A project warned for unpaid
wages is marked 转劳动监察 (seed 000 §七) and its evidence is exported (``evidence``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend import money
from backend.accounts.services import CurrentUser
from backend.db import write_transaction
from backend.errors import NotFound, invalid
from backend.rules import Rules
from backend.supervision.days import month_of, parse_month
from backend.supervision.services.projects import ProjectCtx, project_contexts
from backend.supervision.services.warnings import Finding, apply_findings
from backend.supervision.sms import SmsSender
from backend.supervision.tables import WarningCase
from backend.vocabulary import (
    BankStatus,
    PayrollStatus,
    ProjectStatus,
    WageAccountStatus,
    WageFindingKind,
    WageFindingStatus,
    WarningKind,
    WarningStatus,
    label,
    local_today,
)
from backend.wages import access, xlsx
from backend.wages.payroll import Attended, effective, month_after, month_attendance, versions
from backend.wages.tables import PayBatch, PayResult, Payroll, PayrollLine, WageAccount, WageDeposit, WageFinding
from backend.workforce.services import on_roster_between
from backend.workforce.tables import RosterEntry

WAGE_KINDS = frozenset({WarningKind.wage_account_missing, WarningKind.wage_deposit_missing, WarningKind.wage_unpaid,
                        WarningKind.wage_mismatch})
# Findings that mean wages not paid in time or in full (seed 000 §七: 未及时足额支付农民工工资 → 转劳动监察).
UNPAID_KINDS = frozenset({WageFindingKind.underpaid, WageFindingKind.paid_late, WageFindingKind.bank_failed,
                          WageFindingKind.not_received, WageFindingKind.exit_unsettled})


@dataclass(slots=True)
class Mismatch:
    kind: str
    person_id: int | None
    line_id: int | None
    amount_fen: int
    message: str
    detail: dict[str, Any]


# --- The rules (pure) -------------------------------------------------------------------------------------------

def find_mismatches(month: str, today: date, rules: Rules, attended: dict[int, Attended],
                    payroll: dict[str, Any] | None, lines: list[dict[str, Any]], submitted: bool,
                    exits: dict[int, date]) -> list[Mismatch]:
    """Every mismatch of a project's month.  ``lines``: the standing payroll's lines (name, payable, paid,
    paid_on, card holder, bank status); ``exits``: workers who left during the month (person → exit day)."""
    out: list[Mismatch] = []
    deadline = month_after(month, rules.wage_payroll_deadline_day)
    pay_day = month_after(month, rules.wage_pay_day)
    if not submitted and today > deadline:
        out.append(Mismatch(WageFindingKind.payroll_not_submitted, None, None, 0,
                            f"{month} 工资表应于 {deadline.isoformat()} 前提交，至今未提交",
                            {"deadline": deadline.isoformat()}))
    if payroll is None:
        return out
    on_payroll = {ln["person"]: ln for ln in lines}
    for pid, a in attended.items():
        if a.valid_days >= rules.wage_min_valid_days and pid not in on_payroll:
            out.append(Mismatch(WageFindingKind.attended_not_on_payroll, pid, None, 0,
                                f"{a.name}（{a.team_name}）{month} 有效考勤 {a.valid_days} 天，未列入工资表",
                                {"valid_days": a.valid_days}))
    for ln in lines:
        pid, name = ln["person"], ln["name"]
        days = attended[pid].valid_days if pid in attended else 0
        unpaid = max(0, ln["payable_fen"] - ln["paid_fen"])
        if days == 0 and ln["payable_fen"] > 0:  # paid for a month without a valid day (a line of 0 is noise)
            out.append(Mismatch(WageFindingKind.on_payroll_no_attendance, pid, ln["id"], ln["payable_fen"],
                                f"{name} 列入 {month} 工资表（应发 {money.yuan(ln['payable_fen'])} 元），当月无有效考勤",
                                {"payable_fen": ln["payable_fen"]}))
        if ln["bank_status"] == BankStatus.failed and unpaid > 0:
            out.append(Mismatch(WageFindingKind.bank_failed, pid, ln["id"], unpaid,
                                f"{name} 银行代发失败（{ln['bank_reason'] or '未说明原因'}），{money.yuan(unpaid)} 元未发放",
                                {"reason": ln["bank_reason"]}))
        elif unpaid > 0 and today > pay_day:
            out.append(Mismatch(WageFindingKind.underpaid, pid, ln["id"], unpaid,
                                f"{name} 应发 {money.yuan(ln['payable_fen'])} 元，实发 {money.yuan(ln['paid_fen'])} 元，"
                                f"{pay_day.isoformat()} 发薪日后仍少发 {money.yuan(unpaid)} 元",
                                {"payable_fen": ln["payable_fen"], "paid_fen": ln["paid_fen"]}))
        if ln["paid_fen"] > 0 and ln["paid_on"] is not None and ln["paid_on"] > pay_day:
            out.append(Mismatch(WageFindingKind.paid_late, pid, ln["id"], ln["paid_fen"],
                                f"{name} 工资于 {ln['paid_on'].isoformat()} 发放，晚于发薪日 {pay_day.isoformat()}",
                                {"paid_on": ln["paid_on"].isoformat(), "pay_day": pay_day.isoformat()}))
        holder = (ln.get("card_holder") or "").strip()
        if ln.get("card_masked") and holder and holder != name:
            out.append(Mismatch(WageFindingKind.card_not_own, pid, ln["id"], ln["payable_fen"],
                                f"{name} 的工资卡户名为“{holder}”，非本人", {"holder": holder}))
        if pid in exits and unpaid > 0:
            out.append(Mismatch(WageFindingKind.exit_unsettled, pid, ln["id"], unpaid,
                                f"{name} 已于 {exits[pid].isoformat()} 退场，仍有 {money.yuan(unpaid)} 元未结清",
                                {"exited_on": exits[pid].isoformat()}))
    return out


# --- Reconciling a month ----------------------------------------------------------------------------------------

async def standing_lines(payroll_id: int) -> list[dict[str, Any]]:
    return await PayrollLine.select(
        PayrollLine.id, PayrollLine.person, PayrollLine.person.name.as_alias("name"), PayrollLine.payable_fen,
        PayrollLine.paid_fen, PayrollLine.paid_on, PayrollLine.card_masked, PayrollLine.card_holder,
        PayrollLine.bank_status, PayrollLine.bank_reason).where(PayrollLine.payroll == payroll_id)


async def month_exits(project_id: int, month: str) -> dict[int, date]:
    first, last = parse_month(month)
    rows = await RosterEntry.select(RosterEntry.person, RosterEntry.exited_on).where(
        (RosterEntry.project == project_id) & on_roster_between(first, last) & (RosterEntry.exited_on.is_not_null())
        & (RosterEntry.exited_on <= last))
    return {r["person"]: r["exited_on"] for r in rows}


async def reconcile_month(project_id: int, month: str, *, today: date | None = None,
                          ctx: ProjectCtx | None = None) -> list[Mismatch]:
    """Find and store the month's mismatches (the system's findings of the month are replaced)."""
    today = today or local_today()
    parse_month(month)
    if ctx is None:
        ctx = (await project_contexts({project_id})).get(project_id)
        if ctx is None:
            raise NotFound("项目不存在", "Project not found", field="project_id")
    attended = await month_attendance(project_id, month, as_of=today - timedelta(days=1))
    vs = await versions(project_id, month)
    payroll = effective(vs)
    lines = await standing_lines(payroll["id"]) if payroll else []
    submitted = any(v["status"] == PayrollStatus.submitted for v in vs)
    found = find_mismatches(month, today, ctx.rules, attended, payroll, lines, submitted,
                            await month_exits(project_id, month))
    async with write_transaction():
        await WageFinding.delete().where((WageFinding.project == project_id) & (WageFinding.month == month)
                                         & (WageFinding.raised_by == "system"))
        rows = [WageFinding(project=project_id, district=ctx.district_id, month=month, kind=m.kind, person=m.person_id,
                            line=m.line_id, amount_fen=m.amount_fen, message=m.message, detail=m.detail)
                for m in found]
        for i in range(0, len(rows), 500):
            await WageFinding.insert(*rows[i:i + 500])
    return found


def months_to_check(today: date, back: int = 2) -> list[str]:
    """The previous ``back`` months and this one (the nightly run)."""
    out, d = [], today.replace(day=1)
    for _ in range(back + 1):
        out.append(month_of(d))
        d = (d - timedelta(days=1)).replace(day=1)
    return sorted(out)


async def flag_not_received(user: CurrentUser, line_id: int, note: str = "") -> int:
    """A worker says the pay of one of their lines did not arrive (未收到): a finding for project and district."""
    if user.person_id is None:
        raise NotFound("工资记录不存在", "Payroll line not found", field="line_id")
    ln = await PayrollLine.select(PayrollLine.id, PayrollLine.person, PayrollLine.paid_fen, PayrollLine.payable_fen,
                                  PayrollLine.payroll.project.as_alias("project"),
                                  PayrollLine.payroll.project.district.as_alias("district"),
                                  PayrollLine.payroll.month.as_alias("month"),
                                  PayrollLine.person.name.as_alias("name")).where(PayrollLine.id == line_id).first()
    if ln is None or ln["person"] != user.person_id:
        raise NotFound("工资记录不存在", "Payroll line not found", field="line_id")
    note = (note or "").strip()[:200]
    if await WageFinding.exists().where((WageFinding.line == line_id) & (WageFinding.kind == WageFindingKind.not_received)
                                        & (WageFinding.status == WageFindingStatus.open)):
        raise invalid("line_id", "已反映过，项目和主管部门会处理", "Flagged already", code="already_flagged")
    row = WageFinding(project=ln["project"], district=ln["district"], month=ln["month"],
                      kind=WageFindingKind.not_received, person=ln["person"], line=line_id,
                      amount_fen=max(ln["paid_fen"], ln["payable_fen"]), raised_by="worker",
                      message=f"{ln['name']} 反映 {ln['month']} 工资未收到" + (f"：{note}" if note else ""),
                      detail={"note": note})
    await row.save()
    await sync_warnings({ln["project"]}, notify=False)
    return row.id


async def resolve_finding(user: CurrentUser, project_id: int, finding_id: int) -> None:
    """Project staff (or the district) mark a worker's flag as resolved (the system's findings resolve themselves
    when the next reconciliation no longer finds them)."""
    await access.can_read(user, project_id)
    if user.role not in access.KEEPERS | access.DISTRICT:
        await access.can_keep(user, project_id)
    n = await WageFinding.count().where((WageFinding.id == finding_id) & (WageFinding.project == project_id))
    if not n:
        raise NotFound("记录不存在", "Finding not found", field="finding_id")
    await WageFinding.update({WageFinding.status: WageFindingStatus.resolved,
                              WageFinding.resolved_at: datetime.now(UTC)}).where(WageFinding.id == finding_id)


# --- Warnings ---------------------------------------------------------------------------------------------------

def _warning_kind(kind: str) -> str:
    return WarningKind.wage_unpaid if kind in UNPAID_KINDS else WarningKind.wage_mismatch


def wage_warning_findings(ctxs: dict[int, ProjectCtx], as_of: date, approved: set[int], deposits: set[int],
                          open_findings: list[dict[str, Any]]) -> list[Finding]:
    """Supervision findings: a project under construction without an approved account or a deposit (seed 000 §三
    missing items), and one per (project, mismatch kind, month) with open wage findings."""
    out: list[Finding] = []
    period = month_of(as_of)
    for pid, ctx in ctxs.items():
        if not ctx.calendar.is_construction(as_of) and ctx.status != ProjectStatus.under_construction:
            continue
        if pid not in approved:
            out.append(Finding(kind=WarningKind.wage_account_missing, project_id=pid, district_id=ctx.district_id,
                               subject="account", period=period,
                               message=f"{ctx.name}：在建，未开设或未经核准农民工工资专用账户", detail={}))
        if pid not in deposits:
            out.append(Finding(kind=WarningKind.wage_deposit_missing, project_id=pid, district_id=ctx.district_id,
                               subject="deposit", period=period,
                               message=f"{ctx.name}：在建，未上传工资保证金缴纳凭证", detail={}))
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in open_findings:
        if f["project"] in ctxs:
            groups[(f["project"], f["kind"], f["month"])].append(f)
    for (pid, kind, month), fs in sorted(groups.items()):
        ctx = ctxs[pid]
        people = len({f["person"] for f in fs if f["person"]})
        amount = sum(f["amount_fen"] for f in fs)
        who = f"{people} 人" if people else ""
        money_text = f"，涉及 {money.yuan_grouped(amount)} 元" if amount else ""
        out.append(Finding(kind=_warning_kind(kind), project_id=pid, district_id=ctx.district_id,
                           subject=f"{kind}:{month}", period=month,
                           message=f"{ctx.name}：{month} {label(kind, 'WageFindingKind')} {who}{money_text}",
                           detail={"finding_kind": kind, "month": month, "people": people, "amount_fen": amount,
                                   "count": len(fs)}))
    return out


async def sync_warnings(project_ids: set[int] | None = None, today: date | None = None, *, notify: bool = True,
                        sender: SmsSender | None = None) -> Any:
    """Open, update, escalate or rectify the wage warnings of the projects (None = all)."""
    today = today or local_today()
    ctxs = await project_contexts(project_ids)
    if not ctxs:
        return None
    ids = sorted(ctxs)
    approved = {r["project"] for r in await WageAccount.select(WageAccount.project).where(
        WageAccount.status == WageAccountStatus.approved)}
    deposits = {r["project"] for r in await WageDeposit.select(WageDeposit.project)}
    q = WageFinding.select(WageFinding.project, WageFinding.kind, WageFinding.month, WageFinding.person,
                           WageFinding.amount_fen).where(WageFinding.status == WageFindingStatus.open)
    if project_ids is not None:
        q = q.where(WageFinding.project.is_in(ids))
    findings = wage_warning_findings(ctxs, today - timedelta(days=1), approved, deposits, await q)
    return await apply_findings(findings, ctxs, today, kinds=WAGE_KINDS, notify=notify, sender=sender)


async def run_wages(today: date | None = None, project_ids: set[int] | None = None, *, notify: bool = True,
                    sender: SmsSender | None = None) -> dict[str, int]:
    """The nightly wage run: reconcile the recent months of every project with a payroll or under construction,
    then the warnings.  ``smz`` calls it after the attendance warnings."""
    today = today or local_today()
    ctxs = await project_contexts(project_ids)
    months = months_to_check(today)
    n = 0
    for pid, ctx in ctxs.items():
        for m in months:
            first, _last = parse_month(m)
            if first > today:
                continue
            if ctx.calendar.is_construction(today - timedelta(days=1)) or await PayrollLine.exists().where(
                    PayrollLine.payroll.project == pid):
                n += len(await reconcile_month(pid, m, today=today, ctx=ctx))
    await sync_warnings(project_ids, today, notify=notify, sender=sender)
    return {"projects": len(ctxs), "findings": n}


async def referred(project_ids: list[int]) -> set[int]:
    """Projects warned for unpaid wages (an open wage_unpaid case): marked 转劳动监察 (seed 000 §七)."""
    if not project_ids:
        return set()
    rows = await WarningCase.select(WarningCase.project).where(
        WarningCase.project.is_in(project_ids) & (WarningCase.kind == WarningKind.wage_unpaid)
        & (WarningCase.status != WarningStatus.closed) & (WarningCase.status != WarningStatus.rectified))
    return {r["project"] for r in rows}


# --- Reading for pages ------------------------------------------------------------------------------------------

async def month_findings(user: CurrentUser, project_id: int, month: str) -> list[dict[str, Any]]:
    teams = await access.can_read(user, project_id)
    rows = await WageFinding.select().where((WageFinding.project == project_id) & (WageFinding.month == month)).order_by(
        WageFinding.kind, WageFinding.id)
    if teams is not None:
        members = {r["person"] for r in await RosterEntry.select(RosterEntry.person).where(
            (RosterEntry.project == project_id) & RosterEntry.team.is_in(sorted(teams) or [-1]))}
        rows = [r for r in rows if r["person"] in members]
    for r in rows:
        r["kind_label"] = label(r["kind"], "WageFindingKind")
        r["status_label"] = label(r["status"], "WageFindingStatus")
        r["amount"] = money.yuan(r["amount_fen"]) if r["amount_fen"] else ""
        r["unpaid_kind"] = r["kind"] in UNPAID_KINDS
    return rows


async def evidence(user: CurrentUser, project_id: int, month: str) -> bytes:
    """转劳动监察 evidence of a month: attendance (valid days), the payroll, the bank results, the findings —
    masked numbers only."""
    await access.can_read(user, project_id)
    if user.role not in access.KEEPERS | access.DISTRICT:
        await access.can_keep(user, project_id)
    attended = await month_attendance(project_id, month)
    vs = await versions(project_id, month)
    payroll = effective(vs)
    lines = await PayrollLine.select(
        PayrollLine.id, PayrollLine.person.name.as_alias("name"), PayrollLine.person.id_masked.as_alias("id_masked"),
        PayrollLine.days_worked, PayrollLine.payable_fen, PayrollLine.paid_fen, PayrollLine.paid_on,
        PayrollLine.card_masked, PayrollLine.card_holder, PayrollLine.leader_confirmed, PayrollLine.worker_confirmed,
        PayrollLine.bank_status, PayrollLine.bank_reason).where(
        PayrollLine.payroll == (payroll["id"] if payroll else -1)).order_by(PayrollLine.id)
    results = await PayResult.select(
        PayResult.batch, PayResult.seq, PayResult.line.person.name.as_alias("name"), PayResult.amount_fen,
        PayResult.status, PayResult.reason, PayResult.paid_on).where(
        PayResult.batch.is_in([b["id"] for b in await PayBatch.select(PayBatch.id).where(
            PayBatch.payroll.is_in([v["id"] for v in vs] or [-1]))] or [-1])).order_by(PayResult.batch, PayResult.seq)
    findings = await month_findings(user, project_id, month)
    yes = {True: "是", False: "否"}
    sheets = [
        ("考勤", ["姓名", "身份证号", "班组", "有效考勤天数"],
         [[a.name, a.id_masked, a.team_name, a.valid_days] for a in attended.values()]),
        ("工资发放表", ["姓名", "身份证号", "出勤天数", "应发（元）", "实发（元）", "发放日期", "银行卡", "持卡人",
                    "班组长确认", "本人确认", "代发结果", "失败原因"],
         [[r["name"], r["id_masked"], r["days_worked"], money.yuan(r["payable_fen"]), money.yuan(r["paid_fen"]),
           r["paid_on"] or "", r["card_masked"], r["card_holder"], yes[r["leader_confirmed"]],
           yes[r["worker_confirmed"]], label(r["bank_status"], "BankStatus"), r["bank_reason"]] for r in lines]),
        ("银行回盘", ["批次", "序号", "姓名", "金额（元）", "结果", "原因", "日期"],
         [[r["batch"], r["seq"], r["name"], money.yuan(r["amount_fen"]), label(r["status"], "BankStatus"), r["reason"],
           r["paid_on"] or ""] for r in results]),
        ("核对结果", ["类型", "说明", "金额（元）", "状态"],
         [[f["kind_label"], f["message"], f["amount"], f["status_label"]] for f in findings]),
    ]
    version = f"第 {payroll['version']} 版" if payroll else "无工资表"
    return xlsx.evidence_xlsx(f"{month} 工资支付证据（{version}）", sheets)


# --- Exit settlement (seed 004 §三(五): 退场时…确认工作量、结清工资) ------------------------------------------------

async def unpaid_for_person(project_id: int, person_id: int) -> int:
    """Fen still owed to a person on the project: payable − paid over the standing payroll of every month."""
    payrolls = await Payroll.select(Payroll.id, Payroll.month, Payroll.version, Payroll.status).where(
        Payroll.project == project_id).order_by(Payroll.month, Payroll.version)
    by_month: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in payrolls:
        by_month[p["month"]].append(p)
    standing = [e["id"] for vs in by_month.values() if (e := effective(vs)) is not None]
    if not standing:
        return 0
    rows = await PayrollLine.select(PayrollLine.payable_fen, PayrollLine.paid_fen).where(
        PayrollLine.payroll.is_in(standing) & (PayrollLine.person == person_id))
    return sum(max(0, r["payable_fen"] - r["paid_fen"]) for r in rows)


async def check_exit_settlement(project_id: int, person_id: int, reason: str = "") -> int:
    """Before an exit: the amount still owed; with money owed the exit needs an explicit reason (400 otherwise).
    The exit form shows the amount (issue 16 item 5)."""
    owed = await unpaid_for_person(project_id, person_id)
    if owed and len((reason or "").strip()) < 2:
        raise invalid("unpaid_reason", f"此人在本项目仍有 {money.yuan_grouped(owed)} 元工资未结清，退场须说明原因",
                      f"{money.yuan(owed)} yuan is still owed: an exit needs a reason", code="wages_owed",
                      owed_fen=owed)
    return owed


async def record_exit_owed(project_id: int, person_id: int, exited_on: date, reason: str) -> int | None:
    """After an exit with money owed: an ``exit_unsettled`` finding for the project and the district (kept
    across reconciliations until resolved), and the warnings refreshed.  None when nothing is owed."""
    owed = await unpaid_for_person(project_id, person_id)
    if not owed:
        return None
    ctx = (await project_contexts({project_id}))[project_id]
    name = (await PayrollLine.select(PayrollLine.person.name.as_alias("n")).where(
        PayrollLine.person == person_id).first() or {"n": ""})["n"]
    row = WageFinding(project=project_id, district=ctx.district_id, month=month_of(exited_on),
                      kind=WageFindingKind.exit_unsettled, person=person_id, amount_fen=owed, raised_by="exit",
                      message=f"{name} 于 {exited_on.isoformat()} 退场，{money.yuan_grouped(owed)} 元工资未结清：{reason.strip()[:200]}",
                      detail={"reason": reason.strip()[:200], "exited_on": exited_on.isoformat()})
    await row.save()
    await sync_warnings({project_id}, notify=False)
    return row.id
