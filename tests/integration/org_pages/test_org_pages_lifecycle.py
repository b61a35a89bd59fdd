"""Issue 15: the lifecycle pages over HTTP (real app, real database): change requests filed with evidence and
decided at two levels from the pages (seed 004 §三(八)–(十)); units and teams added and ended (seed 001
§2.4–2.7); the authority's make-up queue decided in bulk (seed 000 §六).  Refusals come back as HTML pages in
Chinese, never JSON."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import BearerHeaders, unique, user_id

pytestmark = pytest.mark.integration

auth = BearerHeaders()
TZ = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = {"Accept": "text/html"}


def today_local() -> date:
    return datetime.now(TZ).date()


async def _user(role: str, **kw: Any) -> str:
    from backend.accounts.services import create_user

    username = unique(f"t_orgp_{role}_")
    await create_user(username, "orgpages-pass-2026", role, **kw)
    return username


async def _project(district: int, *, status: str = "under_construction",
                   planned_start: date | None = None) -> dict[str, Any]:
    from backend.demo import fake_uscc
    from backend.org import services as org

    rng = random.Random(unique("r"))
    pid = await org.create_project(name=unique("页面测试项目"), district_id=district, category="building",
                                   floor_area_m2=30_000, planned_start=planned_start, lon=113.0, lat=22.6)
    if status != "preparing":
        await org.change_status(pid, "under_construction", effective_on=today_local() - timedelta(days=40),
                                note="开工", user_id=None)
    ents, units = {}, {}
    for unit_type in ("owner", "general_contractor", "supervision_firm"):
        ents[unit_type] = await org.create_enterprise(unique(f"页面测试{unit_type}"), fake_uscc(rng, "110101"))
        units[unit_type] = await org.add_unit(pid, ents[unit_type], unit_type)
    return {
        "id": pid, "units": units,
        "staff": await _user("project_staff", project_ids=[pid]),
        "sup_firm": await _user("enterprise", enterprise_id=ents["supervision_firm"]),
    }


async def _headers(username: str) -> dict[str, str]:
    return {**await auth(username), **HTML}


async def _file(client, pid: int, who: str, kind: str, *, target: str = "", reason: str = "现场原因",
                evidence: tuple[str, bytes, str] | None = ("proof.png", PNG, "image/png")):
    files = {"evidence": evidence} if evidence else {"evidence": ("", b"", "application/octet-stream")}
    return await client.post(f"/projects/{pid}/changes", headers=await _headers(who),
                             data={"kind": kind, "target": target, "reason": reason}, files=files)


async def test_stop_request_filed_with_evidence_then_two_levels_from_the_queue_suspend_the_project(client, world):
    from backend.org import services as org

    p = await _project(world.district_a)
    r = await _file(client, p["id"], p["staff"], "suspend", reason="暴雨停工")
    assert r.status_code == 303, r.text
    page = await client.get(f"/projects/{p['id']}/changes", headers=await _headers(p["staff"]))
    assert page.status_code == 200 and "待一级审批" in page.text and "暴雨停工" in page.text
    [req] = await org.list_change_requests(p["id"])
    ev = await client.get(f"/projects/{p['id']}/changes/{req['id']}/evidence", headers=await auth(p["staff"]))
    assert ev.status_code == 200 and ev.content == PNG and ev.headers["content-type"].startswith("image/png")

    # level 1 (监理单位) sees it in its queue with a decision form; level 2 does not yet
    q = await client.get("/changes", headers=await _headers(p["sup_firm"]))
    assert q.status_code == 200 and f'action="/changes/{req["id"]}/decide"' in q.text
    q2 = await client.get(f"/changes?project_id={p['id']}", headers=await _headers(world.users["supervisor_a"]))
    assert f'action="/changes/{req["id"]}/decide"' not in q2.text and "待建设/监理单位审批" in q2.text
    r = await client.post(f"/changes/{req['id']}/decide", headers=await _headers(p["sup_firm"]),
                          data={"level": "1", "decision": "approve", "note": "属实", "back": "/changes"})
    assert r.status_code == 303, r.text
    assert (await org.get_project(p["id"]))["status"] == "under_construction"  # not yet
    r = await client.post(f"/changes/{req['id']}/decide", headers=await _headers(world.users["supervisor_a"]),
                          data={"level": "2", "decision": "approve", "note": "同意", "back": "/changes"})
    assert r.status_code == 303, r.text
    assert (await org.get_project(p["id"]))["status"] == "suspended"
    page = await client.get(f"/projects/{p['id']}/changes", headers=await _headers(p["staff"]))
    assert "审批通过，已生效" in page.text and today_local().isoformat() in page.text


async def test_change_request_notifies_level1_and_the_decision_notifies_the_requester(client, world):
    from backend.accounts.tables import User
    from backend.org import services as org
    from backend.supervision.tables import InSiteMessage

    p = await _project(world.district_a)
    assert (await _file(client, p["id"], p["staff"], "suspend")).status_code == 303
    firm = (await User.select(User.id).where(User.username == p["sup_firm"]).first())["id"]
    staff = (await User.select(User.id).where(User.username == p["staff"]).first())["id"]
    msgs = await InSiteMessage.select(InSiteMessage.title).where(InSiteMessage.user == firm)
    assert any("待一级审批" in m["title"] for m in msgs)
    [req] = await org.list_change_requests(p["id"])
    await client.post(f"/changes/{req['id']}/decide", headers=await _headers(p["sup_firm"]),
                      data={"level": "1", "decision": "reject", "note": "材料不全", "back": "/changes"})
    msgs = await InSiteMessage.select(InSiteMessage.title, InSiteMessage.body).where(InSiteMessage.user == staff)
    assert any("驳回" in m["title"] and "材料不全" in m["body"] for m in msgs)


async def test_rejection_without_a_reason_is_an_html_page_in_chinese(client, world):
    from backend.org import services as org

    p = await _project(world.district_a)
    assert (await _file(client, p["id"], p["staff"], "suspend")).status_code == 303
    [req] = await org.list_change_requests(p["id"])
    r = await client.post(f"/changes/{req['id']}/decide", headers=await _headers(p["sup_firm"]),
                          data={"level": "1", "decision": "reject", "note": "", "back": "/changes"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "驳回时须填写理由" in r.text and "返回" in r.text


async def test_start_date_extension_beyond_three_months_refused_on_the_page_seed004_s3_8(client, world):
    start = today_local() + timedelta(days=10)
    p = await _project(world.district_a, status="preparing", planned_start=start)
    page = await client.get(f"/projects/{p['id']}/changes", headers=await _headers(p["staff"]))
    assert "每次不超过 3 个月、以 2 次为限" in page.text  # explained before submitting
    too_far = (start + timedelta(days=120)).isoformat()
    r = await _file(client, p["id"], p["staff"], "planned_start", target=too_far)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "开工日期每次延期不超过 3 个月" in r.text
    r = await _file(client, p["id"], p["staff"], "planned_start", target=(start + timedelta(days=30)).isoformat())
    assert r.status_code == 303


async def test_evidence_must_be_an_image_or_pdf_and_is_required(client, world):
    from backend.org import services as org

    p = await _project(world.district_a)
    r = await _file(client, p["id"], p["staff"], "suspend", evidence=("x.png", b"MZ not a picture", "image/png"))
    assert r.status_code == 400 and "证明材料须为 JPG、PNG 或 PDF" in r.text
    r = await _file(client, p["id"], p["staff"], "suspend", evidence=None)
    assert r.status_code == 400 and "请上传证明材料" in r.text
    assert await org.list_change_requests(p["id"]) == []  # nothing stored


async def test_queue_filters_and_pages(client, world):
    p = await _project(world.district_a)
    assert (await _file(client, p["id"], p["staff"], "suspend")).status_code == 303
    sup = await _headers(world.users["supervisor_a"])
    r = await client.get(f"/changes?project_id={p['id']}&kind=suspend&status=pending", headers=sup)
    assert r.status_code == 200 and "共 1 条" in r.text
    r = await client.get(f"/changes?project_id={p['id']}&kind=resume", headers=sup)
    assert "共 0 条" in r.text
    r = await client.get(f"/changes?project_id={p['id']}&since={(today_local() + timedelta(days=1)).isoformat()}",
                         headers=sup)
    assert "共 0 条" in r.text
    r = await client.get("/changes", headers=await _headers(world.users["supervisor_b"]))
    assert p["staff"] not in r.text and f"/projects/{p['id']}/changes" not in r.text  # another district's


# --- Units and teams --------------------------------------------------------------------------------------------


async def test_add_unit_refuses_a_bad_uscc_and_registers_a_new_enterprise_with_a_good_one(client, world):
    from backend.demo import fake_uscc
    from backend.org import services as org

    p = await _project(world.district_a)
    h = await _headers(p["staff"])
    bad = fake_uscc(random.Random(3), "110101")
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")
    r = await client.post(f"/projects/{p['id']}/units", headers=h,
                          data={"unit_type": "labour_subcontractor", "uscc": bad, "enterprise_name": "劳务公司"})
    assert r.status_code == 400 and "统一社会信用代码校验位错误" in r.text
    good = fake_uscc(random.Random(unique("u")), "110101")
    r = await client.post(f"/projects/{p['id']}/units", headers=h,
                          data={"unit_type": "labour_subcontractor", "uscc": good, "enterprise_name": ""})
    assert r.status_code == 400 and "请填写企业名称" in r.text
    r = await client.post(f"/projects/{p['id']}/units", headers=h,
                          data={"unit_type": "labour_subcontractor", "uscc": good, "enterprise_name": "新劳务有限公司"})
    assert r.status_code == 303, r.text
    units = await org.list_units(p["id"])
    assert any(u["uscc"] == good and u["enterprise_name"] == "新劳务有限公司" for u in units)
    page = await client.get(f"/projects/{p['id']}/units", headers=h)
    assert "新劳务有限公司" in page.text and "管理人员" in page.text  # its management team was created


async def test_team_with_foreman_cannot_end_while_someone_is_on_it_and_the_page_names_them(client, world):
    from backend.org import services as org
    from backend.workforce import services as workforce

    p = await _project(world.district_a)
    gc = p["units"]["general_contractor"]
    leader = await workforce.upsert_person(id_number=world.id_number(), name="木工班长")
    first = await org.create_team(p["id"], gc, unique("杂工班组"))
    await workforce.enter_roster(project_id=p["id"], person_id=leader, unit_id=gc, team_id=first, work_role="worker",
                                 work_type="020", entered_on=today_local() - timedelta(days=3))
    h = await _headers(p["staff"])
    r = await client.post(f"/projects/{p['id']}/teams", headers=h,
                          data={"unit_id": str(gc), "name": "木工班组", "work_type": "050", "kind": "worker",
                                "leader": str(leader)})
    assert r.status_code == 303, r.text
    team = next(t for t in await org.list_teams(p["id"]) if t["name"] == "木工班组（模板工）")
    assert team["leader"] == leader
    worker = await workforce.upsert_person(id_number=world.id_number(), name="木工甲")
    await workforce.enter_roster(project_id=p["id"], person_id=worker, unit_id=gc, team_id=team["id"],
                                 work_role="worker", work_type="020", entered_on=today_local() - timedelta(days=1))
    r = await client.post(f"/projects/{p['id']}/teams/{team['id']}/end", headers=h)
    assert r.status_code == 409 and "仍有 1 人在场" in r.text and "木工甲" in r.text
    assert (await org.team_in_project(team["id"], p["id"]))["exited_on"] is None
    # the unit cannot end either (two people on its teams)
    r = await client.post(f"/projects/{p['id']}/units/{gc}/end", headers=h)
    assert r.status_code == 409 and "木工甲" in r.text and "木工班长" in r.text


async def test_team_added_with_a_foreman_account_shows_the_one_time_password_once(client, world):
    from backend.accounts.services import load_user
    from backend.org import services as org
    from backend.workforce import services as workforce

    p = await _project(world.district_a)
    gc = p["units"]["general_contractor"]
    first = await org.create_team(p["id"], gc, unique("杂工班组"))
    leader = await workforce.upsert_person(id_number=world.id_number(), name="瓦工班长")
    await workforce.enter_roster(project_id=p["id"], person_id=leader, unit_id=gc, team_id=first, work_role="worker",
                                 work_type="010", entered_on=today_local() - timedelta(days=3))
    h = await _headers(p["staff"])
    r = await client.post(f"/projects/{p['id']}/teams", headers=h,
                          data={"unit_id": str(gc), "name": "瓦工班组", "work_type": "010", "kind": "worker",
                                "foreman_account": "1"})
    assert r.status_code == 400 and "开通班组长账号须先选择班组长" in r.text
    r = await client.post(f"/projects/{p['id']}/teams", headers=h,
                          data={"unit_id": str(gc), "name": "瓦工班组", "work_type": "010", "kind": "worker",
                                "leader": str(leader), "foreman_account": "1"})
    assert r.status_code == 200 and 'id="cred-password"' in r.text and f"bz{leader:06d}" in r.text
    from backend.accounts.tables import User

    row = await User.select(User.id).where(User.username == f"bz{leader:06d}").first()
    foreman = await load_user(row["id"])
    assert foreman.role == "foreman" and foreman.must_change_password and foreman.person_id == leader
    r = await client.post(f"/projects/{p['id']}/teams", headers=h,
                          data={"unit_id": str(gc), "name": "瓦工二班", "kind": "worker", "leader": str(leader),
                                "foreman_account": "1"})
    assert r.status_code == 200 and 'id="cred-password"' not in r.text and "此用户名已有账号" in r.text


async def test_end_team_and_end_unit_services_when_empty(world):
    from backend.errors import Conflict
    from backend.org import services as org

    p = await _project(world.district_a)
    gc = p["units"]["general_contractor"]
    team = await org.create_team(p["id"], gc, unique("空班组"))

    async def nobody() -> list[str]:
        return []

    await org.end_team(p["id"], team, still_on=nobody)
    assert (await org.team_in_project(team, p["id"]))["exited_on"] == today_local()
    with pytest.raises(Conflict):
        await org.end_team(p["id"], team, still_on=nobody)  # already exited
    await org.end_unit(p["id"], gc, still_on=nobody)
    teams = [t for t in await org.list_teams(p["id"]) if t["unit"] == gc]
    assert teams and all(t["exited_on"] == today_local() for t in teams)
    assert (await org.unit_in_project(gc, p["id"]))["exited_on"] == today_local()


async def test_a_foreman_cannot_add_units(client, world):
    r = await client.post(f"/projects/{world.project_a}/units", headers=await _headers(world.users["foreman_a"]),
                          data={"unit_type": "owner", "uscc": "x"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")


# --- The make-up queue ---------------------------------------------------------------------------------------


async def _makeup(pid: int, person: int, day: date, hour: int, requested_by: int | None = None) -> int:
    from backend.clockin.tables import MakeupRequest

    at = datetime.combine(day, time(hour, 0), tzinfo=TZ).astimezone(UTC)
    r = MakeupRequest(person=person, project=pid, requested_by=requested_by or 0, punch_time=at, direction="in", reason="rain",
                      note="暴雨", evidence=PNG, evidence_type="image/png", day=day)
    await r.save()
    return r.id


async def test_makeups_approved_in_bulk_each_row_reported_and_a_key_manager_gets_no_checkbox(client, world):
    from backend.clockin.tables import MakeupRequest
    from backend.org import services as org
    from backend.workforce import services as workforce

    p = await _project(world.district_a)
    gc = p["units"]["general_contractor"]
    mgmt = next(t["id"] for t in await org.list_teams(p["id"]) if t["unit"] == gc)
    team = await org.create_team(p["id"], gc, unique("补卡班组"))
    day = today_local() - timedelta(days=2)
    people = []
    for name, role in (("补卡甲", "worker"), ("补卡乙", "worker"), ("项目经理甲", "manager")):
        pid = await workforce.upsert_person(id_number=world.id_number(), name=name)
        kw = {"post": "project_manager"} if role == "manager" else {"work_type": "020"}
        await workforce.enter_roster(project_id=p["id"], person_id=pid, unit_id=gc,
                                     team_id=mgmt if role == "manager" else team,
                                     work_role=role, entered_on=day - timedelta(days=10), **kw)
        people.append(pid)
    worker_user = await _user("worker", person_id=people[0])
    uid = await user_id(worker_user)
    a, b, m = [await _makeup(p["id"], pid, day, 8, uid) for pid in people]
    sup = await _headers(world.users["supervisor_a"])
    page = await client.get(f"/supervision/makeups?project_id={p['id']}", headers=sup)
    assert page.status_code == 200
    assert f'name="ids" value="{a}"' in page.text and f'name="ids" value="{m}"' not in page.text
    assert "关键岗位人员不得补卡" in page.text
    assert f"/supervision/makeups/{a}/evidence" in page.text
    ev = await client.get(f"/supervision/makeups/{a}/evidence", headers=await auth(world.users["supervisor_a"]))
    assert ev.status_code == 200 and ev.content == PNG
    # b decided meanwhile by someone else: the bulk reports it as a conflict, a is approved
    await MakeupRequest.update({MakeupRequest.status: "rejected"}).where(MakeupRequest.id == b)
    r = await client.post("/supervision/makeups/decide", headers=sup,
                          data={"ids": [str(a), str(b)], "decision": "approve", "note": "暴雨属实",
                                "project_id": str(p["id"]), "status": "pending"})
    assert r.status_code == 200, r.text
    assert f'data-result-id="{a}" class="ok-row"' in r.text and f'data-result-id="{b}" class="error-row"' in r.text
    assert "已被处理" in r.text
    row = await MakeupRequest.select(MakeupRequest.status, MakeupRequest.punch).where(MakeupRequest.id == a).first()
    assert row["status"] == "approved" and row["punch"] is not None
    # the worker sees the decision on the phone (/m/makeup) and got a 站内消息
    from backend.supervision.tables import InSiteMessage

    phone = await client.get("/m/makeup", headers=await _headers(worker_user))
    assert phone.status_code == 200 and "已批准" in phone.text
    msgs = await InSiteMessage.select(InSiteMessage.title).where(InSiteMessage.user == uid)
    assert [m["title"] for m in msgs].count("补卡申请已批准") == 1


async def test_makeup_bulk_of_two_days_refused(client, world):
    from backend.org import services as org
    from backend.workforce import services as workforce

    p = await _project(world.district_a)
    gc = p["units"]["general_contractor"]
    team = await org.create_team(p["id"], gc, unique("补卡班组"))
    pid = await workforce.upsert_person(id_number=world.id_number(), name="补卡丙")
    d1 = today_local() - timedelta(days=3)
    await workforce.enter_roster(project_id=p["id"], person_id=pid, unit_id=gc, team_id=team,
                                 work_role="worker", work_type="020", entered_on=d1 - timedelta(days=5))
    a, b = await _makeup(p["id"], pid, d1, 8), await _makeup(p["id"], pid, d1 + timedelta(days=1), 8)
    r = await client.post("/supervision/makeups/decide", headers=await _headers(world.users["supervisor_a"]),
                          data={"ids": [str(a), str(b)], "decision": "approve", "note": ""})
    assert r.status_code == 400 and "同一项目、同一天" in r.text
    r = await client.get("/supervision/makeups", headers=await _headers(world.users["staff_a"]))
    assert r.status_code == 403 and "住建主管部门" in r.text


# --- Who holds level 1: a district setting (default: the project's owner / supervision firm) --------------------


async def test_district_may_give_level1_to_the_authority_and_two_different_supervisors_decide(client, world):
    from backend.org import services as org

    p = await _project(world.district_a)
    sup2 = await _user("supervisor", district_ids=[world.district_a])
    admin = await _headers(world.users["admin"])
    page = await client.get("/changes", headers=admin)
    assert "各区县的一级审批人" in page.text and "项目的建设单位或监理单位" in page.text
    r = await client.post(f"/districts/{world.district_a}/change-level1", headers=admin,
                          data={"change_level1": "district"})
    assert r.status_code == 303, r.text
    try:
        assert (await _file(client, p["id"], p["staff"], "suspend")).status_code == 303
        [req] = await org.list_change_requests(p["id"])
        # the supervision firm no longer decides level 1 here; a supervisor of the district does
        r = await client.post(f"/changes/{req['id']}/decide", headers=await _headers(p["sup_firm"]),
                              data={"level": "1", "decision": "approve", "back": "/changes"})
        assert r.status_code == 403 and "主管部门" in r.text
        r = await client.post(f"/changes/{req['id']}/decide", headers=await _headers(sup2),
                              data={"level": "1", "decision": "approve", "back": "/changes"})
        assert r.status_code == 303, r.text
        r = await client.post(f"/changes/{req['id']}/decide", headers=await _headers(sup2),
                              data={"level": "2", "decision": "approve", "back": "/changes"})
        assert r.status_code == 403 and "不同人员" in r.text  # the same person cannot decide both levels
        r = await client.post(f"/changes/{req['id']}/decide", headers=await _headers(world.users["supervisor_a"]),
                              data={"level": "2", "decision": "approve", "back": "/changes"})
        assert r.status_code == 303 and (await org.get_project(p["id"]))["status"] == "suspended"
        r = await client.post(f"/districts/{world.district_a}/change-level1",
                              headers=await _headers(world.users["supervisor_a"]), data={"change_level1": "units"})
        assert r.status_code == 403  # only the admin sets it
        r = await client.post(f"/districts/{world.district_a}/change-level1", headers=admin,
                              data={"change_level1": "nobody"})
        assert r.status_code == 400 and "一级审批人应为" in r.text
    finally:
        await org.set_change_level1(world.district_a, "units")
