"""848 punches through the app's gate server (seed 001 附件3 §1.2.4: flag 0 = 服务端已成功记录此次刷卡
操作; seed 002: 上传延时不超过 5 秒钟; DESIGN §1: one attendance path, idempotent, two clocks)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.attendance.services import punch_photo
from backend.attendance.tables import Punch, PunchPhoto
from backend.org.tables import Project
from device_tcp.simulator import make_jpeg
from tests.integration.gate.gate_site import add_worker, make_site, register, terminal_row

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_now(tz: ZoneInfo = SHANGHAI) -> datetime:
    """The terminal's wall clock: naive local time, whole seconds."""
    return datetime.now(tz).replace(tzinfo=None, microsecond=0)


def key(serial: str, worker: int, at: datetime) -> str:
    return f"g:{serial}:{worker}:{at:%Y%m%d%H%M%S}"


async def punch_row(serial: str, worker: int, at: datetime) -> dict | None:
    """The stored punch, with its JSON code lists decoded."""
    row = await Punch.select().where(Punch.idempotency_key == key(serial, worker, at)).first()
    if row is not None:
        for name in ("flags", "reasons"):
            if isinstance(row[name], str):
                row[name] = json.loads(row[name])
    return row


async def test_punch_is_acknowledged_only_once_committed(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    serial = await register(world, site.project, direction="out")
    t = await open_terminal(serial)
    at = local_now()
    photo = make_jpeg(42)
    r = await t.punch(worker, at, photo=photo)
    assert r.ok, r.message
    # the ack has arrived: the row must be there, read through another connection
    row = await punch_row(serial, worker, at)
    assert row is not None
    assert (row["source"], row["person"], row["project"], row["direction"]) == ("gate", worker, site.project, "out")
    assert row["terminal"] == (await terminal_row(serial))["id"]
    assert await punch_photo(row["id"]) == (photo, "image/jpeg")  # in the photo store (issue 18)
    assert not await PunchPhoto.exists().where(PunchPhoto.punch == row["id"])


async def test_bcd_time_is_the_capture_time_in_the_project_time_zone(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    at = local_now()
    assert (await t.punch(worker, at)).ok
    row = await punch_row(serial, worker, at)
    assert row["captured_at"] == at.replace(tzinfo=SHANGHAI).astimezone(UTC)
    assert row["local_date"] == at.date().isoformat()
    # the latency rule of seed 002 applies to the stored clocks, whatever this machine's speed
    assert abs(row["latency_s"] - (row["received_at"] - row["captured_at"]).total_seconds()) < 1e-3
    assert ("late_upload" in row["flags"]) == (row["latency_s"] > 5)


async def test_a_project_in_another_time_zone_reads_the_terminal_clock_in_that_zone(world, open_terminal):
    site = await make_site(world)
    urumqi = ZoneInfo("Asia/Urumqi")  # UTC+6
    await Project.update({Project.timezone: "Asia/Urumqi"}).where(Project.id == site.project)
    worker, _, _ = await add_worker(world, site)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    at = local_now(urumqi)
    assert (await t.punch(worker, at)).ok
    row = await punch_row(serial, worker, at)
    assert row["captured_at"] == at.replace(tzinfo=urumqi).astimezone(UTC)


async def test_punch_captured_more_than_5s_before_it_was_received_is_kept_and_flagged_late(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    at = local_now() - timedelta(seconds=60)
    r = await t.punch(worker, at)
    assert r.ok
    row = await punch_row(serial, worker, at)
    assert row["verdict"] == "flagged" and "late_upload" in row["flags"] and row["latency_s"] >= 60


async def test_re_upload_after_a_two_day_outage_is_accepted_and_flagged_late(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site, entered_days_ago=20)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    stored = [local_now() - timedelta(days=3, hours=h) for h in (0, 1, 2)]  # kept in the terminal's memory
    for at in stored:
        assert (await t.punch(worker, at)).ok
    for at in stored:
        row = await punch_row(serial, worker, at)
        assert row["verdict"] == "flagged" and row["flags"] == ["late_upload"]
        assert row["local_date"] == at.date().isoformat()


async def test_the_same_punch_sent_again_is_acknowledged_and_stored_once(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    at = local_now()
    first = await t.punch(worker, at)
    again = await t.punch(worker, at, photo=make_jpeg(7))  # the terminal did not get the first ack
    assert first.ok and again.ok
    rows = await Punch.select(Punch.id).where(Punch.idempotency_key == key(serial, worker, at))
    assert len(rows) == 1
    # after a reconnect too
    await t.close()
    t2 = await open_terminal(serial)
    assert (await t2.punch(worker, at)).ok
    assert len(await Punch.select(Punch.id).where(Punch.person == worker)) == 1


async def test_same_worker_and_time_from_another_device_is_another_punch(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    a, b = await register(world, site.project), await register(world, site.project, direction="out")
    at = local_now()
    assert (await (await open_terminal(a)).punch(worker, at)).ok
    assert (await (await open_terminal(b)).punch(worker, at)).ok
    assert len(await Punch.select(Punch.id).where(Punch.person == worker)) == 2


@pytest.mark.parametrize("worker_no", [999_999_999, 0xFFFFFFFF, 0])
async def test_unknown_worker_no_gets_flag_1_with_a_message(world, open_terminal, worker_no):
    site = await make_site(world)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    r = await t.punch(worker_no, local_now())
    assert not r.ok and r.frame.flag == 1 and f"工人编号 {worker_no} 不存在" in r.message
    assert not await Punch.exists().where(Punch.terminal == (await terminal_row(serial))["id"])
    assert (await t.heartbeat()).ok  # the connection stays usable


async def test_person_of_another_project_is_stored_rejected_and_acknowledged(world, open_terminal):
    site = await make_site(world)
    other = await make_site(world)
    outsider, _, _ = await add_worker(world, other)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    at = local_now()
    r = await t.punch(outsider, at)
    assert r.ok  # recorded (the terminal must not keep re-sending it) ...
    row = await punch_row(serial, outsider, at)
    assert row["verdict"] == "rejected" and "not_on_roster" in row["reasons"]  # ... as a rejection


async def test_terminal_clock_far_ahead_is_flagged(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    at = local_now() + timedelta(minutes=10)
    assert (await t.punch(worker, at)).ok
    assert "clock_skew" in (await punch_row(serial, worker, at))["flags"]


async def test_non_face_punch_mode_is_kept_and_flagged(world, open_terminal):
    site = await make_site(world)
    worker, _, _ = await add_worker(world, site)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    at = local_now() - timedelta(seconds=1)
    assert (await t.punch(worker, at, mode=1)).ok
    assert "non_face_mode" in (await punch_row(serial, worker, at))["flags"]


async def test_many_terminals_punching_at_once_lose_nothing(world, open_terminal):
    site = await make_site(world)
    workers = [(await add_worker(world, site))[0] for _ in range(5)]
    serials = [await register(world, site.project) for _ in range(4)]
    terms = [await open_terminal(s) for s in serials]
    base = local_now() - timedelta(minutes=5)

    async def run(t) -> list[bool]:
        return [(await t.punch(w, base + timedelta(seconds=k))).ok for k, w in enumerate(workers * 2)]

    results = await asyncio.gather(*(run(t) for t in terms))
    assert all(all(r) for r in results)
    ids = {(await terminal_row(s))["id"] for s in serials}
    rows = await Punch.select(Punch.id).where(Punch.terminal.is_in(sorted(ids)))
    assert len(rows) == len(serials) * len(workers) * 2
