"""Issue 16 item 4 — reconciliation of a project's month, one concrete example per mismatch (seed 000 §七: 工资发放
信息…与工资发放表和实名制平台考勤信息保持一致; 因未及时足额支付农民工工资而预警的项目，应及时转当地劳动监察部门处理),
and how the findings feed the yellow/red warnings (seed 000 §三: red when not fixed within 5 days)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.integration.conftest import app_client, login
from tests.integration.people_kit import exit_entry
from tests.integration.wages.conftest import WageSite, add_worker, make_wage_site, payroll_xlsx

pytestmark = pytest.mark.integration


def two_months_ago() -> str:
    from backend.vocabulary import local_today

    d = (local_today().replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)
    return f"{d.year}-{d.month:02d}"


MONTH = two_months_ago()


def day(n: int, month: str = MONTH, after: int = 0) -> str:
    y, m = map(int, month.split("-"))
    y, m = (y + (m + after - 1) // 12, (m + after - 1) % 12 + 1)
    return date(y, m, n).isoformat()


@pytest.fixture(scope="module")
async def ws(migrated_db: str) -> WageSite:
    ws = await make_wage_site(MONTH)
    for label, days in (("甲工", 5), ("乙工", 3), ("丙工", 0), ("丁工", 4), ("戊工", 4), ("己工", 4), ("庚工", 2)):
        await add_worker(ws, label, days=days)
    await exit_entry(ws.project, ws.entries["庚工"], date.fromisoformat(day(20)))
    rows = [
        {"name": "甲工", "payable": "2000", "paid": "2000", "paid_on": day(10, after=1), "card_holder": "甲工"},
        {"name": "丙工", "payable": "500", "paid": "500", "paid_on": day(10, after=1)},
        {"name": "丁工", "payable": "2000", "paid": "1500", "paid_on": day(10, after=1)},
        {"name": "戊工", "payable": "2000", "paid": "2000", "paid_on": day(20, after=1)},
        {"name": "己工", "payable": "2000", "paid": "2000", "paid_on": day(10, after=1), "card_no": "6222021234567890",
         "card_holder": "别人"},
        {"name": "庚工", "payable": "800", "paid": "0"},
    ]
    for r in rows:
        r["id_number"] = ws.people[r["name"]][1]
    async with app_client() as c:
        h = await login(c, ws.staff)
        r = await c.post(f"/api/projects/{ws.project}/wages/payrolls/{MONTH}/import", headers=h,
                         files={"file": ("p.xlsx", payroll_xlsx(rows))})
        assert r.json()["ok"], r.text
        assert (await c.post(f"/api/projects/{ws.project}/wages/payrolls/{MONTH}/submit", headers=h)).status_code == 200
    return ws


def judged_on() -> date:
    return date.fromisoformat(day(25, after=1))  # after the pay day (15th) and the deadline (10th) of the next month


async def kinds_of(ws: WageSite, today: date | None = None) -> dict[str, set[str]]:
    from backend.wages.reconcile import reconcile_month

    names = {pid: label for label, (pid, _n) in ws.people.items()}
    out: dict[str, set[str]] = {}
    for m in await reconcile_month(ws.project, MONTH, today=today or judged_on()):
        out.setdefault(m.kind, set()).add(names.get(m.person_id, "-"))
    return out


async def test_attended_but_not_on_the_payroll(ws: WageSite) -> None:
    assert (await kinds_of(ws))["attended_not_on_payroll"] == {"乙工"}


async def test_on_the_payroll_without_attendance_that_month(ws: WageSite) -> None:
    assert (await kinds_of(ws))["on_payroll_no_attendance"] == {"丙工"}


async def test_paid_less_than_payable_after_the_pay_day_but_not_before(ws: WageSite) -> None:
    assert (await kinds_of(ws))["underpaid"] == {"丁工", "庚工"}
    assert "underpaid" not in await kinds_of(ws, date.fromisoformat(day(14, after=1)))


async def test_paid_after_the_districts_pay_day(ws: WageSite) -> None:
    assert (await kinds_of(ws))["paid_late"] == {"戊工"}


async def test_paid_to_a_card_not_in_the_workers_name(ws: WageSite) -> None:
    assert (await kinds_of(ws))["card_not_own"] == {"己工"}


async def test_exit_without_settlement(ws: WageSite) -> None:
    assert (await kinds_of(ws))["exit_unsettled"] == {"庚工"}


async def test_a_worker_paid_in_full_on_time_with_attendance_raises_nothing(ws: WageSite) -> None:
    assert all("甲工" not in names for names in (await kinds_of(ws)).values())


async def test_payroll_not_submitted_by_the_deadline() -> None:
    from backend.wages.reconcile import reconcile_month

    other = await make_wage_site(MONTH)
    await add_worker(other, "子工", days=3)
    found = await reconcile_month(other.project, MONTH, today=date.fromisoformat(day(11, after=1)))
    assert [m.kind for m in found] == ["payroll_not_submitted"]
    assert await reconcile_month(other.project, MONTH, today=date.fromisoformat(day(10, after=1))) == []


async def test_findings_feed_yellow_then_red_warnings_and_mark_the_project_for_labour_inspection(ws: WageSite) -> None:
    from backend.supervision import services as sup
    from backend.supervision.tables import WarningCase
    from backend.wages.reconcile import referred, sync_warnings

    t = judged_on()
    await kinds_of(ws, t)
    await sync_warnings({ws.project}, t, notify=False)
    cases = await WarningCase.select().where(WarningCase.project == ws.project)
    for c in cases:
        c["detail"] = json.loads(c["detail"]) if isinstance(c["detail"], str) else c["detail"]
    unpaid = [c for c in cases if c["kind"] == "wage_unpaid"]
    mismatch = [c for c in cases if c["kind"] == "wage_mismatch"]
    assert {c["detail"]["finding_kind"] for c in unpaid} == {"underpaid", "paid_late", "exit_unsettled"}
    assert {c["detail"]["finding_kind"] for c in mismatch} == {"attended_not_on_payroll", "on_payroll_no_attendance",
                                                              "card_not_own"}
    assert all(c["level"] == "yellow" for c in cases)
    underpaid = next(c for c in unpaid if c["detail"]["finding_kind"] == "underpaid")
    assert "2 人" in underpaid["message"] and "1,300.00 元" in underpaid["message"]  # 丁 500 + 庚 800
    assert await referred([ws.project]) == {ws.project}
    # the nightly attendance evaluation leaves wage cases alone
    await sup.evaluate_warnings(t + timedelta(days=1), {ws.project}, notify=False)
    assert await WarningCase.count().where((WarningCase.project == ws.project) & (WarningCase.status == "open")
                                           & WarningCase.kind.is_in(["wage_unpaid", "wage_mismatch"])) == len(unpaid) + len(mismatch)
    # not fixed within 5 days after the opening day → red
    await sync_warnings({ws.project}, t + timedelta(days=6), notify=False)
    levels = {c["level"] for c in await WarningCase.select(WarningCase.level).where(
        (WarningCase.project == ws.project) & (WarningCase.kind == "wage_unpaid"))}
    assert levels == {"red"}


async def test_reconciliation_page_shows_the_findings_and_the_evidence_has_four_parts(ws: WageSite) -> None:
    import io

    from openpyxl import load_workbook

    await kinds_of(ws)
    async with app_client() as c:
        h = await login(c, ws.staff)
        page = await c.get(f"/projects/{ws.project}/wages/{MONTH}", headers=h)
        assert page.status_code == 200
        assert "有考勤未列入工资表" in page.text and "乙工" in page.text and "转劳动监察" in page.text
        ev = await c.get(f"/api/projects/{ws.project}/wages/evidence/{MONTH}", headers=h)
        wb = load_workbook(io.BytesIO(ev.content), read_only=True)
        assert wb.sheetnames == ["说明", "考勤", "工资发放表", "银行回盘", "核对结果"]
        rows = list(wb["工资发放表"].iter_rows(values_only=True))
        assert len(rows) == 7 and all("*" in (r[1] or "") for r in rows[1:])  # masked ID numbers only


async def test_wage_warnings_show_on_the_supervisors_warning_pages(ws: WageSite) -> None:
    from backend.supervision.tables import WarningCase

    case = await WarningCase.select(WarningCase.id).where(
        (WarningCase.project == ws.project) & (WarningCase.kind == "wage_unpaid")).first()
    async with app_client() as c:
        h = await login(c, ws.supervisor)
        page = await c.get("/supervision/warnings", headers=h)
        assert page.status_code == 200 and "未及时足额支付工资" in page.text
        page = await c.get(f"/supervision/warnings/{case['id']}", headers=h)
        assert page.status_code == 200 and MONTH in page.text
