"""The district's wage dashboard (issue 16 item 6): projects with findings, amounts unpaid, months overdue, account
and deposit state, 转劳动监察 marks — a handful of grouped queries whatever the number of projects; and the
worker's own pay (the phone's 工资 page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend import money
from backend.accounts.services import CurrentUser
from backend.org.tables import Project
from backend.vocabulary import PayrollStatus, WageAccountStatus, WageFindingKind, WageFindingStatus, label
from backend.wages import access
from backend.wages.reconcile import UNPAID_KINDS, referred
from backend.wages.tables import PayrollLine, WageAccount, WageDeposit, WageFinding

PAGE_SIZE = 50
OVERDUE_KINDS = (WageFindingKind.payroll_not_submitted, WageFindingKind.underpaid, WageFindingKind.bank_failed)


@dataclass(slots=True)
class DashboardPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    sums: dict[str, Any]


def _in(ids: list[int]) -> str:
    return ",".join(str(int(i)) for i in ids) or "NULL"


async def dashboard(user: CurrentUser, *, district_id: int | None = None, q: str | None = None,
                    only_findings: bool = False, page: int = 1, page_size: int = PAGE_SIZE) -> DashboardPage:
    """One row per project in the user's scope: open findings, unpaid amount (standing payrolls), months overdue,
    account status, deposit, referral.  Filters: district, name, only projects with findings; paged."""
    visible = await access.scope_projects(user)
    pq = Project.select(Project.id, Project.name, Project.district, Project.district.name.as_alias("district_name"),
                        Project.status).order_by(Project.id)
    if visible is not None:
        pq = pq.where(Project.id.is_in(sorted(visible) or [-1]))
    if district_id is not None:
        pq = pq.where(Project.district == district_id)
    if q:
        pq = pq.where(Project.name.like(f"%{q.strip()[:40]}%"))
    projects = await pq
    ids = [p["id"] for p in projects]
    findings: dict[int, dict[str, int]] = {}
    unpaid: dict[int, int] = {}
    overdue: dict[int, int] = {}
    if ids:
        id_list = _in(ids)
        unpaid_kinds = ",".join(f"'{k}'" for k in sorted(UNPAID_KINDS))
        for r in await WageFinding.raw(
                f"SELECT project, COUNT(*) AS n, SUM(CASE WHEN kind IN ({unpaid_kinds}) THEN 1 ELSE 0 END) AS unpaid_n "
                f"FROM wage_finding WHERE status = {{}} AND project IN ({id_list}) GROUP BY project",
                WageFindingStatus.open.value):
            findings[r["project"]] = {"n": int(r["n"]), "unpaid_n": int(r["unpaid_n"] or 0)}
        for r in await PayrollLine.raw(
                "SELECT p.project AS project, SUM(CASE WHEN l.payable_fen > l.paid_fen THEN l.payable_fen - l.paid_fen "
                "ELSE 0 END) AS unpaid FROM payroll_line l JOIN payroll p ON l.payroll = p.id "
                f"WHERE p.status = {{}} AND p.project IN ({id_list}) GROUP BY p.project", PayrollStatus.submitted.value):
            unpaid[r["project"]] = int(r["unpaid"] or 0)
        kinds = ",".join(f"'{k}'" for k in OVERDUE_KINDS)
        for r in await WageFinding.raw(
                "SELECT project, COUNT(DISTINCT month) AS months FROM wage_finding "
                f"WHERE status = {{}} AND kind IN ({kinds}) AND project IN ({id_list}) GROUP BY project",
                WageFindingStatus.open.value):
            overdue[r["project"]] = int(r["months"])
        accounts = {r["project"]: r["status"] for r in await WageAccount.raw(
            f"SELECT project, status FROM wage_account WHERE project IN ({id_list})")}
        deposits = {r["project"] for r in await WageDeposit.raw(
            f"SELECT DISTINCT project FROM wage_deposit WHERE project IN ({id_list})")}
        marked = await referred(ids)
    else:
        accounts, deposits, marked = {}, set(), set()
    rows = []
    for p in projects:
        f = findings.get(p["id"], {"n": 0, "unpaid_n": 0})
        if only_findings and not f["n"]:
            continue
        status = accounts.get(p["id"])
        rows.append({**p, "findings": f["n"], "unpaid_findings": f["unpaid_n"], "unpaid_fen": unpaid.get(p["id"], 0),
                     "unpaid": money.yuan_grouped(unpaid.get(p["id"], 0)), "months_overdue": overdue.get(p["id"], 0),
                     "account_status": status or "", "account_label": label(status, "WageAccountStatus") if status
                     else "未登记", "account_ok": status == WageAccountStatus.approved,
                     "deposit": p["id"] in deposits, "referred": p["id"] in marked,
                     "status_label": label(p["status"], "ProjectStatus")})
    rows.sort(key=lambda r: (-r["referred"], -r["findings"], -r["unpaid_fen"], r["id"]))
    total = len(rows)
    page_size = max(1, min(page_size, 200))
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    sums = {"projects": total, "with_findings": sum(1 for r in rows if r["findings"]),
            "unpaid": money.yuan_grouped(sum(r["unpaid_fen"] for r in rows)),
            "referred": sum(1 for r in rows if r["referred"])}
    return DashboardPage(rows=rows[(page - 1) * page_size: page * page_size], total=total, page=page, pages=pages,
                         sums=sums)


async def my_pay(user: CurrentUser) -> list[dict[str, Any]]:
    """The worker's own lines of submitted payrolls, newest month first: payable, paid, date, bank result."""
    if user.person_id is None:
        return []
    rows = await PayrollLine.select(
        PayrollLine.id, PayrollLine.payable_fen, PayrollLine.paid_fen, PayrollLine.paid_on, PayrollLine.days_worked,
        PayrollLine.bank_status, PayrollLine.bank_reason, PayrollLine.card_masked,
        PayrollLine.payroll.month.as_alias("month"), PayrollLine.payroll.project.name.as_alias("project_name"),
        PayrollLine.payroll.project.as_alias("project"),
    ).where((PayrollLine.person == user.person_id) & (PayrollLine.payroll.status == PayrollStatus.submitted)).order_by(
        PayrollLine.payroll.month, ascending=False)
    flagged = {r["line"] for r in await WageFinding.select(WageFinding.line).where(
        (WageFinding.person == user.person_id) & (WageFinding.kind == WageFindingKind.not_received)
        & (WageFinding.status == WageFindingStatus.open))}
    for r in rows:
        r["payable"] = money.yuan_grouped(r["payable_fen"])
        r["paid"] = money.yuan_grouped(r["paid_fen"])
        r["bank_label"] = label(r["bank_status"], "BankStatus")
        r["flagged"] = r["id"] in flagged
    return rows
