"""Fence store figures: one phone fix through ``judge_fix`` (version query + cached fence + decide +
spoofing history), the cold first use of a fence, the batch judgement (``judge_many``) and the
re-judging report over a project's mobile punches.

    uv run python benchmarks/fences.py [--punches 100000] [--people 300] [--fixes 100000] [--rounds 200]
    uv run python benchmarks/fences.py --pg postgresql://postgres@127.0.0.1:55432/postgres   # PostgreSQL

Builds a throw-away database (a temp SQLite file, or a temp database on the given PostgreSQL server),
one municipal project with the 5.5 km demo road corridor and a circle, a worker, and bulk-inserted
mobile punches.  Prints figures; asserts nothing (DESIGN.md: never timed asserts in tests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this directory comes first on sys.path and benchmarks/geofence.py would shadow the
# geofence package: keep only the project root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import setup_env  # noqa: E402


def ms(values: list[float]) -> str:
    v = sorted(x * 1000 for x in values)
    return f"median {statistics.median(v):.3f} ms, p95 {v[int(0.95 * (len(v) - 1))]:.3f} ms, min {v[0]:.3f} ms"


async def main(args: argparse.Namespace) -> None:
    import numpy as np
    from piccolo.apps.migrations.commands.forwards import run_forwards

    import geofence
    from backend import db
    from backend.attendance.tables import Punch
    from backend.demo import fake_id_number, fake_name, fake_uscc
    from backend.fences import services
    from backend.org import services as org
    from backend.workforce import services as workforce

    result = await run_forwards(app_name="all")
    assert result.success, result.message
    await db.start_pool()
    try:
        import random

        rng = random.Random(5)
        today = date.today()
        district = await org.create_district("440703", "江门市蓬江区")
        pid = await org.create_project(name="蓬江区杜阮至棠下连接线道路改造工程", district_id=district,
                                       category="municipal", contract_value_yuan=86_000_000,
                                       planned_start=today - timedelta(days=60), lon=113.0105, lat=22.6478)
        await org.change_status(pid, "under_construction", effective_on=today - timedelta(days=58), note="开工",
                                user_id=None)
        ent = await org.create_enterprise("江门市路桥建设有限公司", fake_uscc(rng))
        unit = await org.add_unit(pid, ent, "general_contractor", today - timedelta(days=59))
        team = await org.create_team(pid, unit, "路基班组")
        people = []
        for _ in range(args.people):
            p = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng))
            await workforce.enter_roster(project_id=pid, person_id=p, unit_id=unit, team_id=team,
                                         work_role="worker", work_type="150", entered_on=today - timedelta(days=50))
            people.append(p)
        person = people[0]
        await services.create_demo_fences(pid)
        await services.create_fence(pid, name="搅拌站", kind="circle",
                                    geometry={"type": "Point", "coordinates": [113.0300, 22.6620]}, radius_m=120.0,
                                    valid_from=datetime.now(UTC) - timedelta(days=60))
        rules = await org.rules_for_project(pid)
        road = geofence.corridor_fence("road", services.DEMO_ROAD, services.DEMO_ROAD_WIDTH_M)
        lon0, lat0, lon1, lat1 = road.geometry.bounds
        print(f"database: {os.environ['SMZ_DATABASE_URL'].split('://')[0]}; fences: demo road 5.5 km × 60 m + circle")

        # --- bulk punches: half on the road, half scattered around it -------------------------------
        n = args.punches
        nrng = np.random.default_rng(7)
        t0 = time.perf_counter()
        start = datetime.now(UTC) - timedelta(days=30)
        along = nrng.integers(0, len(services.DEMO_ROAD) - 1, n)
        frac = nrng.random(n)
        a = np.asarray(services.DEMO_ROAD)
        lons = a[along, 0] + (a[along + 1, 0] - a[along, 0]) * frac + nrng.normal(0, 0.0004, n)
        lats = a[along, 1] + (a[along + 1, 1] - a[along, 1]) * frac + nrng.normal(0, 0.0004, n)
        accs = nrng.uniform(3, 40, n)
        batch = 1000  # PostgreSQL: at most 32,767 query arguments (22 columns a row)
        for b in range(0, n, batch):
            rows = []
            for i in range(b, min(n, b + batch)):
                captured = start + timedelta(seconds=int(i * 30 * 86400 / n))
                rows.append(Punch(
                    project=pid, person=people[i % len(people)], source="mobile", idempotency_key=f"bench:{i}", captured_at=captured,
                    received_at=captured + timedelta(seconds=2), latency_s=2.0,
                    local_date=captured.astimezone(services.ZoneInfo("Asia/Shanghai")).date().isoformat(),
                    verdict="rejected", reasons=["outside_fence"], flags=[], lon=float(lons[i]),
                    lat=float(lats[i]), accuracy_m=float(accs[i])))
            async with db.write_transaction():
                await Punch.insert(*rows)
        print(f"inserted {n:,} mobile punches of {len(people)} people over 30 days in {time.perf_counter() - t0:.1f} s"
              " (setup)")

        # --- one fix ------------------------------------------------------------------------------
        services.clear_caches()
        lon, lat = services.DEMO_ROAD[3]
        t = time.perf_counter()
        await services.judge_fix(pid, lon, lat, 8.0, datetime.now(UTC), rules=rules)
        cold = time.perf_counter() - t
        print("\nOne phone fix (judge_fix):")
        print(f"  cold (fences built from their rows, projections on first use): {cold * 1000:.2f} ms")
        warm = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            await services.judge_fix(pid, lon, lat, 8.0, datetime.now(UTC), rules=rules)
            warm.append(time.perf_counter() - t)
        print(f"  warm, no person (version query + decide): {ms(warm)}")
        with_person = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            await services.judge_fix(pid, lon, lat, 8.0, datetime.now(UTC), rules=rules, person_id=person)
            with_person.append(time.perf_counter() - t)
        print(f"  warm, with spoofing history ({rules.spoof_history_fixes} recent punches): {ms(with_person)}")
        fences = [road]
        decide_t = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            geofence.decide(fences, lon, lat, 8.0, max_accuracy_m=100, edge_margin_m=50)
            decide_t.append(time.perf_counter() - t)
        print(f"  of which geofence.decide alone: {ms(decide_t)}")

        # --- many fixes ------------------------------------------------------------------------------
        m = args.fixes
        pacc = nrng.uniform(3, 60, m)
        on = nrng.integers(0, len(services.DEMO_ROAD) - 1, m)
        f = nrng.random(m)
        near = (a[on, 0] + (a[on + 1, 0] - a[on, 0]) * f + nrng.normal(0, 0.0005, m),
                a[on, 1] + (a[on + 1, 1] - a[on, 1]) * f + nrng.normal(0, 0.0005, m))
        scattered = (nrng.uniform(lon0 - 0.01, lon1 + 0.01, m), nrng.uniform(lat0 - 0.01, lat1 + 0.01, m))
        print(f"\nBatch judge_many, {m:,} fixes:")
        for label, (plon, plat) in (("near the road (σ ≈ 50 m)", near), ("scattered over the road's box ± 1 km", scattered)):
            services.clear_caches()
            t = time.perf_counter()
            r = await services.judge_many(pid, plon, plat, pacc, rules=rules)
            first = time.perf_counter() - t
            t = time.perf_counter()
            r = await services.judge_many(pid, plon, plat, pacc, rules=rules)
            again = time.perf_counter() - t
            counts = {c: r.codes.count(c) for c in sorted(set(r.codes))}
            print(f"  {label}: {first:.3f} s first (index built), {again:.3f} s cached; {counts}")

        # --- re-judging report ---------------------------------------------------------------------
        d0 = (today - timedelta(days=31)).isoformat()
        d1 = today.isoformat()
        t = time.perf_counter()
        rep = await services.rejudge(pid, d0, d1)
        took = time.perf_counter() - t
        print(f"\nRe-judging report over {rep['total']:,} punches (31 days): {took:.2f} s "
              f"({rep['total'] / took:,.0f} punches/s); {rep['changed']:,} would change")
        print("  transitions: " + ", ".join(f"{x['from']}→{x['to']} {x['count']:,}" for x in rep["fence_transitions"]))

        # --- map ------------------------------------------------------------------------------------
        t = time.perf_counter()
        await services.active_versions({pid})
        query_only = time.perf_counter() - t
        services.clear_caches()
        t = time.perf_counter()
        feats = await services.map_features({pid})
        cold_map = time.perf_counter() - t
        t = time.perf_counter()
        await services.map_features({pid})
        warm_map = time.perf_counter() - t
        print(f"\nmap_features ({len(feats)} fences, with outlines): {cold_map * 1000:.1f} ms cold, "
              f"{warm_map * 1000:.2f} ms cached (of which the version query {query_only * 1000:.2f} ms)")
    finally:
        await db.close_pool()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--punches", type=int, default=100_000)
    parser.add_argument("--fixes", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (a temp database is created)")
    ns = parser.parse_args()
    _, drop = setup_env(ns.pg, "smz-bench-fences-")
    try:
        asyncio.run(main(ns))
    finally:
        drop()
