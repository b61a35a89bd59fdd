"""Rates and thresholds of the supervision rules — pure, no I/O (docs/supervision.md §2–§3).

- Valid day (有效考勤天): a day with at least ``valid_day_min_punches`` punches that were not rejected
  (seed 000 §五; seed 001 §2.11.1 marks such a day with √).  Late uploads count unless the district sets
  ``late_upload_counts_as_valid`` to false.
- A person's on-duty rate (到岗率) = valid days / required days, where required days are the construction days
  of the month (for managers from planned start + 10) on which the person was on the roster.
- Composite on-duty rate (综合到岗率) of a project = Σ valid key-manager days / Σ required key-manager days
  over the key posts that are filled (seed 000 §五).
- Thresholds are compared exactly (fractions, not floats): 80 % of 15 days is 12 days, and 12 meets it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from backend.rules import Rules


def is_valid_day(ok: int, ok_on_time: int, rules: Rules) -> bool:
    counted = ok if rules.late_upload_counts_as_valid else ok_on_time
    return counted >= max(1, rules.valid_day_min_punches)


def rate(valid: int, required: int) -> float | None:
    return valid / required if required > 0 else None


def meets(valid: int, required: int, threshold: float) -> bool | None:
    """``valid / required >= threshold`` compared exactly; None when nothing was required."""
    if required <= 0:
        return None
    return Fraction(valid) >= Fraction(repr(threshold)) * required


def days_needed(required: int, threshold: float) -> int:
    """Smallest number of valid days that meets the threshold (ceil of threshold × required)."""
    need = Fraction(repr(threshold)) * required
    return -(-need.numerator // need.denominator)


@dataclass(frozen=True, slots=True)
class PersonMonth:
    person_id: int
    post: str | None
    required_days: int
    valid_days: int
    threshold: float

    @property
    def rate(self) -> float | None:
        return rate(self.valid_days, self.required_days)

    @property
    def absent_days(self) -> int:
        return max(0, self.required_days - self.valid_days)

    @property
    def meets(self) -> bool | None:
        return meets(self.valid_days, self.required_days, self.threshold)


@dataclass(frozen=True, slots=True)
class Composite:
    valid_days: int
    required_days: int
    threshold: float

    @property
    def rate(self) -> float | None:
        return rate(self.valid_days, self.required_days)

    @property
    def meets(self) -> bool | None:
        return meets(self.valid_days, self.required_days, self.threshold)


def composite(people: Iterable[PersonMonth], threshold: float) -> Composite:
    valid = required = 0
    for p in people:
        valid += min(p.valid_days, p.required_days)
        required += p.required_days
    return Composite(valid_days=valid, required_days=required, threshold=threshold)


def pct(value: float | None, digits: int = 1) -> str:
    """0.8 → "80.0%"; None → "—"."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"
