"""Geofence benchmark: prints figures, asserts nothing.

    uv run python benchmarks/geofence.py

* single decision: decide() on one prepared fence (corridor, circle, polygon with a hole);
* batch: FenceIndex over 1,000 corridor fences, judging 100,000 fixes;
* the machine's core count.
"""

from __future__ import annotations

import os
import pathlib
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# This file is called geofence.py: make sure `import geofence` finds the package, not us.
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import shapely  # noqa: E402

from geofence import (  # noqa: E402
    FenceIndex,
    Fix,
    circle_fence,
    corridor_fence,
    decide,
    gcj02_to_wgs84,
    geodesic_azimuth,
    geodesic_offset,
    polygon_fence,
    spoof_signals,
    wgs84_to_gcj02,
)
from geofence.index import VERDICTS  # noqa: E402
from geofence.projection import local_aeqd  # noqa: E402

RULES = {"max_accuracy_m": 100.0, "edge_margin_m": 20.0}
JIANGMEN = (113.08, 22.58)
ROAD = [
    (113.0600, 22.5650),
    (113.0680, 22.5700),
    (113.0750, 22.5760),
    (113.0810, 22.5800),
    (113.0880, 22.5830),
    (113.0950, 22.5890),
    (113.1010, 22.5960),
]


def per_call_us(fn: Callable[[], object], number: int = 20_000, repeat: int = 7) -> tuple[float, float]:
    """(best, median) microseconds per call."""
    runs = [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return min(runs), statistics.median(runs)


def seconds(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return min(runs), statistics.median(runs)


def single_decisions() -> None:
    road = corridor_fence("road", ROAD, 30.0)
    circle = circle_fence("gate", *JIANGMEN, 200.0)
    shell = [(113.070, 22.570), (113.090, 22.570), (113.090, 22.590), (113.070, 22.590)]
    hole = [(113.078, 22.578), (113.082, 22.578), (113.082, 22.582), (113.078, 22.582)]
    yard = polygon_fence("yard", shell, [hole])
    az = geodesic_azimuth(*ROAD[2], *ROAD[3])
    mid = geodesic_offset(*ROAD[2], az, 350.0)
    cases = {
        "corridor, fix inside": ([road], geodesic_offset(*mid, az + 90.0, 12.0)),
        "corridor, fix 3 m outside": ([road], geodesic_offset(*mid, az + 90.0, 18.0)),
        "corridor, fix 2 km away": ([road], geodesic_offset(*mid, az + 90.0, 2000.0)),
        "circle, fix inside": ([circle], geodesic_offset(*JIANGMEN, 30.0, 150.0)),
        "circle, fix outside": ([circle], geodesic_offset(*JIANGMEN, 30.0, 450.0)),
        "polygon with hole, inside": ([yard], (113.075, 22.575)),
        "polygon with hole, in the hole": ([yard], (113.080, 22.580)),
    }
    print("Single decision, decide() on one prepared fence (goal <= 20 us):")
    for label, (fences, (lon, lat)) in cases.items():
        decide(fences, lon, lat, 8.0, **RULES)  # build the fence's cache first
        best, median = per_call_us(lambda f=fences, x=lon, y=lat: decide(f, x, y, 8.0, **RULES))
        print(f"  {label:<32} {best:6.2f} us best, {median:6.2f} us median")

    invalid_best, _ = per_call_us(lambda: decide([road], 0.0, 0.0, 8.0, **RULES))
    print(f"  {'invalid (0, 0)':<32} {invalid_best:6.2f} us best")
    g_best, _ = per_call_us(lambda: wgs84_to_gcj02(113.08, 22.58))
    i_best, _ = per_call_us(lambda: gcj02_to_wgs84(113.085, 22.577))
    print(f"  wgs84_to_gcj02 {g_best:.2f} us, gcj02_to_wgs84 (iterative) {i_best:.2f} us")
    now = Fix(113.08, 22.58, 12.3, datetime.now(UTC))
    history = [Fix(113.081, 22.581, 9.0, now.captured_at - timedelta(hours=h)) for h in range(1, 6)]
    s_best, _ = per_call_us(lambda: spoof_signals(now, history, now.captured_at), number=5_000)
    print(f"  spoof_signals over 5 earlier fixes {s_best:.2f} us")


def corridor_city(n_fences: int, rng: np.random.Generator) -> tuple[list, list]:
    """~2 km winding corridors (20 segments, 10-50 m wide) spread over a 40 km x 40 km city."""
    tf = local_aeqd(*JIANGMEN)
    fences, metric_lines = [], []
    for i in range(n_fences):
        start = rng.uniform(-20_000, 20_000, 2)
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.2, 20))
        xy = np.vstack([start, start + np.cumsum(100.0 * np.column_stack([np.cos(heading), np.sin(heading)]), axis=0)])
        lon, lat = tf.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
        fences.append(corridor_fence(f"road-{i}", list(zip(lon, lat, strict=True)), float(rng.uniform(10, 50))))
        metric_lines.append(shapely.LineString(xy))
    return fences, metric_lines


def fixes_around(metric_lines: list, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """90 % of fixes scattered (sigma 60 m) around a random fence, 10 % anywhere in the city."""
    tf = local_aeqd(*JIANGMEN)
    lines = np.array(metric_lines, dtype=object)
    base = shapely.line_interpolate_point(lines[rng.integers(0, len(lines), n)], rng.uniform(0, 1, n), normalized=True)
    x = shapely.get_x(base) + rng.normal(0, 60, n)
    y = shapely.get_y(base) + rng.normal(0, 60, n)
    anywhere = rng.uniform(0, 1, n) < 0.10
    x[anywhere] = rng.uniform(-21_000, 21_000, anywhere.sum())
    y[anywhere] = rng.uniform(-21_000, 21_000, anywhere.sum())
    lon, lat = tf.transform(x, y, direction="INVERSE")
    accuracy = rng.gamma(2.0, 8.0, n)
    return np.asarray(lon), np.asarray(lat), accuracy


def batch() -> None:
    rng = np.random.default_rng(20261122)
    t0 = time.perf_counter()
    fences, metric_lines = corridor_city(1000, rng)
    t_fences = time.perf_counter() - t0
    lon, lat, acc = fixes_around(metric_lines, 100_000, rng)
    t0 = time.perf_counter()
    index = FenceIndex(fences)
    t_index = time.perf_counter() - t0
    print()
    print("Batch: 100,000 fixes x 1,000 corridor fences (goal <= 0.3 s):")
    print(f"  building 1,000 validated corridor fences: {t_fences:.2f} s; FenceIndex(fences): {t_index:.2f} s (once)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    result = index.judge(lon, lat, acc, **RULES)  # warm-up
    for workers in sorted({1, cores}):
        best, median = seconds(lambda w=workers: index.judge(lon, lat, acc, **RULES, workers=w))
        print(
            f"  judge(), workers={workers}: {best:.3f} s best, {median:.3f} s median  ({best / 100_000 * 1e6:.2f} us/fix)"
        )
    counts = np.bincount(result.verdict, minlength=len(VERDICTS))
    summary = ", ".join(f"{code} {c}" for code, c in zip(VERDICTS, counts, strict=True) if c)
    print(f"  verdicts: {summary}")


def main() -> None:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        f"Machine: {platform.processor() or platform.machine()}, {cores} cores ({usable} usable), "
        f"Python {platform.python_version()}, numpy {np.__version__}, shapely {shapely.__version__}"
        + (f", load average {load[0]:.1f}" if load else "")
    )
    print()
    single_decisions()
    batch()


if __name__ == "__main__":
    main()
