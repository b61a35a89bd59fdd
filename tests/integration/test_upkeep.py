"""Device upkeep (issue 20 A.3–A.5): faults → repair tickets (seed 002 §五.1), repair within 24 h or escalation
(§五.4), removal / move notices 3 working days ahead and the compliance acceptance within 1 working day (§四.5),
the vendor service figures (seed 001 §2.10), and who sees what."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from backend.accounts.services import create_user
from backend.attendance.tables import Punch
from backend.devices import services as devices
from backend.devices.tables import Terminal, TerminalAlarm
from backend.errors import Conflict
from backend.supervision.tables import InSiteMessage
from backend.upkeep import services
from backend.upkeep.faults import detect_faults
from backend.upkeep.tables import RemovalNotice, RepairTicket, UpkeepFinding
from backend.vocabulary import FaultKind, UpkeepFindingKind
from tests.integration.conftest import PASSWORD, BearerHeaders, unique, user_id

CST = timezone(timedelta(hours=8))
auth = BearerHeaders()


async def _terminal(world, project: int | None = None) -> tuple[int, str]:
    serial = unique("UPK-")
    tid = await devices.register_terminal(project or world.project_a, serial, world.vendor)
    return tid, serial


async def _went_offline(serial: str, at: datetime) -> None:
    await devices.mark_online(serial, True, "10.0.0.9", now=at - timedelta(hours=3))
    await devices.mark_online(serial, False, now=at)


async def _tickets(tid: int) -> list[dict]:
    return await RepairTicket.select().where(RepairTicket.terminal == tid).order_by(RepairTicket.id)


async def _messages(username: str, needle: str) -> int:
    uid = await user_id(username)
    rows = await InSiteMessage.select(InSiteMessage.body).where(InSiteMessage.user == uid)
    return sum(1 for r in rows if needle in r["body"])


async def test_offline_fault_opens_one_ticket_and_tells_vendor_and_project_once(world):
    tid, serial = await _terminal(world)
    t0 = datetime.now(UTC)
    await _went_offline(serial, t0 - timedelta(minutes=29))
    await detect_faults(t0)
    assert await _tickets(tid) == []  # under the 30 minutes
    await detect_faults(t0 + timedelta(minutes=2))
    await detect_faults(t0 + timedelta(minutes=3))
    [ticket] = await _tickets(tid)
    assert ticket["kind"] == FaultKind.offline and ticket["status"] == "open"
    assert ticket["due_at"] - ticket["opened_at"] == timedelta(hours=24)
    assert await _messages(world.users["vendor"], serial) == 1
    assert await _messages(world.users["staff_a"], serial) == 1
    assert await _messages(world.users["supervisor_a"], serial) == 0  # the district hears only of an escalation


async def test_repair_overdue_at_24_hours_escalates_once_to_the_district(world):
    tid, serial = await _terminal(world)
    t0 = datetime.now(UTC)
    ticket_id = await services.report_fault(tid, "屏幕不亮", user_id=await user_id(world.users["staff_a"]), now=t0)
    assert ticket_id not in await services.escalate_overdue(t0 + timedelta(hours=24))  # exactly 24 h: in time
    assert ticket_id in await services.escalate_overdue(t0 + timedelta(hours=24, minutes=1))
    assert ticket_id not in await services.escalate_overdue(t0 + timedelta(hours=30))  # once
    [f] = await UpkeepFinding.select().where(UpkeepFinding.ticket == ticket_id)
    assert f["kind"] == UpkeepFindingKind.repair_overdue and f["project"] == world.project_a
    assert await _messages(world.users["supervisor_a"], serial) == 1
    assert await _messages(world.users["supervisor_b"], serial) == 0
    assert await services.close_ticket(ticket_id, "更换主板", user_id=None, now=t0 + timedelta(hours=26)) is True
    assert await UpkeepFinding.count().where(UpkeepFinding.ticket == ticket_id) == 1


async def test_an_outage_ticket_closes_only_once_back_online_and_reopens_on_a_new_outage(world):
    tid, serial = await _terminal(world)
    t0 = datetime.now(UTC)
    await _went_offline(serial, t0 - timedelta(hours=1))
    await detect_faults(t0)
    [ticket] = await _tickets(tid)
    t1 = t0 + timedelta(hours=2)
    with pytest.raises(Conflict):  # 修复完成 = back online: an outage does not close while the device is down
        await services.close_ticket(ticket["id"], "已重启", user_id=None, now=t1)
    await devices.mark_online(serial, True, "10.0.0.9", now=t1)
    assert await services.close_ticket(ticket["id"], "已重启", user_id=None, now=t1) is False
    await devices.mark_online(serial, False, now=t1 + timedelta(minutes=1))  # down again at once
    await detect_faults(t1 + timedelta(minutes=20))
    assert len(await _tickets(tid)) == 1
    await detect_faults(t1 + timedelta(minutes=32))
    tickets = await _tickets(tid)
    assert len(tickets) == 2 and tickets[1]["status"] == "open"


async def _punch(world, tid: int, received: datetime, *, latency: float = 0.5, rejected: bool = False) -> None:
    captured = received - timedelta(seconds=latency)
    await Punch(project=world.project_a, person=None, source="gate", idempotency_key=unique("upk-punch-"),
                terminal=tid, direction="in", captured_at=captured, received_at=received, latency_s=latency,
                local_date=captured.astimezone(CST).date().isoformat(),
                verdict="rejected" if rejected else "accepted",
                reasons='["face_mismatch"]' if rejected else "[]").save()


async def _seen_now(serial: str, at: datetime) -> None:
    await devices.mark_online(serial, True, "10.0.0.9", now=at)


async def test_repeated_punch_failures_alarms_and_clock_drift_each_open_a_ticket(world):
    t0 = datetime.now(UTC)
    failing, s1 = await _terminal(world)
    alarmed, s2 = await _terminal(world)
    ahead, s3 = await _terminal(world)
    behind, s4 = await _terminal(world)
    healthy, s5 = await _terminal(world)
    for serial in (s1, s2, s3, s4, s5):
        await _seen_now(serial, t0)
    for i in range(10):
        await _punch(world, failing, t0 - timedelta(minutes=i), rejected=True)
    for i in range(3):
        await TerminalAlarm(kind="login_conflict", serial=s2, peer="10.0.0.1", terminal=alarmed,
                            project=world.project_a, vendor=world.vendor, at=t0 - timedelta(minutes=i)).save()
    for i in range(3):
        await _punch(world, ahead, t0 - timedelta(minutes=i), latency=-600)
        await _punch(world, behind, t0 - timedelta(minutes=i), latency=900)
        await _punch(world, healthy, t0 - timedelta(minutes=i), latency=1.0, rejected=i == 0)
    await _punch(world, healthy, t0 - timedelta(minutes=5), latency=-300)  # one odd punch is no drift
    await detect_faults(t0)
    kinds = {tid: [t["kind"] for t in await _tickets(tid)] for tid in (failing, alarmed, ahead, behind, healthy)}
    assert kinds == {failing: ["punch_failures"], alarmed: ["gate_alarms"], ahead: ["clock_drift"],
                     behind: ["clock_drift"], healthy: []}


async def test_heartbeat_gap_of_a_terminal_recorded_online(world):
    tid, serial = await _terminal(world)
    t0 = datetime.now(UTC)
    await _seen_now(serial, t0 - timedelta(minutes=12))
    await detect_faults(t0)
    assert [t["kind"] for t in await _tickets(tid)] == ["heartbeat_gap"]


async def test_removal_filed_two_working_days_ahead_across_national_day_is_a_late_finding(world):
    tid, serial = await _terminal(world)
    filed_at = datetime(2026, 9, 29, 10, 0, tzinfo=CST)  # working days after it: 30 Sep, 8 Oct, 9 Oct
    made = await services.file_notice(tid, "remove", date(2026, 10, 8), user_id=None, reason="主体完工",
                                      now=filed_at)
    assert not made.on_time and made.earliest_on_time == date(2026, 10, 9)
    [f] = await UpkeepFinding.select().where(UpkeepFinding.notice == made.id)
    assert f["kind"] == UpkeepFindingKind.removal_notice_late and "2026-10-09" in f["message"]
    assert await _messages(world.users["supervisor_a"], serial) == 1  # 报知质安监机构
    other, _ = await _terminal(world)
    ok = await services.file_notice(other, "move", date(2026, 10, 9), user_id=None, new_location="北门",
                                    now=filed_at)
    assert ok.on_time and await UpkeepFinding.count().where(UpkeepFinding.notice == ok.id) == 0


async def test_acceptance_late_becomes_a_finding_and_the_removed_terminal_cannot_log_in(world):
    tid, serial = await _terminal(world)
    ticket_id = await services.report_fault(tid, "摄像头故障", user_id=None, now=datetime.now(UTC))
    n = await services.file_notice(tid, "remove", date(2026, 9, 30), user_id=None,
                                   now=datetime(2026, 9, 21, 9, 0, tzinfo=CST))
    due = await services.mark_done(n.id, date(2026, 9, 30), user_id=None, now=datetime(2026, 9, 30, 18, 0, tzinfo=CST))
    assert due == date(2026, 10, 8)
    assert (await devices.gate_terminal(serial))["enabled"] is False  # refused at login 843
    assert (await services.get_ticket(ticket_id))["status"] == "closed"
    assert n.id not in await services.check_acceptances(datetime(2026, 10, 8, 23, 0, tzinfo=CST))
    assert n.id in await services.check_acceptances(datetime(2026, 10, 9, 8, 0, tzinfo=CST))
    assert n.id not in await services.check_acceptances(datetime(2026, 10, 9, 9, 0, tzinfo=CST))  # once
    on_time = await services.file_acceptance(n.id, "已拆除，现场恢复", vendor_id=world.vendor, user_id=None,
                                             now=datetime(2026, 10, 9, 10, 0, tzinfo=CST))
    assert on_time is False
    assert await UpkeepFinding.count().where((UpkeepFinding.notice == n.id)
                                             & (UpkeepFinding.kind == UpkeepFindingKind.acceptance_late)) == 1
    # on a worked Saturday (调休) the acceptance is on time
    t2, _ = await _terminal(world)
    n2 = await services.file_notice(t2, "move", date(2026, 10, 9), user_id=None, new_location="东门",
                                    now=datetime(2026, 9, 21, 9, 0, tzinfo=CST))
    assert await services.mark_done(n2.id, date(2026, 10, 9), user_id=None,
                                    now=datetime(2026, 10, 9, 17, 0, tzinfo=CST)) == date(2026, 10, 10)
    assert (await devices.gate_terminal(_serial_of := (await Terminal.select(Terminal.serial).where(
        Terminal.id == t2).first())["serial"]))["enabled"] is True  # a move keeps the terminal
    assert _serial_of
    assert await services.file_acceptance(n2.id, "移机完成", vendor_id=world.vendor, user_id=None,
                                          now=datetime(2026, 10, 10, 16, 0, tzinfo=CST)) is True


async def test_notice_rules_refuse_past_days_and_a_second_open_notice(world, client):
    tid, _ = await _terminal(world)
    staff = await auth(world.users["staff_a"])
    past = (datetime.now(CST).date() - timedelta(days=1)).isoformat()
    r = await client.post("/api/upkeep/notices", json={"terminal_id": tid, "action": "remove", "planned_on": past},
                          headers=staff)
    assert r.status_code == 400
    soon = (datetime.now(CST).date() + timedelta(days=1)).isoformat()
    r = await client.post("/api/upkeep/notices", json={"terminal_id": tid, "action": "remove", "planned_on": soon},
                          headers=staff)
    assert r.status_code == 201 and r.json()["on_time"] is False
    r = await client.post("/api/upkeep/notices", json={"terminal_id": tid, "action": "remove", "planned_on": soon},
                          headers=staff)
    assert r.status_code == 409
    foreman = await auth(world.users["foreman_a"])
    assert (await client.get("/api/upkeep/notices", headers=foreman)).status_code == 403


async def test_other_vendor_and_other_district_cannot_see_or_touch_a_ticket(world, client):
    tid, _ = await _terminal(world)
    ticket_id = await services.report_fault(tid, "无法识别", user_id=None)
    other_vendor = (await devices.create_vendor(unique("别家厂商"))).vendor_id
    other_user = unique("t_vendor_other_")
    await create_user(other_user, PASSWORD, "vendor", vendor_id=other_vendor)
    mine, theirs = await auth(world.users["vendor"]), await auth(other_user)

    def ids(r) -> set[int]:
        assert r.status_code == 200, r.text
        return {t["id"] for t in r.json()}

    assert ticket_id in ids(await client.get("/api/upkeep/tickets", headers=mine))
    assert ticket_id not in ids(await client.get("/api/upkeep/tickets", headers=theirs))
    r = await client.post(f"/api/upkeep/tickets/{ticket_id}/close", json={"note": "x"}, headers=theirs)
    assert r.status_code == 404
    assert ticket_id in ids(await client.get("/api/upkeep/tickets", headers=await auth(world.users["supervisor_a"])))
    assert ticket_id not in ids(await client.get("/api/upkeep/tickets", headers=await auth(world.users["supervisor_b"])))
    assert ticket_id in ids(await client.get("/api/upkeep/tickets", headers=await auth(world.users["staff_a"])))
    r = await client.post(f"/api/upkeep/tickets/{ticket_id}/ack", headers=mine)
    assert r.status_code == 200
    r = await client.post(f"/api/upkeep/tickets/{ticket_id}/close", json={"note": "更换镜头"}, headers=mine)
    assert r.status_code == 200 and r.json() == {"id": ticket_id, "late": False}
    rows = (await client.get("/api/upkeep/vendors", headers=theirs)).json()
    assert [v["vendor_id"] for v in rows] == [other_vendor]
    mine_rows = (await client.get("/api/upkeep/vendors", headers=mine)).json()
    assert [v["vendor_id"] for v in mine_rows] == [world.vendor] and mine_rows[0]["tickets_closed"] >= 1
    assert (await client.get("/api/upkeep/vendors", headers=await auth(world.users["staff_a"]))).status_code == 403


async def test_vendor_service_median_and_p90_repair_time(world):
    vendor = (await devices.create_vendor(unique("统计厂商"))).vendor_id
    serial = unique("UPK-S-")
    tid = await devices.register_terminal(world.project_b, serial, vendor)
    t0 = datetime.now(UTC) - timedelta(days=5)
    for hours in (2, 4, 6, 30):
        t = await services.terminal_row(tid)
        made = await services.report_fault(tid, f"故障{hours}", user_id=None, now=t0)
        assert made
        await services.close_ticket(made, "修好", user_id=None, now=t0 + timedelta(hours=hours))
        assert t["vendor"] == vendor
    [v] = await services.vendor_service({world.project_b}, vendor)
    assert (v.tickets_closed, v.closed_on_time, v.median_repair_h, v.p90_repair_h) == (4, 3, 4.0, 30.0)
    assert v.devices["never"] == 1 and v.tickets_open == 0


async def test_pages_for_vendor_staff_and_district(world, client):
    tid, serial = await _terminal(world)
    ticket_id = await services.report_fault(tid, "页面测试故障", user_id=None)
    vendor = await auth(world.users["vendor"])
    r = await client.get("/upkeep", headers=vendor)
    assert r.status_code == 200 and f"ticket-{ticket_id}" in r.text and "修复关闭" in r.text
    r = await client.post(f"/upkeep/tickets/{ticket_id}/close", data={"note": ""}, headers=vendor)
    assert r.status_code == 400 and "请填写维修说明" in r.text
    r = await client.post(f"/upkeep/tickets/{ticket_id}/close", data={"note": "已修复"}, headers=vendor)
    assert r.status_code == 303
    staff = await auth(world.users["staff_a"])
    soon = (datetime.now(CST).date() + timedelta(days=20)).isoformat()
    r = await client.post("/upkeep/notices", data={"terminal_id": str(tid), "action": "move", "planned_on": soon,
                                                    "new_location": "西门"}, headers=staff)
    assert r.status_code == 303 and r.headers["location"].startswith("/upkeep?done=filed")
    r = await client.get("/upkeep", headers=staff)
    assert r.status_code == 200 and "拆除 / 移机报知" in r.text and serial in r.text and "UTC" not in r.text
    sup = await auth(world.users["supervisor_a"])
    r = await client.get("/upkeep", headers=sup)
    assert r.status_code == 200 and "设备商服务情况" in r.text and "发现的问题" in r.text
    r = await client.get("/upkeep/vendors", headers=sup)
    assert r.status_code == 200 and 'id="vendor-service"' in r.text
    assert (await client.get("/upkeep", headers=await auth(world.users["foreman_a"]))).status_code == 403


@pytest.mark.parametrize("kind", ["remove"])
async def test_removal_in_progress_silences_fault_detection(world, kind):
    tid, serial = await _terminal(world)
    t0 = datetime.now(UTC)
    await services.file_notice(tid, kind, t0.astimezone(CST).date(), user_id=None, now=t0)
    await _went_offline(serial, t0 - timedelta(hours=2))
    await detect_faults(t0)
    assert await _tickets(tid) == []
    assert await RemovalNotice.count().where(RemovalNotice.terminal == tid) == 1


async def test_execution_page_shows_the_upkeep_figures_beside_the_vendor_support(world, client):
    from backend.supervision import services as sup

    vendor = (await devices.create_vendor(unique("在线厂商"))).vendor_id
    stale, fresh = unique("UPK-ST-"), unique("UPK-FR-")
    await devices.register_terminal(world.project_b, stale, vendor)
    await devices.register_terminal(world.project_b, fresh, vendor)
    now = datetime.now(UTC)
    await devices.mark_online(stale, True, "10.0.0.2", now=now - timedelta(hours=2))  # flagged online, long silent
    await devices.mark_online(fresh, True, "10.0.0.3", now=now)
    [v] = [v for v in await sup.vendor_support({world.project_b}, now.astimezone(CST).date()) if v.vendor_id == vendor]
    assert (v.terminals, v.online) == (2, 1)  # online as the device pages and the upkeep figures count it
    r = await client.get("/supervision/execution", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 200 and "未关闭工单（超时）" in r.text and "/upkeep/vendors" in r.text


async def test_removal_done_and_accepted_through_the_pages_and_api_disables_the_terminal(world, client):
    tid, serial = await _terminal(world)
    staff, vendor = await auth(world.users["staff_a"]), await auth(world.users["vendor"])
    today = datetime.now(CST).date()
    r = await client.post("/upkeep/notices", data={"terminal_id": str(tid), "action": "remove",
                                                    "planned_on": today.isoformat(), "reason": "工程收尾"}, headers=staff)
    assert r.status_code == 303 and r.headers["location"] == "/upkeep?done=filed_late"  # same day: not 3 days ahead
    [n] = await RemovalNotice.select().where(RemovalNotice.terminal == tid)
    other_vendor_user = unique("t_vendor_x_")
    await create_user(other_vendor_user, PASSWORD, "vendor",
                      vendor_id=(await devices.create_vendor(unique("另一厂商"))).vendor_id)
    r = await client.post(f"/api/upkeep/notices/{n['id']}/done", json={"done_on": today.isoformat()},
                          headers=await auth(other_vendor_user))
    assert r.status_code == 404
    r = await client.post(f"/upkeep/notices/{n['id']}/done", data={"done_on": today.isoformat()}, headers=staff)
    assert r.status_code == 303
    assert (await devices.gate_terminal(serial))["enabled"] is False
    r = await client.post(f"/api/upkeep/notices/{n['id']}/acceptance", json={"note": "现场已恢复"}, headers=staff)
    assert r.status_code == 403  # the vendor files the acceptance
    r = await client.post(f"/api/upkeep/notices/{n['id']}/acceptance", json={"note": "现场已恢复"}, headers=vendor)
    assert r.status_code == 200 and r.json() == {"id": n["id"], "on_time": True}
    notices = (await client.get("/api/upkeep/notices", headers=vendor)).json()
    mine = next(x for x in notices if x["id"] == n["id"])
    assert mine["status"] == "accepted" and mine["status_label"] == "已合规验收" and mine["action_label"] == "拆除"
    findings = (await client.get("/api/upkeep/findings", headers=await auth(world.users["supervisor_a"]))).json()
    assert any(f["notice"] == n["id"] and f["kind"] == "removal_notice_late" for f in findings)
    assert not any(f["notice"] == n["id"] for f in
                   (await client.get("/api/upkeep/findings", headers=await auth(world.users["supervisor_b"]))).json())
