"""Workflow 1, 项目申报 (seed 001 §2.1, §2.11.2): an enterprise applies, the district authority returns it with a
reason or passes it; on pass the project, its units (with management teams) and a project-staff account exist, the
one-time password works once and must be changed; every round is kept; the applicant is notified."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from backend.supervision.sms import SmsResult
from tests.integration.conftest import BearerHeaders, unique, user_id

pytestmark = pytest.mark.integration

auth = BearerHeaders()


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, text: str) -> SmsResult:
        self.sent.append((phone, text))
        return SmsResult(ok=True, provider_id=f"p{len(self.sent)}")


async def _enterprise_user(world: Any) -> tuple[str, str]:
    """An enterprise account of a new enterprise: (username, its USCC)."""
    from backend.accounts.services import create_user
    from backend.demo import fake_uscc
    from backend.org import services as org

    uscc = fake_uscc(random.Random(unique("u")), "110101")
    eid = await org.create_enterprise(unique("申报测试建设集团"), uscc)
    username = unique("t_apply_")
    await create_user(username, "apply-pass-2026", "enterprise", enterprise_id=eid)
    return username, uscc


def form(world: Any, uscc: str, **over: Any) -> dict[str, Any]:
    from backend.demo import fake_uscc

    start = date.today() + timedelta(days=10)
    body = {
        "name": unique("申报测试住宅项目"), "permit_no": "440703202612020101", "category": "building",
        "district_id": world.district_a, "address": "测试路 1 号", "lon": 116.39, "lat": 39.9,
        "planned_start": start.isoformat(), "planned_finish": (start + timedelta(days=400)).isoformat(),
        "floor_area_m2": 32000, "contract_value_yuan": 150_000_000, "applicant_name": "李申报",
        "applicant_phone": "13800138000",
        "units": [
            {"name": "申报测试建设集团", "uscc": uscc, "unit_type": "general_contractor"},
            {"name": "申报测试监理公司", "uscc": fake_uscc(random.Random(unique("s")), "110101"),
             "unit_type": "supervision_firm"},
        ],
    }
    body.update(over)
    return body


async def test_apply_return_resubmit_pass_creates_project_units_teams_and_staff_account(client, world):
    from backend.accounts.tables import User
    from backend.org import services as org

    applicant, uscc = await _enterprise_user(world)
    sup = world.users["supervisor_a"]
    r = await client.post("/api/approvals/applications", json=form(world, uscc), headers=await auth(applicant))
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]

    r = await client.post(f"/api/approvals/applications/{app_id}/return", json={"reason": "施工许可证号与附件不符"},
                          headers=await auth(sup))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "returned"

    r = await client.get(f"/api/approvals/applications/{app_id}", headers=await auth(applicant))
    body = r.json()
    assert body["status_label"] == "已退回" and body["reason"] == "施工许可证号与附件不符" and body["can_resubmit"]

    r = await client.put(f"/api/approvals/applications/{app_id}", json=form(world, uscc, permit_no="BJ-2026-0099"),
                         headers=await auth(applicant))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and r.json()["round_no"] == 2

    r = await client.post(f"/api/approvals/applications/{app_id}/pass", headers=await auth(sup))
    assert r.status_code == 200, r.text
    issued = r.json()
    project = await org.get_project(issued["project_id"])
    assert project["permit_no"] == "BJ-2026-0099" and project["status"] == "preparing"
    units = await org.list_units(issued["project_id"])
    assert sorted(u["unit_type"] for u in units) == ["general_contractor", "supervision_firm"]
    teams = await org.list_teams(issued["project_id"])
    assert len([t for t in teams if t["kind"] == "management"]) == 2

    # the password is not stored in plaintext, and the account must change it at first login
    staff = await User.select().where(User.username == issued["username"]).first()
    assert issued["password"] not in staff["password_hash"] and staff["must_change_password"]
    r = await client.post("/api/auth/token", json={"username": issued["username"], "password": issued["password"]})
    assert r.status_code == 200, r.text
    staff_headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.get(f"/api/projects/{issued['project_id']}", headers=staff_headers)
    assert r.status_code == 403 and r.json()["code"] == "password_change_required"

    # never shown again: the application carries no password; a second pass is refused
    r = await client.get(f"/api/approvals/applications/{app_id}", headers=await auth(sup))
    assert issued["password"] not in r.text
    actions = [x["action"] for x in r.json()["rounds"]]
    assert actions == ["submitted", "returned", "resubmitted", "passed"]
    assert all(x["by_name"] for x in r.json()["rounds"])
    r = await client.post(f"/api/approvals/applications/{app_id}/pass", headers=await auth(sup))
    assert r.status_code == 409 and r.json()["code"] == "not_pending"


async def test_applicant_gets_in_site_message_for_each_result_and_sms_when_district_switched_it_on(world):
    from backend.accounts.services import load_user
    from backend.approvals import services
    from backend.supervision.services import messages
    from backend.supervision.services.notifications import save_notify_setting
    from backend.supervision.tables import SmsLog

    applicant, uscc = await _enterprise_user(world)
    applicant_user = await load_user(await user_id(applicant))
    sup = await load_user(await user_id(world.users["supervisor_a"]))
    sms = RecordingSms()
    app_id = await services.submit_application(applicant_user, form(world, uscc))
    await services.return_application(sup, app_id, "缺少项目地址证明", sms=sms)
    assert sms.sent == []  # the district has SMS off: in-site message only
    inbox = await messages.list_messages(applicant_user.id)
    assert inbox[0]["title"].startswith("项目申报已退回") and "缺少项目地址证明" in inbox[0]["body"]

    await save_notify_setting(world.district_a, {"in_site": True, "sms": True, "key_people": False,
                                                 "to_project_manager": False, "to_chief_supervising_engineer": False,
                                                 "to_safety_officer": False, "others": False}, sup.id)
    await services.resubmit_application(applicant_user, app_id, form(world, uscc))
    result = await services.pass_application(sup, app_id, sms=sms)
    assert [p for p, _ in sms.sent] == ["13800138000"] and "项目申报已通过" in sms.sent[0][1]
    assert result["password"] not in sms.sent[0][1]
    inbox = await messages.list_messages(applicant_user.id)
    assert inbox[0]["title"].startswith("项目申报已通过") and inbox[0]["project"] == result["project_id"]
    log = await SmsLog.select().where(SmsLog.project == result["project_id"])
    assert log and log[0]["phone_masked"] != "13800138000" and log[0]["status"] == "sent"


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"name": " "}, "name", "请填写项目名称"),
    ({"permit_no": "许可"}, "permit_no", "请填写施工许可证或报建编号（4–40 位字母、数字或连字符）"),
    ({"lon": None}, "lon", "请在地图上点击项目位置"),
    ({"lon": 2.35, "lat": 48.85}, "lon", "项目位置应在中国境内（经度 73–136，纬度 3–54）"),
    ({"planned_finish": "2020-01-01"}, "planned_finish", "计划竣工日期不能早于计划开工日期"),
    ({"floor_area_m2": None}, "floor_area_m2", "房屋建筑项目须填写建筑面积（大于 0）"),
    ({"contract_value_yuan": -5}, "contract_value_yuan", "数值须大于 0 且不超过 10¹³"),
    ({"applicant_phone": "12345"}, "applicant_phone", "请填写申请人手机号（11 位）"),
    ({"units": []}, "units", "请至少填写一个参建单位"),
])
async def test_server_refuses_bad_application_with_the_browser_message(client, world, over, field, message):
    applicant, uscc = await _enterprise_user(world)
    r = await client.post("/api/approvals/applications", json=form(world, uscc, **over), headers=await auth(applicant))
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field and r.json()["message"] == message


async def test_unit_uscc_check_digit_and_contractor_and_own_enterprise_are_required(client, world):
    applicant, uscc = await _enterprise_user(world)
    bad = uscc[:17] + ("0" if uscc[17] != "0" else "1")
    units = [{"name": "甲", "uscc": bad, "unit_type": "general_contractor"}]
    r = await client.post("/api/approvals/applications", json=form(world, uscc, units=units),
                          headers=await auth(applicant))
    assert r.status_code == 400 and r.json()["field"] == "units.0.uscc" and r.json()["message"] == "统一社会信用代码校验位错误"
    units = [{"name": "甲", "uscc": uscc, "unit_type": "owner"}]
    r = await client.post("/api/approvals/applications", json=form(world, uscc, units=units),
                          headers=await auth(applicant))
    assert r.status_code == 400 and r.json()["message"] == "参建单位须包含施工总承包单位"
    other, _ = await _enterprise_user(world)
    r = await client.post("/api/approvals/applications", json=form(world, uscc), headers=await auth(other))
    assert r.status_code == 400 and r.json()["code"] == "applicant_not_unit"


async def test_only_the_projects_district_authority_decides_and_others_do_not_see_it(client, world):
    applicant, uscc = await _enterprise_user(world)
    r = await client.post("/api/approvals/applications", json=form(world, uscc), headers=await auth(applicant))
    app_id = r.json()["id"]
    r = await client.post(f"/api/approvals/applications/{app_id}/pass", headers=await auth(world.users["supervisor_b"]))
    assert r.status_code == 404
    r = await client.post(f"/api/approvals/applications/{app_id}/pass", headers=await auth(world.users["admin"]))
    assert r.status_code == 403
    r = await client.post(f"/api/approvals/applications/{app_id}/pass", headers=await auth(applicant))
    assert r.status_code == 403
    other, _ = await _enterprise_user(world)
    r = await client.get(f"/api/approvals/applications/{app_id}", headers=await auth(other))
    assert r.status_code == 404
    r = await client.post(f"/api/approvals/applications/{app_id}/return", json={"reason": "  "},
                          headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 400 and r.json()["message"] == "退回时须填写原因"
    r = await client.put(f"/api/approvals/applications/{app_id}", json=form(world, uscc), headers=await auth(applicant))
    assert r.status_code == 409 and r.json()["code"] == "not_returned"


async def test_queue_filters_by_status_and_submission_date_and_pages(client, world):
    applicant, uscc = await _enterprise_user(world)
    sup = world.users["supervisor_a"]
    ids = []
    for _ in range(3):
        r = await client.post("/api/approvals/applications", json=form(world, uscc), headers=await auth(applicant))
        ids.append(r.json()["id"])
    await client.post(f"/api/approvals/applications/{ids[0]}/return", json={"reason": "补充材料"},
                      headers=await auth(sup))
    r = await client.get("/api/approvals/applications?status=returned", headers=await auth(sup))
    assert ids[0] in [x["id"] for x in r.json()["items"]]
    assert all(x["status"] == "returned" for x in r.json()["items"])
    today = date.today()
    far = (today + timedelta(days=5)).isoformat()
    r = await client.get(f"/api/approvals/applications?date_from={far}", headers=await auth(sup))
    assert r.json()["total"] == 0
    r = await client.get("/api/approvals/applications?status=pending", headers=await auth(sup))
    assert {ids[1], ids[2]} <= {x["id"] for x in r.json()["items"]}
    r = await client.get("/api/approvals/applications", headers=await auth(world.users["supervisor_b"]))
    assert not {ids[0], ids[1], ids[2]} & {x["id"] for x in r.json()["items"]}
    r = await client.get("/api/approvals/applications?page=99", headers=await auth(sup))
    assert r.json()["items"] == [] and r.json()["total"] >= 3
    r = await client.get("/approvals?status=pending", headers=await auth(sup))
    assert r.status_code == 200 and "项目申报审核" in r.text


async def test_project_audit_lists_application_rounds_status_changes_and_change_request_decisions(client, world):
    from backend.accounts.services import load_user
    from backend.approvals import services
    from backend.approvals.audit import project_audit
    from backend.org import services as org

    applicant, uscc = await _enterprise_user(world)
    applicant_user = await load_user(await user_id(applicant))
    sup = await load_user(await user_id(world.users["supervisor_a"]))
    app_id = await services.submit_application(applicant_user, form(world, uscc))
    await services.return_application(sup, app_id, "地址不全")
    await services.resubmit_application(applicant_user, app_id, form(world, uscc))
    pid = (await services.pass_application(sup, app_id))["project_id"]
    req = await org.request_change(pid, "planned_start", (date.today() + timedelta(days=20)).isoformat(),
                                   reason="图纸会审推迟", user_id=applicant_user.id)
    entries = await project_audit(pid)
    actions = [e.action_label for e in entries]
    assert actions[:4] == ["项目申报：提交申报（第 1 轮）", "项目申报：退回（第 1 轮）",
                           "项目申报：修改后重新提交（第 2 轮）", "项目申报：审核通过（第 2 轮）"]
    assert any(a.startswith("项目状态变更") for a in actions)
    assert any(a == "提交申请：变更拟开工日期" for a in actions)
    returned = entries[1]
    assert returned.reason_text == "地址不全" and returned.actor == sup.display_name
    assert entries[-1].reason_text == "图纸会审推迟" and req["id"]
    r = await client.get(f"/api/projects/{pid}/audit", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 200 and len(r.json()) == len(entries)
    r = await client.get(f"/approvals/projects/{pid}/audit", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 200 and "地址不全" in r.text
    r = await client.get(f"/api/projects/{pid}/audit", headers=await auth(world.users["supervisor_b"]))
    assert r.status_code == 404


async def test_users_of_finds_district_supervisors_project_enterprises_and_staff(world):
    from backend.approvals.notify import notify, users_of
    from backend.supervision.services.messages import list_messages

    sup_a = await user_id(world.users["supervisor_a"])
    assert sup_a in await users_of("supervisor", district_id=world.district_a)
    assert sup_a in await users_of("supervisor", project_id=world.project_a)
    assert sup_a not in await users_of("supervisor", district_id=world.district_b)
    gc = await user_id(world.users["enterprise_gc"])
    assert gc in await users_of("enterprise", project_id=world.project_a)
    assert gc not in await users_of("enterprise", project_id=world.project_c)
    staff = await user_id(world.users["staff_a"])
    assert await users_of("project_staff", project_id=world.project_a) == [staff]
    assert await notify([staff, staff], "停工申请待审批", "请处理", world.project_a) == 1
    assert (await list_messages(staff))[0]["title"] == "停工申请待审批"


async def test_demo_applications_leave_one_pending_one_returned_with_reason_and_one_passed(world):
    from backend.approvals.demo import demo_applications
    from backend.approvals.tables import ProjectApplication

    applicant, _ = await _enterprise_user(world)
    made = await demo_applications(applicant_user_id=await user_id(applicant),
                                   authority_user_id=await user_id(world.users["supervisor_a"]),
                                   district_id=world.district_a, staff_password="demo-staff-2026", seed=7)
    rows = {r["id"]: r for r in await ProjectApplication.select().where(
        ProjectApplication.id.is_in([made["pending"], made["returned"], made["passed"]]))}
    assert rows[made["pending"]]["status"] == "pending"
    assert rows[made["returned"]]["status"] == "returned" and rows[made["returned"]]["reason"]
    assert rows[made["passed"]]["status"] == "passed" and rows[made["passed"]]["project"] == made["project_id"]
