"""One phone fix judged against the fences active at its capture time (+ spoofing flags)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import geofence
from backend.attendance.tables import Punch
from backend.fences.services.common import _aware, _check_crs
from backend.fences.services.versions import fences_at
from backend.rules import Rules
from backend.vocabulary import Source


@dataclass(frozen=True, slots=True)
class FixJudgement:
    reasons: tuple[str, ...]
    flags: tuple[str, ...]
    lon: float  # WGS-84
    lat: float
    fence_id: int | None = None
    distance_m: float | None = None
    message_zh: str = ""
    # Added by the fence store (defaults keep the placeholder's shape).
    fence_version: int | None = None
    code: str = ""  # accepted | near_edge | the first reason
    message_en: str = ""
    fences_checked: int = 0


async def _previous_fixes(person_id: int, at: datetime, rules: Rules) -> list[geofence.Fix]:
    """The person's mobile punches with a position near ``at``: the last ``spoof_history_fixes`` before
    it and the first two after it (a fix that arrives late from the offline outbox), within
    ``spoof_history_hours``."""
    span = timedelta(hours=rules.spoof_history_hours)
    base = (Punch.person == person_id) & (Punch.source == Source.mobile) & Punch.lon.is_not_null() & \
        Punch.lat.is_not_null() & Punch.accuracy_m.is_not_null()
    cols = (Punch.lon, Punch.lat, Punch.accuracy_m, Punch.captured_at)
    before = await Punch.select(*cols).where(
        base & (Punch.captured_at >= at - span) & (Punch.captured_at <= at)
    ).order_by(Punch.captured_at, ascending=False).limit(max(rules.spoof_history_fixes, 0))
    after = await Punch.select(*cols).where(
        base & (Punch.captured_at > at) & (Punch.captured_at <= at + span)
    ).order_by(Punch.captured_at).limit(2)
    fixes = []
    for r in [*before, *after]:
        lon, lat, acc = float(r["lon"]), float(r["lat"]), float(r["accuracy_m"])
        if geofence.in_china(lon, lat) and math.isfinite(acc) and acc >= 0:
            fixes.append(geofence.Fix(lon, lat, acc, _aware(r["captured_at"])))  # type: ignore[arg-type]
    return fixes


async def judge_fix(project_id: int, lon: float, lat: float, accuracy_m: float, captured_at: datetime, *,
                    rules: Rules, coord_system: str = "wgs84", person_id: int | None = None,
                    device_sent_at: datetime | None = None, server_now: datetime | None = None) -> FixJudgement:
    """Judge one phone fix against the project's fences active at ``captured_at``.

    ``coord_system="gcj02"`` (Amap SDK positions) is converted to WGS-84 first; the returned lon/lat
    are WGS-84.  Reasons (rejections) and flags (review) are codes of ``geofence.REASON_ZH``; with a
    ``person_id`` the spoofing signals over the person's recent mobile punches are added as flags.
    ``device_sent_at`` (the phone's clock when it sent the request) lets the clock-skew signal tell a
    wrong device clock from an upload that waited in the offline outbox; without it only a clock that
    runs ahead of the server is flagged (a late upload is ``late_upload``, added by the attendance path).
    """
    _check_crs(coord_system, "coord_system")
    captured = _aware(captured_at).astimezone(UTC)  # type: ignore[union-attr]
    lon, lat, accuracy_m = float(lon), float(lat), float(accuracy_m)
    if coord_system == "gcj02" and math.isfinite(lon) and math.isfinite(lat):
        lon, lat = geofence.gcj02_to_wgs84(lon, lat)
    versions, fences = await fences_at(project_id, captured)
    d = geofence.decide(fences, lon, lat, accuracy_m, max_accuracy_m=rules.gps_max_accuracy_m,
                        edge_margin_m=rules.fence_edge_margin_m)
    flags = list(d.flags)
    if person_id is not None and "invalid_coordinates" not in d.reasons and "invalid_accuracy" not in d.reasons:
        now = _aware(server_now).astimezone(UTC) if server_now else datetime.now(UTC)  # type: ignore[union-attr]
        sent = _aware(device_sent_at) if device_sent_at is not None else None  # geofence.clock_skewed decides
        fix = geofence.Fix(lon, lat, accuracy_m, captured)
        previous = await _previous_fixes(person_id, captured, rules)
        flags.extend(geofence.spoof_signals(
            fix, previous, now, clock_skew_max_s=rules.clock_skew_max_s, max_speed_kmh=rules.max_travel_speed_kmh,
            device_sent_at=sent,
        ))
    fence_id = int(d.fence_id) if d.fence_id is not None else None
    version = next((v.version for v in versions if v.fence_id == fence_id), None)
    return FixJudgement(
        reasons=d.reasons, flags=tuple(dict.fromkeys(flags)), lon=lon, lat=lat, fence_id=fence_id,
        distance_m=None if d.distance_m is None else round(float(d.distance_m), 2), message_zh=d.message_zh,
        fence_version=version, code=d.code, message_en=d.message_en, fences_checked=len(fences),
    )


