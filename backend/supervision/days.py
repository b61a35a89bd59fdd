"""Calendar logic of the supervision rules — pure, no I/O (docs/supervision.md §1).

- A project's status on a day comes from its status history (``ProjectStatusChange``: only approved changes are
  written there, seed 004 §三(八)–(十) 二级审批), replayed in the order the changes were recorded: each change
  holds from its ``effective_on`` date onwards and replaces whatever had been recorded for that date and later
  (an approver's back-dated change corrects the timeline from its date on).  Before the first change the project
  was not yet registered (treated as 筹备).  ``ProjectCtx.recorded`` is the same history with each change counted
  from its request's date: what decides whether a warning may be cleared (never for days before the request).
- Construction days (施工时间, seed 000 §五) are the days the project was 在建.  停工 days are excluded from
  every rate (seed 001 §五(十三)); so are 筹备/完工/竣工 days.
- Managers' attendance is counted from the planned start + 10 days (seed 004 §四(一)); a project without a
  planned start falls back to its first 在建 day.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from backend.errors import invalid
from backend.org.services import status_timeline  # the one replay of approved status changes (org owns them)
from backend.vocabulary import ProjectStatus

CONSTRUCTION = ProjectStatus.under_construction
SUSPENDED = ProjectStatus.suspended
BEFORE_REGISTRATION = ProjectStatus.preparing


def parse_month(value: str) -> tuple[date, date]:
    """``"2026-11"`` → (first day, last day)."""
    try:
        year_s, month_s = value.split("-")
        year, month = int(year_s), int(month_s)
        first = date(year, month, 1)
    except (ValueError, AttributeError) as exc:
        raise invalid("month", f"月份格式应为 YYYY-MM：{value!r}", f"Month must be YYYY-MM: {value!r}") from exc
    if not 2000 <= year <= 2100:
        raise invalid("month", f"月份超出范围：{value}", f"Month out of range: {value}")
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def days_between(first: date, last: date) -> list[date]:
    if last < first:
        return []
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]




@dataclass(frozen=True, slots=True)
class ProjectCalendar:
    """A project's days: status per day, construction days, the managers' first counted day."""

    timeline: tuple[tuple[date, str], ...]
    planned_start: date | None = None
    _starts: tuple[date, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def build(cls, changes: Iterable[tuple[date, str]], planned_start: date | None = None) -> ProjectCalendar:
        timeline = status_timeline(changes)
        return cls(timeline=timeline, planned_start=planned_start, _starts=tuple(p[0] for p in timeline))

    def status_on(self, day: date) -> str:
        i = bisect.bisect_right(self._starts, day) - 1
        return self.timeline[i][1] if i >= 0 else BEFORE_REGISTRATION

    def is_construction(self, day: date) -> bool:
        return self.status_on(day) == CONSTRUCTION

    def is_suspended(self, day: date) -> bool:
        return self.status_on(day) == SUSPENDED

    def first_construction_day(self) -> date | None:
        for start, status in self.timeline:
            if status == CONSTRUCTION:
                return start
        return None

    def manager_start(self, offset_days: int) -> date | None:
        """First day managers' attendance is counted: planned start + offset (seed 004 §四(一))."""
        base = self.planned_start or self.first_construction_day()
        return base + timedelta(days=offset_days) if base else None

    def construction_days(self, first: date, last: date) -> list[date]:
        return [d for d in days_between(first, last) if self.is_construction(d)]

    def manager_days(self, first: date, last: date, offset_days: int) -> list[date]:
        start = self.manager_start(offset_days)
        if start is None:
            return []
        return [d for d in self.construction_days(max(first, start), last)]


def roster_days(intervals: Iterable[tuple[date, date | None]], first: date, last: date) -> set[date]:
    """Days within [first, last] covered by roster intervals (entered_on … exited_on inclusive)."""
    out: set[date] = set()
    for entered, exited in intervals:
        lo = max(entered, first)
        hi = min(exited, last) if exited else last
        out.update(days_between(lo, hi))
    return out
