"""Face service figures: throughput, 1:1 latency, 1:N search, event-loop lag under load.

    uv run python benchmarks/face.py [--workers N] [--nice 0] [--rounds 5]

Uses the face_recognition 1.3.0 sdist photos (downloaded once by tests/fixtures/faces.py).
Prints figures; asserts nothing (DESIGN.md §2: never timed asserts in tests).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import Ticker, pct  # noqa: E402


async def main(args: argparse.Namespace) -> None:
    from backend.face.service import FaceService, default_workers, encoding_to_bytes, search, templates_matrix
    from tests.fixtures.faces import capture_like, ensure_face_images

    photos = ensure_face_images()
    enrol_jpeg = capture_like("obama.jpg")
    probe = photos["obama2.jpg"].read_bytes()  # 626×1200 JPEG, 184 kB → 334×640
    stranger = photos["biden.jpg"].read_bytes()

    svc = FaceService(workers=args.workers, worker_nice=args.nice)
    print(f"workers: {svc.workers} (spawn, nice +{args.nice}); usable cores: {default_workers()}")
    t = time.perf_counter()
    await svc.start()
    print(f"start (spawn + load models in every worker): {time.perf_counter() - t:.2f} s")

    template = (await svc.encode(enrol_jpeg)).encoding
    m = await svc.verify(template, probe)
    s = await svc.verify(template, stranger)
    print(f"distances: obama(enrol) ↔ obama2 {m.distance:.3f}, ↔ biden {s.distance:.3f}")

    # throughput: many encodings at once, as a burst of gate punches would
    n = 16 * svc.workers
    t = time.perf_counter()
    await asyncio.gather(*(svc.encode(probe, purpose="verify") for _ in range(n)))
    dt = time.perf_counter() - t
    print(f"encode throughput: {n / dt:.1f} encodings/s ({n} concurrent verify-purpose encodings in {dt:.2f} s)")

    # 1:1 latency, one request at a time
    lat = []
    for _ in range(30):
        t = time.perf_counter()
        await svc.verify(template, probe)
        lat.append((time.perf_counter() - t) * 1000)
    print(f"verify latency (one at a time): p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms")

    # event-loop lag: idle, then while 8 verifications run concurrently (repeated)
    with Ticker() as idle:
        await asyncio.sleep(1.0)
    print(f"event-loop lag, idle: {idle.summary()}")
    lat8: list[float] = []

    async def timed_verify() -> None:
        t0 = time.perf_counter()
        await svc.verify(template, probe)
        lat8.append((time.perf_counter() - t0) * 1000)

    with Ticker() as busy:
        for _ in range(args.rounds):
            await asyncio.gather(*(timed_verify() for _ in range(8)))
    print(f"event-loop lag, 8 concurrent verifications × {args.rounds} rounds: {busy.summary()}  (goal p99 ≤ 20 ms)")
    print(f"verify latency with 8 in flight: p50 {pct(lat8, 50):.0f} ms, p95 {pct(lat8, 95):.0f} ms")

    # liveness: 8 frames of one photo (fails, as it should), timing only
    from PIL import Image

    from tests.fixtures.faces import jpeg_bytes

    im = Image.open(photos["obama2.jpg"]).convert("RGB")
    im.thumbnail((480, 640))
    frames = [jpeg_bytes(im.rotate(0, translate=(i, 0)), quality=80 + i) for i in range(8)]
    t = time.perf_counter()
    r = await svc.check_liveness(frames, ["blink", "turn_left"], template)
    print(
        f"liveness, 8 frames: {(time.perf_counter() - t) * 1000:.0f} ms "
        f"(passed={r.passed}, reasons={list(r.reasons)[:3]}…)"
    )

    # 1:N search, in-process
    rng = np.random.default_rng(0)
    blobs = [encoding_to_bytes(rng.normal(0, 0.09, 128)) for _ in range(10_000)]
    t = time.perf_counter()
    matrix = templates_matrix(blobs)
    build = (time.perf_counter() - t) * 1000
    ids = list(range(10_000))
    q = rng.normal(0, 0.09, 128)
    times = []
    for _ in range(200):
        t = time.perf_counter()
        search(q, matrix, ids)
        times.append((time.perf_counter() - t) * 1000)
    print(
        f"1:N search over 10,000 templates: p50 {statistics.median(times):.2f} ms, p95 {pct(times, 95):.2f} ms "
        f"(matrix from 10,000 blobs: {build:.1f} ms)"
    )
    await svc.aclose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(ap.parse_args()))
