"""Pure rules of project change requests (seed 004 §三(八)–(十); issue 14 item 2): no back-dating by the requester,
start-date extensions (《施工许可管理办法》第八条 as cited by seed 004 §三(八): 延期以两次为限，每次不超过三个月), approved
status periods, and the warnings a back-dated change may not clear."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from backend.errors import InvalidInput
from backend.org.services import (
    add_months,
    check_effective_not_before_request,
    check_start_extension,
    local_date,
    status_timeline,
    timeline_periods,
)
from backend.rules import DEFAULT_RULES
from backend.supervision.days import ProjectCalendar
from backend.supervision.services.projects import ProjectCtx, backdated_windows
from backend.supervision.services.warnings import held_by_backdating


def test_request_day_is_the_projects_local_date():
    # 17:00 UTC on 2 Dec is already 3 Dec in Asia/Shanghai
    assert local_date(datetime(2026, 12, 2, 17, 0, tzinfo=UTC), "Asia/Shanghai") == date(2026, 12, 3)
    assert local_date(datetime(2026, 12, 2, 15, 0, tzinfo=UTC), "Asia/Shanghai") == date(2026, 12, 2)
    assert local_date(datetime(2026, 12, 2, 17, 0, tzinfo=UTC), "No/Such_Zone") == date(2026, 12, 3)


def test_effective_date_may_not_precede_the_request_day():
    check_effective_not_before_request(date(2026, 12, 3), date(2026, 12, 3))
    check_effective_not_before_request(date(2026, 12, 9), date(2026, 12, 3))
    with pytest.raises(InvalidInput) as exc:
        check_effective_not_before_request(date(2026, 11, 3), date(2026, 12, 3))
    assert exc.value.code == "effective_before_request" and exc.value.field == "effective_on"
    assert "不能早于申请当日" in exc.value.zh and "never back-dated" in exc.value.en


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(date(2026, 1, 15), 3) == date(2026, 4, 15)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 10, 31), 2) == date(2026, 12, 31)


def test_start_extension_at_most_three_months_each_and_two_times_seed004_s3_8():
    rules = DEFAULT_RULES
    assert (rules.start_date_extension_max_months, rules.start_date_extension_max_count) == (3, 2)
    start = date(2026, 3, 1)
    check_start_extension(start, date(2026, 6, 1), 0, rules)  # exactly three months
    check_start_extension(start, date(2026, 6, 1), 1, rules)  # the second extension
    with pytest.raises(InvalidInput) as exc:
        check_start_extension(start, date(2026, 6, 2), 0, rules)
    assert exc.value.code == "start_extension_too_long"
    with pytest.raises(InvalidInput) as exc:
        check_start_extension(start, date(2026, 4, 1), 2, rules)  # a third extension
    assert exc.value.code == "start_extension_count"
    check_start_extension(start, date(2026, 2, 1), 5, rules)  # earlier: not an extension
    check_start_extension(None, date(2027, 1, 1), 0, rules)  # a first planned start: not an extension
    stricter = rules.with_overrides({"start_date_extension_max_count": 1})
    with pytest.raises(InvalidInput):
        check_start_extension(start, date(2026, 4, 1), 1, stricter)


def test_timeline_periods_cut_the_approved_history():
    tl = status_timeline([(date(2026, 1, 1), "preparing"), (date(2026, 2, 1), "under_construction"),
                          (date(2026, 3, 10), "suspended")])
    assert timeline_periods(tl, date(2026, 2, 20), date(2026, 3, 20)) == [
        (date(2026, 2, 20), date(2026, 3, 9), "under_construction"),
        (date(2026, 3, 10), date(2026, 3, 20), "suspended"),
    ]
    assert timeline_periods((), date(2026, 1, 1), date(2026, 1, 2)) == [
        (date(2026, 1, 1), date(2026, 1, 2), "preparing")]
    assert timeline_periods(tl, date(2026, 3, 2), date(2026, 3, 1)) == []


def _ctx(changes: list[tuple[date, str, date]]) -> ProjectCtx:
    return ProjectCtx(
        id=1, name="P", district_id=1, district_name="D", status="under_construction", category="building",
        planned_start=None, timezone="Asia/Shanghai", lon=None, lat=None,
        calendar=ProjectCalendar.build([(e, s) for e, s, _c in changes]), rules=DEFAULT_RULES,
        backdated=backdated_windows(changes),
    )


def test_backdated_windows_are_the_days_before_the_request():
    changes = [(date(2025, 8, 1), "under_construction", date(2025, 8, 1)),
               (date(2025, 9, 21), "suspended", date(2025, 10, 21))]
    assert backdated_windows(changes) == ((date(2025, 9, 21), date(2025, 10, 20)),)
    assert backdated_windows(changes[:1]) == ()


def test_a_backdated_change_never_clears_warnings_raised_for_days_before_its_request_seed000_s3():
    ctx = _ctx([(date(2025, 8, 1), "under_construction", date(2025, 8, 1)),
                (date(2025, 9, 21), "suspended", date(2025, 10, 21))])
    monthly = {"kind": "manager_valid_days", "period": "2025-10", "opened_on": date(2025, 10, 20), "detail": {}}
    assert held_by_backdating(monthly, ctx)
    assert held_by_backdating({**monthly, "period": "2025-09"}, ctx)
    assert not held_by_backdating({**monthly, "period": "2025-08"}, ctx)  # a month the change does not touch
    assert not held_by_backdating({**monthly, "opened_on": date(2025, 10, 25)}, ctx)  # raised after the request
    no_att = {"kind": "no_attendance", "period": "2025-10", "opened_on": date(2025, 10, 20),
              "detail": {"days": ["2025-10-19"]}}
    assert held_by_backdating(no_att, ctx)
    assert not held_by_backdating({**no_att, "detail": {"days": ["2025-10-22"]}}, ctx)
    assert not held_by_backdating({"kind": "device_outage", "period": "2025-10", "opened_on": date(2025, 10, 20),
                                   "detail": {}}, ctx)
    # a change approved for its own day holds nothing
    plain = _ctx([(date(2025, 8, 1), "under_construction", date(2025, 8, 1)),
                  (date(2025, 10, 21), "suspended", date(2025, 10, 21))])
    assert not held_by_backdating(monthly, plain)
