"""Rates and thresholds: seed 000 §五 (80 % valid days, 60 % composite), compared exactly."""

from __future__ import annotations

import dataclasses

from backend.rules import DEFAULT_RULES
from backend.supervision.metrics import PersonMonth, composite, days_needed, is_valid_day, meets, pct, rate


def test_manager_at_80_percent_meets_and_at_79_percent_misses_seed000():
    assert meets(20, 25, 0.80) is True  # exactly 80 %
    assert meets(19, 24, 0.80) is False  # 79.2 %
    assert f"{rate(19, 24):.3f}" == "0.792"


def test_threshold_comparison_is_exact_not_float():
    # A district may set e.g. 56 %: 0.56 * 25 == 14.000000000000002 in floating point, yet 14 of 25 days is
    # exactly 56 % and meets it.
    assert meets(14, 25, 0.56) is True
    assert meets(12, 15, 0.80) is True
    assert meets(18, 30, 0.60) is True and meets(17, 30, 0.60) is False
    # every whole-percent threshold against every day count of a month, compared in integers: the days
    # needed are the exact ceiling, and one day fewer misses
    for k in range(101):
        for required in range(1, 32):
            need = -(-k * required // 100)
            assert days_needed(required, k / 100) == need, (k, required)
            assert meets(need, required, k / 100) is True, (k, required)
            assert need == 0 or meets(need - 1, required, k / 100) is False, (k, required)


def test_nothing_required_means_no_verdict():
    assert meets(0, 0, 0.8) is None and rate(0, 0) is None
    assert PersonMonth(1, "safety_officer", 0, 0, 0.8).meets is None


def test_days_needed_is_the_ceiling():
    assert days_needed(25, 0.8) == 20
    assert days_needed(24, 0.8) == 20  # 19.2 → 20
    assert days_needed(15, 0.8) == 12


def test_composite_is_total_valid_manager_days_over_total_required():
    people = [PersonMonth(1, "project_manager", 25, 20, 0.8), PersonMonth(2, "safety_officer", 24, 19, 0.8),
              PersonMonth(3, "technical_lead", 25, 0, 0.8)]
    c = composite(people, 0.60)
    assert (c.valid_days, c.required_days) == (39, 74)
    assert c.meets is False  # 52.7 %
    assert composite(people[:2], 0.60).meets is True


def test_valid_day_needs_the_minimum_of_non_rejected_punches():
    assert is_valid_day(1, 1, DEFAULT_RULES)
    assert not is_valid_day(0, 0, DEFAULT_RULES)
    two = dataclasses.replace(DEFAULT_RULES, valid_day_min_punches=2)
    assert not is_valid_day(1, 1, two) and is_valid_day(2, 2, two)


def test_late_uploads_count_unless_the_district_says_otherwise():
    assert is_valid_day(1, 0, DEFAULT_RULES)  # one punch, uploaded late
    strict = DEFAULT_RULES.with_overrides({"late_upload_counts_as_valid": False})
    assert not is_valid_day(1, 0, strict) and is_valid_day(2, 1, strict)


def test_pct_formats():
    assert pct(0.8) == "80.0%" and pct(None) == "—" and pct(0.6, 0) == "60%"
