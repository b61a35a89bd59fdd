"""``retention_due`` (seed 002 §三(二)2 "存储信息时长为工程竣工后2年"; seed 004 §三(五) "工程竣工验收后保存2年以上"):
the data is kept through the anniversary of 竣工 and is due from the day after; 29 February → 28 February."""

from __future__ import annotations

from datetime import date

from backend.privacy.retention import anniversary, retention_due
from backend.rules import DEFAULT_RULES, PROFILES


def test_not_due_on_the_anniversary_itself():
    assert not retention_due(date(2024, 6, 30), date(2026, 6, 30))


def test_due_the_day_after_the_anniversary():
    assert retention_due(date(2024, 6, 30), date(2026, 7, 1))


def test_one_day_short_is_not_due():
    assert not retention_due(date(2024, 6, 30), date(2026, 6, 29))


def test_feb_29_completion_has_its_anniversary_on_feb_28():
    assert anniversary(date(2024, 2, 29), 2) == date(2026, 2, 28)
    assert not retention_due(date(2024, 2, 29), date(2026, 2, 28))
    assert retention_due(date(2024, 2, 29), date(2026, 3, 1))


def test_feb_29_into_a_leap_year_keeps_feb_29():
    assert anniversary(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert not retention_due(date(2024, 2, 29), date(2028, 2, 29), years=4)
    assert retention_due(date(2024, 2, 29), date(2028, 3, 1), years=4)


def test_years_is_the_district_rule():
    assert not retention_due(date(2020, 1, 1), date(2022, 6, 1), years=3)
    assert retention_due(date(2020, 1, 1), date(2023, 1, 2), years=3)


def test_today_before_completion_is_never_due():
    assert not retention_due(date(2026, 1, 1), date(2025, 1, 1))


def test_every_profile_keeps_two_years():
    assert DEFAULT_RULES.retention_years == 2 == DEFAULT_RULES.retention_years_after_completion
    assert {p.retention_years for p in PROFILES.values()} == {2}
