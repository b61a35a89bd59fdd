"""Calendar rules of the supervision statistics (docs/supervision.md §1)."""

from __future__ import annotations

from datetime import date

import pytest

from backend.errors import InvalidInput
from backend.supervision.days import ProjectCalendar, days_between, parse_month, roster_days, status_timeline


def test_parse_month_gives_first_and_last_day():
    assert parse_month("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert parse_month("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert parse_month("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))


@pytest.mark.parametrize("bad", ["2026", "2026-13", "abc", "2026-00", "1999-01", ""])
def test_parse_month_refuses_bad_input_naming_the_field(bad):
    with pytest.raises(InvalidInput) as e:
        parse_month(bad)
    assert e.value.field == "month"


def test_status_replayed_in_recorded_order_a_backdated_start_overrides_the_registration_day():
    # create_project records 筹备 effective today; the start is then recorded back-dated (as the world fixture does).
    cal = ProjectCalendar.build([(date(2026, 11, 25), "preparing"), (date(2026, 10, 26), "under_construction")])
    assert cal.status_on(date(2026, 10, 25)) == "preparing"  # before the first change: not yet registered
    assert cal.status_on(date(2026, 10, 26)) == "under_construction"
    assert cal.status_on(date(2026, 11, 25)) == "under_construction"


def test_chronological_history_gives_the_obvious_timeline():
    tl = status_timeline([(date(2026, 1, 1), "preparing"), (date(2026, 2, 1), "under_construction"),
                          (date(2026, 3, 10), "suspended"), (date(2026, 3, 20), "under_construction")])
    assert tl == ((date(2026, 1, 1), "preparing"), (date(2026, 2, 1), "under_construction"),
                  (date(2026, 3, 10), "suspended"), (date(2026, 3, 20), "under_construction"))


def test_suspended_days_are_not_construction_days_seed001_13():
    cal = ProjectCalendar.build([(date(2026, 9, 1), "under_construction"), (date(2026, 10, 11), "suspended"),
                                 (date(2026, 10, 16), "under_construction")])
    days = cal.construction_days(date(2026, 10, 1), date(2026, 10, 31))
    assert len(days) == 31 - 5
    assert all(not (date(2026, 10, 11) <= d <= date(2026, 10, 15)) for d in days)
    assert cal.is_suspended(date(2026, 10, 15)) and not cal.is_suspended(date(2026, 10, 16))


def test_finished_days_are_not_construction_days():
    cal = ProjectCalendar.build([(date(2026, 9, 1), "under_construction"), (date(2026, 10, 21), "finished")])
    assert len(cal.construction_days(date(2026, 10, 1), date(2026, 10, 31))) == 20


def test_managers_counted_from_planned_start_plus_10_days_seed004():
    cal = ProjectCalendar.build([(date(2026, 10, 5), "under_construction")], planned_start=date(2026, 10, 5))
    assert cal.manager_start(10) == date(2026, 10, 15)
    mdays = cal.manager_days(date(2026, 10, 1), date(2026, 10, 31), 10)
    assert mdays[0] == date(2026, 10, 15) and len(mdays) == 17
    assert len(cal.construction_days(date(2026, 10, 1), date(2026, 10, 31))) == 27  # workers from the start


def test_manager_start_falls_back_to_first_construction_day_without_a_planned_start():
    cal = ProjectCalendar.build([(date(2026, 10, 5), "under_construction")])
    assert cal.manager_start(10) == date(2026, 10, 15)
    assert ProjectCalendar.build([(date(2026, 10, 5), "preparing")]).manager_start(10) is None


def test_roster_days_union_of_intervals_clipped_to_the_period():
    days = roster_days([(date(2026, 9, 20), date(2026, 10, 3)), (date(2026, 10, 30), None)],
                       date(2026, 10, 1), date(2026, 10, 31))
    assert sorted(days) == [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3), date(2026, 10, 30),
                            date(2026, 10, 31)]
    assert days_between(date(2026, 1, 2), date(2026, 1, 1)) == []
