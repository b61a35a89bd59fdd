"""The one attendance path: verdict rules, idempotency, latency, make-up and roster checks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.attendance import live
from backend.attendance.services import PunchIn, list_punches, record_punch
from backend.workforce import services as workforce
from tests.integration.people_kit import exit_entry

pytestmark = pytest.mark.integration


async def _worker(world, project: int, role: str = "worker", entered_days_ago: int = 10) -> int:
    pid = await workforce.upsert_person(id_number=world.id_number(), name="测试工人")
    team = world.teams[project]["钢筋班组" if role == "worker" else "总承包单位项目部"]
    await workforce.enter_roster(
        project_id=project, person_id=pid, unit_id=world.units[project]["general_contractor"], team_id=team,
        work_role=role, post="safety_officer" if role == "manager" else None,
        entered_on=date.today() - timedelta(days=entered_days_ago),
    )
    return pid


def _punch(world, person: int | None, source: str = "mobile", *, lag_s: float = 2.0, **kw) -> PunchIn:
    now = datetime.now(UTC)
    return PunchIn(source=source, project_id=kw.pop("project", world.project_a), person_id=person,
                   idempotency_key=kw.pop("key", uuid.uuid4().hex), captured_at=now - timedelta(seconds=lag_s),
                   received_at=now, **kw)


async def test_on_time_phone_punch_on_roster_is_accepted(world):
    person = await _worker(world, world.project_a)
    v = await record_punch(_punch(world, person, lag_s=5))
    assert v.verdict == "accepted" and v.reasons == () and v.flags == ()
    assert 4.9 < v.latency_s < 5.1


async def test_phone_upload_over_30s_is_kept_and_flagged_late_seed000(world):
    person = await _worker(world, world.project_a)
    v = await record_punch(_punch(world, person, lag_s=31))
    assert v.verdict == "flagged" and "late_upload" in v.flags
    rows = await list_punches(person_id=person)
    assert [r["id"] for r in rows] == [v.punch_id]


async def test_gate_upload_over_5s_is_flagged_late_but_30s_phone_limit_does_not_apply_seed002(world):
    person = await _worker(world, world.project_a)
    assert "late_upload" in (await record_punch(_punch(world, person, "gate", lag_s=6))).flags
    assert (await record_punch(_punch(world, person, "gate", lag_s=4))).verdict == "accepted"


async def test_same_idempotency_key_is_stored_once_and_returns_the_first_verdict(world):
    person = await _worker(world, world.project_a)
    key = uuid.uuid4().hex
    first = await record_punch(_punch(world, person, key=key))
    again = await record_punch(_punch(world, person, key=key, lag_s=500))
    assert again.duplicate and again.punch_id == first.punch_id and again.verdict == first.verdict
    assert len(await list_punches(person_id=person)) == 1


async def test_concurrent_replays_of_one_key_store_one_punch(world):
    person = await _worker(world, world.project_a)
    key = uuid.uuid4().hex
    results = await asyncio.gather(*(record_punch(_punch(world, person, key=key)) for _ in range(5)))
    assert len({r.punch_id for r in results}) == 1
    assert len(await list_punches(person_id=person)) == 1


async def test_person_not_on_roster_is_rejected_and_kept(world):
    outsider = await workforce.upsert_person(id_number=world.id_number(), name="外来人员")
    v = await record_punch(_punch(world, outsider))
    assert v.verdict == "rejected" and "not_on_roster" in v.reasons
    assert "不在本项目花名册中" in v.message_zh


async def test_exited_person_is_rejected_after_exit_day(world):
    person = await _worker(world, world.project_a, entered_days_ago=20)
    entry = await workforce.active_entry(world.project_a, person)
    await exit_entry(world.project_a, entry["id"], date.today() - timedelta(days=2))
    assert "not_on_roster" in (await record_punch(_punch(world, person))).reasons


async def test_source_findings_reject_the_punch(world):
    person = await _worker(world, world.project_a)
    v = await record_punch(_punch(world, person, reasons=("face_mismatch",), face_distance=0.71))
    assert v.verdict == "rejected" and v.reasons == ("face_mismatch",)


async def test_manager_can_never_make_up_a_punch_seed000(world):
    manager = await _worker(world, world.project_a, role="manager")
    v = await record_punch(_punch(world, manager, "makeup", lag_s=86400))
    assert v.verdict == "rejected" and "manager_makeup_forbidden" in v.reasons


async def test_worker_makeup_has_no_latency_limit_and_is_marked(world):
    person = await _worker(world, world.project_a)
    v = await record_punch(_punch(world, person, "makeup", lag_s=86400 * 2))
    assert v.verdict == "flagged" and v.flags == ("makeup",)


async def test_device_clock_ahead_of_server_is_flagged(world):
    person = await _worker(world, world.project_a)
    v = await record_punch(_punch(world, person, lag_s=-600))
    assert "clock_skew" in v.flags


async def test_committed_punch_is_published_to_live_subscribers(world):
    person = await _worker(world, world.project_a)
    feed = live.LiveFeed()  # the app's feed (AppServices.live_feed); record_punch is handed it
    async with feed.subscribe() as q:
        v = await record_punch(_punch(world, person), feed=feed)
        event = await asyncio.wait_for(q.get(), 2)
    assert event["id"] == v.punch_id and event["name"] == "测试工人"
