"""The outbox (issue 17): the services write an upload task in the same transaction as the change — rolled back
with it, coalesced while not yet sent — and the politeness rules of the uploader (backoff with jitter, the circuit
breaker) behave as documented."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.attendance.services import PunchIn, record_punch
from backend.db import write_transaction
from backend.org import services as org
from backend.outbox import UploadTask, enqueue
from backend.platform.uploader import PlatformGate, UploaderConfig, backoff_s

pytestmark = pytest.mark.integration


async def _tasks(kind: str, entity_id: int) -> list[dict]:
    return await UploadTask.select().where((UploadTask.kind == kind) & (UploadTask.entity_id == entity_id))


async def test_creating_a_project_writes_its_upload_task_in_the_same_transaction(world) -> None:
    pid = await org.create_project(name="出箱工程", district_id=world.district_a, category="building")
    [task] = await _tasks("project", pid)
    assert (task["op"], task["state"], task["project_id"]) == ("add", "pending", pid)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with write_transaction():
            await enqueue("project", 999_999, "add")
            raise Boom
    assert await _tasks("project", 999_999) == []  # rolled back with the change


async def test_changes_before_the_send_coalesce_into_one_task(world) -> None:
    pid = await org.create_project(name="合并工程", district_id=world.district_a, category="building")
    await org.update_project(pid, {"address": "一号"})
    await org.update_project(pid, {"address": "二号"})
    assert len(await _tasks("project", pid)) == 1
    # once the uploader took it (open_key cleared), the next change is a new task
    await UploadTask.update({UploadTask.open_key: None, UploadTask.state: "sending"}).where(
        (UploadTask.kind == "project") & (UploadTask.entity_id == pid))
    await org.update_project(pid, {"address": "三号"})
    assert sorted(t["state"] for t in await _tasks("project", pid)) == ["pending", "sending"]


async def test_roster_entry_unit_team_and_punch_enqueue_their_records(world) -> None:
    from backend.workforce import services as workforce

    pa = world.project_a
    person = await workforce.upsert_person(id_number=world.id_number(), name="出箱工人")
    entry = await workforce.enter_roster(project_id=pa, person_id=person, unit_id=world.units[pa]["general_contractor"],
                                         team_id=world.teams[pa]["钢筋班组"], work_role="worker", work_type="020",
                                         entered_on=datetime.now(UTC).date() - timedelta(days=3))
    assert await _tasks("worker", entry) and await _tasks("worker_entry", entry)
    assert await _tasks("team", world.teams[pa]["钢筋班组"])
    now = datetime.now(UTC)
    v = await record_punch(PunchIn(source="mobile", project_id=pa, person_id=person, idempotency_key=uuid.uuid4().hex,
                                   captured_at=now - timedelta(seconds=2), received_at=now))
    assert v.verdict != "rejected"
    assert len(await _tasks("attendance", v.punch_id)) == 1
    rejected = await record_punch(PunchIn(source="mobile", project_id=pa, person_id=None,
                                          idempotency_key=uuid.uuid4().hex, captured_at=now, received_at=now))
    assert await _tasks("attendance", rejected.punch_id) == []  # an unknown face is never uploaded


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    cfg = UploaderConfig(backoff_base_s=2, backoff_max_s=60)
    rng = random.Random(1)
    for attempts, cap in ((1, 2), (2, 4), (3, 8), (10, 60)):
        values = [backoff_s(attempts, cfg, rng) for _ in range(50)]
        assert all(cap / 2 <= v <= cap for v in values)
        assert len(set(values)) > 1  # jitter


async def test_the_circuit_opens_after_failing_long_enough_and_closes_on_a_good_answer() -> None:
    gate = PlatformGate("http://x/api", UploaderConfig(circuit_after_s=0, circuit_probe_s=60))
    assert gate.may_send() is None
    assert gate.bad("平台超时") is False  # the first failure starts the clock
    assert gate.bad("平台超时") is True and gate.open
    assert gate.failing_since_wall is not None and gate.failing_since_wall <= datetime.now(UTC)
    assert gate.may_send() is not None  # held until the probe time
    assert gate.good() is True and not gate.open and gate.may_send() is None
