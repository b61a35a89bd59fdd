"""Dashboards of seed 001 §2.10 (县区执行情况, 各项目执行情况, 设备商支撑情况), the project qualification rule
(§2.3) and upload latency compliance (seed 000 附件3 §三.4: 30 s; seed 002: gate 5 s)."""

from __future__ import annotations

from datetime import date

import pytest

from backend.supervision import services
from tests.integration.conftest import login
from tests.integration.supervision.conftest import add_person, make_district, make_site, make_user, punch

pytestmark = pytest.mark.integration

DAY = date(2025, 10, 15)


async def _enrol(*people: int) -> None:
    from backend.workforce.tables import Enrolment

    for p in people:
        await Enrolment(person=p, face_template=b"\x00" * 16, source="import").save()


async def _uploaded(project_id: int) -> None:
    """The project, its units, teams and people 上传成功 (issue 17: the qualification rule of seed 001 §2.3 reads
    the real upload states; this stands for a finished upload)."""
    from backend.org.tables import ProjectUnit, Team
    from backend.platform.services import set_state
    from backend.workforce.tables import RosterEntry

    await set_state("project", project_id, "succeeded", project_id=project_id)
    for kind, table in (("project_unit", ProjectUnit), ("team", Team), ("worker", RosterEntry)):
        for r in await table.select(table.id).where(table.project == project_id):
            await set_state(kind, r["id"], "succeeded", project_id=project_id)


@pytest.fixture(scope="module")
async def district(migrated_db):
    from backend.devices import services as devices
    from tests.integration.conftest import unique

    d = await make_district()
    p1 = await make_site(d, start=date(2025, 8, 1), name=unique("合格项目"))
    p2 = await make_site(d, start=date(2025, 8, 1), name=unique("无许可证项目"), permit=None)
    p3 = await make_site(d, start=date(2025, 8, 1), name=unique("停工项目"), history=[(date(2025, 10, 1), "suspended")])
    vendor = (await devices.create_vendor(unique("监管测试设备商"))).vendor_id
    t1 = await devices.register_terminal(p1.project, unique("SUPT-"), vendor)
    await devices.register_terminal(p2.project, unique("SUPT-"), vendor)
    pm1 = await add_person(p1, "何经理", post="project_manager", entered_on=date(2025, 8, 1))
    cse1 = await add_person(p1, "吕总监", post="chief_supervising_engineer", entered_on=date(2025, 8, 1))
    w1 = await add_person(p1, "施工人", entered_on=date(2025, 8, 1))
    w2 = await add_person(p1, "张缺勤", entered_on=date(2025, 8, 1))
    await _enrol(pm1, cse1, w1, w2)
    await _uploaded(p1.project)
    await _uploaded(p3.project)
    await add_person(p2, "孔经理", post="project_manager", entered_on=date(2025, 8, 1))
    for person in (pm1, cse1):
        await punch(p1, person, DAY, terminal_id=t1, latency_s=1.0)
    await punch(p1, w1, DAY, terminal_id=t1, latency_s=1.0)
    await punch(p1, w1, DAY, terminal_id=t1, latency_s=7.0)  # gate over 5 s: kept, flagged late
    await punch(p1, w2, DAY, source="mobile", latency_s=10.0, reasons=("outside_fence",))
    await punch(p1, w2, DAY, source="mobile", latency_s=40.0, reasons=("outside_fence",))
    return {"district": d, "p1": p1, "p2": p2, "p3": p3, "vendor": vendor, "t1": t1}


async def test_district_execution_columns_seed001_2_10_1(district):
    ids = await services.project_ids_in_district(district["district"])
    rows, total = await services.district_execution(ids, DAY)
    [row] = rows
    assert row.projects == 2  # the suspended project is not 在建 that day
    assert (row.uploaded, row.failed) == (1, 1) and row.upload_rate == 0.5
    assert (row.with_attendance, row.without_attendance, row.update_rate) == (1, 1, 0.5)
    assert row.people == 3 and row.avg_people == 3.0  # PM, CSE and one worker; the other was only rejected
    assert (row.pm_registration, row.pm_on_duty) == (1.0, 0.5)
    assert (row.cse_registration, row.cse_on_duty) == (0.5, 1.0)
    assert total.projects == 2 and total.name == "汇总"


async def test_project_execution_rows_seed001_2_10_2(district):
    rows = await services.project_execution({district["p1"].project, district["p2"].project}, DAY)
    by = {r.ctx.id: r for r in rows}
    p1, p2 = by[district["p1"].project], by[district["p2"].project]
    assert (p1.qualified, p1.roster, p1.attended, p1.pm, p1.cse) == (True, 4, 3, "present", "present")
    assert (p2.qualified, p2.pm, p2.cse) == (False, "absent", "missing")
    assert "项目未填写施工许可证编号" in p2.problems


async def test_vendor_support_seed001_2_10_3(district):
    ids = await services.project_ids_in_district(district["district"])
    v = next(v for v in await services.vendor_support(ids, DAY) if v.vendor_id == district["vendor"])
    assert (v.projects, v.uploaded, v.failed, v.with_attendance, v.without_attendance) == (2, 1, 1, 1, 1)
    assert v.update_rate == 0.5 and v.terminals == 2 and v.online == 0


async def test_qualification_rule_three_conditions_seed001_2_3(district):
    quals = await services.qualification([district["p1"].project, district["p2"].project], DAY)
    q1, q2 = quals[district["p1"].project], quals[district["p2"].project]
    assert q1.qualified and q1.people_active == q1.people_enrolled == 4
    assert not q2.project_ok and not q2.people_ok and q2.people_enrolled == 0 and not q2.qualified
    assert any("未采集人脸" in p for p in q2.problems)


async def test_upload_latency_share_per_project_and_terminal(district):
    projects, terminals = await services.latency_compliance({district["p1"].project}, DAY, DAY)
    gate = next(r for r in projects if r.source == "gate")
    mobile = next(r for r in projects if r.source == "mobile")
    assert (gate.total, gate.within, gate.limit_s) == (4, 3, 5.0) and gate.share == 0.75 and gate.max_s == 7.0
    assert (mobile.total, mobile.within, mobile.limit_s) == (2, 1, 30.0)
    [t] = terminals
    assert t.terminal_id == district["t1"] and (t.total, t.within) == (4, 3)


async def test_dashboards_over_the_api_in_scope_only(client, district):
    sup = await login(client, await make_user("supervisor", district_ids=[district["district"]]))
    other = await login(client, await make_user("supervisor", district_ids=[await make_district()]))
    r = await client.get("/api/supervision/execution", params={"day": DAY.isoformat()}, headers=sup)
    assert r.status_code == 200
    body = r.json()
    assert [d["projects"] for d in body["districts"]] == [2] and body["total"]["people"] == 3
    assert {p["name"] for p in body["projects"]} == {district["p1"].name, district["p2"].name}
    r = await client.get("/api/supervision/execution", params={"day": DAY.isoformat()}, headers=other)
    assert r.json()["total"]["projects"] == 0
    r = await client.get("/api/supervision/execution", params={"district_id": district["district"]}, headers=other)
    assert r.status_code == 404
    r = await client.get("/api/supervision/vendors", params={"day": DAY.isoformat()}, headers=sup)
    assert any(v["vendor_id"] == district["vendor"] and v["with_attendance"] == 1 for v in r.json()["vendors"])
    r = await client.get("/api/supervision/latency", params={"day_from": DAY.isoformat()}, headers=sup)
    assert {(p["source"], p["within"], p["total"]) for p in r.json()["projects"]} == {("gate", 3, 4), ("mobile", 1, 2)}
    r = await client.get("/api/supervision/qualification", headers=sup)
    assert sorted(q["qualified"] for q in r.json()) == [False, True, True]  # the empty suspended project is complete
    r = await client.get("/supervision/execution", params={"day": DAY.isoformat()}, headers=sup)
    assert r.status_code == 200 and "县区执行情况" in r.text and district["p1"].name in r.text
    r = await client.get("/supervision/quality", params={"day_from": DAY.isoformat(), "day_to": DAY.isoformat()},
                         headers=sup)
    assert r.status_code == 200 and "75.0%" in r.text
