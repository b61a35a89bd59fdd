"""The supervision API and pages: map data, a project's day, monthly matrix and detail with .xlsx exports,
manager table, scope and roles, htmx forms."""

from __future__ import annotations

import io
from datetime import date, time
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from backend.runtime import AppServices
from backend.static_assets import static_url
from backend.supervision import services
from tests.integration.conftest import PASSWORD, login
from tests.integration.services_fixtures import client_with
from tests.integration.supervision.conftest import add_person, id_number, make_district, make_site, make_user, punch

pytestmark = pytest.mark.integration

DAY = date(2025, 10, 15)


@pytest.fixture(scope="module")
async def site(migrated_db):
    from backend.workforce import services as workforce

    s = await make_site(await make_district(), start=date(2025, 8, 1))
    s.people["id_of_wu"] = id_number()
    wu = await workforce.upsert_person(id_number=s.people["id_of_wu"], name="吴钢筋")
    await workforce.enter_roster(project_id=s.project, person_id=wu, unit_id=s.gc_unit, team_id=s.worker_team,
                                 work_role="worker", work_type="020", entered_on=date(2025, 8, 1))
    s.people["吴钢筋"] = wu
    pm = await add_person(s, "郑经理", post="project_manager", entered_on=date(2025, 8, 1))
    await punch(s, wu, DAY, at=time(7, 50), direction="in")
    await punch(s, wu, DAY, at=time(17, 30), source="mobile", latency_s=45.0, lon=113.081, lat=22.601)
    await punch(s, pm, DAY, reasons=("face_mismatch",))
    await punch(s, pm, date(2025, 10, 16))
    s.people["supervisor"] = await make_user("supervisor", district_ids=[s.district])
    s.people["staff"] = await make_user("project_staff", project_ids=[s.project])
    return s


async def test_map_data_has_projects_terminals_and_fences_from_the_fence_source(client, site):
    async def fences(project_ids):
        return [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
            [113.079, 22.599], [113.082, 22.599], [113.082, 22.602], [113.079, 22.602], [113.079, 22.599]]]},
            "properties": {"project_id": site.project, "name": "主围栏"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
             "properties": {"project_id": -1, "name": "别人的围栏"}}]

    own = AppServices.build(fence_source=fences)  # an app whose map draws this test's fences
    try:
        async with client_with(own) as c:
            r = await c.get("/api/supervision/map", params={"day": DAY.isoformat()},
                            headers=await login(c, site.people["supervisor"]))
    finally:
        await own.aclose()
    assert r.status_code == 200
    body = r.json()
    [p] = [p for p in body["projects"] if p["id"] == site.project]
    assert p["today"] == {"people": 1, "late": 1, "rejected": 1, "punches": 3} and p["lon"] == 113.08
    assert [f["properties"]["name"] for f in body["fences"]["features"]] == ["主围栏"]  # out-of-scope dropped
    assert [(e["name"], e["verdict"]) for e in body["recent"]] == [  # the feed starts with the day's punches
        ("吴钢筋", "accepted"), ("吴钢筋", "flagged"), ("郑经理", "rejected")]
    assert "tile_url" in body


async def test_project_today_lists_people_on_site_late_uploads_and_rejections_with_reasons(client, site):
    r = await client.get(f"/api/supervision/map/projects/{site.project}/today", params={"day": DAY.isoformat()},
                         headers=await login(client, site.people["staff"]))
    t = r.json()
    assert [p["name"] for p in t["on_site"]] == ["吴钢筋"] and t["on_site"][0]["team"] == "钢筋班组"
    assert [x["name"] for x in t["late"]] == ["吴钢筋"] and "上传超时" in t["late"][0]["labels"]
    assert [(x["name"], x["labels"]) for x in t["rejected"]] == [("郑经理", ["人脸比对不通过"])]


async def test_roles_and_scope(client, site):
    other = await login(client, await make_user("supervisor", district_ids=[await make_district()]))
    r = await client.get(f"/api/supervision/map/projects/{site.project}/today", headers=other)
    assert r.status_code == 404
    r = await client.get("/api/supervision/map", headers=other)
    assert all(p["id"] != site.project for p in r.json()["projects"])
    worker = await login(client, await make_user("worker"))
    assert (await client.get("/api/supervision/map", headers=worker)).status_code == 403
    vendor = await login(client, await make_user("vendor"))
    assert (await client.get("/supervision/attendance", headers=vendor)).status_code == 403
    staff = await login(client, site.people["staff"])
    assert (await client.get(f"/api/supervision/notify-settings/{site.district}", headers=staff)).status_code == 403


async def test_monthly_matrix_api_and_xlsx_one_sheet_per_team_frozen_chinese_header(client, site):
    h = await login(client, site.people["staff"])
    params = {"project_id": site.project, "month": "2025-10"}
    r = await client.get("/api/supervision/attendance/matrix", params=params, headers=h)
    body = r.json()
    wu = next(x for x in body["rows"] if x["name"] == "吴钢筋")
    assert wu["cells"][14] == "√" and wu["id_masked"].count("*") == 10 and site.people["id_of_wu"] not in r.text
    pm = next(x for x in body["rows"] if x["name"] == "郑经理")
    assert pm["cells"][14] == "×" and pm["cells"][15] == "√"
    r = await client.get("/api/supervision/attendance/matrix.xlsx", params=params, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    assert set(wb.sheetnames) == {"钢筋班组", "总承包单位项目部", "说明"}
    ws = wb["钢筋班组"]
    assert ws.freeze_panes == "D2"  # the header row and 序号/项目名称/姓名 stay in view (issue 19 §5)
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    disposition = r.headers["content-disposition"]
    assert "filename*=UTF-8''" in disposition and quote(site.name) in disposition and 'filename="' in disposition
    header = [c.value for c in ws[1]]
    assert header[:7] == ["序号", "项目名称", "姓名", "身份证号", "班组", "人员类型", "岗位/工种"]
    assert header[7] == "1日" and header[37] == "31日" and header[-4:] == ["有效考勤天数", "应出勤天数", "到岗率", "是否达标"]
    row = [c.value for c in ws[2]]
    assert row[2] == "吴钢筋" and row[7 + 14] == "√" and "*" in row[3]
    rate = ws.cell(row=2, column=len(header) - 1)  # 到岗率: a number shown as a percentage
    assert isinstance(rate.value, float) and 0 <= rate.value <= 1 and rate.number_format == "0.0%"
    r = await client.get("/api/supervision/attendance/matrix", params={**params, "q": site.people["id_of_wu"]},
                         headers=h)
    assert [x["name"] for x in r.json()["rows"]] == ["吴钢筋"]  # search by full ID number (hash), shown masked


async def test_punch_detail_filters_and_xlsx(client, site):
    h = await login(client, site.people["staff"])
    base = {"project_id": site.project, "day_from": DAY.isoformat(), "day_to": DAY.isoformat()}
    r = await client.get("/api/supervision/attendance/detail", params=base, headers=h)
    assert r.json()["total"] == 3
    r = await client.get("/api/supervision/attendance/detail", params={**base, "verdict": "rejected"}, headers=h)
    [row] = r.json()["rows"]
    assert row["name"] == "郑经理" and row["reason_labels"] == ["人脸比对不通过"] and row["team_name"] == "总承包单位项目部"
    r = await client.get("/api/supervision/attendance/detail", params={**base, "late": "true"}, headers=h)
    assert [x["source"] for x in r.json()["rows"]] == ["mobile"]
    r = await client.get("/api/supervision/attendance/detail", params={**base, "q": "吴"}, headers=h)
    assert r.json()["total"] == 2
    r = await client.get("/api/supervision/attendance/detail", params={**base, "verdict": "maybe"}, headers=h)
    assert r.status_code == 400 and r.json()["field"] == "verdict"
    r = await client.get("/api/supervision/attendance/detail.xlsx", params=base, headers=h)
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws.freeze_panes == "A2" and ws["A1"].value == "序号" and ws.max_row == 4


async def test_manager_table_api_filters_and_xlsx(client, site):
    h = await login(client, site.people["supervisor"])
    r = await client.get("/api/supervision/managers", params={"month": "2025-10", "missing": ["safety_officer"]},
                         headers=h)
    [p] = [p for p in r.json()["projects"] if p["project_id"] == site.project]
    assert "safety_officer" in p["missing"] and p["posts"]["project_manager"]["count"] == 1
    r = await client.get("/api/supervision/managers", params={"month": "2025-10", "missing": ["nonsense"]}, headers=h)
    assert r.status_code == 400 and r.json()["field"] == "missing"
    r = await client.get("/api/supervision/managers.xlsx", params={"month": "2025-10"}, headers=h)
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws["B1"].value == "项目名称" and ws.freeze_panes == "A2"
    assert site.name in [c.value for c in ws["B"]]


@pytest.mark.parametrize("path", [
    "/supervision/map", "/supervision/execution", "/supervision/quality", "/supervision/managers?month=2025-10",
    "/supervision/attendance?month=2025-10&project_id={project}", "/supervision/attendance/detail?day_from=2025-10-15",
    "/supervision/warnings", "/supervision/settings", "/supervision/messages",
    "/supervision/map/projects/{project}/today",
])
async def test_pages_render_in_chinese(client, site, path):
    r = await client.get(path.format(project=site.project), headers=await login(client, site.people["supervisor"]))
    assert r.status_code == 200, r.text[:300]
    assert "text/html" in r.headers["content-type"]
    assert any(word in r.text for word in ("项目", "考勤", "预警", "通知", "消息"))


async def test_cookie_login_map_page_includes_vendored_leaflet_and_no_cdn(client, site):
    r = await client.post("/login", data={"username": site.people["supervisor"], "password": PASSWORD, "next": "/"})
    assert r.status_code in (302, 303)
    page = await client.get("/supervision/map")
    # vendored, under its content-hashed name (cached for a year: backend/static_assets.py)
    assert static_url("vendor/leaflet/leaflet.js") in page.text and "unpkg" not in page.text and "cdn" not in page.text
    assert static_url("vendor/leaflet/leaflet.js") != "/static/vendor/leaflet/leaflet.js"
    await client.post("/logout")


async def test_htmx_settings_form_redirects_or_shows_the_error(client, site):
    h = {**await login(client, site.people["supervisor"]), "HX-Request": "true"}
    r = await client.post(f"/supervision/settings/{site.district}", data={"in_site": "on", "sms": "on"}, headers=h)
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/supervision/settings")
    assert (await services.get_notify_setting(site.district))["sms"] is True
    r = await client.post(f"/supervision/settings/{site.district}", data={"sms": "on"}, headers=h)
    assert r.status_code == 400 and "站内短消息" in r.text
    r = await client.post(f"/supervision/settings/{site.district}/recipients",
                          data={"project_id": str(site.project), "name": "卫主任", "phone": "12345"}, headers=h)
    assert r.status_code == 400 and "手机号" in r.text


async def test_rollup_api_refuses_today_and_rolls_a_past_day(client, site):
    h = await login(client, site.people["supervisor"])
    r = await client.post("/api/supervision/rollup", json={"day": services.local_today().isoformat()}, headers=h)
    assert r.status_code == 400 and r.json()["field"] == "day"
    r = await client.post("/api/supervision/rollup", json={"day": DAY.isoformat()}, headers=h)
    assert r.status_code == 200 and r.json()["days"] == 1 and r.json()["rows"] >= 2
    r = await client.post("/api/supervision/rollup", json={"day": DAY.isoformat(), "month": "2025-10"}, headers=h)
    assert r.status_code == 400
    staff = await login(client, site.people["staff"])
    assert (await client.post("/api/supervision/rollup", json={"day": DAY.isoformat()}, headers=staff)).status_code == 403


async def test_map_terminals_show_their_state_and_last_sign_of_life_in_local_time(client, site):
    """The map's terminal tooltips show the project's local time and a labelled state (they showed the stored
    UTC time and kept their own copy of the state labels)."""
    from datetime import UTC, datetime

    from backend.devices import services as devices
    from backend.devices.tables import Terminal
    from tests.integration.conftest import unique

    vendor = (await devices.create_vendor(unique("地图厂商"))).vendor_id
    serial = unique("MAP-GATE-")
    await devices.register_terminal(site.project, serial, vendor)
    await Terminal.update({Terminal.online: True, Terminal.last_seen_at: datetime(2025, 10, 15, 1, 2, 3, tzinfo=UTC)}
                          ).where(Terminal.serial == serial)
    r = await client.get("/api/supervision/map", params={"day": DAY.isoformat()},
                         headers=await login(client, site.people["supervisor"]))
    assert r.status_code == 200, r.text
    [t] = [t for t in r.json()["terminals"] if t["serial"] == serial]
    assert (t["state"], t["state_label"]) == ("online", "在线")
    assert t["last_seen_local"] == "2025-10-15 09:02:03"  # Asia/Shanghai
