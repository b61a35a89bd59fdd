"""Group commit of gate punches (issue 18, backend/attendance/batching.py): punches that arrive together share
one transaction, every acknowledged punch is stored exactly once with the verdict the single path gives, a
failed batch acknowledges nothing and stores nothing, and a roster change is seen by the next punch."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from piccolo.engine.postgres import PostgresEngine

from backend import photostore
from backend.attendance import batching, live
from backend.attendance.batching import PunchBatcher
from backend.attendance.services import PunchIn, record_punch
from backend.attendance.tables import Punch, PunchPhoto
from backend.errors import NotFound
from backend.org.tables import Project
from backend.outbox import UploadTask
from backend.workforce import services as workforce
from tests.integration.people_kit import exit_entry

pytestmark = pytest.mark.integration


async def _person(world, name: str = "批量工人") -> int:
    return await workforce.upsert_person(id_number=world.id_number(), name=name)


async def _enter(world, person: int, project: int, days_ago: int = 10) -> None:
    await workforce.enter_roster(
        project_id=project, person_id=person, unit_id=world.units[project]["general_contractor"],
        team_id=world.teams[project]["钢筋班组"], work_role="worker", entered_on=date.today() - timedelta(days=days_ago),
    )


def _gate(world, person: int | None, *, lag_s: float = 1.0, key: str | None = None, photo: bytes | None = None,
          project: int | None = None) -> PunchIn:
    now = datetime.now(UTC)
    return PunchIn(source="gate", project_id=project or world.project_a, person_id=person,
                   idempotency_key=key or f"g:test:{uuid.uuid4().hex}", captured_at=now - timedelta(seconds=lag_s),
                   received_at=now, direction="in", photo=photo)


async def _rows(keys: list[str]) -> list[dict]:
    return await Punch.select(Punch.id, Punch.idempotency_key, Punch.verdict).where(Punch.idempotency_key.is_in(keys))


async def test_concurrent_punches_through_the_batcher_are_stored_once_with_the_single_path_verdicts(world):
    on_roster = [await _person(world) for _ in range(5)]
    for p in on_roster:
        await _enter(world, p, world.project_a)
    outsider = await _person(world, "外来人员")
    batcher = PunchBatcher(max_rows=16, wait_ms=20)
    punches = []
    for i in range(60):
        if i % 10 == 3:
            punches.append(_gate(world, outsider))  # not on the roster: rejected, kept
        elif i % 10 == 7:
            punches.append(_gate(world, on_roster[i % 5], lag_s=6))  # seed 002: over 5 s is late
        else:
            punches.append(_gate(world, on_roster[i % 5], photo=f"jpeg-{i}".encode()))
    verdicts = await asyncio.gather(*(batcher.submit(p) for p in punches))

    assert batcher.batches >= 4  # 60 punches, at most 16 a batch: they did share transactions
    for p, v in zip(punches, verdicts, strict=True):
        assert not v.duplicate
        if p.person_id == outsider:
            assert (v.verdict, v.reasons) == ("rejected", ("not_on_roster",))
        elif p.captured_at < p.received_at - timedelta(seconds=5):
            assert (v.verdict, v.flags) == ("flagged", ("late_upload",))
        else:
            assert (v.verdict, v.reasons, v.flags) == ("accepted", (), ())
    rows = await _rows([p.idempotency_key for p in punches])
    assert len(rows) == 60 and {r["id"] for r in rows} == {v.punch_id for v in verdicts}
    by_id = {r["id"]: r for r in rows}
    assert all(by_id[v.punch_id]["verdict"] == v.verdict for v in verdicts)
    # the photos are in the photo store, each punch row holding its photo's hash and its slice of the batch's pack
    # file (issue 18)
    photos = await Punch.select(Punch.id, Punch.photo_sha256, Punch.photo_type, Punch.photo_loc).where(
        Punch.id.is_in([v.punch_id for v in verdicts]) & Punch.photo_sha256.is_not_null())
    expected = {v.punch_id: p.photo for p, v in zip(punches, verdicts, strict=True) if p.photo}
    assert {r["id"]: await photostore.get(r["photo_sha256"], r["photo_loc"]) for r in photos} == expected
    assert all(photostore.check_loc(r["photo_loc"]) for r in photos)
    assert {r["photo_type"] for r in photos} == {"image/jpeg"}
    assert await PunchPhoto.count().where(PunchPhoto.punch.is_in([v.punch_id for v in verdicts])) == 0
    # the platform upload of every kept, non-rejected punch was queued in the same transaction
    queued = await UploadTask.select(UploadTask.entity_id).where(
        (UploadTask.kind == "attendance") & UploadTask.entity_id.is_in([v.punch_id for v in verdicts]))
    assert {r["entity_id"] for r in queued} == {v.punch_id for v in verdicts if v.verdict != "rejected"}
    # the single path gives the same verdict for the same kind of punch
    single = await record_punch(_gate(world, on_roster[0], lag_s=6))
    assert (single.verdict, single.flags) == ("flagged", ("late_upload",))


async def test_a_key_twice_in_one_batch_is_stored_once_and_both_callers_get_the_first_verdict(world):
    person = await _person(world)
    await _enter(world, person, world.project_a)
    batcher = PunchBatcher(max_rows=50, wait_ms=50)
    key = f"g:twin:{uuid.uuid4().hex}"
    first, second, other = await asyncio.gather(
        batcher.submit(_gate(world, person, key=key)), batcher.submit(_gate(world, person, key=key, lag_s=60)),
        batcher.submit(_gate(world, person)))
    assert batcher.batches == 1
    assert second.punch_id == first.punch_id != other.punch_id
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.verdict == first.verdict == "accepted" and second.latency_s == first.latency_s
    assert len(await _rows([key])) == 1


async def test_a_key_stored_by_an_earlier_batch_or_the_single_path_answers_with_its_first_verdict(world):
    person = await _person(world)
    await _enter(world, person, world.project_a)
    batcher = PunchBatcher(max_rows=10, wait_ms=1)
    key = f"g:again:{uuid.uuid4().hex}"
    sent = _gate(world, person, key=key)
    first = await batcher.submit(sent)
    # the same punch (same capture) re-sent ten minutes later: not re-judged (it would be late now)
    again = await batcher.submit(dataclasses.replace(sent, received_at=sent.received_at + timedelta(seconds=600)))
    assert again.duplicate and again.punch_id == first.punch_id
    assert (again.verdict, again.flags) == (first.verdict, first.flags) == ("accepted", ())
    single_key = f"g:single:{uuid.uuid4().hex}"
    by_single = await record_punch(_gate(world, person, key=single_key, lag_s=7))
    through_batch = await batcher.submit(_gate(world, person, key=single_key))
    assert through_batch.duplicate and through_batch.punch_id == by_single.punch_id
    assert through_batch.flags == ("late_upload",)
    assert len(await _rows([key, single_key])) == 2
    # a re-sent punch is not queued for upload twice
    queued = await UploadTask.count().where((UploadTask.kind == "attendance") & (UploadTask.entity_id == first.punch_id))
    assert queued == 1


def _packs() -> set[str]:
    store = photostore.store()
    assert isinstance(store, photostore.FileStore)
    return {str(p) for p in (store.root / photostore.PACKS).glob("*/*.pack")}


async def test_a_failed_batch_transaction_fails_every_caller_and_stores_nothing(world, monkeypatch):
    person = await _person(world)
    await _enter(world, person, world.project_a)
    batcher = PunchBatcher(max_rows=50, wait_ms=30)

    async def broken(*_a, **_k):
        raise RuntimeError("disk full")

    # The last write of the batch fails, after its punches were inserted: on SQLite the upload queue (the last
    # statement of the transaction); on PostgreSQL, whose batch is one statement, a punch the table refuses
    # (photo content type over 32 characters) — in the same statement as the others.
    monkeypatch.setattr(batching, "enqueue_many", broken)
    punches = [_gate(world, person, photo=b"jpeg") for _ in range(8)]
    bad = dataclasses.replace(punches[-1], photo_type="image/" + "x" * 40)
    packs_before = _packs()
    results = await asyncio.gather(*(batcher.submit(p) for p in [*punches[:-1], bad]), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results), results
    assert await _rows([p.idempotency_key for p in punches]) == []
    # the photos were stored before the transaction, in the batch's pack; no row names it: removed again
    assert _packs() == packs_before
    assert await Punch.count().where(Punch.photo_sha256 == photostore.sha256_hex(b"jpeg")) == 0
    assert batcher.batches == 0
    # the terminals resend (same keys): once the fault is gone, each is stored once
    monkeypatch.undo()
    again = await asyncio.gather(*(batcher.submit(p) for p in punches))
    assert len(await _rows([p.idempotency_key for p in punches])) == 8
    assert all(not v.duplicate for v in again)


async def test_a_roster_change_is_seen_by_the_next_punch(world):
    person = await _person(world)
    batcher = PunchBatcher(max_rows=10, wait_ms=1)
    assert (await batcher.submit(_gate(world, person))).reasons == ("not_on_roster",)
    await _enter(world, person, world.project_a)
    assert (await batcher.submit(_gate(world, person))).verdict == "accepted"
    entry = await workforce.active_entry(world.project_a, person)
    await exit_entry(world.project_a, entry["id"], date.today() - timedelta(days=1))
    assert (await batcher.submit(_gate(world, person))).reasons == ("not_on_roster",)


async def test_a_project_status_change_is_seen_by_the_next_punch(world):
    person = await _person(world)
    await _enter(world, person, world.project_a)
    batcher = PunchBatcher(max_rows=10, wait_ms=1)
    assert (await batcher.submit(_gate(world, person))).verdict == "accepted"
    before = (await Project.select(Project.status).where(Project.id == world.project_a).first())["status"]
    await Project.update({Project.status: "suspended"}).where(Project.id == world.project_a)
    try:
        assert (await batcher.submit(_gate(world, person))).flags == ("project_suspended",)
    finally:
        await Project.update({Project.status: before}).where(Project.id == world.project_a)


async def test_an_unknown_project_or_person_fails_alone_and_the_rest_of_the_batch_is_stored(world):
    person = await _person(world)
    await _enter(world, person, world.project_a)
    batcher = PunchBatcher(max_rows=50, wait_ms=30)
    good = _gate(world, person)
    results = await asyncio.gather(
        batcher.submit(good), batcher.submit(_gate(world, person, project=999_999)),
        batcher.submit(_gate(world, 999_999)), return_exceptions=True)
    assert results[0].verdict == "accepted"
    assert isinstance(results[1], NotFound) and isinstance(results[2], NotFound)
    assert len(await _rows([good.idempotency_key])) == 1


async def test_a_committed_batch_reaches_live_subscribers_with_names(world):
    person = await _person(world, "直播工人")
    await _enter(world, person, world.project_a)
    feed = live.LiveFeed()
    batcher = PunchBatcher(max_rows=10, wait_ms=20, feed=feed)
    async with feed.subscribe() as q:
        verdicts = await asyncio.gather(*(batcher.submit(_gate(world, person)) for _ in range(3)))
        events = [await asyncio.wait_for(q.get(), 2) for _ in range(3)]
    assert {e["id"] for e in events} == {v.punch_id for v in verdicts}
    assert {e["name"] for e in events} == {"直播工人"} and {e["source"] for e in events} == {"gate"}


async def test_make_up_punches_keep_the_single_path(world):
    person = await _person(world)
    with pytest.raises(ValueError):
        await PunchBatcher().submit(PunchIn(source="makeup", project_id=world.project_a, person_id=person,
                                            idempotency_key="m:1", captured_at=datetime.now(UTC)))


async def test_a_project_time_zone_change_moves_the_capture_day_of_the_next_punch(world):
    """The batch asks the roster for the day under the time zone it last saw; the fresh project row decides."""
    utc_today = datetime.now(UTC).date()
    captured = datetime(utc_today.year, utc_today.month, utc_today.day, tzinfo=UTC) - timedelta(hours=4)  # 20:00
    # Asia/Shanghai (UTC+8): that instant is on utc_today; Pacific/Pago_Pago (UTC-11): the day before
    person = await _person(world)
    await workforce.enter_roster(
        project_id=world.project_a, person_id=person, unit_id=world.units[world.project_a]["general_contractor"],
        team_id=world.teams[world.project_a]["钢筋班组"], work_role="worker", entered_on=utc_today,
    )
    batcher = PunchBatcher(max_rows=10, wait_ms=1)

    def at_twenty() -> PunchIn:
        return dataclasses.replace(_gate(world, person), captured_at=captured)

    before = (await Project.select(Project.timezone).where(Project.id == world.project_a).first())["timezone"]
    await Project.update({Project.timezone: "Asia/Shanghai"}).where(Project.id == world.project_a)
    try:
        assert "not_on_roster" not in (await batcher.submit(at_twenty())).reasons
        await Project.update({Project.timezone: "Pacific/Pago_Pago"}).where(Project.id == world.project_a)
        assert (await batcher.submit(at_twenty())).reasons == ("not_on_roster",)  # a day before the entry
    finally:
        await Project.update({Project.timezone: before}).where(Project.id == world.project_a)


async def test_a_write_that_fails_after_its_commit_keeps_the_pack_its_rows_name(world, monkeypatch):
    """The error can come after the commit (the connection lost on the way back): the batch's pack is removed only
    when the database says no row names it — here the rows are there, so it stays and their photos read back."""
    person = await _person(world)
    await _enter(world, person, world.project_a)
    real = batching._write_rows

    async def committed_then_lost(*args, **kwargs):
        await real(*args, **kwargs)
        raise ConnectionResetError("connection lost after the commit")

    monkeypatch.setattr(batching, "_write_rows", committed_then_lost)
    batcher = PunchBatcher(max_rows=50, wait_ms=30)
    punches = [_gate(world, person, photo=f"kept-jpeg-{i}".encode()) for i in range(3)]
    packs_before = _packs()
    results = await asyncio.gather(*(batcher.submit(p) for p in punches), return_exceptions=True)
    assert all(isinstance(r, ConnectionResetError) for r in results), results
    assert len(_packs() - packs_before) == 1
    monkeypatch.undo()
    again = await asyncio.gather(*(batcher.submit(p) for p in punches))  # the terminals resend: stored already
    assert all(v.duplicate for v in again)
    for p, v in zip(punches, again, strict=True):
        row = await Punch.select(Punch.photo_sha256, Punch.photo_loc).where(Punch.id == v.punch_id).first()
        assert await photostore.get(row["photo_sha256"], row["photo_loc"]) == p.photo


async def test_the_gate_warm_up_readies_every_open_connection_and_never_stores_anything(world):
    """Before terminals come, each open pooled connection runs the batch's statements with nothing in them
    (PostgreSQL): prepared there, no row written; without a pool (SQLite) it does nothing."""
    from backend.db import close_pool, engine, start_pool

    if not isinstance(engine(), PostgresEngine):
        assert await batching.warm_up() == 0
        return
    started = engine().pool is None
    if started:
        await start_pool(warm=True)
    try:
        before = await Punch.count()
        idle = engine().pool.get_idle_size()
        assert idle >= 2 and await batching.warm_up() == idle
        assert await Punch.count() == before
    finally:
        if started:
            await close_pool()
