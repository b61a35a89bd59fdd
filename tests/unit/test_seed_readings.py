"""Seed readings (issue 14): the regulatory numbers of ``backend.rules`` checked against the seed text.

Written from the seeds alone (``/work/shared/seeds/*.txt``; clause quotes and worked examples in
docs/seed-readings.md), not from the implementation.  Every test names the seed and clause it reads.
Where the seed leaves a point open, the test accepts every reasonable reading and says so; where the code
disagrees with the most faithful reading, the test is kept and marked ``xfail(strict=True)``.

Only ``backend.rules`` is imported: it is the one pure rule module whose interface is fixed.
"""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction
from typing import Any

import pytest

from backend import rules as rules_module
from backend.rules import DEFAULT_RULES, Rules

# Two readings of "kb" in seed 001 附件3 (848 "不能超过 50kb", 852 "≤30kb"): 1 kb = 1,000 or 1,024 bytes.
KB_READINGS = (1000, 1024)


def _field(rules: Rules, name: str) -> Any:
    """A field of ``rules``, or skip the test when rules.py does not hold that number (any more)."""
    if not hasattr(rules, name):
        pytest.skip(f"backend/rules.py holds no field {name!r} (the seed number is not applied in code yet)")
    return getattr(rules, name)


# --- Numbers of the seeds ------------------------------------------------------------------------------


def test_manager_valid_days_ratio_is_80_percent_seed000_s5():
    # seed 000 §五: 每月上传的有效考勤天数不得少于本月施工时间的 80%
    assert Fraction(str(DEFAULT_RULES.manager_valid_days_ratio)) == Fraction(4, 5)


def test_manager_composite_on_duty_ratio_is_60_percent_seed000_s5():
    # seed 000 §五: 综合到岗率不得低于 60%
    assert Fraction(str(DEFAULT_RULES.manager_composite_on_duty_ratio)) == Fraction(3, 5)


def test_red_warning_after_5_days_seed000_s3():
    # seed 000 §三: 予以黄灯预警，5日内不能整改到位的，将转为红灯预警
    assert DEFAULT_RULES.warning_red_after_days == 5


def test_mobile_upload_latency_limit_30_s_seed000_annex3():
    # seed 000 附件3 §三.4 (实名制移动考勤设备): 考勤记录及识别实时照片可远程上传，上传延时不超过 30 秒钟
    assert DEFAULT_RULES.mobile_max_latency_s == 30


def test_gate_upload_latency_limit_5_s_seed002_annex1():
    # seed 002 附件1 §二(17) and §三(12): 考勤数据远程上传，上传延时不超过5秒钟
    assert DEFAULT_RULES.gate_max_latency_s == 5


def test_device_outage_limit_2_days_seed001_s6_18():
    # seed 001 §六(十八): 因设备故障导致考勤中止的时间不得超过2天
    assert DEFAULT_RULES.device_outage_max_days == 2


def test_manager_counting_offset_10_days_from_planned_start_seed004_s4_1():
    # seed 004 §四(一): 工程项目施工报建开工日期（报建系统上项目的拟开工日期）起10天后开始对施工现场管理人员进行考勤管理
    assert DEFAULT_RULES.manager_attendance_start_offset_days == 10


def test_scope_thresholds_5000_m2_and_10_million_yuan_seed004_s2_1():
    # seed 004 §二(一): 房屋建筑工程建筑面积5000平方米以上（含本数），市政设施工程造价1000万元以上（含本数）
    assert DEFAULT_RULES.scope_min_floor_area_m2 == 5_000
    assert DEFAULT_RULES.scope_min_contract_value_yuan == 10_000_000  # 1000万元 = 10,000,000 元


def test_terminal_local_storage_at_least_60_days_seed002_annex1():
    # seed 002 附件1 §二(18), §三(10): 考勤数据本地存储60天以上
    assert _field(DEFAULT_RULES, "terminal_storage_min_days") == 60


def test_gate_punch_photo_limit_50_kb_seed001_848():
    # seed 001 附件3 §1.2.4 上传考勤信息[848]: 照片信息 …尽量保持 10kb, 不能超过 50kb
    assert DEFAULT_RULES.gate_punch_photo_max_bytes in {50 * kb for kb in KB_READINGS}


def test_gate_id_photo_limit_30_kb_seed001_852():
    # seed 001 附件3 §1.2.6 上传采集信息[852]: 身份证照片 ≤30kb
    assert DEFAULT_RULES.gate_id_photo_max_bytes in {30 * kb for kb in KB_READINGS}


def test_photo_limits_use_one_kb_unit_seed001():
    # Whichever kb is meant, 848 and 852 are one document and use the same unit.
    assert DEFAULT_RULES.gate_punch_photo_max_bytes * 3 == DEFAULT_RULES.gate_id_photo_max_bytes * 5


def test_photo_of_exactly_50000_bytes_is_within_either_reading_seed001_848():
    # "不能超过 50kb": 50,000 bytes is not over 50 kb under either unit.
    assert 50_000 <= DEFAULT_RULES.gate_punch_photo_max_bytes
    assert 30_000 <= DEFAULT_RULES.gate_id_photo_max_bytes


def test_retention_2_years_after_completion_seed002_seed004():
    # seed 002 §三(二)2: 存储信息时长为工程竣工后2年; seed 004 §三(五): 工程竣工验收后保存2年以上备查
    assert _field(DEFAULT_RULES, "retention_years_after_completion") == 2


def test_device_repair_within_24_hours_seed002_s5_4():
    # seed 002 §五.4: 在接到报障后24小时内修复完成
    assert _field(DEFAULT_RULES, "repair_max_hours") == 24


def test_gate_channel_area_30000_m2_and_municipal_one_channel_seed002_s3_1():
    # seed 002 §三(一)2: 建筑面积小于3万平方安装1条通道…市政项目应基本满足一条考勤通道
    assert DEFAULT_RULES.gate_channel_area_m2 == 30_000
    assert DEFAULT_RULES.municipal_min_channels == 1


def test_face_capture_numbers_seed002_annex1_1_2():
    # seed 002 附件1 §一.2 人脸采集要求: 640（高）*480（宽）像素左右; 两眼之间的距离不小于64像素;
    # 脸部大小介于150*150与250*250之间; 旋转角度不超过15度; 人脸与边界距离大于30像素.
    # (The seed says 640 high × 480 wide for the face image and 640 wide × 480 high for iris; either
    # orientation of the 640×480 frame is accepted here.)
    r = DEFAULT_RULES
    assert {r.face_image_width, r.face_image_height} == {640, 480}
    assert r.face_min_eye_distance_px == 64
    assert (r.face_min_size_px, r.face_max_size_px) == (150, 250)
    assert r.face_max_roll_deg == 15
    assert r.face_min_border_px == 30


def test_false_accept_rate_not_above_001_percent_seed001_annex4():
    # seed 001 附件4 §3: 误识率不超过 0.01%  (seed 002 附件1 §二(10): 人脸比对误识率＜0.01%)
    assert _field(DEFAULT_RULES, "terminal_max_false_accept_rate") == pytest.approx(0.0001)


# --- Upload latency per source ---------------------------------------------------------------------------


def test_latency_limit_by_source_seed000_seed002():
    assert DEFAULT_RULES.max_latency_s("gate") == 5  # seed 002 附件1
    assert DEFAULT_RULES.max_latency_s("mobile") == 30  # seed 000 附件3 §三.4


def test_makeup_punch_has_no_upload_latency_limit_seed000_s6():
    # seed 000 §六: 补打考勤记录 is entered after the fact (暴雨、网络故障…) — an upload delay means nothing.
    assert DEFAULT_RULES.max_latency_s("makeup") is None


@pytest.mark.parametrize(("source", "latency", "late"), [
    ("mobile", 30.0, False),  # 不超过 30 秒: exactly 30 s is within
    ("mobile", 30.001, True),
    ("mobile", 0.0, False),
    ("gate", 5.0, False),  # 不超过 5 秒: exactly 5 s is within
    ("gate", 5.001, True),
    ("gate", 29.0, True),  # a gate record is held to the gate's 5 s, not the phone's 30 s
])
def test_latency_boundary_inclusive_seed000_seed002(source, latency, late):
    # "不超过 N 秒" = latency ≤ N is compliant.
    limit = DEFAULT_RULES.max_latency_s(source)
    assert limit is not None
    assert (latency > limit) is late


# --- Scope: seed 004 §二(一) (Zhongshan) ----------------------------------------------------------------


@pytest.mark.parametrize(("area", "expected"), [
    (5_000, True),  # 含本数
    (5_000.0, True),
    (4_999, False),
    (4_999.99, False),
    (5_000.01, True),
    (30_000, True),
])
def test_scope_building_by_floor_area_inclusive_seed004(area, expected):
    assert DEFAULT_RULES.in_scope("building", area, None) is expected


@pytest.mark.parametrize(("value", "expected"), [
    (10_000_000, True),  # 1000万元, 含本数
    (9_999_999, False),
    (9_999_999.99, False),
    (12_500_000, True),
])
def test_scope_municipal_by_contract_value_inclusive_seed004(value, expected):
    assert DEFAULT_RULES.in_scope("municipal", None, value) is expected


def test_scope_building_is_judged_by_area_not_cost_seed004():
    # "房屋建筑工程建筑面积5000平方米以上": a 4,000 m² building costing 2,000万 is outside the Zhongshan scope.
    assert DEFAULT_RULES.in_scope("building", 4_000, 20_000_000) is False
    assert DEFAULT_RULES.in_scope("building", 6_000, 1_000_000) is True


def test_scope_municipal_is_judged_by_cost_not_area_seed004():
    # "市政设施工程造价1000万元以上": a large but cheap municipal work (500万) is outside.
    assert DEFAULT_RULES.in_scope("municipal", 100_000, 5_000_000) is False
    assert DEFAULT_RULES.in_scope("municipal", 100, 10_000_000) is True


# --- Gate channels: seed 002 §三(一)2 (Changde) -----------------------------------------------------------
# "建筑面积小于3万平方安装1条通道（一进一出）；面积大于3万平方安装2条通道；以此类推面积每增加3万平方增加一条通道。
#  市政项目应基本满足一条考勤通道" — exactly 30,000 / 60,000 m² are not covered by the words (小于 / 大于).


@pytest.mark.parametrize(("area", "channels"), [
    (1_000, 1),
    (20_000, 1),
    (29_999, 1),  # 小于3万 → 1
    (30_001, 2),  # 大于3万 → 2
    (45_000, 2),
    (59_999, 2),
    (60_001, 3),  # 每增加3万平方增加一条
    (89_999, 3),
    (90_001, 4),
    (150_001, 6),
])
def test_channels_one_per_30000_m2_seed002(area, channels):
    assert DEFAULT_RULES.required_gate_channels("building", area) == channels


@pytest.mark.parametrize(("area", "readings"), [
    (30_000, {1, 2}),  # neither 小于 nor 大于 3万: either reading
    (60_000, {2, 3}),
    (90_000, {3, 4}),
])
def test_channels_at_exact_multiples_either_reading_seed002(area, readings):
    assert DEFAULT_RULES.required_gate_channels("building", area) in readings


def test_channels_exact_multiples_read_consistently_seed002():
    # Whatever is chosen at 30,000 m² is chosen at 60,000 and 90,000 too ("以此类推").
    r = DEFAULT_RULES
    at = [r.required_gate_channels("building", n * 30_000) - n for n in (1, 2, 3)]
    assert len(set(at)) == 1


@pytest.mark.parametrize("area", [None, 5_000, 45_000, 500_000])
def test_channels_municipal_one_seed002(area):
    # 市政项目应基本满足一条考勤通道 — one, whatever the area.
    assert DEFAULT_RULES.required_gate_channels("municipal", area) == 1


def test_channels_never_below_one_seed002():
    # "一般应安装在施工现场人员入口处": every building site has at least one channel.
    for area in (None, 0, 1, 100):
        assert DEFAULT_RULES.required_gate_channels("building", area) >= 1


# --- 80 % rule: worked examples (docs/seed-readings.md §3) --------------------------------------------------


def _min_valid_days(required_days: int, ratio: float) -> int:
    """Fewest whole valid days meeting "不得少于 required × ratio" — exact arithmetic, no rounding to nearest."""
    return math.ceil(Fraction(str(ratio)) * required_days)


@pytest.mark.parametrize(("required", "minimum"), [
    (31, 25),  # 24.8 → 25 (seed 001 §2.11.1: 25/31 = 80.65 %)
    (30, 24),  # exactly 24.0
    (25, 20),  # exactly 20.0
    (24, 20),  # 19.2 → 20 (rounding to nearest would wrongly allow 19 = 79.17 %)
    (22, 18),  # 17.6 → 18
    (17, 14),  # 13.6 → 14 (a partial month: counting starts on the 15th of a 31-day month)
    (5, 4),  # 4.0
    (1, 1),  # 0.8 → 1
])
def test_min_valid_days_for_80_percent_is_a_ceiling_seed000_s5(required, minimum):
    assert _min_valid_days(required, DEFAULT_RULES.manager_valid_days_ratio) == minimum


def test_float_product_does_not_move_the_80_percent_boundary_seed000_s5():
    # A comparison "valid >= ratio * required" done in floating point must give the exact verdict for every
    # month length and every partial month (1..31 required days).
    ratio = DEFAULT_RULES.manager_valid_days_ratio
    for required in range(1, 32):
        for valid in range(required + 1):
            exact = Fraction(valid) >= Fraction(str(ratio)) * required
            assert (valid >= ratio * required) is exact, (valid, required)


@pytest.mark.parametrize(("days", "rate_text"), [
    # seed 001 §2.11.1 管理人员考勤情况 (October 2022, 31 days): 天数总计 → 月考勤率
    (28, "90.32%"), (18, "58.06%"), (25, "80.65%"), (31, "100%"), (2, "6.45%"), (19, "61.29%"), (14, "45.16%"),
])
def test_seed001_monthly_rate_uses_31_calendar_days_for_october(days, rate_text):
    # The seed's own table divides by the month's calendar days (weekends and the 1–7 Oct holiday included):
    # evidence that 本月施工时间 counts every day of the month the project was under construction.
    rate = Fraction(days, 31) * 100
    shown = "100%" if rate == 100 else f"{float(rate):.2f}%"
    assert shown == rate_text
    meets = days >= _min_valid_days(31, DEFAULT_RULES.manager_valid_days_ratio)
    assert meets is (days >= 25)


def test_composite_rate_60_percent_worked_example_seed000_s5():
    # Six key posts, 25 required days each: 20, 25, 10, 25, 5, 0 valid days → 85 / 150 = 56.7 % < 60 %.
    ratio = Fraction(str(DEFAULT_RULES.manager_composite_on_duty_ratio))
    assert Fraction(20 + 25 + 10 + 25 + 5 + 0, 6 * 25) < ratio
    # 90 / 150 = 60 % exactly meets ("不得低于60%").
    assert Fraction(90, 150) >= ratio


# --- Managers' counting start: seed 004 §四(一) -------------------------------------------------------------


def test_manager_counting_starts_ten_days_after_planned_start_seed004():
    # 拟开工日期 2026-10-05; "起10天后开始…考勤管理": day 10 after the 5th is the 15th (X + 10).
    start = DEFAULT_RULES.manager_counting_start(date(2026, 10, 5), None)
    assert start in {date(2026, 10, 15), date(2026, 10, 16)}  # X+10, or X+11 if the period excludes day X


def test_manager_counting_start_civil_code_reading_seed004():
    # seed 004 §四(一) '拟开工日期起10天后' read with 民法典 §201 (开始的当日不计入): the 10 days are 6–15 Oct,
    # counting starts 16 Oct (docs/seed-readings.md §11; adopted, docs/rules.md "Counting days").
    assert DEFAULT_RULES.manager_counting_start(date(2026, 10, 5), None) == date(2026, 10, 16)


def test_manager_counting_uses_planned_not_actual_start_seed004():
    # "报建系统上项目的拟开工日期": the planned date, even when work really began later (or earlier).
    r = DEFAULT_RULES
    if r.manager_start_base != "planned_start":
        pytest.skip("DEFAULT_RULES is not the Zhongshan reading")
    late_actual = r.manager_counting_start(date(2026, 10, 5), date(2026, 11, 20))
    early_actual = r.manager_counting_start(date(2026, 10, 5), date(2026, 9, 1))
    assert late_actual == early_actual == r.manager_counting_start(date(2026, 10, 5), None)


def test_manager_counting_start_crosses_month_end_seed004():
    # 拟开工日期 25 Oct → counting from 4 Nov (X+10): no key-manager requirement in October at all.
    start = DEFAULT_RULES.manager_counting_start(date(2026, 10, 25), None)
    assert start is not None and start.month == 11


# --- Profiles per seed jurisdiction (if rules.py has them) --------------------------------------------------

PROFILE_NAMES = {
    "jiangxi": "000",  # 赣建建〔2022〕9号
    "jiangmen": "001",  # 江建函〔2022〕109号
    "changde": "002",  # 常德市住房和城乡建设局通知
    "zhongshan": "004",  # 中山市住房和城乡建设局通知
}


def _profile(name: str) -> Rules:
    profiles = getattr(rules_module, "PROFILES", None)
    if profiles is None:
        pytest.skip("backend.rules has no PROFILES yet")
    if name not in profiles:
        pytest.skip(f"no profile {name!r} in PROFILES ({sorted(profiles)})")
    value = profiles[name]
    if isinstance(value, Rules):
        return value
    if isinstance(value, dict):
        return Rules().with_overrides(value) if "profile" not in value else Rules(**value)
    pytest.skip(f"PROFILES[{name!r}] is a {type(value).__name__}, not Rules or a dict")


def test_jiangxi_profile_numbers_seed000():
    p = _profile("jiangxi")
    assert Fraction(str(p.manager_valid_days_ratio)) == Fraction(4, 5)  # §五
    assert Fraction(str(p.manager_composite_on_duty_ratio)) == Fraction(3, 5)  # §五
    assert p.warning_red_after_days == 5  # §三
    assert p.mobile_max_latency_s == 30  # 附件3 §三.4


def test_jiangxi_profile_covers_every_project_seed000():
    # seed 000 §三 (2020年1月1日后取得施工许可证的项目将全部导入), §四 (全省房屋建筑和市政基础设施工程建设项目须…):
    # no size threshold.
    p = _profile("jiangxi")
    assert p.in_scope("building", 800, None) is True
    assert p.in_scope("municipal", None, 500_000) is True


def test_jiangxi_profile_has_no_ten_day_grace_seed000_s5():
    # seed 000 §五 counts 本月施工时间 from the first day under construction, with no 10-day grace
    # (docs/seed-readings.md §11 item 3; the jiangxi profile counts from the actual start).
    p = _profile("jiangxi")
    assert p.manager_counting_start(date(2026, 10, 1), date(2026, 10, 1)) == date(2026, 10, 1)


def test_jiangmen_profile_numbers_seed001():
    p = _profile("jiangmen")
    assert p.device_outage_max_days == 2  # §六(十八)
    assert p.gate_punch_photo_max_bytes in {50 * kb for kb in KB_READINGS}  # 附件3 848
    assert p.gate_id_photo_max_bytes in {30 * kb for kb in KB_READINGS}  # 附件3 852


def test_jiangmen_profile_covers_every_permitted_project_seed001():
    # seed 001 §二(一): 凡在江门市区域内经报建审批施工的房屋建筑和市政工程项目，必须实施用工实名制管理制度.
    p = _profile("jiangmen")
    assert p.in_scope("building", 800, None) is True
    assert p.in_scope("municipal", None, 500_000) is True


def test_jiangmen_profile_counts_from_actual_start_seed001():
    # seed 001 §二(一): 项目实名制应用开始时间为项目实际开工时间 — no 10-day grace in Jiangmen's text.
    p = _profile("jiangmen")
    assert p.manager_counting_start(date(2026, 10, 5), date(2026, 10, 12)) == date(2026, 10, 12)


def test_changde_profile_numbers_seed002():
    p = _profile("changde")
    assert p.gate_max_latency_s == 5  # 附件1 §二(17), §三(12)
    assert _field(p, "terminal_storage_min_days") == 60  # 附件1 §二(18), §三(10)
    assert p.required_gate_channels("building", 45_000) == 2  # §三(一)2
    assert p.required_gate_channels("municipal", 45_000) == 1


def test_changde_profile_covers_every_project_seed002():
    # seed 002 §二: 凡新开工、主体未验收的房建和市政项目均应安装实名制考勤系统 — no size threshold.
    p = _profile("changde")
    assert p.in_scope("building", 800, None) is True
    assert p.in_scope("municipal", None, 500_000) is True


def test_zhongshan_profile_numbers_seed004():
    p = _profile("zhongshan")
    assert p.scope_min_floor_area_m2 == 5_000  # §二(一)
    assert p.scope_min_contract_value_yuan == 10_000_000
    assert p.in_scope("building", 5_000, None) is True
    assert p.in_scope("building", 4_999, None) is False
    assert p.in_scope("municipal", None, 10_000_000) is True
    assert p.in_scope("municipal", None, 9_999_999) is False
    assert p.manager_attendance_start_offset_days == 10  # §四(一)
    assert p.manager_counting_start(date(2026, 10, 5), date(2026, 11, 1)) in {date(2026, 10, 15), date(2026, 10, 16)}
