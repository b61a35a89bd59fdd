"""The month arithmetic of punch's monthly partitions (backend/attendance/partitions.py, issue 18): bounds are
'YYYY-MM-01' to the first day of the next month, across year ends; names sort like months; the catalog's bound
text is read back; a month argument is YYYY-MM or refused."""

from __future__ import annotations

from datetime import date

import pytest

from backend.attendance import partitions as part


def test_month_bounds_run_from_the_first_to_the_first_of_the_next_month_across_the_year_end():
    assert part.month_bounds(2026, 12) == ("2026-12-01", "2027-01-01")
    assert part.month_bounds(2027, 2) == ("2027-02-01", "2027-03-01")
    assert part.partition_name(2026, 1) == "punch_2026_01"


def test_shift_month_goes_back_and_forward_over_years():
    assert part.shift_month(2026, 12, 13) == (2028, 1)
    assert part.shift_month(2026, 12, -12) == (2025, 12)
    assert part.shift_month(2026, 1, -1) == (2025, 12)


def test_wanted_months_are_this_month_and_the_months_ahead():
    months = part.wanted_months(date(2026, 12, 31), 13)
    assert len(months) == 14 and months[0] == (2026, 12) and months[-1] == (2028, 1)
    assert part.wanted_months(date(2026, 12, 3), 1, back=2) == [(2026, 10), (2026, 11), (2026, 12), (2027, 1)]


def test_the_catalogs_bound_text_is_read_back_and_default_has_none():
    assert part.parse_bound("FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')") == ("2026-12-01", "2027-01-01")
    assert part.parse_bound("DEFAULT") == (None, None)
    info = part.PartitionInfo("punch_2026_12", "2026-12-01", "2027-01-01")
    assert info.month == "2026-12" and not info.is_default
    assert part.PartitionInfo("punch_default", None, None).is_default


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "202612", "", "2026-00"])
def test_a_month_argument_must_be_yyyy_mm(text):
    with pytest.raises(ValueError):
        part.parse_month(text)
    assert part.parse_month("2021-08") == (2021, 8)


def test_a_month_is_droppable_only_without_a_project_that_keeps_it():
    assert part.DropItem("punch_2021_06", "2021-06", 3, {7: 3}).droppable
    assert not part.DropItem("punch_2021_07", "2021-07", 2, {7: 1, 8: 1}, blocking=[8]).droppable
