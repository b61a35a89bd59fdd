"""Wage figures (issue 16 standards): the reconciliation of one month for a project of 2,000 workers (goal ≤ 1 s)
and the district wage dashboard over 1,000 projects (goal ≤ 1 s), each next to its floor — a bare query of the same
rows (the month's person-days and payroll lines; the dashboard's grouped payroll lines).

    uv run python benchmarks/wages.py [--workers 2000] [--projects 1000] [--per-project 30] [--rounds 3]
    uv run python benchmarks/wages.py --pg postgresql://postgres@127.0.0.1:55432/postgres   # PostgreSQL

Builds a throw-away database (bulk inserts, the month rolled up as the nightly job would), then times the service
calls the pages use.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import setup_env  # noqa: E402
from benchmarks.reports import Loader, timed  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
MONTH = "2025-10"
JUDGED_ON = date(2025, 11, 25)  # after the pay day and the deadline of October's payroll


async def build(workers: int, projects: int, per_project: int, loader: Loader) -> dict[str, Any]:
    from backend.attendance.tables import Punch
    from backend.org.tables import District, Enterprise, Project, ProjectStatusChange, ProjectUnit, Team
    from backend.wages.tables import Payroll, PayrollLine, WageAccount, WageBank, WageFinding
    from backend.workforce.tables import Person, RosterEntry

    rng = random.Random(16)
    now = datetime.now(UTC)
    start = date(2025, 8, 1)
    await loader.insert(District, [{"id": i, "code": f"4407{i:02d}", "name": f"第{i}区", "rule_overrides": "{}",
                                    "timezone": "Asia/Shanghai"} for i in loader.ids("district", 8)])
    await loader.insert(Enterprise, [{"id": 1, "name": "总包企业", "uscc": "91440700MA00000001", "created_at": now}])
    await loader.insert(WageBank, [{"id": i, "district": i, "name": "测试银行", "created_at": now}
                                   for i in loader.ids("wage_bank", 8)])
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in ("project", "change", "unit", "team", "person", "roster",
                                                              "punch", "payroll", "line", "account", "finding")}
    ids = {k: iter(range(1, 10**9)) for k in rows}

    def project(pid: int, district: int, n: int, punches_per_day: bool) -> None:
        rows["project"].append({"id": pid, "name": f"项目{pid:04d}", "district": district, "category": "building",
                                "permit_no": f"4407{pid:012d}", "planned_start": start, "actual_start": start,
                                "status": "under_construction", "timezone": "Asia/Shanghai", "created_at": now,
                                "floor_area_m2": 30_000.0})
        rows["change"].append({"id": next(ids["change"]), "project": pid, "from_status": None,
                               "to_status": "under_construction", "effective_on": start, "note": "", "changed_at": now})
        unit = next(ids["unit"])
        rows["unit"].append({"id": unit, "project": pid, "enterprise": 1, "unit_type": "general_contractor",
                             "entered_on": start})
        team = next(ids["team"])
        rows["team"].append({"id": team, "project": pid, "unit": unit, "name": "钢筋班组", "kind": "worker",
                             "entered_on": start, "is_auto": False})
        payroll = next(ids["payroll"])
        rows["payroll"].append({"id": payroll, "project": pid, "month": MONTH, "version": 1, "status": "submitted",
                                "reason": "", "created_at": now, "submitted_at": now})
        if rng.random() < 0.8:
            rows["account"].append({"id": next(ids["account"]), "project": pid, "bank": district,
                                    "account_name": "总包企业农民工工资专户", "account_no_enc": "x",
                                    "account_no_masked": "8002****6789", "opened_on": start, "status": "approved",
                                    "submitted_at": now})
        for i in range(n):
            person = next(ids["person"])
            rows["person"].append({"id": person, "name": f"工人{person}", "id_cipher": "x", "id_hash": f"{person:064d}",
                                   "id_masked": f"4407**********{person % 10000:04d}", "gender": "M",
                                   "birth_date": date(1980, 1, 1), "ethnicity": "01", "created_at": now})
            rows["roster"].append({"id": next(ids["roster"]), "person": person, "project": pid, "unit": unit,
                                   "team": team, "work_role": "worker", "work_type": "020", "entered_on": start,
                                   "exit_note": "", "created_at": now})
            days = 0
            if punches_per_day:
                d = date(2025, 10, 1)
                while d.month == 10:
                    if rng.random() < 0.88:
                        days += 1
                        for hour in (7, 17):
                            at = datetime(d.year, d.month, d.day, hour, rng.randrange(60), tzinfo=TZ).astimezone(UTC)
                            rows["punch"].append({
                                "id": next(ids["punch"]), "project": pid, "person": person, "source": "gate",
                                "idempotency_key": uuid.uuid4().hex, "direction": "in" if hour < 12 else "out",
                                "captured_at": at, "received_at": at + timedelta(seconds=2), "latency_s": 2.0,
                                "local_date": d.isoformat(), "verdict": "accepted", "reasons": "[]", "flags": "[]"})
                    d += timedelta(days=1)
            if i % 50 == 7:
                continue  # attended, not on the payroll
            payable = 30000 * (days or 20)
            paid = payable - (10000 if i % 40 == 3 else 0)
            rows["line"].append({"id": next(ids["line"]), "payroll": payroll, "person": person, "team": team,
                                 "days_worked": days, "unit": "day", "rate_fen": 30000, "payable_fen": payable,
                                 "paid_fen": paid, "paid_on": date(2025, 11, 10 if i % 30 else 20),
                                 "card_enc": "x", "card_masked": "6222****1234",
                                 "card_holder": f"工人{person}" if i % 60 else "别人", "bank_status": "paid"})
            if not punches_per_day and i % 10 == 3:
                rows["finding"].append({"id": next(ids["finding"]), "project": pid, "district": district,
                                        "month": MONTH, "kind": "underpaid", "person": person, "amount_fen": 10000,
                                        "message": "少发", "detail": "{}", "raised_by": "system", "status": "open",
                                        "created_at": now})

    project(1, 1, workers, True)
    for k in range(projects):
        project(2 + k, 1 + k % 8, per_project, False)
    t0 = time.perf_counter()
    for table, key in ((Project, "project"), (ProjectStatusChange, "change"), (ProjectUnit, "unit"), (Team, "team"),
                       (Person, "person"), (RosterEntry, "roster"), (Punch, "punch"), (Payroll, "payroll"),
                       (PayrollLine, "line"), (WageAccount, "account"), (WageFinding, "finding")):
        await loader.insert(table, rows[key])
    await Punch.raw("ANALYZE")
    return {"punches": len(rows["punch"]), "lines": len(rows["line"]), "load_s": time.perf_counter() - t0}


async def run(args: argparse.Namespace, url: str) -> None:
    from backend import db
    from backend.accounts.services import CurrentUser
    from backend.supervision.days import days_between
    from backend.supervision.services import rollup_days
    from backend.vocabulary import Role
    from backend.wages.dashboard import dashboard
    from backend.wages.reconcile import reconcile_month
    from backend.wages.tables import PayrollLine

    await db.migrate()
    await db.start_pool()
    try:
        loader = Loader()
        built = await build(args.workers, args.projects, args.per_project, loader)
        t = time.perf_counter()
        await rollup_days(days_between(date(2025, 10, 1), date(2025, 10, 31)))
        print(f"{'PostgreSQL' if loader.pg else 'SQLite'} · {url.split('@')[-1]}")
        print(f"  loaded {built['punches']:,} punches, {built['lines']:,} payroll lines in {built['load_s']:.1f} s; "
              f"October rolled up in {time.perf_counter() - t:.1f} s")
        found = await timed(f"reconcile {MONTH}, 1 project × {args.workers:,} workers", lambda: reconcile_month(
            1, MONTH, today=JUDGED_ON), args.rounds, goal=1.0)
        print(f"    → {len(found)} findings")

        async def floor_month() -> Any:
            a = await PayrollLine.raw(
                "SELECT person, SUM(ok) AS ok FROM sup_person_day WHERE project = 1 AND day >= '2025-10-01' "
                "AND day <= '2025-10-31' GROUP BY person")
            b = await PayrollLine.raw("SELECT * FROM payroll_line WHERE payroll = 1")
            return len(a) + len(b)

        await timed("  floor: person-days + payroll lines (bare)", floor_month, args.rounds)
        admin = CurrentUser(id=0, username="bench", display_name="bench", role=Role.admin)
        sup = CurrentUser(id=0, username="bench", display_name="bench", role=Role.supervisor,
                          district_ids=frozenset(range(1, 9)))
        d = await timed(f"dashboard, {args.projects + 1:,} projects (admin, page 1)", lambda: dashboard(admin),
                        args.rounds, goal=1.0)
        print(f"    → {d.total} projects, {d.sums}")
        await timed(f"dashboard, {args.projects + 1:,} projects (supervisor of 8 districts)", lambda: dashboard(sup),
                    args.rounds, goal=1.0)
        await timed("dashboard, only projects with findings", lambda: dashboard(admin, only_findings=True),
                    args.rounds, goal=1.0)

        async def floor_dash() -> Any:
            return await PayrollLine.raw(
                "SELECT p.project, SUM(l.payable_fen - l.paid_fen) AS unpaid FROM payroll_line l "
                "JOIN payroll p ON l.payroll = p.id WHERE p.status = 'submitted' GROUP BY p.project")

        await timed("  floor: grouped payroll lines of every project (bare)", floor_dash, args.rounds)
    finally:
        await db.close_pool()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2000)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--per-project", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (a temp database is created on it)")
    args = parser.parse_args()
    url, drop = setup_env(args.pg, "smz-bench-wages-")
    try:
        asyncio.run(run(args, url))
    finally:
        drop()


if __name__ == "__main__":
    main()
