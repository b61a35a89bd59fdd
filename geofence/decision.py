"""The decision for one GPS fix against a project's fences.

Rules, in order (first match decides):

1. lon/lat not finite, out of ±180/±90, (0, 0) or outside the China box
   (lon 73.5–135.1, lat 3.8–53.6) → reject ``invalid_coordinates`` (a fix that
   only lies in China once lon and lat are swapped also gets flag ``swapped_lat_lon``);
2. accuracy NaN or negative → reject ``invalid_accuracy``;
3. no fence → reject ``no_fence``;
4. accuracy > ``max_accuracy_m`` → reject ``low_gps_accuracy``;
5. inside (or on the edge of) any fence → accept;
6. outside, but within min(accuracy, ``edge_margin_m``) of the nearest fence edge
   → accept with flag ``near_edge``;
7. otherwise → reject ``outside_fence``.

``distance_m`` and ``fence_id`` are filled in whenever the fence check ran or could
run (rules 4–7): the containing fence (first in the given order) or the nearest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from geofence.coords import CHINA_LAT_MAX, CHINA_LAT_MIN, CHINA_LON_MAX, CHINA_LON_MIN, in_china
from geofence.fence import Fence

# Chinese labels of every reason, flag and spoofing-signal code.
REASON_ZH: dict[str, str] = {
    "accepted": "通过",
    "outside_fence": "不在电子围栏内",
    "low_gps_accuracy": "定位精度不足",
    "invalid_coordinates": "定位坐标无效",
    "invalid_accuracy": "定位精度数据无效",
    "no_fence": "项目未设置电子围栏",
    "near_edge": "位于电子围栏边缘",
    "swapped_lat_lon": "经纬度可能颠倒",
    "clock_skew": "设备时间与服务器时间不一致",
    "impossible_speed": "两次打卡间移动速度异常",
    "repeated_coordinates": "坐标与以前完全相同",
    "suspicious_accuracy": "定位精度数值可疑",
}

REASON_EN: dict[str, str] = {
    "accepted": "Accepted",
    "outside_fence": "Outside the geofence",
    "low_gps_accuracy": "GPS accuracy too low",
    "invalid_coordinates": "Invalid coordinates",
    "invalid_accuracy": "Invalid accuracy value",
    "no_fence": "No geofence configured",
    "near_edge": "At the geofence edge",
    "swapped_lat_lon": "Latitude and longitude may be swapped",
    "clock_skew": "Device clock differs from server clock",
    "impossible_speed": "Impossible travel speed between punches",
    "repeated_coordinates": "Coordinates exactly repeat an earlier fix",
    "suspicious_accuracy": "Suspicious accuracy value",
}


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    reasons: tuple[str, ...]
    flags: tuple[str, ...]
    distance_m: float | None
    fence_id: str | None
    message_zh: str
    message_en: str

    @property
    def code(self) -> str:
        """One code for the outcome: ``accepted``, ``near_edge`` or the first reason."""
        if self.accepted:
            return "near_edge" if "near_edge" in self.flags else "accepted"
        return self.reasons[0]


def format_metres_zh(metres: float) -> str:
    if metres >= 1000.0:
        return f"{metres / 1000.0:.1f} 公里"
    if metres < 1.0:
        return "不足 1 米"
    return f"{metres:.0f} 米"


def format_metres_en(metres: float) -> str:
    if metres >= 1000.0:
        return f"{metres / 1000.0:.1f} km"
    if metres < 1.0:
        return "less than 1 m"
    return f"{metres:.0f} m"


def _reject(reason: str, zh: str, en: str, *, flags: tuple[str, ...] = (), **kw: object) -> Decision:
    return Decision(
        accepted=False,
        reasons=(reason,),
        flags=flags,
        distance_m=kw.get("distance_m"),  # type: ignore[arg-type]
        fence_id=kw.get("fence_id"),  # type: ignore[arg-type]
        message_zh=zh,
        message_en=en,
    )


def decide(
    fences: Sequence[Fence],
    lon: float,
    lat: float,
    accuracy_m: float,
    *,
    max_accuracy_m: float,
    edge_margin_m: float,
) -> Decision:
    """Judge one WGS-84 fix (lon, lat, accuracy in metres) against ``fences``."""
    # Comparisons with NaN are False, so NaN lands here too; (0, 0) is outside the box.
    if not (CHINA_LON_MIN <= lon <= CHINA_LON_MAX and CHINA_LAT_MIN <= lat <= CHINA_LAT_MAX):
        swapped = (
            math.isfinite(lon) and math.isfinite(lat) and in_china(lat, lon)  # lat given as lon
        )
        return _reject(
            "invalid_coordinates",
            "定位坐标无效" + ("（经纬度可能颠倒）" if swapped else ""),
            "Invalid coordinates" + (" (latitude and longitude look swapped)" if swapped else ""),
            flags=("swapped_lat_lon",) if swapped else (),
        )
    if not accuracy_m >= 0.0:  # NaN or negative
        return _reject("invalid_accuracy", "定位精度数据无效", "Invalid accuracy value")
    if not fences:
        return _reject("no_fence", "项目未设置电子围栏", "No geofence is configured for this project")

    best_d = math.inf
    best_id: str | None = None
    for fence in fences:
        d = fence._prepared.distance(lon, lat)
        if d < best_d:
            best_d = d
            best_id = fence.id
            if d == 0.0:
                break

    if accuracy_m > max_accuracy_m:
        return _reject(
            "low_gps_accuracy",
            f"定位精度 {accuracy_m:.0f} 米，超过 {max_accuracy_m:.0f} 米的限制",
            f"GPS accuracy {accuracy_m:.0f} m exceeds the {max_accuracy_m:.0f} m limit",
            distance_m=best_d,
            fence_id=best_id,
        )
    if best_d == 0.0:
        return Decision(True, (), (), 0.0, best_id, "在电子围栏内", "Inside the geofence")
    if best_d <= min(accuracy_m, edge_margin_m):
        return Decision(
            True,
            (),
            ("near_edge",),
            best_d,
            best_id,
            f"位于电子围栏边缘（距离 {format_metres_zh(best_d)}，定位精度 {accuracy_m:.0f} 米），已通过，需复核",
            f"At the geofence edge ({format_metres_en(best_d)} outside, accuracy {accuracy_m:.0f} m); "
            "accepted, flagged for review",
        )
    return _reject(
        "outside_fence",
        f"不在电子围栏内，距离 {format_metres_zh(best_d)}",
        f"Outside the geofence, {format_metres_en(best_d)} away",
        distance_m=best_d,
        fence_id=best_id,
    )
