"""Every regulatory number of the seeds, in one place, overridable per district.

Each field names the seed file (``../shared/seeds/NNN_*.txt``) and the clause it comes
from.  Numbers that are our own engineering choices (not regulation) say so.

A district (住建主管部门) may override any field: ``District.rule_overrides`` holds a JSON
object such as ``{"manager_valid_days_ratio": 0.75}``; ``Rules.with_overrides`` checks
names and types and refuses unknown keys with a clear message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from backend.errors import invalid
from backend.vocabulary import Source


@dataclass(frozen=True, slots=True)
class Rules:
    # --- Key managers' attendance -------------------------------------------------
    # seed 000 §五: 项目负责人、技术负责人、质量员、安全员、施工员、劳务员每月上传的有效考勤天数
    # 不得少于本月施工时间的 80%，综合到岗率不得低于 60%.
    manager_valid_days_ratio: float = 0.80
    manager_composite_on_duty_ratio: float = 0.60
    # seed 004 §四(一): 拟开工日期起 10 天后开始对施工现场管理人员进行考勤管理.
    manager_attendance_start_offset_days: int = 10
    # A "valid attendance day" (有效考勤天数) is not defined numerically in the seeds; seed 001
    # §2.11.1 marks a day with √ when the person has a record.  We count a day valid when it has
    # at least this many accepted punches (1 = any accepted punch that day).
    valid_day_min_punches: int = 1

    # --- Warnings -----------------------------------------------------------------
    # seed 000 §三: 缺少其中一项……予以黄灯预警，5 日内不能整改到位的，将转为红灯预警.
    warning_red_after_days: int = 5

    # --- Upload latency (capture → server) ----------------------------------------
    # seed 000 附件3 §三.4 (移动考勤设备): 上传延时不超过 30 秒钟.
    mobile_max_latency_s: float = 30.0
    # seed 002 附件1 §二(17) and §三(12) (考勤设备): 上传延时不超过 5 秒钟.
    gate_max_latency_s: float = 5.0

    # --- Devices ------------------------------------------------------------------
    # seed 001 §六(十八): 因设备故障导致考勤中止的时间不得超过 2 天.
    device_outage_max_days: int = 2
    # seed 002 附件1 §二(18), §三(10): 考勤数据本地存储 60 天以上.
    terminal_storage_min_days: int = 60
    # seed 002 §五.4: 接到报障后 24 小时内修复完成.
    device_repair_max_hours: int = 24
    # seed 001 附件3 §1.2.4 (848): 考勤照片不能超过 50kb.
    gate_punch_photo_max_bytes: int = 50 * 1024
    # seed 001 附件3 §1.2.6 (852): 身份证照片 ≤ 30kb.
    gate_id_photo_max_bytes: int = 30 * 1024
    # seed 001 附件4 §3 / seed 002 附件1 §二(10): 误识率不超过 0.01% (certified terminals).
    terminal_max_false_accept_rate: float = 0.0001

    # --- Gate channels ------------------------------------------------------------
    # seed 002 §三(一)2: 建筑面积小于 3 万平方安装 1 条通道……每增加 3 万平方增加一条通道.
    gate_channel_area_m2: float = 30_000.0
    # seed 002 §三(一)2: 市政项目应基本满足一条考勤通道.
    municipal_min_channels: int = 1

    # --- Scope of the regulation ----------------------------------------------------
    # seed 004 §二(一): 房屋建筑工程建筑面积 5000 平方米以上（含本数），市政设施工程造价 1000 万元以上（含本数）.
    scope_min_floor_area_m2: float = 5_000.0
    scope_min_contract_value_yuan: float = 10_000_000.0

    # --- Data retention -------------------------------------------------------------
    # seed 002 §三(二)2: 存储信息时长为工程竣工后 2 年; seed 004 §三(五): 竣工验收后保存 2 年以上.
    retention_years_after_completion: int = 2

    # --- Face capture quality (seed 002 附件1 §一.2) ----------------------------------
    # 640*480 左右; 两眼之间的距离不小于 64 像素; 脸部大小介于 150*150 与 250*250 之间 (enrolment);
    # 旋转角度不超过 15 度; 人脸与边界距离大于 30 像素.
    face_image_width: int = 640
    face_image_height: int = 480
    face_min_eye_distance_px: int = 64
    face_min_size_px: int = 150
    face_max_size_px: int = 250
    face_max_roll_deg: float = 15.0
    face_min_border_px: int = 30
    # 正面人脸 / 旋转角度不超过 15 度 read as head yaw as well as roll (enrolment).
    face_max_yaw_deg: float = 15.0
    # Punch and liveness frames from phones are not certified capture terminals: our choice is half the
    # enrolment pixel sizes of seed 002 (eyes ≥ 32 px, face ≥ 75 px, border > 15 px) and no yaw limit.
    face_verify_min_eye_distance_px: int = 32
    face_verify_min_size_px: int = 75
    face_verify_min_border_px: int = 15
    # Our choice (docs/face.md): dlib embedding distance at or below which two faces match.
    face_match_tolerance: float = 0.50
    # Our choice: 1:N duplicate-face search flags a person when another template is this close.
    face_duplicate_tolerance: float = 0.45
    # Our choice: a frame whose mean luminance is below this is "too dark"; a face much darker
    # than the background is "backlit" (seed 002 §一.2 面部光照均匀).
    face_min_brightness: float = 40.0
    face_backlight_ratio: float = 0.55
    face_min_sharpness: float = 30.0

    # --- Liveness challenge (issue "Phone clock-in"; seed 000 附件3 §三.3 具有活体检测功能) ---
    liveness_challenge_ttl_s: float = 30.0
    liveness_action_count: int = 2
    liveness_max_frames: int = 16

    # --- Phone uploads (our limits) --------------------------------------------------
    mobile_max_upload_bytes: int = 6 * 1024 * 1024
    mobile_max_frame_bytes: int = 400 * 1024
    max_image_pixels: int = 4096 * 4096

    # --- Electronic fence (seed 001 §五(十一), seed 002 §三(二)1, seed 004 §四(一)) ------
    # Our choice: fixes with a worse reported accuracy are refused.
    gps_max_accuracy_m: float = 100.0
    # Our choice: a fix outside the fence but within min(accuracy, this margin) of its edge is
    # accepted with the flag near_edge.
    fence_edge_margin_m: float = 50.0
    # Our choices for spoofing signals (flags for review, not rejections).
    clock_skew_max_s: float = 120.0
    max_travel_speed_kmh: float = 120.0

    # --- People ---------------------------------------------------------------------
    # Labour law (劳动法 §15: no employment under 16); upper limits are common local practice
    # (e.g. 男 60 / 女 50 for site work in several provinces) — not in the seeds; set per district.
    worker_min_age: int = 16
    worker_max_age_male: int = 60
    worker_max_age_female: int = 55

    # --- Crew registration on the foreman's tablet (issue "crew registration") --------------
    # seed 004 §三(四)(五): 用工前采集身份证、人脸; 退场时签署退场确认书; seed 004 §一.1 劳务合同.
    # Our limits (not regulation): one uploaded document (ID-card photo, labour contract PDF/photo,
    # signed exit confirmation), and the .xlsx bulk import (file size and rows per file).
    crew_document_max_bytes: int = 5 * 1024 * 1024
    crew_import_max_bytes: int = 5 * 1024 * 1024
    crew_import_max_rows: int = 10_000
    # Our limits against hostile workbooks (security issue item 3: a 1 MB file holding a 1 GB shared string,
    # a 183 KB file of 20 M empty rows).  The template's workbook unpacks to well under 1 MB per 1,000 rows,
    # so 20 MB unpacked (total; also per member) is ample for crew_import_max_rows; a member that compresses
    # more than 100× (and is over 1 MB) is refused as a zip bomb; the sheet may not reach past row
    # crew_import_max_sheet_rows (blank rows included) nor column crew_import_max_columns (the template has 16);
    # the parse gets crew_import_max_seconds of wall time in a worker process (backend.bounded).
    crew_import_max_unpacked_bytes: int = 20 * 1024 * 1024
    upload_max_compression_ratio: float = 100.0
    upload_max_zip_members: int = 1000
    crew_import_max_sheet_rows: int = 20_000
    crew_import_max_columns: int = 64
    crew_import_max_seconds: float = 20.0

    # --- Supervision: rollups and warnings (issue "supervision"; docs/supervision.md) --------
    # Our reading of seed 000 §五 "每月上传的有效考勤天数" with 附件3 §三.4 (上传延时不超过 30 秒): a record that
    # arrived late is still an uploaded record (kept and flagged, DESIGN §1), so by default it counts towards
    # a valid day; a district that wants only timely records to count sets this to false.
    late_upload_counts_as_valid: bool = True
    # seed 000 §三 (考勤数据…实时上传; 缺少其中一项…予以黄灯预警): a project under construction (在建) with no
    # attendance record for this many consecutive construction days lacks attendance data → yellow warning.
    # Our choice of 1 day (the statistics are daily, "统计截止前一日", seed 001 §2.11.3).
    no_attendance_warning_days: int = 1

    # --- Electronic fence store (issue "electronic fence"; seed 001 §五(十一) 可采用电子围栏等方式实施考勤管理,
    # seed 004 §四(一) 移动设备（需支持……地理位置定位）) — our limits, not regulation ---------------------------
    # Largest GeoJSON / KML / KMZ file the fence import accepts.
    fence_import_max_bytes: int = 2 * 1024 * 1024
    # Against hostile fence files (security issue item 4: a 77 KB KMZ of 96 k placemarks froze the server for
    # 70 s): a KMZ's .kml may unpack to at most this much; a file may hold at most this many fences, this many
    # vertices per fence and in total (a site boundary has tens to a few thousand); the parse gets this much
    # wall time in a worker process (backend.bounded).
    fence_import_max_unpacked_bytes: int = 8 * 1024 * 1024
    fence_import_max_features: int = 500
    fence_import_max_feature_vertices: int = 20_000
    fence_import_max_vertices: int = 100_000
    fence_import_max_seconds: float = 20.0
    # Longest date range (days) one re-judging report (fences/rejudge) covers.
    fence_rejudge_max_days: int = 366
    # Spoofing signals compare a fix with the person's mobile punches within this many hours of it,
    # at most this many before it (the nearest ones).
    spoof_history_hours: float = 24.0
    spoof_history_fixes: int = 10

    def with_overrides(self, overrides: dict[str, Any] | None) -> Rules:
        """Return a copy with a district's overrides applied, refusing unknown or ill-typed keys."""
        if not overrides:
            return self
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            f = known.get(key)
            if f is None:
                raise invalid(
                    f"rule_overrides.{key}",
                    f"未知的规则项：{key}",
                    f"Unknown rule: {key}",
                )
            current = getattr(self, key)
            if isinstance(current, bool) or isinstance(value, bool):
                ok = isinstance(value, bool) and isinstance(current, bool)
            elif isinstance(current, int) and not isinstance(current, bool):
                ok = isinstance(value, int)
            else:
                ok = isinstance(value, int | float)
            if not ok or (isinstance(value, int | float) and value < 0):
                raise invalid(
                    f"rule_overrides.{key}",
                    f"规则项 {key} 的取值无效：{value!r}",
                    f"Invalid value for rule {key}: {value!r}",
                )
            changes[key] = float(value) if isinstance(current, float) else value
        for key in POSITIVE_RULES & changes.keys():
            if changes[key] <= 0:
                raise invalid(
                    f"rule_overrides.{key}",
                    f"规则项 {key} 必须大于 0",
                    f"Rule {key} must be greater than 0",
                )
        for ratio in ("manager_valid_days_ratio", "manager_composite_on_duty_ratio"):
            if ratio in changes and changes[ratio] > 1:
                raise invalid(
                    f"rule_overrides.{ratio}",
                    f"比例必须在 0 到 1 之间：{ratio}",
                    f"A ratio must lie between 0 and 1: {ratio}",
                )
        return dataclasses.replace(self, **changes)

    def max_latency_s(self, source: str) -> float | None:
        """Upload latency limit for a punch source (``gate`` | ``mobile``); none for make-ups."""
        return {Source.gate: self.gate_max_latency_s, Source.mobile: self.mobile_max_latency_s}.get(source)

    def required_gate_channels(self, category: str, floor_area_m2: float | None) -> int:
        """Channels a site needs (seed 002 §三(一)2): 1 per started 30,000 m² of floor area.

        Under 30,000 m² → 1; "面积大于 3 万平方安装 2 条通道；以此类推面积每增加 3 万平方增加一条通道".
        Exactly 30,000 m² is read as "not more than 30,000" → 1.  Municipal works: 1.
        """
        if category == "municipal" or not floor_area_m2 or floor_area_m2 <= 0:
            return self.municipal_min_channels
        whole, rest = divmod(floor_area_m2, self.gate_channel_area_m2)
        return max(1, int(whole) + (1 if rest > 0 else 0))

    def in_scope(self, category: str, floor_area_m2: float | None, contract_value_yuan: float | None) -> bool:
        """Whether a project falls under the real-name rules by size (seed 004 §二(一))."""
        if category == "municipal":
            return (contract_value_yuan or 0) >= self.scope_min_contract_value_yuan
        return (floor_area_m2 or 0) >= self.scope_min_floor_area_m2


# Rules that are divisors, sizes or time windows: 0 would break arithmetic or switch a check off silently.
POSITIVE_RULES = frozenset({
    "gate_channel_area_m2", "municipal_min_channels", "gate_punch_photo_max_bytes", "gate_id_photo_max_bytes",
    "face_image_width", "face_image_height", "face_match_tolerance", "face_duplicate_tolerance",
    "liveness_challenge_ttl_s", "liveness_action_count", "liveness_max_frames", "mobile_max_upload_bytes",
    "mobile_max_frame_bytes", "max_image_pixels", "gps_max_accuracy_m", "clock_skew_max_s",
    "max_travel_speed_kmh", "mobile_max_latency_s", "gate_max_latency_s", "device_outage_max_days",
    "warning_red_after_days", "valid_day_min_punches",
    # upload bounds (security issue items 3 and 4)
    "crew_import_max_unpacked_bytes", "upload_max_compression_ratio", "upload_max_zip_members",
    "crew_import_max_sheet_rows", "crew_import_max_columns", "crew_import_max_seconds",
    "fence_import_max_unpacked_bytes", "fence_import_max_features", "fence_import_max_feature_vertices",
    "fence_import_max_vertices", "fence_import_max_seconds",
})

DEFAULT_RULES = Rules()


def rule_names() -> list[str]:
    return [f.name for f in fields(Rules)]
