"""Bulk import from .xlsx and export of the roster.

Rules checked: every row validated (GB 11643, birth date/gender match, expiry, age, team, role,
work type/post), a per-row error report in Chinese, nothing half-imported (one transaction), a
duplicate entry on the same project refused, active on another project reported as a warning; the
export masks ID numbers unless project staff or the district's supervisor ask for them (with a reason).
"""

from __future__ import annotations

import asyncio
import io
from datetime import date, timedelta
from typing import Any

import pytest
from crewkit import workbook
from openpyxl import load_workbook

from backend.crypto import lookup_hash
from backend.workforce.tables import Person, RosterEntry
from tests.integration.conftest import login

pytestmark = pytest.mark.integration


def row(world: Any, **kw: Any) -> dict[str, Any]:
    base = {"name": "导入工人", "id_number": world.id_number(), "ethnicity": "汉族", "phone": "13900001111",
            "team": "钢筋班组", "work_role": "建筑工人", "work_type": "钢筋工",
            "entered_on": (date.today() - timedelta(days=3)).isoformat(),
            "id_valid_from": "2020-01-01", "id_valid_until": "2040-01-01"}
    base.update(kw)
    return base


async def run_import(client: Any, h: dict[str, str], project: int, data: bytes) -> dict[str, Any]:
    r = await client.post(f"/api/projects/{project}/crew/import", files={"file": ("people.xlsx", data, "application/octet-stream")},
                          headers=h)
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    for _ in range(400):
        s = (await client.get(f"/api/projects/{project}/crew/import/{job}", headers=h)).json()
        if s["finished"]:
            return s
        await asyncio.sleep(0.05)
    raise AssertionError("import did not finish")


async def test_template_downloads_and_imports_cleanly(client, world):
    h = await login(client, world.users["foreman_a"])
    t = await client.get(f"/api/projects/{world.project_a}/crew/import/template", headers=h)
    assert t.status_code == 200 and "attachment" in t.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(t.content))
    assert [c.value for c in wb.worksheets[0][1]][:2] == ["姓名*", "身份证号*"]
    assert "填写说明" in wb.sheetnames and "代码表" in wb.sheetnames

    manager_team = next(n for n in world.teams[world.project_a] if n.startswith("总承包"))
    rows = [row(world, name=f"导入甲{c}") for c in "一二三"]
    rows.append(row(world, name="导入管理员", team=manager_team, work_role="管理人员", post="安全员", work_type=None))
    rows.append(row(world, name="长期证", id_number=world.id_number(birth=date(1972, 1, 1)), id_valid_from="2018-06-01",
                    id_valid_until="长期"))
    s = await run_import(client, h, world.project_a, workbook(rows))
    assert s["status"] == "done", (s["errors"], s["message"])
    assert s["imported"] == 5 and s["errors"] == []
    roster = (await client.get(f"/api/projects/{world.project_a}/crew/roster?q=导入甲", headers=h)).json()
    assert {r["name"] for r in roster} >= {"导入甲一", "导入甲二", "导入甲三"}
    assert all(not r["enrolled"] and r["contract_state"] == "missing" for r in roster)


async def test_bad_rows_give_a_report_and_nothing_is_imported(client, world):
    h = await login(client, world.users["foreman_a"])
    good = row(world, name="好人")
    wrong = world.id_number()
    wrong = wrong[:17] + ("0" if wrong[17] != "0" else "1")
    dup = world.id_number()
    rows = [
        good,
        row(world, name="校验位", id_number=wrong),
        row(world, name="生日", birth_date="1901-01-01"),
        row(world, name="过期", id_valid_from="2006-01-01", id_valid_until="2016-01-01"),
        row(world, name="重复甲", id_number=dup),
        row(world, name="重复乙", id_number=dup),
        row(world, name="无班组", team="不存在的班组"),
        row(world, name="无工种", work_type=None),
        row(world, name="未成年", id_number=world.id_number(birth=date.today() - timedelta(days=15 * 365)),
            id_valid_from=None, id_valid_until=None),
    ]
    s = await run_import(client, h, world.project_a, workbook(rows))
    assert s["status"] == "failed" and s["imported"] == 0
    by_row: dict[int, list[dict[str, Any]]] = {}
    for e in s["errors"]:
        by_row.setdefault(e["row"], []).append(e)
    assert 2 not in by_row  # the good row has no error …
    assert by_row[3][0]["code"] == "id_check_digit" and by_row[3][0]["column"] == "身份证号"
    assert by_row[4][0]["code"] == "id_birth_mismatch" and by_row[4][0]["column"] == "出生日期"
    assert by_row[5][0]["code"] == "id_expired" and by_row[5][0]["column"] == "有效期止"
    assert by_row[7][0]["code"] == "duplicate_in_file" and "第 6 行" in by_row[7][0]["message"]
    assert by_row[8][0]["column"] == "班组" and "不存在的班组" in by_row[8][0]["message"]
    assert by_row[9][0]["column"] == "人员类型" and "工种" in by_row[9][0]["message"]
    assert by_row[10][0]["code"] == "too_young"
    assert "未导入任何数据" in s["message"]
    # … and still nothing of the file was stored (all or nothing)
    assert not await Person.exists().where(Person.id_hash == lookup_hash(good["id_number"]))


async def test_already_on_the_roster_is_an_error_elsewhere_a_warning(client, world):
    h = await login(client, world.users["foreman_a"])
    first = row(world, name="甲乙丙")
    assert (await run_import(client, h, world.project_a, workbook([first])))["status"] == "done"
    again = await run_import(client, h, world.project_a, workbook([first, row(world, name="新人")]))
    assert again["status"] == "failed"
    assert [e["code"] for e in again["errors"]] == ["duplicate_roster_entry"]
    hb = await login(client, world.users["enterprise_gc"])
    renamed = await run_import(client, hb, world.project_b, workbook([dict(first, name="别名")]))
    assert renamed["status"] == "failed" and renamed["errors"][0]["code"] == "name_mismatch"
    other = await run_import(client, hb, world.project_b, workbook([first]))
    assert other["status"] == "done", other
    (w,) = other["warnings"]
    assert w["project_name"] == "甲区住宅工程" and w["row"] == 2 and "*" in w["id_masked"]
    pid = (await Person.select(Person.id).where(Person.id_hash == lookup_hash(first["id_number"])).first())["id"]
    assert await RosterEntry.count().where(RosterEntry.person == pid) == 2


async def test_files_that_are_not_workbooks(client, world):
    h = await login(client, world.users["foreman_a"])
    url = f"/api/projects/{world.project_a}/crew/import"
    r = await client.post(url, files={"file": ("a.xlsx", b"name,id\n", "text/csv")}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "bad_file_type"
    s = await run_import(client, h, world.project_a, b"PK\x03\x04" + b"\x00" * 200)
    assert s["status"] == "failed" and s["errors"][0]["code"] == "bad_xlsx"
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["姓名", "电话"])
    buf = io.BytesIO()
    wb.save(buf)
    s = await run_import(client, h, world.project_a, buf.getvalue())
    assert s["status"] == "failed" and s["errors"][0]["code"] == "missing_columns"
    s = await run_import(client, h, world.project_a, workbook([row(world, id_number=int("44070319800101001"))],
                                                             text_ids=False))
    assert s["status"] == "failed" and s["errors"][0]["code"] == "id_not_text"
    assert (await client.post(url, headers=h, files={"file": ("a.xlsx", b"", "application/octet-stream")})).status_code == 400


async def test_import_page_shows_progress_then_the_report(client, world):
    h = await login(client, world.users["foreman_a"])
    r = await client.post(f"/projects/{world.project_a}/crew/import",
                          files={"file": ("p.xlsx", workbook([row(world, name="页面导入", team="无此班组")]),
                                          "application/octet-stream")}, headers={**h, "HX-Request": "true"})
    assert r.status_code == 200 and "导入任务" in r.text
    job = int(r.text.split('hx-get="/projects/')[1].split("/import/")[1].split('"')[0]) if "hx-get" in r.text else None
    if job is not None:
        for _ in range(200):
            page = await client.get(f"/projects/{world.project_a}/crew/import/{job}", headers=h)
            if 'data-status="failed"' in page.text:
                break
            await asyncio.sleep(0.05)
        assert "错误报告" in page.text and "无此班组" in page.text


async def test_export_masks_id_numbers_unless_asked(client, world):
    h = await login(client, world.users["foreman_a"])
    person = row(world, name="导出人")
    assert (await run_import(client, h, world.project_a, workbook([person])))["status"] == "done"
    r = await client.get(f"/api/projects/{world.project_a}/crew/export", headers=h)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:2] == ("姓名", "身份证号")
    mine = next(x for x in rows if x[0] == "导出人")
    assert "*" in mine[1] and person["id_number"] not in str(rows)
    # full ID numbers: never for a foreman (security issue item 10); project staff and the district's
    # supervisor with a reason (logged in id_access_log)
    url = f"/api/projects/{world.project_a}/crew/export?full_id=true&reason=工资专户报送"
    assert (await client.get(url, headers=h)).status_code == 403
    full = await client.get(url, headers=await login(client, world.users["staff_a"]))
    rows = list(load_workbook(io.BytesIO(full.content)).worksheets[0].iter_rows(values_only=True))
    assert next(x for x in rows if x[0] == "导出人")[1] == person["id_number"]
    sup = await login(client, world.users["supervisor_a"])
    assert (await client.get(f"/api/projects/{world.project_a}/crew/export", headers=sup)).status_code == 200
    assert (await client.get(url, headers=sup)).status_code == 200
    # the export (full IDs) imports again elsewhere: same columns
    back = await run_import(client, await login(client, world.users["enterprise_gc"]), world.project_b, full.content)
    assert back["status"] in ("done", "failed")
    assert all(e["code"] != "missing_columns" for e in back["errors"])
