"""Seed readings for issue 20 (device upkeep, removal notices, data retention, gate channels).

Written from the seed text alone (``/work/shared/seeds/*.txt``) and the official holiday notices, NOT from the
implementation in backend/upkeep, backend/privacy or backend/onboarding: a wrong reading in the code shows up here
as a failing case.  Every case quotes the clause it comes from.  The readings, their ambiguities and the
alternatives are in docs/rules-issue20-readings.md.

Holiday data, by hand from 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号) and
国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号):

* 2025 — 元旦 1/1; 春节 1/28–2/4 (1/26 日、2/8 六 上班); 清明 4/4–4/6; 劳动节 5/1–5/5 (4/27 日 上班);
  端午 5/31–6/2; 国庆·中秋 10/1–10/8 (9/28 日、10/11 六 上班).
* 2026 — 元旦 1/1–1/3 (1/4 日 上班); 春节 2/15–2/23 (2/14 六、2/28 六 上班); 清明 4/4–4/6;
  劳动节 5/1–5/5 (5/9 六 上班); 端午 6/19–6/21; 中秋 9/25–9/27; 国庆 10/1–10/7 (9/20 日、10/10 六 上班).

The modules are imported lazily: a group of tests is skipped (with the reason) only when its module does not
exist; any other import error (a missing dependency such as chinese_calendar) fails loudly.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend import rules as rules_module

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _module(name: str) -> ModuleType:
    """Import ``name``; skip only when that module (or its package) does not exist yet."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            pytest.skip(f"{name} does not exist (issue 20 not implemented there yet): {exc}")
        raise


@pytest.fixture(scope="module")
def dl() -> ModuleType:
    return _module("backend.upkeep.deadlines")


@pytest.fixture(scope="module")
def retention() -> ModuleType:
    return _module("backend.privacy.retention")


@pytest.fixture(scope="module")
def calc() -> ModuleType:
    return _module("backend.onboarding.rules_calc")


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# --- The official holiday schedules (by hand from the State Council notices) ---------------------------------

HOLIDAY_BLOCKS = {
    2025: [
        (date(2025, 1, 1), date(2025, 1, 1)),  # 元旦
        (date(2025, 1, 28), date(2025, 2, 4)),  # 春节
        (date(2025, 4, 4), date(2025, 4, 6)),  # 清明节
        (date(2025, 5, 1), date(2025, 5, 5)),  # 劳动节
        (date(2025, 5, 31), date(2025, 6, 2)),  # 端午节
        (date(2025, 10, 1), date(2025, 10, 8)),  # 国庆节、中秋节 (8 days: 10/6 is 中秋)
    ],
    2026: [
        (date(2026, 1, 1), date(2026, 1, 3)),  # 元旦
        (date(2026, 2, 15), date(2026, 2, 23)),  # 春节
        (date(2026, 4, 4), date(2026, 4, 6)),  # 清明节
        (date(2026, 5, 1), date(2026, 5, 5)),  # 劳动节
        (date(2026, 6, 19), date(2026, 6, 21)),  # 端午节
        (date(2026, 9, 25), date(2026, 9, 27)),  # 中秋节
        (date(2026, 10, 1), date(2026, 10, 7)),  # 国庆节
    ],
}
# 调休上班 (adjusted working days on a weekend).
MAKEUP_DAYS = {
    2025: [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)],
    2026: [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
           date(2026, 10, 10)],
}
HOLIDAYS = [day for year in HOLIDAY_BLOCKS for first, last in HOLIDAY_BLOCKS[year] for day in _days(first, last)]
MAKEUPS = [day for year in MAKEUP_DAYS for day in MAKEUP_DAYS[year]]


def _hand_working_day(day: date) -> bool:
    """Working day by the notices above: Mon–Fri unless a holiday, plus the make-up weekend days."""
    if day in MAKEUPS:
        return True
    return day.weekday() < 5 and day not in HOLIDAYS


# --- seed 002 §四.5: working days ------------------------------------------------------------------------------
# "确实需要拆除或移动的，施工单位应提前3个工作日报知项目所在地质安监机构……完成设备拆除或移动后，设备供应服务商应在
#  1个工作日内报局信息中心（质安监机构）进行合规性验收。"  工作日 = the State Council's calendar.


@pytest.mark.parametrize("day", HOLIDAYS, ids=str)
def test_statutory_holidays_are_not_working_days_seed002_s4_5(dl: ModuleType, day: date) -> None:
    # seed 002 §四.5 "提前3个工作日" — 工作日 excludes the holidays of the State Council notice, weekday or not.
    assert not dl.is_working_day(day)


@pytest.mark.parametrize("day", MAKEUPS, ids=lambda d: f"{d}-{d:%a}")
def test_adjusted_weekend_working_days_are_working_days_seed002_s4_5(dl: ModuleType, day: date) -> None:
    # seed 002 §四.5 "工作日": the notice's 调休上班 Saturdays and Sundays are working days.
    assert day.weekday() >= 5
    assert dl.is_working_day(day)


def test_national_day_2025_runs_to_8_october_seed002_s4_5(dl: ModuleType) -> None:
    # 2025 国庆节、中秋节: 10月1日至8日放假调休，共8天 — 8 Oct (Wednesday) is a holiday, 9 Oct is work again.
    assert not dl.is_working_day(date(2025, 10, 8))
    assert dl.is_working_day(date(2025, 10, 9))
    # 9月28日（周日）、10月11日（周六）上班.
    assert dl.is_working_day(date(2025, 9, 28))
    assert dl.is_working_day(date(2025, 10, 11))


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_day_of_2025_and_2026_matches_the_state_council_notice(dl: ModuleType, year: int) -> None:
    # Both years have 261 weekdays; 2025: −18 weekday holidays +5 make-up days = 248; 2026: −19 +6 = 248.
    days = list(_days(date(year, 1, 1), date(year, 12, 31)))
    wrong = [day for day in days if bool(dl.is_working_day(day)) != _hand_working_day(day)]
    assert wrong == []
    assert sum(1 for day in days if dl.is_working_day(day)) == 248


def test_ordinary_weekdays_work_and_ordinary_weekends_rest(dl: ModuleType) -> None:
    # Thu 2026-12-03 (today) and Fri 2026-12-25 (Christmas is no holiday in China) work; Sat 2026-12-05 rests.
    for day, working in ((date(2026, 12, 3), True), (date(2026, 12, 25), True), (date(2026, 12, 5), False)):
        assert _hand_working_day(day) is working
        assert bool(dl.is_working_day(day)) is working


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # d itself never counts (民法典 §201: 开始的当日不计入): Thu → Fri is the 1st working day.
        (date(2026, 12, 3), 1, date(2026, 12, 4)),
        (date(2026, 12, 3), 3, date(2026, 12, 8)),  # Fri 4, Mon 7, Tue 8
        (date(2026, 12, 4), 1, date(2026, 12, 7)),  # Friday → Monday
        # Across 国庆 2025: Mon 9/29 → Tue 9/30 (1), 10/1–10/8 holiday, Thu 10/9 (2), Fri 10/10 (3).
        (date(2025, 9, 29), 3, date(2025, 10, 10)),
        # Across 春节 2025 with the working Sunday 1/26: Fri 1/24 → Sun 1/26 (1), Mon 1/27 (2), 1/28–2/4 off, Wed 2/5 (3).
        (date(2025, 1, 24), 3, date(2025, 2, 5)),
        # The working Saturday 2/8/2025 counts: Thu 2/6 → Fri 2/7 (1), Sat 2/8 (2), Mon 2/10 (3).
        (date(2025, 2, 6), 3, date(2025, 2, 10)),
        # The working Saturday 10/11/2025 counts: Thu 10/9 → Fri 10/10 (1), Sat 10/11 (2), Mon 10/13 (3).
        (date(2025, 10, 9), 3, date(2025, 10, 13)),
        # Starting on a holiday: Fri 10/3/2025 (holiday) → Thu 10/9 is the 1st working day.
        (date(2025, 10, 3), 1, date(2025, 10, 9)),
        # Starting on a working Sunday: Sun 9/28/2025 → Mon 9/29.
        (date(2025, 9, 28), 1, date(2025, 9, 29)),
        # 春节 2026 with the working Saturday 2/14: Thu 2/12 → Fri 2/13 (1), Sat 2/14 (2), 2/15–2/23 off, Tue 2/24 (3).
        (date(2026, 2, 12), 3, date(2026, 2, 24)),
        # 劳动节 2026: Thu 4/30 → 5/1–5/5 off, Wed 5/6 (1), Thu 5/7 (2), Fri 5/8 (3).
        (date(2026, 4, 30), 3, date(2026, 5, 8)),
        # 国庆 2026: Tue 9/29 → Wed 9/30 (1), 10/1–10/7 off, Thu 10/8 (2), Fri 10/9 (3).
        (date(2026, 9, 29), 3, date(2026, 10, 9)),
        # Across the year end with the working Sunday 2026-01-04: Tue 2025-12-30 → Wed 12/31 (1), 1/1–1/3 off,
        # Sun 1/4 (2), Mon 1/5 (3).
        (date(2025, 12, 30), 3, date(2026, 1, 5)),
        (date(2025, 12, 31), 1, date(2026, 1, 4)),
    ],
    ids=lambda value: str(value),
)
def test_add_working_days_by_the_state_council_calendar_seed002_s4_5(
    dl: ModuleType, start: date, n: int, expected: date
) -> None:
    # seed 002 §四.5 "提前3个工作日", "1个工作日内".
    assert dl.add_working_days(start, n) == expected


def test_working_days_still_count_into_2027_now_that_it_is_december_2026(dl: ModuleType) -> None:
    # Today is 2026-12-03: a removal filed on Wed 2026-12-30 needs its 3 working days in 2027.  The 2027 notice
    # may not be in the installed holiday data yet, but 元旦 1月1日 is a statutory holiday by
    # 《全国年节及纪念日放假办法》第二条 (fixed by law, not by the yearly notice): Thu 12/31 (1), [Fri 1/1 holiday],
    # Mon 2027-01-04 (2), Tue 2027-01-05 (3).  The count must not crash nor count New Year's Day.
    assert dl.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)
    assert not dl.is_working_day(date(2027, 1, 1))


# --- seed 002 §四.5: removal notice ≥ 3 working days ahead --------------------------------------------------------
# "确实需要拆除或移动的，施工单位应提前3个工作日报知项目所在地质安监机构"


@pytest.mark.parametrize(
    ("filed_on", "removal_on", "on_time"),
    [
        # Filed Mon 2025-09-29 for Thu 2025-10-09: 10 calendar days, but only 2 working days ahead (9/30, 10/9)
        # across 国庆 → late.  (A count of calendar days or of Mon–Fri would call it on time.)
        (date(2025, 9, 29), date(2025, 10, 9), False),
        # … for Fri 2025-10-10: exactly 3 working days (9/30, 10/9, 10/10) → on time.
        (date(2025, 9, 29), date(2025, 10, 10), True),
        # The working Saturday counts: filed Thu 2025-10-09 for Mon 10/13 = Fri 10/10, Sat 10/11, Mon 10/13 → on time
        # (without the adjusted Saturday it would be 2 → late).
        (date(2025, 10, 9), date(2025, 10, 13), True),
        (date(2025, 10, 9), date(2025, 10, 10), False),
        # 劳动节 2026: filed Thu 4/30 for Thu 5/7 (7 calendar days) = 5/6, 5/7 → 2 working days → late; Fri 5/8 on time.
        (date(2026, 4, 30), date(2026, 5, 7), False),
        (date(2026, 4, 30), date(2026, 5, 8), True),
        # 国庆 2026: filed Tue 9/29 for Thu 10/8 → 9/30, 10/8 = 2 → late; Fri 10/9 → 3 → on time.
        (date(2026, 9, 29), date(2026, 10, 8), False),
        (date(2026, 9, 29), date(2026, 10, 9), True),
        # Ordinary weeks (today, Thu 2026-12-03): Tue 12/8 is the 3rd working day → on time; Mon 12/7 → late.
        (date(2026, 12, 3), date(2026, 12, 8), True),
        (date(2026, 12, 3), date(2026, 12, 7), False),
        # More notice is always fine.
        (date(2026, 12, 3), date(2026, 12, 21), True),
        # Removal on an ordinary Saturday: filed Tue 12/1 → Wed, Thu, Fri = 3 working days before Sat 12/5 → on time;
        # filed Wed 12/2 → Thu, Fri = 2 → late.
        (date(2026, 12, 1), date(2026, 12, 5), True),
        (date(2026, 12, 2), date(2026, 12, 5), False),
        # Across the year end: filed Tue 2025-12-30 → the working Sunday 2026-01-04 is only the 2nd working day (late);
        # Mon 1/5 is the 3rd (on time).
        (date(2025, 12, 30), date(2026, 1, 4), False),
        (date(2025, 12, 30), date(2026, 1, 5), True),
        # Same-day or after-the-fact notices are late.
        (date(2026, 12, 3), date(2026, 12, 3), False),
        (date(2026, 12, 3), date(2026, 12, 2), False),
    ],
    ids=lambda value: str(value),
)
def test_removal_notice_needs_3_working_days_seed002_s4_5(
    dl: ModuleType, filed_on: date, removal_on: date, on_time: bool
) -> None:
    # seed 002 §四.5 "施工单位应提前3个工作日报知项目所在地质安监机构"
    assert bool(dl.removal_notice_on_time(filed_on, removal_on)) is on_time


def test_removal_notice_minimum_is_a_parameter_seed002_s4_5(dl: ModuleType) -> None:
    # A district whose rule differs passes its own number: filed Thu 12/3, removal Fri 12/4 = 1 working day.
    assert dl.removal_notice_on_time(date(2026, 12, 3), date(2026, 12, 4), min_working_days=1)
    assert not dl.removal_notice_on_time(date(2026, 12, 3), date(2026, 12, 4))


# --- seed 002 §四.5: compliance acceptance within 1 working day ---------------------------------------------------
# "完成设备拆除或移动后，设备供应服务商应在1个工作日内报局信息中心（质安监机构）进行合规性验收。"
# The date checked is the vendor's filing for acceptance (报…进行合规性验收), not the district's decision.


@pytest.mark.parametrize(
    ("removed_on", "due"),
    [
        (date(2026, 12, 3), date(2026, 12, 4)),  # Thu → Fri
        (date(2026, 12, 4), date(2026, 12, 7)),  # Fri → Mon
        (date(2026, 12, 5), date(2026, 12, 7)),  # removed on a Saturday → Mon
        (date(2025, 9, 30), date(2025, 10, 9)),  # Tue before 国庆 2025 → Thu 10/9
        (date(2025, 10, 4), date(2025, 10, 9)),  # removed during the holiday → first working day after it
        (date(2025, 10, 10), date(2025, 10, 11)),  # Fri → the working Saturday 10/11
        (date(2026, 10, 9), date(2026, 10, 10)),  # Fri → the working Saturday 10/10/2026
        (date(2026, 2, 13), date(2026, 2, 14)),  # Fri → the working Saturday 2/14/2026
    ],
    ids=lambda value: str(value),
)
def test_acceptance_due_the_next_working_day_seed002_s4_5(dl: ModuleType, removed_on: date, due: date) -> None:
    # seed 002 §四.5 "在1个工作日内": the removal day itself is not counted (民法典 §201), so the period is the
    # next working day, whole (§203: 期间的最后一日的截止时间为二十四时).
    assert dl.acceptance_due(removed_on) == due


@pytest.mark.parametrize(
    ("removed_on", "accepted_on", "on_time"),
    [
        (date(2026, 12, 3), date(2026, 12, 3), True),  # same day
        (date(2026, 12, 3), date(2026, 12, 4), True),  # next working day
        (date(2026, 12, 3), date(2026, 12, 7), False),  # Monday: 2 working days → late
        (date(2026, 12, 4), date(2026, 12, 7), True),  # Fri → Mon (the weekend does not count)
        (date(2026, 12, 4), date(2026, 12, 8), False),
        (date(2025, 9, 30), date(2025, 10, 9), True),  # across 国庆 2025
        (date(2025, 9, 30), date(2025, 10, 10), False),
        (date(2025, 10, 10), date(2025, 10, 13), False),  # the working Saturday 10/11 was the day → Monday is late
    ],
    ids=lambda value: str(value),
)
def test_acceptance_within_1_working_day_seed002_s4_5(
    dl: ModuleType, removed_on: date, accepted_on: date, on_time: bool
) -> None:
    # seed 002 §四.5 "设备供应服务商应在1个工作日内报局信息中心（质安监机构）进行合规性验收"
    assert bool(dl.acceptance_on_time(removed_on, accepted_on)) is on_time


def test_acceptance_period_is_a_parameter_seed002_s4_5(dl: ModuleType) -> None:
    assert dl.acceptance_due(date(2026, 12, 3), working_days=2) == date(2026, 12, 7)
    assert dl.acceptance_on_time(date(2026, 12, 3), date(2026, 12, 7), working_days=2)


# --- seed 002 §五.4: repair within 24 hours of the fault report -------------------------------------------------
# "运行服务商应根据合同约定尽快进行维修，时间上应在接到报障后24小时内修复完成"
# 24 clock hours (民法典 §201: 按照小时计算期间的，自……规定的时间开始计算), not working hours; "以内" includes
# the number (民法典 §1259), so a repair closed at exactly 24 h is on time.

OPENED = datetime(2026, 12, 3, 8, 30, tzinfo=SHANGHAI)


def test_repair_due_24_hours_after_the_report_seed002_s5_4(dl: ModuleType) -> None:
    # seed 002 §五.4 "接到报障后24小时内修复完成"
    assert dl.repair_due(OPENED) == datetime(2026, 12, 4, 8, 30, tzinfo=SHANGHAI)
    assert dl.repair_due(OPENED, hours=48) == datetime(2026, 12, 5, 8, 30, tzinfo=SHANGHAI)


def test_repair_hours_are_clock_hours_through_holidays_seed002_s5_4(dl: ModuleType) -> None:
    # seed 002 §五.4 "24小时内" — and §二(二)1 "24小时不间断服务": a fault reported on the eve of 国庆 is due the next
    # evening, holiday or not.
    opened = datetime(2025, 9, 30, 18, 0, tzinfo=SHANGHAI)
    assert dl.repair_due(opened) == datetime(2025, 10, 1, 18, 0, tzinfo=SHANGHAI)
    assert dl.repair_overdue(opened, datetime(2025, 10, 2, 9, 0, tzinfo=SHANGHAI))


@pytest.mark.parametrize(
    ("closed_after", "overdue"),
    [
        (timedelta(hours=23, minutes=59), False),  # closed at 23:59 → on time
        (timedelta(hours=24), False),  # exactly 24 h: "24小时内" includes the 24th hour (以内 includes 本数)
        (timedelta(hours=24, minutes=1), True),  # closed at 24:01 → overdue
        (timedelta(hours=30), True),
    ],
    ids=["23h59", "24h00", "24h01", "30h"],
)
def test_closed_repair_overdue_by_its_close_time_seed002_s5_4(
    dl: ModuleType, closed_after: timedelta, overdue: bool
) -> None:
    # seed 002 §五.4 "在接到报障后24小时内修复完成": a closed ticket is judged by when it closed, however late "now" is.
    closed_at = OPENED + closed_after
    now = OPENED + timedelta(days=30)
    assert bool(dl.repair_overdue(OPENED, now, closed_at)) is overdue


@pytest.mark.parametrize(
    ("now_after", "overdue"),
    [
        (timedelta(hours=23, minutes=59), False),
        (timedelta(hours=24), False),
        (timedelta(hours=24, minutes=1), True),
    ],
    ids=["open-23h59", "open-24h00", "open-24h01"],
)
def test_open_repair_overdue_once_24_hours_have_passed_seed002_s5_4(
    dl: ModuleType, now_after: timedelta, overdue: bool
) -> None:
    # seed 002 §五.4 "24小时内修复完成": an open ticket escalates as soon as the 24 hours are over.
    assert bool(dl.repair_overdue(OPENED, OPENED + now_after)) is overdue
    assert bool(dl.repair_overdue(OPENED, OPENED + now_after, None)) is overdue


def test_repair_deadline_compares_instants_not_wall_clocks_seed002_s5_4(dl: ModuleType) -> None:
    # The same instants in UTC and in the project's zone: opened 00:00 UTC = 08:00 Beijing; "now" 08:01 Beijing the
    # next day = 24 h 1 min later → overdue; 07:59 Beijing → not.
    opened = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    assert dl.repair_overdue(opened, datetime(2026, 12, 4, 8, 1, tzinfo=SHANGHAI))
    assert not dl.repair_overdue(opened, datetime(2026, 12, 4, 7, 59, tzinfo=SHANGHAI))
    assert dl.repair_due(opened) == datetime(2026, 12, 4, 8, 0, tzinfo=SHANGHAI)


# --- seed 002 §三(二)2 and seed 004 §三(五): retention ≥ 2 years after completion ----------------------------------
# 002: "全市施工现场务工人员的考勤数据存储在常德市云计算中心……存储信息时长为工程竣工后2年。"
# 004: "……书面记录材料，施工企业应在工程竣工验收后保存2年以上备查。"
# "2年以上" includes 2 years (民法典 §1259); the 2 years start the day after completion (§201) and end on the
# corresponding day (§202: 到期月的对应日为期间的最后一日；没有对应日的，月末日为期间的最后一日).  So the data may be
# deleted only strictly after the anniversary.


@pytest.mark.parametrize(
    ("completed_on", "today", "due"),
    [
        (date(2024, 12, 2), date(2026, 12, 3), True),  # completed 2 years and 1 day ago → due
        (date(2024, 12, 4), date(2026, 12, 3), False),  # 1 day short of 2 years → kept
        (date(2024, 12, 3), date(2026, 12, 3), False),  # the anniversary itself is the last day kept
        (date(2024, 12, 3), date(2026, 12, 4), True),  # the day after the anniversary
        # 2 years that contain 29 Feb 2024 are 731 days: a "> 730 days" count would delete a day early.
        (date(2023, 12, 3), date(2025, 12, 3), False),
        (date(2023, 12, 3), date(2025, 12, 4), True),
        # Completed on 28 Feb 2026: the anniversary is 28 Feb 2028, so 29 Feb 2028 is due.
        (date(2026, 2, 28), date(2028, 2, 28), False),
        (date(2026, 2, 28), date(2028, 2, 29), True),
        # Not completed long enough at all / completion in the future.
        (date(2026, 6, 30), date(2026, 12, 3), False),
        (date(2027, 1, 1), date(2026, 12, 3), False),
    ],
    ids=lambda value: str(value),
)
def test_retention_due_strictly_after_the_2nd_anniversary_seed002_s3_2_2_seed004_s3_5(
    retention: ModuleType, completed_on: date, today: date, due: bool
) -> None:
    # seed 002 §三(二)2 "存储信息时长为工程竣工后2年"; seed 004 §三(五) "工程竣工验收后保存2年以上"
    assert bool(retention.retention_due(completed_on, today)) is due


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2026, 2, 28), False),  # the last day of the period (no 29 Feb in 2026 → 月末日, §202)
        (date(2026, 3, 1), True),  # the first day after it
        (date(2026, 3, 2), True),
    ],
    ids=str,
)
def test_retention_of_a_29_february_completion_seed004_s3_5(retention: ModuleType, today: date, due: bool) -> None:
    # seed 004 §三(五) "竣工验收后保存2年以上": completed 2024-02-29; 民法典 §202 "没有对应日的，月末日为期间的最后一日"
    # → the 2 years end on 2026-02-28.  (Alternative, lenient: end on 1 March, so 1 March is still kept.)
    assert bool(retention.retention_due(date(2024, 2, 29), today)) is due


def test_retention_years_are_a_parameter_seed002_s3_2_2(retention: ModuleType) -> None:
    assert not retention.retention_due(date(2023, 12, 2), date(2026, 12, 2), years=3)
    assert retention.retention_due(date(2023, 12, 2), date(2026, 12, 3), years=3)


# --- seed 002 §三(一)2 / §四.2: gate channels per 30,000 m² --------------------------------------------------------
# "房建项目考勤通道数参考设置为：建筑面积小于3万平方安装1条通道（一进一出）；面积大于3万平方安装2条通道；以此类推面积
#  每增加3万平方增加一条通道。市政项目应基本满足一条考勤通道" (also 附件4 注3); §四.2 "根据……考勤通道数参考设置要求确定
#  实名制考勤设备的数量". Reading: one channel per started 30,000 m², at least 1; an exact multiple is "not more
#  than" it (neither 小于 nor 大于 — docs/seed-readings.md §12 ▶), so 30,000 → 1, 60,000 → 2, 90,000 → 3.


@pytest.mark.parametrize(
    ("area_m2", "channels"),
    [
        (0, 1),  # no area given (or municipal works): "应基本满足一条考勤通道" / 小于3万 → 1
        (29_999, 1),  # 小于3万平方 → 1
        (30_000, 1),  # exactly 3万: neither 小于 nor 大于 → ▶ 1 (alternative reading: 2)
        (30_000.5, 2),  # 大于3万平方 → 2
        (30_001, 2),
        (45_000, 2),
        (60_000, 2),  # exactly 6万 → ▶ 2 (alternative: 3)
        (60_001, 3),  # 每增加3万平方增加一条通道
        (90_000, 3),  # exactly 9万 → ▶ 3 (alternative: 4)
        (90_001, 4),
        (250_000, 9),
    ],
    ids=lambda value: str(value),
)
def test_channels_required_one_per_started_30000_m2_seed002_s3_1_2(
    calc: ModuleType, area_m2: float, channels: int
) -> None:
    # seed 002 §三(一)2 "面积大于3万平方安装2条通道；以此类推面积每增加3万平方增加一条通道"
    assert calc.channels_required(area_m2) == channels


def test_channels_required_never_decrease_and_never_below_one_seed002_s3_1_2(calc: ModuleType) -> None:
    previous = 1
    for area in range(0, 200_001, 2_500):
        channels = calc.channels_required(float(area))
        assert channels >= max(1, previous)
        previous = channels


def test_channels_required_agrees_with_rules_required_gate_channels_seed002_s3_1_2(calc: ModuleType) -> None:
    # One rule, one reading: the onboarding warning and the project page (Rules.required_gate_channels) agree.
    rules = rules_module.DEFAULT_RULES
    for area in (1.0, 29_999.0, 30_000.0, 30_001.0, 60_000.0, 90_000.0, 90_001.0):
        assert calc.channels_required(area) == rules.required_gate_channels("building", area)


# --- backend/rules.py holds the seed numbers -------------------------------------------------------------------

SEED_NUMBERS: list[tuple[str, Any]] = [
    ("removal_notice_min_working_days", 3),  # seed 002 §四.5 "提前3个工作日报知"
    ("removal_acceptance_working_days", 1),  # seed 002 §四.5 "在1个工作日内报……进行合规性验收"
    ("repair_max_hours", 24),  # seed 002 §五.4 "接到报障后24小时内修复完成"
    ("retention_years", 2),  # seed 002 §三(二)2 "工程竣工后2年"; seed 004 §三(五) "竣工验收后保存2年以上"
    ("gate_channel_area_m2", 30_000),  # seed 002 §三(一)2 "每增加3万平方增加一条通道"
    ("device_outage_max_days", 2),  # seed 001 §六(十八) "因设备故障导致考勤中止的时间不得超过2天"
]


@pytest.mark.parametrize(("name", "value"), SEED_NUMBERS, ids=[row[0] for row in SEED_NUMBERS])
def test_default_rules_hold_the_issue20_seed_numbers(name: str, value: Any) -> None:
    assert getattr(rules_module.DEFAULT_RULES, name) == value


def test_pure_deadline_defaults_agree_with_default_rules(dl: ModuleType, retention: ModuleType) -> None:
    # The functions' defaults are the seed numbers that DEFAULT_RULES holds (a changed rule must not leave a
    # hard-coded default behind): checked by behaviour, not by reading the signatures.
    rules = rules_module.DEFAULT_RULES
    filed = date(2026, 12, 3)
    assert dl.removal_notice_on_time(filed, dl.add_working_days(filed, rules.removal_notice_min_working_days))
    assert not dl.removal_notice_on_time(filed, dl.add_working_days(filed, rules.removal_notice_min_working_days - 1))
    assert dl.acceptance_due(filed) == dl.add_working_days(filed, rules.removal_acceptance_working_days)
    assert dl.repair_due(OPENED) == OPENED + timedelta(hours=rules.repair_max_hours)
    completed = date(2024, 6, 1)
    assert not retention.retention_due(completed, completed.replace(year=2024 + rules.retention_years))
    assert retention.retention_due(completed, completed.replace(year=2024 + rules.retention_years) + timedelta(days=1))
