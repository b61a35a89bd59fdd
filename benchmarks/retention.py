"""Retention and key-rotation figures (issue 20 B.2, B.5): ``smz retention`` on one project completed long ago with
N workers (each: enrolment face + template + ID photo, a registration, P punch photos, a payroll line with a card)
and ``smz rotate-key`` over the same people, with the event loop's lag measured while they run (the app keeps
serving on the same loop: batches of short transactions, never one long one).

    uv run python benchmarks/retention.py [--people 5000] [--photos 4] [--photo-kb 8] [--legacy 2000]
    uv run python benchmarks/retention.py --pg postgresql://postgres@127.0.0.1:55432/postgres

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import Ticker, setup_env  # noqa: E402

TODAY = date(2026, 12, 3)


async def build(people: int, photos: int, photo_kb: int) -> int:
    from backend import photostore
    from backend.attendance.tables import Punch
    from backend.crew.tables import Registration
    from backend.crypto import encrypt_text, lookup_hash
    from backend.org import services as org
    from backend.validators import id_check_char, mask_id
    from backend.wages.tables import Payroll, PayrollLine
    from backend.workforce.tables import Enrolment, Person, RosterEntry

    d = await org.create_district("440703", "基准区")
    e = await org.create_enterprise("基准总包有限公司", _uscc())
    pid = await org.create_project(name="竣工五年的工程", district_id=d, category="building", floor_area_m2=50_000)
    await org.change_status(pid, "under_construction", effective_on=date(2019, 1, 1), note="", user_id=None)
    unit = await org.add_unit(pid, e, "general_contractor")
    team = await org.create_team(pid, unit, "木工班组")
    photo, template = os.urandom(photo_kb * 1024), os.urandom(512)
    payroll = Payroll(project=pid, month="2021-06", status="submitted")
    await payroll.save()
    now = datetime.now(UTC)
    for start in range(0, people, 200):  # PostgreSQL: ≤ 32,767 bind parameters per statement
        batch = range(start, min(people, start + 200))
        numbers = []
        for i in batch:
            first17 = f"440703{date(1970, 1, 1) + timedelta(days=i % 15000):%Y%m%d}{i % 1000:03d}"
            numbers.append(first17 + id_check_char(first17))
        rows = await Person.insert(*[Person(name=f"工人{i}", id_cipher=encrypt_text(n), id_hash=lookup_hash(n + str(i)),
                                            id_masked=mask_id(n), gender="M", birth_date=date(1980, 1, 1))
                                     for i, n in zip(batch, numbers, strict=True)]).returning(Person.id)
        ids = [r["id"] for r in rows]
        await RosterEntry.insert(*[RosterEntry(person=p, project=pid, unit=unit, team=team, work_role="worker",
                                               entered_on=date(2019, 2, 1)) for p in ids])
        await Enrolment.insert(*[Enrolment(person=p, face_template=template, face_photo=photo, id_photo=photo)
                                 for p in ids])
        await Registration.insert(*[Registration(project=pid, person=p, status="completed", face_photo=photo,
                                                 face_template=template, id_photo=photo) for p in ids])
        await PayrollLine.insert(*[PayrollLine(payroll=payroll.id, person=p, days_worked=20, payable_fen=500_000,
                                               card_enc=encrypt_text("6222000011112222", aad=b"wage_card_no"),
                                               card_masked="6222********2222") for p in ids])
        # each punch its own photo (distinct bytes: one file each) in the photo store, the hash in the row
        shas = await photostore.put_many([(photo[:-8] + (start * photos + k).to_bytes(8), "image/jpeg")
                                          for k in range(len(ids) * photos)])
        await Punch.insert(*[
            Punch(project=pid, person=p, source="gate", idempotency_key=uuid.uuid4().hex, captured_at=now,
                  received_at=now, latency_s=0.1, local_date="2021-06-01", verdict="accepted",
                  photo_sha256=shas[n * photos + k], photo_type="image/jpeg")
            for n, p in enumerate(ids) for k in range(photos)])
    await org.change_status(pid, "finished", effective_on=date(2021, 6, 30), note="", user_id=None)
    await org.change_status(pid, "accepted", effective_on=date(2021, 9, 30), note="", user_id=None)
    return pid


async def _legacy_photos(project: int, n: int, photo_kb: int) -> None:
    """``n`` punches of the project with their photo as a legacy ``punch_photo`` row (before issue 18)."""
    from backend.attendance.tables import Punch, PunchPhoto
    from backend.workforce.tables import RosterEntry

    person = (await RosterEntry.select(RosterEntry.person).where(RosterEntry.project == project).first())["person"]
    now, photo = datetime.now(UTC), os.urandom(photo_kb * 1024)
    for start in range(0, n, 500):
        rows = await Punch.insert(*[
            Punch(project=project, person=person, source="gate", idempotency_key=uuid.uuid4().hex, captured_at=now,
                  received_at=now, latency_s=0.1, local_date="2021-06-02", verdict="accepted")
            for _ in range(start, min(n, start + 500))]).returning(Punch.id)
        await PunchPhoto.insert(*[PunchPhoto(punch=r["id"], data=photo[:-8] + r["id"].to_bytes(8)) for r in rows])


def _uscc() -> str:
    import random

    from backend.demo import fake_uscc

    return fake_uscc(random.Random(20), "440703")


async def timed_with_lag(label: str, coro_factory) -> object:
    with Ticker() as tick:
        t0 = time.perf_counter()
        out = await coro_factory()
        took = time.perf_counter() - t0
    print(f"{label}: {took:.2f} s; event-loop lag {tick.summary()}")
    return out


async def main(args: argparse.Namespace) -> None:
    from backend import crypto, db
    from backend.privacy import retention, rotate
    from backend.settings import get_settings

    await db.migrate()
    await db.start_pool()
    try:
        t0 = time.perf_counter()
        pid = await build(args.people, args.photos, args.photo_kb)
        print(f"built {args.people} people, {args.people * args.photos} punch photos of {args.photo_kb} KB "
              f"in {time.perf_counter() - t0:.1f} s ({os.environ['SMZ_DATABASE_URL'].split(':')[0]})")
        if args.legacy:  # photos of an older installation, in the punch_photo table: `smz photos migrate`
            await _legacy_photos(pid, args.legacy, args.photo_kb)
            from backend.attendance import photo_migration

            rep = await timed_with_lag(f"photos migrate ({args.legacy} legacy rows, batches of 500)",
                                       photo_migration.migrate)
            print(f"  moved {rep.moved} of {rep.total}")
        # rotation first (the people still have their ID numbers)
        new = os.urandom(32)
        ring = dataclasses.replace(get_settings(), secret_key=new, old_secret_keys=(get_settings().secret_key,))
        crypto.get_settings = lambda: ring  # type: ignore[assignment]
        rep = await timed_with_lag("rotate-key --check (before)", rotate.check)
        print(f"  left under the old key: {rep.left}")
        rep = await timed_with_lag("rotate-key", rotate.rotate_key)
        print(f"  re-encrypted {sum(c.old_key for c in rep.columns)}, re-hashed {rep.columns[0].old_hash}")
        rep = await timed_with_lag("rotate-key --check (after)", rotate.check)
        print(f"  left under the old key: {rep.left}")
        items = await timed_with_lag("retention --dry-run", lambda: retention.run_retention(TODAY, dry_run=True))
        print("  " + "\n  ".join(retention.report_lines(items, dry_run=True)))
        items = await timed_with_lag("retention", lambda: retention.run_retention(TODAY))
        print("  " + "\n  ".join(retention.report_lines(items, dry_run=False)))
        items = await timed_with_lag("retention (second run)", lambda: retention.run_retention(TODAY))
        print(f"  projects with something left: {len(items)}")
    finally:
        await db.close_pool()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--photo-kb", type=int, default=8)
    parser.add_argument("--legacy", type=int, default=2000, help="legacy punch_photo rows for `smz photos migrate`")
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (a throw-away database is made on it)")
    ns = parser.parse_args()
    os.environ.setdefault("SMZ_SECRET_KEY", base64.b64encode(os.urandom(32)).decode())
    url, drop = setup_env(ns.pg, "smz-bench-retention-")
    try:
        asyncio.run(main(ns))
    finally:
        drop()
