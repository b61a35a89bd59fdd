"""Upkeep deadlines (seed 002 §四.5 提前3个工作日报知 / 1个工作日内合规性验收, §五.4 24 小时内修复) on the Chinese
holiday calendar, adjusted working days (调休) included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from backend.upkeep.deadlines import (
    CalendarNotCovered,
    acceptance_due,
    acceptance_on_time,
    add_working_days,
    is_working_day,
    removal_notice_on_time,
    repair_due,
    repair_overdue,
)


def test_holidays_weekends_and_adjusted_saturdays_of_2026():
    assert not is_working_day(date(2026, 10, 1))  # National Day
    assert not is_working_day(date(2026, 10, 7))
    assert is_working_day(date(2026, 10, 10))  # Saturday worked (调休)
    assert is_working_day(date(2026, 9, 20))  # Sunday worked before National Day
    assert not is_working_day(date(2026, 9, 25))  # Mid-Autumn, a Friday
    assert not is_working_day(date(2026, 2, 17))  # Spring Festival
    assert is_working_day(date(2026, 2, 14))  # Saturday worked before it
    assert is_working_day(date(2026, 2, 28))  # and after it
    assert not is_working_day(date(2026, 11, 7))  # a plain Saturday
    assert is_working_day(date(2026, 11, 6))  # a plain Friday


def test_the_start_day_never_counts():
    assert add_working_days(date(2026, 11, 2), 1) == date(2026, 11, 3)
    assert add_working_days(date(2026, 11, 7), 1) == date(2026, 11, 9)  # from a Saturday: Monday


def test_working_days_jump_national_day_and_count_the_adjusted_saturday():
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 8), 2) == date(2026, 10, 10)  # Fri 9th, then Saturday 10th (调休)


def test_working_days_jump_spring_festival_and_count_both_adjusted_saturdays():
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert add_working_days(date(2026, 2, 26), 2) == date(2026, 2, 28)


def test_removal_filed_two_working_days_ahead_across_national_day_is_late():
    filed = date(2026, 9, 29)  # working days after it: 30 Sep, 8 Oct, 9 Oct
    assert not removal_notice_on_time(filed, date(2026, 10, 8))
    assert removal_notice_on_time(filed, date(2026, 10, 9))
    assert removal_notice_on_time(filed, date(2026, 10, 20))


def test_removal_three_working_days_ahead_over_spring_festival_counts_the_adjusted_saturday():
    filed = date(2026, 2, 12)  # Fri 13, Sat 14 (调休), Tue 24
    assert removal_notice_on_time(filed, date(2026, 2, 24))
    assert not removal_notice_on_time(filed, date(2026, 2, 23))
    assert not removal_notice_on_time(filed, date(2026, 2, 12))  # same day


def test_removal_notice_min_days_is_a_parameter():
    assert removal_notice_on_time(date(2026, 11, 2), date(2026, 11, 3), min_working_days=1)
    assert not removal_notice_on_time(date(2026, 11, 2), date(2026, 11, 3))


def test_acceptance_due_the_next_working_day_after_the_removal():
    assert acceptance_due(date(2026, 9, 30)) == date(2026, 10, 8)
    assert acceptance_due(date(2026, 10, 9)) == date(2026, 10, 10)  # a Saturday worked
    assert acceptance_due(date(2026, 11, 6)) == date(2026, 11, 9)  # Friday → Monday
    assert acceptance_on_time(date(2026, 9, 30), date(2026, 10, 8))
    assert acceptance_on_time(date(2026, 9, 30), date(2026, 9, 30))
    assert not acceptance_on_time(date(2026, 9, 30), date(2026, 10, 9))
    assert acceptance_on_time(date(2026, 11, 6), date(2026, 11, 10), working_days=2)


def test_repair_due_24_hours_after_opening_and_overdue_only_after_it():
    opened = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    due = repair_due(opened)
    assert due == opened + timedelta(hours=24)
    assert not repair_overdue(opened, due)
    assert repair_overdue(opened, due + timedelta(seconds=1))
    assert not repair_overdue(opened, due + timedelta(days=3), closed_at=due)  # closed in time
    assert repair_overdue(opened, due, closed_at=due + timedelta(minutes=1))
    assert repair_due(opened, hours=4) == opened + timedelta(hours=4)


def test_repair_deadline_is_the_same_instant_in_any_zone():
    china = timezone(timedelta(hours=8))
    opened = datetime(2026, 11, 20, 16, 0, tzinfo=china)
    assert repair_due(opened) == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        repair_due(datetime(2026, 11, 20, 8, 0))
    with pytest.raises(ValueError):
        repair_overdue(datetime(2026, 11, 20, 8, 0, tzinfo=UTC), datetime(2026, 11, 22))


def test_a_year_outside_the_calendar_raises_a_clear_error_not_a_guess():
    with pytest.raises(CalendarNotCovered) as info:
        is_working_day(date(2030, 1, 2))
    assert info.value.year == 2030 and "chinese-calendar" in str(info.value)
    with pytest.raises(ValueError):  # CalendarNotCovered is a ValueError
        add_working_days(date(2030, 1, 2), 1)


def test_the_first_january_days_after_the_calendar_count_with_new_years_day_only():
    from backend.upkeep import deadlines

    first = date(deadlines.LAST_COVERED_YEAR + 1, 1, 1)
    assert not is_working_day(first)  # 元旦, fixed by law
    later = date(first.year, 1, 15)
    assert is_working_day(later) == (later.weekday() < 5)
    with pytest.raises(CalendarNotCovered):
        is_working_day(date(first.year, 1, 16))  # from here the lunar holidays and 调休 are unknown


def test_n_must_be_at_least_one():
    with pytest.raises(ValueError):
        add_working_days(date(2026, 11, 2), 0)
