"""Issue 16 items 1–3 and 6 through the HTTP API: the special account (seed 002 专户 notes §一: a listed bank, the
name checked, registered then approved by the district) and the deposit; a payroll imported all-or-nothing with
per-row Chinese errors, submitted and locked, corrected as a new version with a reason; a bank batch exported
(the only full-number path, logged) and its result imported with one failed row that stays unpaid; who sees what."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from tests.integration.conftest import app_client, login
from tests.integration.wages.conftest import (
    WageSite,
    add_worker,
    make_user,
    make_wage_site,
    month_first,
    payroll_xlsx,
    read_bank_csv,
    result_csv,
)

pytestmark = pytest.mark.integration
PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
async def ws(migrated_db: str) -> WageSite:
    ws = await make_wage_site()
    for label, days in (("张三", 5), ("李四", 4), ("王五", 3)):
        await add_worker(ws, label, days=days)
    return ws


@pytest.fixture(scope="module")
async def client(migrated_db: str) -> Any:
    async with app_client() as c:
        yield c


def _row(ws: WageSite, label: str, **kw: Any) -> dict[str, Any]:
    paid_on = (month_first(ws.month) + timedelta(days=40)).isoformat()
    return {"name": label, "id_number": ws.people[label][1], "payable": "3000.50", "paid": "0", "paid_on": None,
            "card_no": "6222021234567890" + str(len(label)), "card_holder": label, "card_bank": "测试银行",
            "leader_confirmed": "是", "worker_confirmed": "是", **({"paid_on": paid_on} if kw.get("paid") else {}),
            **kw}


async def test_payroll_import_with_two_bad_rows_stores_nothing_and_names_each_row(ws: WageSite, client: Any) -> None:
    h = await login(client, ws.staff)
    url = f"/api/projects/{ws.project}/wages/payrolls/{ws.month}"
    bad = [_row(ws, "张三"), _row(ws, "李四", payable="12.345"), _row(ws, "王五", id_number="110101199001011237")]
    r = await client.post(url + "/import", headers=h, files={"file": ("p.xlsx", payroll_xlsx(bad))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False and body["lines"] == 0
    assert sorted((e["row"], e["column"]) for e in body["errors"]) == [(3, "应发工资"), (4, "身份证号")]
    assert "两位小数" in body["errors"][0]["message"] or "两位小数" in body["errors"][1]["message"]
    r = await client.get(url, headers=h)
    assert r.json()["lines"] == [] and r.json()["version"] is None  # nothing stored
    good = [_row(ws, "张三"), _row(ws, "李四", payable="1200"), _row(ws, "王五", payable=None)]
    good[2]["payable"] = "900"
    r = await client.post(url + "/import", headers=h, files={"file": ("p.xlsx", payroll_xlsx(good))})
    assert r.json() == {"ok": True, "lines": 3, "errors": []}
    view = (await client.get(url, headers=h)).json()
    by_name = {ln["name"]: ln for ln in view["lines"]}
    assert by_name["张三"]["days_worked"] == 5 and by_name["王五"]["days_worked"] == 3  # from attendance
    assert by_name["张三"]["payable_fen"] == 300050 and by_name["张三"]["payable"] == "3000.50"
    assert by_name["张三"]["card_masked"].startswith("6222") and "*" in by_name["张三"]["card_masked"]
    assert view["totals"]["payable_fen"] == 300050 + 120000 + 90000
    assert view["status"] == "draft"


async def test_submitted_payroll_is_locked_and_a_correction_is_a_new_version_with_a_reason(ws: WageSite,
                                                                                            client: Any) -> None:
    h = await login(client, ws.staff)
    base = f"/api/projects/{ws.project}/wages"
    r = await client.post(f"{base}/payrolls/{ws.month}/submit", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    line = r.json()["lines"][0]["id"]
    r = await client.patch(f"{base}/lines/{line}", headers=h, json={"payable": "1"})
    assert r.status_code == 409 and r.json()["code"] == "payroll_locked"
    r = await client.post(f"{base}/payrolls/{ws.month}/import", headers=h,
                          files={"file": ("p.xlsx", payroll_xlsx([_row(ws, "张三")]))})
    assert r.status_code == 409
    r = await client.post(f"{base}/payrolls/{ws.month}/corrections", headers=h, json={"reason": ""})
    assert r.status_code == 400
    r = await client.post(f"{base}/payrolls/{ws.month}/corrections", headers=h, json={"reason": "王五应发金额有误"})
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert v2["version"] == 2 and v2["status"] == "draft" and len(v2["lines"]) == 3
    wang = next(ln for ln in v2["lines"] if ln["name"] == "王五")
    r = await client.patch(f"{base}/lines/{wang['id']}", headers=h, json={"payable": "950.00"})
    assert r.status_code == 200 and r.json()["payable_fen"] == 95000
    r = await client.post(f"{base}/payrolls/{ws.month}/submit", headers=h)
    statuses = {v["version"]: v["status"] for v in r.json()["versions"]}
    assert statuses == {1: "superseded", 2: "submitted"}
    old = (await client.get(f"{base}/payrolls/{ws.month}?version=1", headers=h)).json()
    assert next(ln for ln in old["lines"] if ln["name"] == "王五")["payable_fen"] == 90000  # history kept


async def test_bank_file_carries_full_numbers_once_logged_and_a_failed_row_stays_unpaid(ws: WageSite,
                                                                                      client: Any) -> None:
    from backend.crew.tables import IdAccessLog
    from backend.wages.reconcile import reconcile_month

    h = await login(client, ws.staff)
    base = f"/api/projects/{ws.project}/wages"
    r = await client.post(f"{base}/payrolls/{ws.month}/batches", headers=h)
    assert r.status_code == 201, r.text
    batch = r.json()["id"]
    logged = await IdAccessLog.count().where((IdAccessLog.project == ws.project) & (IdAccessLog.kind == "wage_bank_file"))
    r = await client.get(f"{base}/batches/{batch}/file?format=csv", headers=h)
    assert r.status_code == 200
    rows = read_bank_csv(r.content)
    assert {x["身份证号"] for x in rows} == {ws.people[k][1] for k in ("张三", "李四", "王五")}
    assert all(len(x["银行卡号"]) == 17 for x in rows)
    assert sorted(x["金额（元）"] for x in rows) == ["1200.00", "3000.50", "950.00"]
    assert await IdAccessLog.count().where(
        (IdAccessLog.project == ws.project) & (IdAccessLog.kind == "wage_bank_file")) == logged + 1
    # issue 20 B.3: the row names the people whose numbers left (person ids), not only how many
    last = await IdAccessLog.select(IdAccessLog.person_ids, IdAccessLog.records).where(
        IdAccessLog.kind == "wage_bank_file").order_by(IdAccessLog.id, ascending=False).first()
    ids = last["person_ids"] if isinstance(last["person_ids"], list) else json.loads(last["person_ids"])
    assert sorted(ids) == sorted(ws.people[k][0] for k in ("张三", "李四", "王五")) and last["records"] == 3
    r = await client.get(f"{base}/batches/{batch}/file?format=xlsx", headers=h)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    # the bank's result: a wrong total is refused whole
    seq = {x["姓名"]: x["序号"] for x in rows}
    wrong = [[seq["张三"], "张三", "", "3000.50", "成功", ""], [seq["李四"], "李四", "", "1200.00", "成功", ""]]
    r = await client.post(f"{base}/batches/{batch}/result", headers=h, files={"file": ("r.csv", result_csv(wrong))})
    assert r.json()["ok"] is False and "缺少 1 行" in r.json()["errors"][0]["message"]
    result = [[seq["张三"], "张三", "", "3000.50", "成功", ""], [seq["李四"], "李四", "", "1200.00", "成功", ""],
              [seq["王五"], "王五", "", "950.00", "失败", "户名与账号不符"]]
    r = await client.post(f"{base}/batches/{batch}/result", headers=h, files={"file": ("r.csv", result_csv(result))})
    assert r.json() == {"ok": True, "paid": 2, "failed": 1, "paid_fen": 420050, "errors": []}
    view = (await client.get(f"{base}/payrolls/{ws.month}", headers=h)).json()
    wang = next(ln for ln in view["lines"] if ln["name"] == "王五")
    assert wang["bank_status"] == "failed" and wang["paid_fen"] == 0 and wang["bank_reason"] == "户名与账号不符"
    zhang = next(ln for ln in view["lines"] if ln["name"] == "张三")
    assert zhang["bank_status"] == "paid" and zhang["paid_fen"] == 300050
    found = await reconcile_month(ws.project, ws.month)
    assert [(m.kind, m.person_id) for m in found if m.kind == "bank_failed"] == [("bank_failed", ws.people["王五"][0])]
    # the failed row can be paid again in a new batch
    r = await client.post(f"{base}/payrolls/{ws.month}/batches", headers=h)
    assert r.status_code == 201
    rows2 = (await client.get(f"{base}/batches/{r.json()['id']}", headers=h)).json()
    assert [(x["name"], x["amount"]) for x in rows2] == [("王五", "950.00")]
    assert "*" in rows2[0]["card_masked"]


async def test_a_foreman_sees_only_their_team_and_another_projects_staff_nothing(ws: WageSite, client: Any) -> None:
    from backend.org import services as org
    from backend.org.tables import Team

    other_team = await org.create_team(ws.project, ws.site.gc_unit, "木工班组")
    await add_worker(ws, "赵六", days=2, team=other_team)
    leader = ws.people["张三"][0]
    await Team.update({Team.leader: leader}).where(Team.id == ws.site.worker_team)
    foreman = await make_user("foreman", project_ids=[ws.project], person_id=leader)
    h = await login(client, foreman)
    view = (await client.get(f"/api/projects/{ws.project}/wages/payrolls/{ws.month}", headers=h)).json()
    assert view["team_limited"] is True
    assert {ln["name"] for ln in view["lines"]} == {"张三", "李四", "王五"}
    r = await client.post(f"/api/projects/{ws.project}/wages/payrolls/{ws.month}/submit", headers=h)
    assert r.status_code == 403
    other = await make_wage_site()
    stranger = await make_user("project_staff", project_ids=[other.project])
    hs = await login(client, stranger)
    for r in (await client.get(f"/api/projects/{ws.project}/wages/payrolls/{ws.month}", headers=hs),
              await client.post(f"/api/projects/{ws.project}/wages/payrolls/{ws.month}/batches", headers=hs),
              await client.get(f"/api/projects/{ws.project}/wages/evidence/{ws.month}", headers=hs)):
        assert r.status_code == 404, r.text  # the project's existence is not revealed (require_project)
    d = (await client.get("/api/wages/dashboard", headers=hs)).json()
    assert [row["id"] for row in d["rows"]] == [other.project]


async def test_the_worker_sees_their_pay_and_not_received_reaches_project_and_district(ws: WageSite,
                                                                                      client: Any) -> None:
    person = ws.people["王五"][0]
    worker = await make_user("worker", person_id=person)
    h = await login(client, worker)
    mine = (await client.get("/api/wages/mine", headers=h)).json()
    assert [(m["month"], m["payable"], m["paid"], m["bank_status"]) for m in mine] == [(ws.month, "950.00", "0.00", "pending")]
    r = await client.post(f"/api/wages/mine/{mine[0]['id']}/not-received", headers=h, json={"note": "卡里没有钱"})
    assert r.status_code == 201
    r = await client.post(f"/api/wages/mine/{mine[0]['id']}/not-received", headers=h, json={})
    assert r.status_code == 400
    others = (await client.get("/api/wages/mine", headers=await login(client, ws.staff))).json()
    assert others == []  # staff have no pay of their own here
    page = await client.get("/m/wages", headers=h)
    assert page.status_code == 200 and "950.00" in page.text and "已反映" in page.text
    hs = await login(client, ws.supervisor)
    f = (await client.get(f"/api/projects/{ws.project}/wages/findings/{ws.month}", headers=hs)).json()
    assert any(x["kind"] == "not_received" and x["raised_by"] == "worker" for x in f["findings"])
    assert f["referred"] is True  # a wage_unpaid warning is open: 转劳动监察
    d = (await client.get("/api/wages/dashboard?only_findings=true", headers=hs)).json()
    row = next(x for x in d["rows"] if x["id"] == ws.project)
    assert row["referred"] and row["findings"] >= 1 and row["unpaid_fen"] == 95000
    ev = await client.get(f"/api/projects/{ws.project}/wages/evidence/{ws.month}", headers=hs)
    assert ev.status_code == 200 and ev.content[:2] == b"PK"


async def test_special_account_name_checked_registered_and_approved_by_the_district_deposit_with_voucher(
        ws: WageSite, client: Any) -> None:
    from backend.supervision.tables import WarningCase
    from backend.wages.reconcile import sync_warnings

    await sync_warnings({ws.project}, notify=False)
    kinds = {r["kind"]: r["status"] for r in await WarningCase.select(WarningCase.kind, WarningCase.status).where(
        WarningCase.project == ws.project)}
    assert kinds.get("wage_account_missing") == "open" and kinds.get("wage_deposit_missing") == "open"
    hsup = await login(client, ws.supervisor)
    r = await client.post(f"/api/wages/districts/{ws.site.district}/banks", headers=hsup, json={"name": "测试农商银行"})
    assert r.status_code == 201
    bank = r.json()["id"]
    h = await login(client, ws.staff)
    base = f"/api/projects/{ws.project}/wages"
    from backend.org.tables import ProjectUnit

    gc = (await ProjectUnit.select(ProjectUnit.enterprise.name.as_alias("n")).where(
        ProjectUnit.id == ws.site.gc_unit).first())["n"]
    body = {"bank_id": bank, "account_name": "别人家公司农民工工资专户", "account_no": "44001234567890",
            "opened_on": (date.today() - timedelta(days=30)).isoformat()}
    r = await client.post(f"{base}/account", headers=h, json=body)
    assert r.status_code == 400 and r.json()["code"] == "bad_account_name"
    r = await client.post(f"{base}/account", headers=h, json={**body, "account_name": gc + "农民工工资专户"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted" and r.json()["account_no_masked"] == "4400******7890"
    from backend.wages.tables import WageAccount

    stored = await WageAccount.select(WageAccount.account_no_enc).where(WageAccount.project == ws.project).first()
    assert "44001234567890" not in stored["account_no_enc"]
    r = await client.post(f"{base}/account/decision", headers=h, json={"approve": True})
    assert r.status_code == 403
    r = await client.post(f"{base}/account/decision", headers=hsup, json={"approve": True})
    assert r.json()["status"] == "approved"
    r = await client.post(f"{base}/deposits", headers=h, data={"amount": "100000.00", "paid_on": date.today().isoformat()},
                          files={"voucher": ("凭证.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    r = await client.post(f"{base}/deposits", headers=h, data={"amount": "1", "paid_on": date.today().isoformat()},
                          files={"voucher": ("x.pdf", b"not a pdf at all", "application/pdf")})
    assert r.status_code in (400, 415)
    state = (await client.get(f"{base}/account", headers=h)).json()
    assert state["account"]["status"] == "approved" and [d["amount_fen"] for d in state["deposits"]] == [10000000]
    await sync_warnings({ws.project}, notify=False)
    kinds = {r["kind"]: r["status"] for r in await WarningCase.select(WarningCase.kind, WarningCase.status).where(
        WarningCase.project == ws.project)}
    assert kinds["wage_account_missing"] == "rectified" and kinds["wage_deposit_missing"] == "rectified"
    page = await client.get(f"/projects/{ws.project}/wages", headers=h)
    assert page.status_code == 200 and "4400******7890" in page.text and "44001234567890" not in page.text


async def test_contract_rate_fills_the_payable_and_a_foreman_only_confirms_their_teams_lines(client: Any) -> None:
    from backend.org.tables import Team
    from tests.integration.people_kit import sign_contract

    other = await make_wage_site()
    person = await add_worker(other, "钱七", days=4)
    contract = await sign_contract(other.project, other.entries["钱七"])
    h = await login(client, other.staff)
    base = f"/api/projects/{other.project}/wages"
    r = await client.put(f"{base}/contracts/{contract}/rate", headers=h, json={"unit": "day", "rate": "350.00"})
    assert r.status_code == 200, r.text
    r = await client.put(f"{base}/contracts/{contract}/rate", headers=h, json={"unit": "hour", "rate": "35"})
    assert r.status_code == 400
    view = (await client.post(f"{base}/payrolls/{other.month}", headers=h)).json()
    line = view["lines"][0]
    assert (line["days_worked"], line["unit"], line["unit_label"], line["rate_fen"], line["payable"]) == (
        4, "day", "按日", 35000, "1400.00")
    await Team.update({Team.leader: person}).where(Team.id == other.site.worker_team)
    foreman = await make_user("foreman", project_ids=[other.project], person_id=person)
    hf = await login(client, foreman)
    r = await client.patch(f"{base}/lines/{line['id']}", headers=hf, json={"leader_confirmed": True})
    assert r.status_code == 200 and r.json()["leader_confirmed"] is True
    r = await client.patch(f"{base}/lines/{line['id']}", headers=hf, json={"payable": "9999"})
    assert r.status_code == 403


async def test_pages_of_the_district_and_the_project_render_for_the_supervisor(ws: WageSite, client: Any) -> None:
    h = await login(client, ws.supervisor)
    page = await client.get("/wages?only_findings=true", headers=h)
    assert page.status_code == 200 and "农民工工资监管" in page.text and "转劳动监察" in page.text
    page = await client.get(f"/projects/{ws.project}/wages", headers=h)
    assert page.status_code == 200 and "工资专户与保证金" in page.text
    page = await client.get(f"/projects/{ws.project}/wages/{ws.month}", headers=h)
    assert page.status_code == 200 and "王五" in page.text and "导入回盘" not in page.text  # reads, never keeps


async def test_exit_with_money_owed_needs_a_reason_and_raises_a_finding(ws: WageSite) -> None:
    from backend.errors import InvalidInput
    from backend.vocabulary import local_today
    from backend.wages.reconcile import check_exit_settlement, record_exit_owed, unpaid_for_person
    from backend.wages.tables import WageFinding
    from tests.integration.people_kit import exit_entry

    wang, zhang = ws.people["王五"][0], ws.people["张三"][0]
    assert await unpaid_for_person(ws.project, wang) == 95000  # the failed bank row of version 2
    assert await check_exit_settlement(ws.project, zhang) == 0  # paid in full: no reason needed
    with pytest.raises(InvalidInput) as e:
        await check_exit_settlement(ws.project, wang, "")
    assert e.value.code == "wages_owed" and "950.00" in e.value.zh
    assert await check_exit_settlement(ws.project, wang, "工人失联，工资已提存") == 95000
    today = local_today()
    await exit_entry(ws.project, ws.entries["王五"], today)
    fid = await record_exit_owed(ws.project, wang, today, "工人失联，工资已提存")
    row = await WageFinding.select().where(WageFinding.id == fid).first()
    assert (row["kind"], row["amount_fen"], row["raised_by"]) == ("exit_unsettled", 95000, "exit")
    assert "工人失联" in row["message"]


async def test_a_file_that_is_no_workbook_is_answered_in_the_page_and_the_dashboard_filters(ws: WageSite,
                                                                                          client: Any) -> None:
    other = await make_wage_site()
    await add_worker(other, "孙八", days=1)
    h = await login(client, other.staff)
    r = await client.post(f"/projects/{other.project}/wages/{other.month}/import", headers={**h, "HX-Request": "true"},
                          files={"file": ("p.xlsx", b"this is not a workbook")})
    assert r.status_code == 200 and "Excel" in r.text and "未导入" in r.text
    hs = await login(client, ws.supervisor)
    d = (await client.get(f"/api/wages/dashboard?q={ws.site.name[-6:]}", headers=hs)).json()
    assert [row["id"] for row in d["rows"]] == [ws.project] and d["pages"] == 1
    d = (await client.get(f"/api/wages/dashboard?district_id={other.site.district}", headers=hs)).json()
    assert d["rows"] == []  # another district: not this supervisor's
