"""Issue 20 A.1–A.2 (seed 001 供应商操作指引 §2.1–2.4, seed 002 §三(一)2 / §四.2): a vendor registers (USCC check
character), completes its profile, applies for a business scope that the district approves or returns; only then it
files device access applications, which go through the four steps in order (1 设备接入申请 → 2 设备接入审核:
测试环境授权, 正式环境授权 → 3 联网结果核查申请 → 4 联网结果核查), each with who/when/remark.  The gate refuses a
terminal without production access at login 843 with the reason, and the vendor sees the refusal."""

from __future__ import annotations

import random
from typing import Any

import pytest

from backend.demo import fake_uscc
from tests.integration.conftest import BearerHeaders, unique
from tests.integration.gate import conftest as gate_fixtures
from tests.integration.gate.gate_site import terminal_row

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

# The gate tests' fixtures (the app with its gate server, its HTTP client, simulated terminals), for this module.
running_app = gate_fixtures.running_app
gate_server = gate_fixtures.gate_server
http = gate_fixtures.http
open_terminal = gate_fixtures.open_terminal

auth = BearerHeaders()
PASSWORD = "vendor-pass-2026"
NOT_VERIFIED = "未通过联网结果核查，不能在生产环境登录"


def _uscc() -> str:
    return fake_uscc(random.Random(unique("vendor-uscc")), "110101")


async def register(http: Any, *, via_api: bool = False, **over: Any) -> dict[str, Any]:
    """A registered vendor: through the public API (``via_api``: counted by the per-address limit), else through
    the service (the same checks, no limit: this module registers more vendors than one address may)."""
    body = {"name": unique("测试智能设备有限公司"), "uscc": _uscc(), "contact_name": "张联系",
            "contact_phone": "13900139000", "username": unique("t_vendor_reg_"), "password": PASSWORD}
    body.update(over)
    if not via_api:
        from backend.onboarding.services import register_vendor

        made = await register_vendor(body)
        return {"vendor_id": made.vendor_id, "username": made.username, "vendor_code": made.vendor_code, **body}
    r = await http.post("/api/onboarding/register", json=body)
    assert r.status_code == 201, r.text
    return {**r.json(), **body}


async def approved_vendor(http: Any, world: Any, *, scope: str = "attendance_device") -> dict[str, Any]:
    """A registered vendor with a complete profile and ``scope`` approved by district A."""
    v = await register(http)
    h = await auth(v["username"])
    r = await http.put("/api/onboarding/profile", headers=h, json={
        "contact_name": "张联系", "contact_phone": "13900139000", "address": "测试路 8 号", "legal_representative": "王法人",
        "products": "人脸识别考勤机 FX-1"})
    assert r.status_code == 200 and r.json()["state"] == "complete", r.text
    r = await http.post("/api/onboarding/scopes", headers=h,
                        json={"scope": scope, "district_id": world.district_a, "note": "人脸考勤机"})
    assert r.status_code == 201, r.text
    scope_id = r.json()["id"]
    r = await http.post(f"/api/onboarding/scopes/{scope_id}/decide", headers=await auth(world.users["supervisor_a"]),
                        json={"approve": True})
    assert r.status_code == 200, r.text
    return {**v, "headers": h, "scope_id": scope_id}


def device(world: Any, **over: Any) -> dict[str, Any]:
    body = {"project_id": world.project_a, "device_type": "attendance_device", "serial": unique("ONB-GATE-"),
            "model": "FX-1", "install_position": "1 号门人行通道", "capture_method": "fixed_terminal",
            "biometric_mode": "face", "channel": 1, "direction": "in", "channels_planned": 2,
            "install_plan": "东门 2 条通道，一进一出，闸机联动"}
    body.update(over)
    return body


async def file(http: Any, vendor: dict[str, Any], world: Any, **over: Any) -> tuple[int, str, dict[str, Any]]:
    body = device(world, **over)
    r = await http.post("/api/onboarding/applications", headers=vendor["headers"], json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"], body["serial"], r.json()


async def step(http: Any, app_id: int, action: str, headers: dict[str, str], **body: Any) -> Any:
    return await http.post(f"/api/onboarding/applications/{app_id}/{action}", headers=headers, json=body)


# --- A.1 registration and business scope ------------------------------------------------------------------------


async def test_a_vendor_registers_without_login_and_sees_its_vendor_code_once(world, http):
    v = await register(http, via_api=True)
    assert len(v["vendor_code"]) == 32
    from backend.devices.tables import Vendor

    stored = await Vendor.select().where(Vendor.id == v["vendor_id"]).first()
    assert v["vendor_code"] not in str(stored)  # only its hash is kept
    profile = (await http.get("/api/onboarding/profile", headers=await auth(v["username"]))).json()
    assert profile["state"] == "incomplete" and profile["uscc"] == v["uscc"]


async def test_registration_refuses_a_wrong_uscc_check_character_and_a_uscc_registered_twice(world, http):
    good = _uscc()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    r = await http.post("/api/onboarding/register", json={
        "name": "错码公司", "uscc": bad, "contact_name": "甲", "contact_phone": "13900139000",
        "username": unique("t_vendor_bad_"), "password": PASSWORD})
    assert r.status_code == 400 and r.json()["code"] == "uscc_check", r.text
    await register(http, via_api=True, uscc=good)
    r = await http.post("/api/onboarding/register", json={
        "name": "重复公司", "uscc": good, "contact_name": "乙", "contact_phone": "13900139000",
        "username": unique("t_vendor_dup_"), "password": PASSWORD})
    assert r.status_code == 409 and r.json()["code"] == "uscc_registered", r.text


async def test_a_scope_needs_a_complete_profile_and_is_returned_with_a_reason_then_approved(world, http):
    v = await register(http)
    h = await auth(v["username"])
    scope = {"scope": "attendance_device", "district_id": world.district_a, "note": "考勤机"}
    r = await http.post("/api/onboarding/scopes", headers=h, json=scope)
    assert r.status_code == 409 and r.json()["code"] == "profile_incomplete"
    await http.put("/api/onboarding/profile", headers=h, json={
        "contact_name": "张", "contact_phone": "13900139000", "address": "路 1 号", "legal_representative": "王",
        "products": "FX-1"})
    scope_id = (await http.post("/api/onboarding/scopes", headers=h, json=scope)).json()["id"]
    # another district's authority neither sees nor decides it
    other = await auth(world.users["supervisor_b"])
    assert scope_id not in [s["id"] for s in (await http.get("/api/onboarding/scopes", headers=other)).json()]
    r = await http.post(f"/api/onboarding/scopes/{scope_id}/decide", headers=other, json={"approve": True})
    assert r.status_code == 404
    sup = await auth(world.users["supervisor_a"])
    r = await http.post(f"/api/onboarding/scopes/{scope_id}/decide", headers=sup, json={"approve": False})
    assert r.status_code == 400 and r.json()["code"] == "reason"
    r = await http.post(f"/api/onboarding/scopes/{scope_id}/decide", headers=sup,
                        json={"approve": False, "reason": "请补充产品检测报告"})
    assert r.status_code == 200
    mine = {s["id"]: s for s in (await http.get("/api/onboarding/scopes", headers=h)).json()}
    assert mine[scope_id]["status"] == "returned" and mine[scope_id]["reason"] == "请补充产品检测报告"
    assert (await http.post("/api/onboarding/scopes", headers=h, json=scope)).json()["id"] == scope_id  # filed again
    r = await http.post(f"/api/onboarding/scopes/{scope_id}/decide", headers=sup, json={"approve": True})
    assert r.status_code == 200
    r = await http.post(f"/api/onboarding/scopes/{scope_id}/decide", headers=sup, json={"approve": True})
    assert r.status_code == 409 and r.json()["code"] == "not_pending"


async def test_a_vendor_without_an_approved_scope_cannot_file_an_access_application(world, http):
    v = await register(http)
    r = await http.post("/api/onboarding/applications", headers=await auth(v["username"]), json=device(world))
    assert r.status_code == 403 and r.json()["code"] == "scope_not_approved", r.text
    # a scope of district A does not open district B's projects, nor another device type
    v = await approved_vendor(http, world)
    r = await http.post("/api/onboarding/applications", headers=v["headers"],
                        json=device(world, project_id=world.project_c))
    assert r.status_code == 403 and r.json()["code"] == "scope_not_approved"
    r = await http.post("/api/onboarding/applications", headers=v["headers"],
                        json=device(world, device_type="collection_device"))
    assert r.status_code == 403 and r.json()["code"] == "scope_not_approved"


# --- A.2 the four steps --------------------------------------------------------------------------------------------


async def test_the_four_steps_in_order_move_the_terminal_from_refused_to_verified(world, http, open_terminal):
    v = await approved_vendor(http, world)
    sup = await auth(world.users["supervisor_a"])
    app_id, serial, filed = await file(http, v, world)
    assert filed["warning"] == ""  # project A: 45,000 m² → 2 channels, planned 2
    assert (await terminal_row(serial))["access_state"] == "applied"

    # step 1 only: the terminal cannot log in, the vendor sees why on its application
    t = await open_terminal(serial, vendor=v["vendor_code"], login=False)
    r = await t.login()
    assert not r.ok and NOT_VERIFIED in r.message, r.message
    detail = (await http.get(f"/api/onboarding/applications/{app_id}", headers=v["headers"])).json()
    assert detail["step"] == 2 and detail["status"] == "applied"
    assert [a["kind"] for a in detail["alarms"]] == ["access_refused"]
    assert NOT_VERIFIED in detail["alarms"][0]["detail"]

    # skipping a step is refused
    for action, who in (("production", sup), ("verify", sup), ("report", v["headers"])):
        body = {"result": "联调成功"} if action == "report" else {}
        r = await step(http, app_id, action, who, **body)
        assert r.status_code == 409 and r.json()["code"] == "wrong_step", (action, r.text)

    # step 2a: test access — the credential is the vendor's only
    r = await step(http, app_id, "test", sup, remark="测试环境地址 10.0.0.8:9848")
    assert r.status_code == 200, r.text
    assert r.json()["test_credential"] is None  # the authority's reply does not carry it
    detail = (await http.get(f"/api/onboarding/applications/{app_id}", headers=v["headers"])).json()
    code = detail["test_credential"]
    assert code and len(code) == 32 and detail["access_state"] == "test"
    listed = (await http.get("/api/onboarding/applications", headers=sup)).text
    assert code not in listed and code not in (await http.get(f"/api/onboarding/applications/{app_id}",
                                                               headers=sup)).text
    t = await open_terminal(serial, vendor=v["vendor_code"], login=False)
    r = await t.login()
    assert not r.ok and NOT_VERIFIED in r.message and "测试" in r.message
    t = await open_terminal(serial, vendor=code, login=False)
    assert (await t.login()).ok  # the test login works …
    r = await t.heartbeat()
    assert not r.ok and "测试环境授权" in r.message  # … and nothing after it is taken
    await t.close()

    # step 2b: production access — the vendor code logs in (正式环境联调)
    assert (await step(http, app_id, "production", sup, remark="正式环境")).status_code == 200
    t = await open_terminal(serial, vendor=v["vendor_code"], login=False)
    assert (await t.login()).ok
    assert (await t.heartbeat()).ok
    await t.close()
    assert (await http.get(f"/api/onboarding/applications/{app_id}", headers=v["headers"])).json()[
        "test_credential"] is None

    # step 3: the vendor reports; step 4: the authority verifies and closes
    r = await step(http, app_id, "report", v["headers"], result="")
    assert r.status_code == 400
    assert (await step(http, app_id, "report", v["headers"], result="正式环境联调成功，考勤数据实时上传")).status_code == 200
    r = await step(http, app_id, "verify", v["headers"])
    assert r.status_code == 403  # not the vendor's decision
    r = await step(http, app_id, "verify", sup, remark="现场核查通过")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "verified" and done["step"] == 5 and done["access_state"] == "verified"
    assert [e["action"] for e in done["events"]] == ["submitted", "test_granted", "production_granted", "reported",
                                                     "verified"]
    assert all(e["by_name"] and e["at"] for e in done["events"])
    assert done["events"][1]["remark"] == "测试环境地址 10.0.0.8:9848"
    assert (await terminal_row(serial))["access_state"] == "verified"


async def test_test_access_takes_no_punch_and_no_whitelist_and_stores_nothing(world, http, open_terminal):
    from backend.attendance.tables import Punch

    v = await approved_vendor(http, world)
    sup = await auth(world.users["supervisor_a"])
    app_id, serial, _ = await file(http, v, world)
    await step(http, app_id, "test", sup)
    code = (await http.get(f"/api/onboarding/applications/{app_id}", headers=v["headers"])).json()["test_credential"]
    t = await open_terminal(serial, vendor=code)  # logged in with the test credential
    r = await t.punch(1)  # refused before the worker is even looked up
    assert not r.ok and "测试环境授权" in r.message
    t = await open_terminal(serial, vendor=code)
    r = await t.whitelist()
    assert not r.ok and "测试环境授权" in r.message
    terminal = (await terminal_row(serial))["id"]
    assert await Punch.count().where(Punch.terminal == terminal) == 0
    kinds = [a["kind"] for a in (await http.get(f"/api/onboarding/applications/{app_id}",
                                                headers=v["headers"])).json()["alarms"]]
    assert "test_login" in kinds


async def test_returns_send_step_two_back_to_the_vendor_and_step_four_back_to_production(world, http):
    v = await approved_vendor(http, world)
    sup = await auth(world.users["supervisor_a"])
    app_id, serial, _ = await file(http, v, world)
    r = await step(http, app_id, "return", sup)
    assert r.status_code == 400 and r.json()["code"] == "reason"
    r = await step(http, app_id, "return", sup, reason="安装位置不清楚")
    assert r.status_code == 200 and r.json()["status"] == "returned" and r.json()["step"] == 1
    r = await http.put(f"/api/onboarding/applications/{app_id}", headers=v["headers"],
                       json=device(world, install_position="东门闸机左侧"))
    assert r.status_code == 200 and r.json()["status"] == "applied" and r.json()["round_no"] == 2
    assert r.json()["serial"] == serial
    await step(http, app_id, "test", sup)
    await step(http, app_id, "production", sup)
    await step(http, app_id, "report", v["headers"], result="联调成功")
    r = await step(http, app_id, "return", sup, reason="考勤记录未上传")
    assert r.status_code == 200 and r.json()["status"] == "production"
    assert (await terminal_row(serial))["access_state"] == "production"
    assert [e["action"] for e in r.json()["events"]][-1] == "verify_returned"


async def test_another_vendor_and_another_district_cannot_read_an_application(world, http):
    v = await approved_vendor(http, world)
    app_id, _, _ = await file(http, v, world)
    other = await approved_vendor(http, world)
    for headers in (other["headers"], await auth(world.users["vendor"]), await auth(world.users["supervisor_b"])):
        r = await http.get(f"/api/onboarding/applications/{app_id}", headers=headers)
        assert r.status_code == 404, r.text
        assert app_id not in [a["id"] for a in (await http.get("/api/onboarding/applications", headers=headers)).json()]
    r = await http.get(f"/api/onboarding/applications/{app_id}", headers=await auth(world.users["staff_a"]))
    assert r.status_code == 403
    r = await step(http, app_id, "test", other["headers"])
    assert r.status_code == 404
    assert (await http.get(f"/api/onboarding/applications/{app_id}",
                           headers=await auth(world.users["admin"]))).status_code == 200


async def test_a_plan_short_of_one_channel_per_30000_m2_is_warned_not_refused(world, http):
    v = await approved_vendor(http, world)
    _, _, filed = await file(http, v, world, channels_planned=1)  # project A: 45,000 m² → 2
    assert filed["channels_required"] == 2 and "少于" in filed["warning"]
    _, _, filed = await file(http, v, world, channels_planned=1, site_area_m2=30_000)
    assert filed["channels_required"] == 1 and filed["warning"] == ""
    _, _, filed = await file(http, v, world, channels_planned=2, site_area_m2=90_001)
    assert filed["channels_required"] == 4 and "4" in filed["warning"]


async def test_a_serial_already_registered_is_refused(world, http):
    v = await approved_vendor(http, world)
    _, serial, _ = await file(http, v, world)
    r = await http.post("/api/onboarding/applications", headers=v["headers"], json=device(world, serial=serial))
    assert r.status_code == 409


async def test_pages_of_the_vendor_and_the_authority_render(world, http):
    v = await approved_vendor(http, world)
    app_id, serial, _ = await file(http, v, world)
    r = await http.get("/vendor/register")
    assert r.status_code == 200 and "设备厂商注册" in r.text
    r = await http.get("/onboarding", headers=v["headers"])
    assert r.status_code == 200 and serial in r.text and "已通过（正常）" in r.text
    r = await http.get("/onboarding", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 200 and serial in r.text and "设备接入审核" in r.text
    r = await http.get(f"/onboarding/applications/{app_id}", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 200 and 'id="grant-test"' in r.text
    r = await http.get("/onboarding", headers=await auth(world.users["staff_a"]))
    assert r.status_code == 403


async def test_registrations_from_one_address_are_limited(world, http, running_app):
    from backend.onboarding.services import REGISTRATIONS_PER_ADDRESS
    from backend.runtime import services_of

    limiter = services_of(running_app.state).login_limiter

    def forget() -> None:
        limiter.clear(*[k for k in list(limiter._fails) if k.startswith("vendor-register:")])

    forget()
    try:
        for _ in range(REGISTRATIONS_PER_ADDRESS):  # refused ones count too (each may cost a password hash)
            assert (await http.post("/api/onboarding/register", json={"name": ""})).status_code == 400
        r = await http.post("/api/onboarding/register", json={"name": ""})
        assert r.status_code == 429 and "注册过于频繁" in r.json()["message"], r.text
    finally:
        forget()
