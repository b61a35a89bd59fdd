"""Location-spoofing signals over one person's recent fixes.

Each signal is a review FLAG, never a rejection: real phones produce every one of
them now and then; a supervisor looks at the punch.

* ``clock_skew`` — the device clock differs from the server clock by more than
  ``clock_skew_max_s`` (``clock_skewed``, the one rule the attendance path uses
  too).  With ``device_sent_at`` (the device clock when it sent the request) the
  difference either way counts; without it only a capture time *ahead* of the
  server counts — a capture time behind it is an upload that waited in the
  offline outbox (``late_upload``), not a wrong clock.
* ``impossible_speed`` — moving from the previous fix (or to the next one, for a
  fix that arrives late) faster than ``max_speed_kmh``.  The geodesic distance is
  first reduced by both fixes' accuracy radii, so GPS jitter between two punches a
  few seconds apart is not "speed"; two fixes at the same instant in different
  places count as infinitely fast.
* ``repeated_coordinates`` — lon and lat both exactly equal (to full float
  precision) to an earlier fix.  Real receivers never repeat a position to the last
  bit across punches minutes apart; replayed or mocked locations do.
* ``suspicious_accuracy`` — accuracy exactly 0 (no receiver reports a perfect fix;
  mock-location apps and emulators do), or a round value (an exact integer multiple
  of 10 m, ≥ 10 m) that is identical in this fix and in each of the person's
  previous ``round_accuracy_run - 1`` fixes.  A single round value is NOT flagged:
  iOS and Wi-Fi positioning legitimately report values such as 10 or 30 m; a
  constant round value across consecutive punches is the signature of a mocked
  location.  Set ``round_accuracy_run=1`` to flag every round value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from geofence.coords import geodesic_distance_m
from geofence.errors import FenceError


@dataclass(frozen=True, slots=True)
class Fix:
    """One GPS fix (WGS-84) with the device's capture time (timezone-aware)."""

    lon: float
    lat: float
    accuracy_m: float
    captured_at: datetime

    def __post_init__(self) -> None:
        if self.captured_at.tzinfo is None or self.captured_at.utcoffset() is None:
            raise FenceError(
                "naive_datetime", "captured_at", "采集时间必须带时区", "captured_at must be timezone-aware"
            )


def _speed_kmh(a: Fix, b: Fix) -> float:
    metres = geodesic_distance_m(a.lon, a.lat, b.lon, b.lat)
    slack = max(a.accuracy_m, 0.0) + max(b.accuracy_m, 0.0)
    metres = max(metres - slack, 0.0) if math.isfinite(slack) else 0.0
    seconds = abs((b.captured_at - a.captured_at).total_seconds())
    if metres == 0.0:
        return 0.0
    if seconds == 0.0:
        return math.inf
    return metres / seconds * 3.6


def _is_round(accuracy_m: float) -> bool:
    return accuracy_m >= 10.0 and math.isfinite(accuracy_m) and accuracy_m % 10.0 == 0.0


def clock_skewed(captured_at: datetime, server_now: datetime, max_s: float, *,
                 device_sent_at: datetime | None = None) -> bool:
    """THE clock-skew rule (a review flag, DESIGN §1 "a device clock that is ahead of the server or far behind").

    The device clock is ``device_sent_at`` when the device told us when it sent the request: skew is
    ``|device_sent_at − server_now| > max_s``.  Without it the device clock is only seen through
    ``captured_at``, and only a capture time more than ``max_s`` *ahead* of ``server_now`` is skew (behind is
    the upload latency, judged by the latency limits).  The threshold comes from the caller's rules
    (``backend.rules.Rules.clock_skew_max_s``); geofence imports nothing from backend.
    """
    device_clock = device_sent_at if device_sent_at is not None else max(captured_at, server_now)
    return abs((device_clock - server_now).total_seconds()) > max_s


def spoof_signals(
    fix: Fix,
    previous_fixes: Sequence[Fix],
    server_now: datetime,
    *,
    clock_skew_max_s: float = 120.0,
    max_speed_kmh: float = 120.0,
    round_accuracy_run: int = 3,
    device_sent_at: datetime | None = None,
) -> tuple[str, ...]:
    """Review flags for ``fix`` given the same person's earlier fixes (any order)."""
    if server_now.tzinfo is None or server_now.utcoffset() is None:
        raise FenceError("naive_datetime", "server_now", "服务器时间必须带时区", "server_now must be timezone-aware")
    signals: list[str] = []

    if clock_skewed(fix.captured_at, server_now, clock_skew_max_s, device_sent_at=device_sent_at):
        signals.append("clock_skew")

    ordered = sorted(previous_fixes, key=lambda f: f.captured_at)
    before = [f for f in ordered if f.captured_at <= fix.captured_at]
    after = [f for f in ordered if f.captured_at > fix.captured_at]
    neighbours = ([before[-1]] if before else []) + ([after[0]] if after else [])
    if any(_speed_kmh(n, fix) > max_speed_kmh for n in neighbours):
        signals.append("impossible_speed")

    if any(f.lon == fix.lon and f.lat == fix.lat for f in previous_fixes):
        signals.append("repeated_coordinates")

    if _suspicious_accuracy(fix.accuracy_m, before, round_accuracy_run):
        signals.append("suspicious_accuracy")
    return tuple(signals)


def _suspicious_accuracy(acc: float, before: Sequence[Fix], round_accuracy_run: int) -> bool:
    """Exactly 0 m, or the same round value (10, 20, … m) as the ``round_accuracy_run − 1`` fixes before."""
    if acc == 0.0:
        return True
    if not _is_round(acc):
        return False
    needed = max(round_accuracy_run, 1) - 1
    recent = before[len(before) - needed :] if needed else []
    return len(recent) == needed and all(f.accuracy_m == acc for f in recent)
