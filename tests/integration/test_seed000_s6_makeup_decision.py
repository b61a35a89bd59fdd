"""Seed 000 §六: "如遇暴雨、网络故障等特殊情况，经当地住房城乡建设主管部门确认，农民工可补打考勤记录" —
the district authority's confirmation of a make-up punch, through the HTTP decision endpoint.

A request is decided once (issue 14 item 9): approval records the punch through the one attendance path,
rejection records none, a second decision is a 409 that changes nothing, and an approval and a rejection
arriving at the same moment leave exactly one winner — with a punch if and only if the winner approved.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.conftest import BearerHeaders, World

pytestmark = pytest.mark.integration

auth = BearerHeaders()


async def _worker(world: World, project: int) -> int:
    from backend.workforce import services as workforce

    pid = await workforce.upsert_person(id_number=world.id_number(), name="补卡工人")
    await workforce.enter_roster(
        project_id=project, person_id=pid, unit_id=world.units[project]["general_contractor"],
        team_id=world.teams[project]["钢筋班组"], work_role="worker", entered_on=date.today() - timedelta(days=10),
    )
    return pid


async def _request(client: httpx.AsyncClient, world: World, project: int | None = None) -> tuple[int, int]:
    """A make-up request filed by the project's labour staff over HTTP: (request id, person id)."""
    project = project or world.project_a
    person = await _worker(world, project)
    when = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    r = await client.post("/api/makeups/", headers=await auth(world.users["staff_a"]), data={
        "person_id": str(person), "project_id": str(project), "punch_time": when.isoformat(), "reason": "rain",
        "note": "暴雨停电，闸机无法识别", "direction": "in",
    })
    assert r.status_code == 201, r.text
    return r.json()["id"], person


async def _decide(client: httpx.AsyncClient, world: World, rid: int, approve: bool, note: str = "",
                  who: str = "supervisor_a") -> httpx.Response:
    return await client.post(f"/api/makeups/{rid}/decision", headers=await auth(world.users[who]),
                             json={"approve": approve, "note": note})


async def _state(rid: int, person: int) -> dict[str, Any]:
    from backend.attendance.tables import Punch
    from backend.clockin.tables import MakeupRequest

    row = await MakeupRequest.select(
        MakeupRequest.status, MakeupRequest.punch, MakeupRequest.decision_note, MakeupRequest.decided_by,
        MakeupRequest.decided_at,
    ).where(MakeupRequest.id == rid).first()
    assert row is not None
    punches = await Punch.select(Punch.id, Punch.source, Punch.makeup_request).where(Punch.person == person)
    return {**row, "punches": punches}


async def test_approval_by_the_district_authority_records_one_makeup_punch(client, world):
    rid, person = await _request(client, world)
    r = await _decide(client, world, rid, True, "暴雨属实")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == rid and body["status"] == "approved" and body["punch_id"]
    state = await _state(rid, person)
    assert state["status"] == "approved" and state["punch"] == body["punch_id"]
    assert state["decision_note"] == "暴雨属实" and state["decided_by"] and state["decided_at"]
    assert state["punches"] == [{"id": body["punch_id"], "source": "makeup", "makeup_request": rid}]


async def test_rejection_records_no_punch(client, world):
    rid, person = await _request(client, world)
    r = await _decide(client, world, rid, False, "无暴雨记录")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": rid, "status": "rejected", "punch_id": None}
    state = await _state(rid, person)
    assert state["status"] == "rejected" and state["punch"] is None and state["punches"] == []
    assert state["decision_note"] == "无暴雨记录"


@pytest.mark.parametrize(("first", "second"), [(True, False), (False, True), (True, True), (False, False)],
                         ids=["approve-then-reject", "reject-then-approve", "approve-twice", "reject-twice"])
async def test_a_second_decision_is_409_and_changes_nothing(client, world, first, second):
    rid, person = await _request(client, world)
    assert (await _decide(client, world, rid, first, "第一次")).status_code == 200
    before = await _state(rid, person)
    r = await _decide(client, world, rid, second, "第二次")
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "already_decided" and body["field"] == "request_id"
    assert body["message"] == f"该申请已被处理（{'已批准' if first else '未批准'}）" and body["message_en"]
    assert await _state(rid, person) == before


async def test_approve_and_reject_at_the_same_moment_leave_exactly_one_decision(client, world):
    for _ in range(4):
        rid, person = await _request(client, world)
        approve, reject = await asyncio.gather(
            _decide(client, world, rid, True, "批准"), _decide(client, world, rid, False, "驳回"))
        codes = sorted([approve.status_code, reject.status_code])
        assert codes == [200, 409], (approve.text, reject.text)
        winner = approve if approve.status_code == 200 else reject
        state = await _state(rid, person)
        assert state["status"] == winner.json()["status"]
        assert state["decision_note"] == ("批准" if winner is approve else "驳回")
        if winner is approve:
            assert [p["id"] for p in state["punches"]] == [approve.json()["punch_id"]] == [state["punch"]]
        else:
            assert state["punches"] == [] and state["punch"] is None


async def test_many_simultaneous_approvals_record_one_punch(client, world):
    rid, person = await _request(client, world)
    answers = await asyncio.gather(*(_decide(client, world, rid, True) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409, 409]
    state = await _state(rid, person)
    assert len(state["punches"]) == 1 and state["punch"] == state["punches"][0]["id"]


async def test_a_failing_punch_rolls_the_decision_back(client, world, monkeypatch):
    """The approval and its punch commit together: if recording fails after the punch row was written,
    neither the punch nor the decision survives, and the request can be decided again."""
    from backend.clockin import services

    rid, person = await _request(client, world)
    real = services.record_punch

    async def record_then_fail(p):
        await real(p)
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "record_punch", record_then_fail)
    assert (await _decide(client, world, rid, True)).status_code == 500
    monkeypatch.undo()
    state = await _state(rid, person)
    assert state["status"] == "pending" and state["punch"] is None and state["punches"] == []
    assert state["decided_by"] is None and state["decided_at"] is None
    r = await _decide(client, world, rid, True)
    assert r.status_code == 200 and r.json()["punch_id"], r.text


async def test_unknown_or_out_of_district_request_is_404_and_other_roles_403(client, world):
    assert (await _decide(client, world, 987_654_321, True)).status_code == 404
    rid, person = await _request(client, world)
    assert (await _decide(client, world, rid, True, who="supervisor_b")).status_code == 404
    for role in ("admin", "staff_a", "foreman_a", "enterprise_gc"):
        assert (await _decide(client, world, rid, True, who=role)).status_code == 403, role
    assert (await _state(rid, person))["status"] == "pending"


@pytest.mark.parametrize("body", [{"note": "缺少决定"}, {"approve": "yes"}, {"approve": True, "extra": 1},
                                  {"approve": True, "note": "长" * 501}])
async def test_a_malformed_decision_is_400_and_changes_nothing(client, world, body):
    rid, person = await _request(client, world)
    r = await client.post(f"/api/makeups/{rid}/decision", headers=await auth(world.users["supervisor_a"]), json=body)
    assert r.status_code == 400, r.text
    assert (await _state(rid, person))["status"] == "pending"
