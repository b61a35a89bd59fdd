"""Seed 000 §五: 关键岗位管理人员每月有效考勤天数不得少于本月施工时间的 80%，综合到岗率不得低于 60% — judged on the
whole month; during the month a warning only once 80 % can no longer be reached (issue 14 item 3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.supervision.days import days_between
from backend.supervision.month_verdict import MonthVerdictCode as V
from backend.supervision.month_verdict import judge_counts, judge_month

OCT = "2026-10"
OCT_DAYS = days_between(date(2026, 10, 1), date(2026, 10, 31))  # 31 calendar days, National Day week included
NOV_1 = date(2026, 11, 1)


def test_absent_on_the_1st_and_2nd_is_no_warning_during_the_month_and_met_at_93_5_percent():
    """The issue's example: absent 1st and 2nd, present every other day → 29/31 = 93.5 %."""
    valid = OCT_DAYS[2:]
    for today in days_between(date(2026, 10, 2), date(2026, 10, 31)):
        v = judge_month(OCT_DAYS, valid, today, OCT)
        assert not v.is_finding, today
        assert v.verdict in (V.at_risk_but_reachable, V.met)
    on_3rd = judge_month(OCT_DAYS, valid, date(2026, 10, 3), OCT)  # statistics to the 2nd: 0 of 2 so far
    assert (on_3rd.valid_days, on_3rd.days_so_far, on_3rd.days_remaining) == (0, 2, 29)
    assert on_3rd.required_days == 25 and on_3rd.max_possible == 29 and on_3rd.verdict == V.at_risk_but_reachable
    on_8th = judge_month(OCT_DAYS, valid, date(2026, 10, 8), OCT)  # the old code's red warning day
    assert on_8th.verdict == V.at_risk_but_reachable and on_8th.still_needed == 20
    end = judge_month(OCT_DAYS, valid, NOV_1, OCT)
    assert end.month_ended and end.verdict == V.met and (end.valid_days, end.construction_days) == (29, 31)
    assert f"{end.month_rate:.3f}" == "0.935"
    assert "93.5%" in end.projection_zh and "达标" in end.projection_zh


def test_a_warning_the_day_80_percent_becomes_unreachable():
    """Absent 1st–7th: on the 7th's statistics (run on the 8th) 24 days remain, 25 are required."""
    valid = OCT_DAYS[7:]
    day_before = judge_month(OCT_DAYS, valid, date(2026, 10, 7), OCT)  # 0/6, 25 remaining ≥ 25
    assert day_before.verdict == V.at_risk_but_reachable and not day_before.is_finding
    v = judge_month(OCT_DAYS, valid, date(2026, 10, 8), OCT)
    assert (v.valid_days, v.days_so_far, v.days_remaining, v.required_days) == (0, 7, 24, 25)
    assert v.verdict == V.cannot_be_met and v.is_finding and v.max_possible == 24
    assert "本月已无法达标" in v.projection_zh
    end = judge_month(OCT_DAYS, valid, NOV_1, OCT)
    assert end.verdict == V.failed and end.is_finding and end.valid_days == 24


def test_required_days_are_the_ceiling_of_80_percent_compared_exactly():
    assert judge_counts(31, 25, 0, 0.8, month_ended=True).verdict == V.met  # 80.6 %
    assert judge_counts(31, 24, 0, 0.8, month_ended=True).verdict == V.failed  # 77.4 %
    assert judge_counts(25, 20, 0, 0.8, month_ended=True).required_days == 20  # 80.0 % exactly meets
    assert judge_counts(25, 14, 0, 0.56, month_ended=True).verdict == V.met  # 14/25 = 56 % (no float slip)


def test_met_during_the_month_once_the_required_days_are_reached():
    v = judge_month(OCT_DAYS, OCT_DAYS[:25], date(2026, 10, 27), OCT)
    assert v.verdict == V.met and v.still_needed == 0


def test_partial_first_month_is_judged_on_its_counted_days_only():
    """Counting starts on the 15th (planned start 5th + 10, seed 004 §四(一)): 17 counted days, 14 required."""
    counted = OCT_DAYS[14:]
    v = judge_month(counted, counted[3:], NOV_1, OCT)
    assert (v.construction_days, v.required_days, v.valid_days, v.verdict) == (17, 14, 14, V.met)
    assert judge_month(counted, counted[4:], NOV_1, OCT).verdict == V.failed


def test_suspended_days_are_not_construction_time():
    """停工 11th–16th (seed 001 §五(十三)): 25 construction days, 20 required."""
    construction = [d for d in OCT_DAYS if not date(2026, 10, 11) <= d <= date(2026, 10, 16)]
    v = judge_month(construction, [*construction[:20], date(2026, 10, 12)], NOV_1, OCT)
    assert (v.construction_days, v.required_days, v.valid_days, v.verdict) == (25, 20, 20, V.met)


def test_no_counted_day_has_no_verdict():
    v = judge_month([], [], NOV_1, OCT)
    assert v.verdict is None and not v.is_finding and "未到计算日" in v.label


@pytest.mark.parametrize(("so_far", "valid", "remaining", "expected"), [
    (10, 6, 21, V.at_risk_but_reachable),  # composite person-days: need ⌈0.6 × 31⌉ = 19; 6 + 21 ≥ 19
    (20, 0, 11, V.cannot_be_met),  # 0 + 11 < 19
    (20, 19, 11, V.met),
])
def test_composite_rate_uses_the_same_judgement_in_person_days(so_far, valid, remaining, expected):
    assert judge_counts(so_far, valid, remaining, 0.6, month_ended=False).verdict == expected


def test_days_outside_the_month_are_ignored():
    v = judge_month([date(2026, 9, 30), *OCT_DAYS], [date(2026, 9, 30)], NOV_1 + timedelta(days=3), OCT)
    assert v.construction_days == 31 and v.valid_days == 0 and v.verdict == V.failed
