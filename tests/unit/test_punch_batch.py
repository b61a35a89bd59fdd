"""The group-commit batcher's mechanics (backend/attendance/batching.py), with the database replaced: when a
batch goes, how big it gets, how many commit at once, and that a failed batch answers nobody with success."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from backend.attendance import batching
from backend.attendance.batching import PunchBatcher
from backend.attendance.services import PunchIn, Verdict


def _punch(key: str) -> PunchIn:
    return PunchIn(source="gate", project_id=1, person_id=1, idempotency_key=key, captured_at=datetime.now(UTC))


class FakeDatabase:
    """Stands in for _judge_batch/_store_batch: records the batches, holds each commit ``commit_s``."""

    def __init__(self, commit_s: float = 0.0, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.commit_s = commit_s
        self.fail = fail
        self.in_flight = 0
        self.max_in_flight = 0

    async def judge(self, batch, _zones=None):
        return [batching._Judged(item, None, "accepted", [], [], None) for item in batch]  # type: ignore[arg-type]

    async def store(self, judged):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.commit_s)
            if self.fail:
                raise RuntimeError("commit failed")
            self.batches.append([j.item.punch.idempotency_key for j in judged])
            now = datetime.now(UTC)
            return {id(j.item): Verdict(punch_id=i, verdict="accepted", reasons=(), flags=(), latency_s=0.0,
                                        captured_at=now, received_at=now) for i, j in enumerate(judged)}
        finally:
            self.in_flight -= 1


@pytest.fixture
def db(monkeypatch):
    fake = FakeDatabase()
    monkeypatch.setattr(batching, "_judge_batch", fake.judge)
    monkeypatch.setattr(batching, "_store_batch", fake.store)

    async def no_notify(_events):
        return None

    monkeypatch.setattr(batching, "notify_many", no_notify)
    return fake


async def test_punches_arriving_together_share_one_batch(db):
    batcher = PunchBatcher(max_rows=100, wait_ms=20, max_inflight=1)
    await asyncio.gather(*(batcher.submit(_punch(f"k{i}")) for i in range(30)))
    assert db.batches == [[f"k{i}" for i in range(30)]]
    await batcher.close()


async def test_a_full_batch_goes_without_waiting_and_the_rest_follow(db):
    batcher = PunchBatcher(max_rows=10, wait_ms=10_000, max_inflight=1)  # only "full" can flush in time
    await asyncio.wait_for(asyncio.gather(*(batcher.submit(_punch(f"k{i}")) for i in range(30))), 5)
    assert [len(b) for b in db.batches] == [10, 10, 10]
    await batcher.close()


async def test_a_lone_punch_waits_at_most_the_batch_time(db):
    batcher = PunchBatcher(max_rows=100, wait_ms=5, max_inflight=1)
    t0 = asyncio.get_running_loop().time()
    await batcher.submit(_punch("alone"))
    assert asyncio.get_running_loop().time() - t0 < 1.0
    assert db.batches == [["alone"]]
    await batcher.close()


async def test_batches_in_flight_are_bounded_and_punches_meanwhile_join_the_next(db):
    db.commit_s = 0.05
    batcher = PunchBatcher(max_rows=5, wait_ms=0, max_inflight=2)
    await asyncio.gather(*(batcher.submit(_punch(f"k{i}")) for i in range(40)))
    assert db.max_in_flight == 2
    assert sum(len(b) for b in db.batches) == 40 and max(len(b) for b in db.batches) <= 5
    await batcher.close()


async def test_a_failed_commit_fails_every_caller_of_the_batch(db):
    db.fail = True
    batcher = PunchBatcher(max_rows=100, wait_ms=20, max_inflight=1)
    results = await asyncio.gather(*(batcher.submit(_punch(f"k{i}")) for i in range(7)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert batcher.batches == 0
    db.fail = False  # the batcher keeps serving after a failed batch
    assert (await batcher.submit(_punch("after"))).verdict == "accepted"
    await batcher.close()


async def test_a_cancelled_caller_does_not_cancel_the_others_batch(db):
    db.commit_s = 0.05
    batcher = PunchBatcher(max_rows=100, wait_ms=5, max_inflight=1)
    leaving = asyncio.ensure_future(batcher.submit(_punch("leaves")))
    staying = asyncio.ensure_future(batcher.submit(_punch("stays")))
    await asyncio.sleep(0.02)
    leaving.cancel()
    assert (await staying).verdict == "accepted"
    assert db.batches == [["leaves", "stays"]]  # stored all the same: the key makes a resend harmless
    await batcher.close()


async def test_close_commits_what_waits(db):
    batcher = PunchBatcher(max_rows=100, wait_ms=10_000, max_inflight=1)
    pending = asyncio.ensure_future(batcher.submit(_punch("last")))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(batcher.close(), 5)
    assert (await pending).verdict == "accepted"


def test_the_postgresql_write_is_one_statement_with_the_rows_as_one_json_parameter_and_the_upload_keys():
    sql = batching._PG_WRITE
    assert len(batching._COLUMNS) == len(batching._PG_TYPES)
    # the rows as one jsonb array taken apart in SQL, + the upload keys (issue 18); photos are in the store
    assert sql.count("{}") == 2 and "jsonb_array_elements({}::jsonb)" in sql
    for i, column in enumerate(batching._COLUMNS):  # each column from its place in a row's array
        assert f"(e->>{i})::" in sql or f"(e->{i})::json" in sql, column
    assert {"photo_sha256", "photo_loc"} <= set(batching._COLUMNS) and "punch_photo" not in sql
    # punch is partitioned by local_date on PostgreSQL: the key is unique per day (issue 18, docs/deployment.md §4)
    assert "ON CONFLICT (idempotency_key, local_date) DO NOTHING RETURNING id, idempotency_key" in sql
    assert sql.count("INSERT INTO") == 2 and ";" not in sql  # punch, upload_task


def test_the_frame_checksum_fold_equals_the_xor_of_every_byte():
    import random

    from device_tcp.messages import xor_checksum

    rng = random.Random(3)
    for length in [*range(0, 40), 10_240, 10_241, 65_537]:
        data = rng.randbytes(length)
        expected = 0
        for b in data:
            expected ^= b
        assert xor_checksum(data) == expected, length
