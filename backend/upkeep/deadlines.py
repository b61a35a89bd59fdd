"""Deadlines of device upkeep, as pure functions (no I/O, no clock).

- seed 002 §四.5 拆除与移机: 施工单位应提前 3 个工作日报知……完成设备拆除或移动后，设备供应服务商应在 1 个工作日内
  报……进行合规性验收;
- seed 002 §五.4: 运行服务商……应在接到报障后 24 小时内修复完成.

Working days follow the State Council's holiday schedule, adjusted working days (调休, e.g. a Saturday worked before
National Day) included, from the maintained ``chinese_calendar`` package.  A date outside the package's data raises
``CalendarNotCovered`` — never a guess from weekdays alone (upgrade the package when a new year's schedule is out) —
with one narrow exception: the first days of January of the year right after the data (``YEAR_END_BRIDGE``), so that
a notice filed in late December can be counted before the package ships the next year.  There only the fixed-date
holiday set by law counts (元旦 1 January, 《全国年节及纪念日放假办法》第二条), with weekends; no lunar holiday can fall
that early (除夕 is never before 20 January).  docs/rules.md, "Working days".

Counting: "the n-th working day after d" — d itself never counts, whatever it is (民法典 §201: 开始的当日不计入).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar

# A bound on the walk in add_working_days: no holiday break is anywhere near this long.
_MAX_STEPS_PER_WORKING_DAY = 30
# The last year the installed calendar knows (its holiday table is keyed by date).
LAST_COVERED_YEAR = max(d.year for d in chinese_calendar.holidays)
# (month, day) up to which the year after LAST_COVERED_YEAR is bridged with the law's fixed-date holidays.
YEAR_END_BRIDGE = (1, 15)
# 《全国年节及纪念日放假办法》(2024) 第二条: the holidays of every citizen fixed to a solar date in January.
STATUTORY_JANUARY_HOLIDAYS = frozenset({1})


class CalendarNotCovered(ValueError):
    """The holiday calendar has no data for this date's year."""

    def __init__(self, d: date, detail: str = "") -> None:
        self.day = d
        self.year = d.year
        super().__init__(
            f"节假日日历（chinese-calendar）没有 {d.year} 年的数据，无法计算工作日；请升级 chinese-calendar / "
            f"the holiday calendar (chinese-calendar) has no data for {d.year}: upgrade it"
            + (f" ({detail})" if detail else ""))


def is_working_day(d: date) -> bool:
    """A working day in mainland China: Monday–Friday unless a public holiday, plus adjusted working days (调休
    weekends).  Raises ``CalendarNotCovered`` outside the calendar's data."""
    if isinstance(d, datetime):
        d = d.date()
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError as exc:  # the package's "no available data for year …"
        if d.year == LAST_COVERED_YEAR + 1 and (d.month, d.day) <= YEAR_END_BRIDGE:
            return d.weekday() < 5 and d.day not in STATUTORY_JANUARY_HOLIDAYS
        raise CalendarNotCovered(d, str(exc)) from None


def add_working_days(d: date, n: int) -> date:
    """The ``n``-th working day after ``d`` (n ≥ 1); ``d`` itself never counts."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    day = d
    found = 0
    for _ in range(n * _MAX_STEPS_PER_WORKING_DAY):
        day += timedelta(days=1)
        if is_working_day(day):
            found += 1
            if found == n:
                return day
    raise CalendarNotCovered(day, "no working day found")  # pragma: no cover - no break is that long


def removal_notice_on_time(filed_on: date, removal_on: date, *, min_working_days: int = 3) -> bool:
    """seed 002 §四.5 "提前3个工作日报知": on time iff the removal (or move) is on or after the ``min_working_days``-th
    working day after the day the notice was filed."""
    return removal_on >= add_working_days(filed_on, min_working_days)


def acceptance_due(removed_on: date, *, working_days: int = 1) -> date:
    """seed 002 §四.5 "在1个工作日内……进行合规性验收": the last day the compliance acceptance may be filed."""
    return add_working_days(removed_on, working_days)


def acceptance_on_time(removed_on: date, accepted_on: date, *, working_days: int = 1) -> bool:
    return accepted_on <= acceptance_due(removed_on, working_days=working_days)


def _check_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def repair_due(opened_at: datetime, *, hours: int = 24) -> datetime:
    """seed 002 §五.4 "接到报障后24小时内修复完成": the moment a repair ticket must be closed by."""
    _check_aware(opened_at, "opened_at")
    return opened_at + timedelta(hours=hours)


def repair_overdue(opened_at: datetime, now: datetime, closed_at: datetime | None = None, *, hours: int = 24) -> bool:
    """Closed: whether it was closed after the due time.  Open: whether ``now`` is past the due time."""
    due = repair_due(opened_at, hours=hours)
    if closed_at is not None:
        _check_aware(closed_at, "closed_at")
        return closed_at > due
    _check_aware(now, "now")
    return now > due
