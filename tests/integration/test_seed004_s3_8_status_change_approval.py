"""Seed 004 §三(八)–(十): status (停工/复工) and start-date changes take effect only after two-level approval
(二级审批); seed 000 §三: no status change to escape supervision (issue 14 item 2).

The reading (backend/org/services.py): project staff, enterprise users and supervisors may *request*; level 1 is the
project's 建设单位 or 监理单位 (an ``enterprise`` user of an owner or supervision-firm unit), level 2 the district's
authority (``supervisor``).  A request may not take effect before its own day; only the level-2 approver may set an
earlier date, with a recorded reason, and such a change never clears a warning raised for days before the
request."""

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


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=TZ).astimezone(UTC)


def today_local() -> date:
    return datetime.now(TZ).date()


async def _user(role: str, **kw: Any) -> str:
    from backend.accounts.services import create_user

    username = unique(f"t_chg_{role}_")
    await create_user(username, "change-pass-2026", role, **kw)
    return username


async def _project(district: int, *, status: str = "under_construction", planned_start: date | None = None,
                   started: date | None = None) -> dict[str, Any]:
    """A project with an owner (建设单位), a general contractor, a supervision firm and one user of each, plus a
    project-staff user."""
    from backend.demo import fake_uscc
    from backend.org import services as org

    rng = random.Random(unique("r"))
    pid = await org.create_project(name=unique("审批测试项目"), district_id=district, category="building",
                                   floor_area_m2=30_000, planned_start=planned_start, lon=113.0, lat=22.6)
    if status != "preparing":
        await org.change_status(pid, "under_construction", effective_on=started or today_local() - timedelta(days=40),
                                note="开工", user_id=None)
    ents = {}
    for unit_type in ("owner", "general_contractor", "supervision_firm"):
        ents[unit_type] = await org.create_enterprise(unique(f"审批测试{unit_type}"), fake_uscc(rng, "110101"))
        await org.add_unit(pid, ents[unit_type], unit_type)
    return {
        "id": pid,
        "staff": await _user("project_staff", project_ids=[pid]),
        "owner": await _user("enterprise", enterprise_id=ents["owner"]),
        "sup_firm": await _user("enterprise", enterprise_id=ents["supervision_firm"]),
        "gc": await _user("enterprise", enterprise_id=ents["general_contractor"]),
    }


async def _status(pid: int) -> str:
    from backend.org import services as org

    return (await org.get_project(pid))["status"]


async def _decide(client, rid: int, who: str, level: int, approve: bool = True, **body: Any):
    return await client.post(f"/api/project-change-requests/{rid}/decisions", headers=await auth(who),
                             json={"level": level, "approve": approve, **body})


# --- the reproduction over HTTP -----------------------------------------------------------------------


async def test_staff_cannot_backdate_a_suspension_and_it_waits_for_two_levels_seed004_s3_9(client, world):
    p = await _project(world.district_a)
    staff = await auth(p["staff"])
    url = f"/api/projects/{p['id']}/status"
    month_ago = (today_local() - timedelta(days=30)).isoformat()

    # 停工 effective 30 days back: refused, nothing stored
    r = await client.post(url, headers=staff, json={"status": "suspended", "effective_on": month_ago, "note": "倒签"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "effective_before_request" and body["field"] == "effective_on"
    assert "不能早于申请当日" in body["message"] and "before the day of the request" in body["message_en"]
    listed = (await client.get(f"/api/projects/{p['id']}/change-requests", headers=staff)).json()
    assert listed == []
    # requested for today: 202, pending, the project is still 在建 and the history unchanged
    r = await client.post(url, headers=staff, json={"status": "suspended", "note": "资金原因停工"})
    assert r.status_code == 202, r.text
    req = r.json()
    assert (req["status"], req["kind"], req["target"], req["from_value"]) == (
        "pending", "status", "suspended", "under_construction")
    assert req["requested_effective_on"] == today_local().isoformat() and req["status_label"] == "待一级审批"
    assert await _status(p["id"]) == "under_construction"
    history = (await client.get(f"/api/projects/{p['id']}/status-history", headers=staff)).json()
    assert [h["to_status"] for h in history] == ["preparing", "under_construction"]
    # a second request of the same kind while one is open: 409
    r = await client.post(url, headers=staff, json={"status": "suspended"})
    assert r.status_code == 409 and r.json()["code"] == "change_request_pending"

    # level 1 (监理单位), then level 2 (the district's authority): now it takes effect
    r = await _decide(client, req["id"], p["sup_firm"], 1, note="情况属实")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "level1_approved" and await _status(p["id"]) == "under_construction"
    r = await _decide(client, req["id"], world.users["supervisor_a"], 2, note="同意")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "approved" and done["approved_effective_on"] == today_local().isoformat()
    assert done["applied_at"] is not None and done["backdated"] is False and done["backdated_reason"] == ""
    assert done["level1_by"] == await user_id(p["sup_firm"])
    assert done["level2_by"] == await user_id(world.users["supervisor_a"])
    assert await _status(p["id"]) == "suspended"
    history = (await client.get(f"/api/projects/{p['id']}/status-history", headers=staff)).json()
    assert history[-1]["to_status"] == "suspended" and history[-1]["request"] == req["id"]
    assert history[-1]["effective_on"] == today_local().isoformat()


async def test_second_decision_on_the_same_level_is_a_conflict_seed004_s3_9(client, world):
    p = await _project(world.district_a)
    r = await client.post(f"/api/projects/{p['id']}/change-requests", headers=await auth(p["staff"]),
                          json={"kind": "status", "target": "suspended", "reason": "停工"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    # level 2 before level 1: 409
    r = await _decide(client, rid, world.users["supervisor_a"], 2)
    assert r.status_code == 409 and r.json()["code"] == "decision_conflict"
    assert (await _decide(client, rid, p["owner"], 1)).status_code == 200
    r = await _decide(client, rid, p["sup_firm"], 1, approve=False)  # the other level-1 body, too late
    assert r.status_code == 409 and r.json()["code"] == "decision_conflict"
    assert (await _decide(client, rid, world.users["supervisor_a"], 2)).status_code == 200
    r = await _decide(client, rid, world.users["supervisor_a"], 2)
    assert r.status_code == 409 and r.json()["code"] == "decision_conflict"
    from backend.org.tables import ProjectStatusChange

    assert await ProjectStatusChange.count().where(ProjectStatusChange.request == rid) == 1


async def test_decisions_by_the_wrong_role_are_forbidden_seed004_s3_9(client, world):
    p = await _project(world.district_a)
    staff = await auth(p["staff"])
    rid = (await client.post(f"/api/projects/{p['id']}/status", headers=staff, json={"status": "suspended"})).json()["id"]
    # project staff, the general contractor (施工单位, the applicant side), a supervisor: not level 1
    for who in (p["staff"], p["gc"], world.users["supervisor_a"]):
        r = await _decide(client, rid, who, 1)
        assert r.status_code == 403, (who, r.text)
    # the system admin decides at neither level
    r = await _decide(client, rid, world.users["admin"], 1)
    assert r.status_code == 403
    assert (await _decide(client, rid, p["owner"], 1)).status_code == 200
    # level 2: not the owner, not another district's supervisor (404: the project is outside their scope)
    assert (await _decide(client, rid, p["owner"], 2)).status_code == 403
    assert (await _decide(client, rid, world.users["supervisor_b"], 2)).status_code == 404
    assert (await _decide(client, rid, world.users["admin"], 2)).status_code == 403
    assert await _status(p["id"]) == "under_construction"
    # foremen may not even ask
    foreman = await auth(world.users["foreman_a"])
    r = await client.post(f"/api/projects/{p['id']}/status", headers=foreman, json={"status": "suspended"})
    assert r.status_code == 403


async def test_level2_may_backdate_only_with_a_reason_and_it_is_recorded_seed004_s3_9(client, world):
    p = await _project(world.district_a)
    rid = (await client.post(f"/api/projects/{p['id']}/status", headers=await auth(p["staff"]),
                             json={"status": "suspended"})).json()["id"]
    # level 1 may not set the date
    week_ago = (today_local() - timedelta(days=7)).isoformat()
    r = await _decide(client, rid, p["sup_firm"], 1, effective_on=week_ago)
    assert r.status_code == 400 and r.json()["field"] == "effective_on"
    assert (await _decide(client, rid, p["sup_firm"], 1)).status_code == 200
    r = await _decide(client, rid, world.users["supervisor_a"], 2, effective_on=week_ago)
    assert r.status_code == 400 and r.json()["code"] == "backdate_needs_reason"
    assert await _status(p["id"]) == "under_construction"
    r = await _decide(client, rid, world.users["supervisor_a"], 2, effective_on=week_ago,
                      reason="现场核实：7 天前已实际停工")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["approved_effective_on"] == week_ago and done["backdated"] is True
    assert done["backdated_reason"] == "现场核实：7 天前已实际停工"
    assert await _status(p["id"]) == "suspended"


# --- start date: only via an approved request, within the extension limits -----------------------------------


async def test_planned_start_moves_only_through_an_approved_request_seed004_s3_8(client, world):
    start = today_local() + timedelta(days=10)
    p = await _project(world.district_a, status="preparing", planned_start=start)
    staff = await auth(p["staff"])
    later = start + timedelta(days=60)
    r = await client.patch(f"/api/projects/{p['id']}", headers=staff,
                           json={"planned_start": later.isoformat(), "address": "新地址"})
    assert r.status_code == 202, r.text
    req = r.json()
    assert (req["kind"], req["target"], req["from_value"]) == ("planned_start", later.isoformat(), start.isoformat())
    project = (await client.get(f"/api/projects/{p['id']}", headers=staff)).json()
    assert project["planned_start"] == start.isoformat() and project["address"] == "新地址"
    assert (await _decide(client, req["id"], p["owner"], 1)).status_code == 200
    assert (await _decide(client, req["id"], world.users["supervisor_a"], 2)).status_code == 200
    project = (await client.get(f"/api/projects/{p['id']}", headers=staff)).json()
    assert project["planned_start"] == later.isoformat()
    # a planned start in the past: refused, nothing stored (the address stays)
    r = await client.patch(f"/api/projects/{p['id']}", headers=staff,
                           json={"planned_start": (today_local() - timedelta(days=1)).isoformat(), "address": "X"})
    assert r.status_code == 400 and r.json()["code"] == "effective_before_request"
    assert (await client.get(f"/api/projects/{p['id']}", headers=staff)).json()["address"] == "新地址"


async def test_start_extension_at_most_three_months_and_twice_seed004_s3_8(client, world):
    from backend.org.services import add_months

    start = today_local() + timedelta(days=5)
    p = await _project(world.district_a, status="preparing", planned_start=start)
    url = f"/api/projects/{p['id']}/change-requests"
    staff = await auth(p["staff"])
    too_far = add_months(start, 3) + timedelta(days=1)
    r = await client.post(url, headers=staff, json={"kind": "planned_start", "target": too_far.isoformat()})
    assert r.status_code == 400 and r.json()["code"] == "start_extension_too_long", r.text
    current = start
    for _ in range(2):
        target = add_months(current, 3)
        r = await client.post(url, headers=staff, json={"kind": "planned_start", "target": target.isoformat()})
        assert r.status_code == 201, r.text
        assert (await _decide(client, r.json()["id"], p["owner"], 1)).status_code == 200
        assert (await _decide(client, r.json()["id"], world.users["supervisor_a"], 2)).status_code == 200
        current = target
    r = await client.post(url, headers=staff,
                          json={"kind": "planned_start", "target": (current + timedelta(days=10)).isoformat()})
    assert r.status_code == 400 and r.json()["code"] == "start_extension_count", r.text
    assert "2 次" in r.json()["message"]
    assert (await client.get(f"/api/projects/{p['id']}", headers=staff)).json()["planned_start"] == current.isoformat()
    # an earlier start is not an extension
    r = await client.post(url, headers=staff, json={"kind": "planned_start", "target": start.isoformat()})
    assert r.status_code == 201, r.text


async def test_actual_start_is_a_request_too_seed004_s3_6(client, world):
    p = await _project(world.district_a, status="preparing", planned_start=today_local())
    url = f"/api/projects/{p['id']}/change-requests"
    staff = await auth(p["staff"])
    r = await client.post(url, headers=staff, json={"kind": "actual_start",
                                                    "target": (today_local() - timedelta(days=3)).isoformat()})
    assert r.status_code == 400 and r.json()["code"] == "effective_before_request"
    r = await client.post(url, headers=staff, json={"kind": "actual_start", "target": today_local().isoformat()})
    assert r.status_code == 201, r.text
    assert await _status(p["id"]) == "preparing"
    assert (await _decide(client, r.json()["id"], p["sup_firm"], 1)).status_code == 200
    assert (await _decide(client, r.json()["id"], world.users["supervisor_a"], 2)).status_code == 200
    project = (await client.get(f"/api/projects/{p['id']}", headers=staff)).json()
    assert project["status"] == "under_construction" and project["actual_start"] == today_local().isoformat()


async def test_project_page_shows_pending_requests(client, world):
    p = await _project(world.district_a)
    await client.post(f"/api/projects/{p['id']}/status", headers=await auth(p["staff"]),
                      json={"status": "suspended", "note": "待审批的停工"})
    r = await client.get(f"/projects/{p['id']}", headers=await auth(p["staff"]))
    assert r.status_code == 200
    assert "审批中的变更申请" in r.text and "待审批的停工" in r.text and "待一级审批" in r.text


# --- the rules engine: approved changes only; a back-dated change never clears earlier warnings ------------------


async def test_backdated_suspension_keeps_the_warnings_raised_before_the_request_seed000_s3(migrated_db):
    from backend.org import services as org
    from backend.supervision import services as sv
    from backend.supervision.tables import WarningCase
    from tests.integration.supervision.conftest import add_person, make_district, make_site, punch

    district = await make_district()
    site = await make_site(district, start=date(2025, 8, 1))
    pm = await add_person(site, "周经理", post="project_manager", entered_on=date(2025, 8, 1))
    worker = await add_person(site, "吴工", entered_on=date(2025, 8, 1))
    staff = await user_id(await _user("project_staff", project_ids=[site.project]))
    sup_firm = await org.list_units(site.project)
    firm = next(u["enterprise"] for u in sup_firm if u["unit_type"] == "supervision_firm")
    level1 = await user_id(await _user("enterprise", enterprise_id=firm))
    level2 = await user_id(await _user("supervisor", district_ids=[district]))

    # the manager never punched: warnings raised on 20 Oct
    first = await sv.evaluate_warnings(date(2025, 10, 20), {site.project}, notify=False)
    assert len(first.opened) >= 4
    open_before = {c["id"]: c for c in await WarningCase.select().where(WarningCase.project == site.project)}
    assert all(c["status"] == "open" for c in open_before.values())

    # 21 Oct: the staff ask for 停工 effective 30 days back → 400, nothing stored
    asked = at(date(2025, 10, 21))
    with pytest.raises(Exception) as exc:
        await org.request_change(site.project, "status", "suspended", effective_on=date(2025, 9, 21),
                                 reason="倒签停工", user_id=staff, now=asked)
    assert getattr(exc.value, "code", "") == "effective_before_request"
    assert await org.list_change_requests(site.project) == []
    # requested for the day itself: pending, no effect on the status or on the warnings
    req = await org.request_change(site.project, "status", "suspended", reason="停工", user_id=staff, now=asked)
    assert req["status"] == "pending" and await _status(site.project) == "under_construction"
    second = await sv.evaluate_warnings(date(2025, 10, 21), {site.project}, notify=False)
    assert second.rectified == []
    # the approver back-dates it to 21 Sep with a reason: recorded
    await org.decide_change(req["id"], level=1, approve=True, user_id=level1, role="enterprise", enterprise_id=firm,
                            now=asked + timedelta(hours=1))
    done = await org.decide_change(req["id"], level=2, approve=True, user_id=level2, role="supervisor",
                                   district_ids={district}, effective_on=date(2025, 9, 21),
                                   reason="现场核实已于 9 月 21 日停工", now=asked + timedelta(hours=2))
    assert done["backdated"] and done["backdated_reason"] == "现场核实已于 9 月 21 日停工"
    periods = await org.approved_status_periods([site.project], date(2025, 9, 1), date(2025, 10, 31))
    assert periods[site.project] == [(date(2025, 9, 1), date(2025, 9, 20), "under_construction"),
                                     (date(2025, 9, 21), date(2025, 10, 31), "suspended")]
    recorded = await org.approved_status_periods([site.project], date(2025, 9, 1), date(2025, 10, 31),
                                                 as_recorded=True)
    assert recorded[site.project][-1] == (date(2025, 10, 21), date(2025, 10, 31), "suspended")
    # resumed on 23 Oct (requested and approved that day); someone punches on the 23rd
    resume = await org.request_change(site.project, "status", "under_construction", reason="复工", user_id=staff,
                                      now=at(date(2025, 10, 23), 8))
    await org.decide_change(resume["id"], level=1, approve=True, user_id=level1, role="enterprise",
                            enterprise_id=firm, now=at(date(2025, 10, 23), 9))
    await org.decide_change(resume["id"], level=2, approve=True, user_id=level2, role="supervisor",
                            district_ids={district}, now=at(date(2025, 10, 23), 9))
    await punch(site, worker, date(2025, 10, 23))
    await punch(site, pm, date(2025, 10, 23))
    third = await sv.evaluate_warnings(date(2025, 10, 24), {site.project}, notify=False)
    # no warning raised before the request is rectified by the back-dated 停工
    assert not set(third.rectified) & set(open_before), third.rectified
    after = {c["id"]: c["status"] for c in await WarningCase.select().where(WarningCase.id.is_in(list(open_before)))}
    assert all(s in ("open", "notified") for s in after.values()), after


async def test_simultaneous_requests_leave_one_open_request_seed004_s3_9(client, world):
    """Four requests of one kind at the same moment: one is stored, the others get 409 — on PostgreSQL too, where
    the service's check alone lets concurrent requests through (the database's one-open-request index holds)."""
    import asyncio

    from backend.org.tables import ProjectChangeRequest

    p = await _project(world.district_a)
    headers = await auth(p["staff"])
    replies = await asyncio.gather(*(
        client.post(f"/api/projects/{p['id']}/change-requests", headers=headers,
                    json={"kind": "status", "target": "suspended", "reason": f"停工 {i}"})
        for i in range(4)
    ))
    assert sorted(r.status_code for r in replies) == [201, 409, 409, 409], [r.text for r in replies]
    assert all(r.json()["code"] == "change_request_pending" for r in replies if r.status_code == 409)
    assert await ProjectChangeRequest.count().where(ProjectChangeRequest.project == p["id"]) == 1
    # the index itself: a second open row of the same kind cannot be written, a closed one can
    [row] = await ProjectChangeRequest.select().where(ProjectChangeRequest.project == p["id"])
    fields = {k: v for k, v in row.items() if k != "id"}
    with pytest.raises(Exception, match=r"(?i)unique|project_change_request_one_open"):
        await ProjectChangeRequest(**fields).save()
    await ProjectChangeRequest(**{**fields, "status": "rejected"}).save()
