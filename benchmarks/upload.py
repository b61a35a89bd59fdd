"""Platform upload figures (issue 17): tasks per second the uploader sustains against the platform simulator on
loopback, and the time for a project of N workers plus a month of attendance to reach 100 % 上传成功.

    uv run python benchmarks/upload.py [--workers 2000] [--days 30] [--concurrency 16] [--delay 0.05]
    uv run python benchmarks/upload.py --pg postgresql://postgres@127.0.0.1:55432/postgres   # PostgreSQL

Builds a throw-away database (bulk inserts: one project, its general contractor and supervision firm, one team,
N workers on the roster, one accepted gate punch per worker and day, and the outbox tasks the services would have
written), starts the simulator in this process (real sockets on 127.0.0.1), and runs the uploader (no rate limit,
``--concurrency`` requests at once) until every task is done.  Each entity costs a write, its poll(s) and the
database work around them (dependency checks, state updates).  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import setup_env  # noqa: E402
from benchmarks.reports import Loader  # noqa: E402

APPID, SECRET = "bench-appid", "bench-appsecret"


async def build(workers: int, days: int, loader: Loader) -> dict[str, int]:
    from backend.attendance.tables import Punch
    from backend.crypto import encrypt_text, lookup_hash
    from backend.demo import fake_id_number, fake_uscc
    from backend.org.tables import District, Enterprise, Project, ProjectUnit, Team
    from backend.outbox import UploadTask, open_key
    from backend.validators import mask_id
    from backend.workforce.tables import Person, RosterEntry

    rng = random.Random(17)
    now = datetime.now(UTC)
    start = date.today() - timedelta(days=days + 5)
    await loader.insert(District, [{"id": 1, "code": "440703", "name": "蓬江区", "rule_overrides": "{}",
                                    "timezone": "Asia/Shanghai"}])
    await loader.insert(Enterprise, [{"id": 1, "name": "总包企业", "uscc": fake_uscc(rng), "created_at": now},
                                     {"id": 2, "name": "监理企业", "uscc": fake_uscc(rng), "created_at": now}])
    await loader.insert(Project, [{"id": 1, "name": "上传基准项目", "district": 1, "category": "building",
                                   "permit_no": "440703202501010101", "planned_start": start, "actual_start": start,
                                   "status": "under_construction", "timezone": "Asia/Shanghai", "created_at": now,
                                   "floor_area_m2": 30_000.0, "lon": 113.08, "lat": 22.58}])
    await loader.insert(ProjectUnit, [{"id": 1, "project": 1, "enterprise": 1, "unit_type": "general_contractor",
                                       "entered_on": start},
                                      {"id": 2, "project": 1, "enterprise": 2, "unit_type": "supervision_firm",
                                       "entered_on": start}])
    await loader.insert(Team, [{"id": 1, "project": 1, "unit": 1, "name": "钢筋班组", "kind": "worker",
                                "entered_on": start, "is_auto": False}])
    people, roster, punches, tasks = [], [], [], []
    seen: set[str] = set()

    def task(kind: str, entity_id: int) -> None:
        tasks.append({"id": len(tasks) + 1, "kind": kind, "entity_id": entity_id, "op": "add", "project_id": 1,
                      "idem_key": uuid.uuid4().hex, "open_key": open_key(kind, entity_id), "state": "pending",
                      "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now})

    task("project", 1)
    task("project_unit", 1)
    task("project_unit", 2)
    task("team", 1)
    pid = 0
    for i in range(1, workers + 1):
        number = fake_id_number(rng)
        while number in seen:
            number = fake_id_number(rng)
        seen.add(number)
        people.append({"id": i, "name": f"工人{i}", "id_cipher": encrypt_text(number), "id_hash": lookup_hash(number),
                       "id_masked": mask_id(number), "gender": "M" if int(number[16]) % 2 else "F",
                       "birth_date": date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
                       "ethnicity": "01", "created_at": now})
        roster.append({"id": i, "person": i, "project": 1, "unit": 1, "team": 1, "work_role": "worker",
                       "work_type": "020", "entered_on": start, "exit_note": "", "created_at": now})
        task("worker", i)
        task("worker_entry", i)
        for d in range(days):
            day = start + timedelta(days=5 + d)
            at = datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC) + timedelta(seconds=rng.randrange(3600))
            pid += 1
            punches.append({"id": pid, "project": 1, "person": i, "source": "gate", "idempotency_key": f"b{pid}",
                            "direction": "in", "captured_at": at, "received_at": at + timedelta(seconds=1),
                            "latency_s": 1.0, "local_date": day.isoformat(), "verdict": "accepted",
                            "reasons": "[]", "flags": "[]"})
            task("attendance", pid)
    await loader.insert(Person, people)
    await loader.insert(RosterEntry, roster)
    await loader.insert(Punch, punches)
    await loader.insert(UploadTask, tasks)
    return {"tasks": len(tasks), "punches": len(punches)}


async def run(args: argparse.Namespace) -> None:
    from backend import db
    from backend.platform import services
    from backend.platform.simulator import start_simulator
    from backend.platform.uploader import Uploader, UploaderConfig

    await db.migrate()
    await db.start_pool()
    loader = Loader()
    t0 = time.perf_counter()
    made = await build(args.workers, args.days, loader)
    print(f"built {made['tasks']} upload tasks ({args.workers} workers, {made['punches']} punches) "
          f"in {time.perf_counter() - t0:.1f} s")
    sim = await start_simulator(appid=APPID, appsecret=SECRET, delay=args.delay)
    await services.set_credentials(1, sim.url, APPID, SECRET)
    config = UploaderConfig(concurrency=args.concurrency, rate_per_s=0, poll_interval_s=args.delay,
                            backoff_base_s=0.1, backoff_max_s=2, wait_recheck_s=60, timeout_s=10, batch=args.batch,
                            idle_s=0.05)
    uploader = Uploader(config)
    stop = asyncio.Event()
    started = time.perf_counter()
    runner = asyncio.create_task(uploader.run(stop))
    last, last_t = 0, started
    try:
        while True:
            await asyncio.sleep(5)
            counts = await services.task_counts()
            done = counts.get("done", 0)
            t = time.perf_counter()
            print(f"  {t - started:6.0f} s  done {done}/{made['tasks']}  ({(done - last) / (t - last_t):.0f} tasks/s)"
                  f"  sim requests {sim.stats.requests}"
                  f"  {dict(sorted(counts.items()))}")
            last, last_t = done, t
            if await services.open_task_count() == 0:
                break
    finally:
        stop.set()
        await runner
        await sim.stop()
    elapsed = time.perf_counter() - started
    counts = await services.task_counts()
    print(f"\n{made['tasks']} tasks ({args.workers} workers + {args.days} days of attendance) reached the end in "
          f"{elapsed:.0f} s: {counts.get('done', 0) / elapsed:.0f} tasks/s sustained; end states {counts}")
    print(f"simulator: {sim.stats.requests} requests, {sim.stats.accepted} accepted, duplicates "
          f"{len(sim.stats.duplicates())}, out of order {sim.stats.out_of_order}")
    await db.close_pool()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--delay", type=float, default=0.05, help="simulator processing delay = poll interval (s)")
    p.add_argument("--pg", default=None, help="PostgreSQL server URL (default: SQLite in a temp dir)")
    args = p.parse_args()
    url, drop = setup_env(args.pg, "smz-bench-upload-")
    print(f"database: {url}")
    try:
        asyncio.run(run(args))
    finally:
        drop()


if __name__ == "__main__":
    main()
