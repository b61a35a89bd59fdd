"""The monthly rules of seed 000 §五, judged on the whole month — pure, no I/O (docs/supervision.md §3).

"项目负责人…每月上传的有效考勤天数不得少于本月施工时间的 80%，综合到岗率不得低于 60%": the rule is about a
month.  Our reading:

- **本月施工时间** (the denominator) = the month's counted days: calendar days on which the project is 在建
  (not 停工, 筹备, 完工, 竣工), from the managers' counting start on (seed 004 §四(一)), on which the person was on
  the project's roster.  Calendar days, weekends and public holidays included: the seed says 施工时间, not 工作日,
  and seed 001 §2.11.1's sample counts this way (October 2022: 28 days → 90.32 % = 28/31, National Day week
  included).  A first (or last) partial month is judged on the counted days it has.
- **Required days** = ceil(ratio × construction days), compared exactly: "不得少于 80%" means valid ≥ 0.8 × N, i.e.
  valid ≥ ⌈0.8 N⌉ (25 of 31, 20 of 25, 24 of 30).
- **During the month** the rate can still be met: days so far are the counted days before ``today`` (statistics
  run to yesterday, seed 001 §2.11.3), days still possible are the counted days from ``today`` to the month's end
  as the project's status and the roster stand now.  Verdicts: ``met`` (the required days are already reached),
  ``at_risk_but_reachable`` (not yet, but valid so far + days still possible ≥ required), ``cannot_be_met`` (even
  attending every remaining day is not enough) — only this one is a finding during the month.
- **After the month** (``today`` past its last day) the whole month is judged: ``met`` or ``failed``.
- The 5-day yellow→red escalation of seed 000 §三 is for missing data and unrectified findings; a monthly rate
  is not escalated by days (a failed month cannot be put right in 5 days: it goes to investigation and 销号,
  seed 000 §五).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from backend.rules import DEFAULT_RULES
from backend.supervision import metrics
from backend.supervision.days import parse_month
from backend.vocabulary import MONTH_VERDICT_ZH as MONTH_VERDICT_ZH  # re-exported
from backend.vocabulary import MonthVerdictCode

NOT_COUNTED_ZH = "未到计算日（本月无应出勤日）"
# Verdicts that are findings (a warning, the …月出勤不达标 filter).
FINDING_VERDICTS = frozenset({MonthVerdictCode.cannot_be_met, MonthVerdictCode.failed})


@dataclass(frozen=True, slots=True)
class MonthVerdict:
    ratio: float
    construction_days: int  # the month's counted days: so far + still possible (the denominator, 本月施工时间)
    required_days: int  # ceil(ratio × construction_days)
    days_so_far: int  # counted days before ``today``
    valid_days: int  # valid days among them
    days_remaining: int  # counted days from ``today`` to the month's end (projection)
    month_ended: bool
    verdict: str | None  # MonthVerdictCode; None when the month has no counted day

    @property
    def max_possible(self) -> int:
        """Valid days at the month's end if every remaining day is attended (the best projection)."""
        return self.valid_days + self.days_remaining

    @property
    def still_needed(self) -> int:
        return max(0, self.required_days - self.valid_days)

    @property
    def rate_so_far(self) -> float | None:
        return metrics.rate(self.valid_days, self.days_so_far)

    @property
    def month_rate(self) -> float | None:
        """The whole month's rate: final once the month ended; during it, what was reached so far over the
        month's days (a lower bound)."""
        return metrics.rate(self.valid_days, self.construction_days)

    @property
    def best_rate(self) -> float | None:
        return metrics.rate(self.max_possible, self.construction_days)

    @property
    def is_finding(self) -> bool:
        return self.verdict in FINDING_VERDICTS

    @property
    def label(self) -> str:
        return MONTH_VERDICT_ZH[self.verdict] if self.verdict else NOT_COUNTED_ZH

    @property
    def projection_zh(self) -> str:
        """One line for people: what was reached, what is still possible, what is required."""
        if self.verdict is None:
            return NOT_COUNTED_ZH
        head = (f"有效 {self.valid_days}/{self.construction_days} 天（{metrics.pct(self.month_rate)}）"
                if self.month_ended else
                f"截至昨日有效 {self.valid_days}/{self.days_so_far} 天，本月剩余可出勤 {self.days_remaining} 天，"
                f"最多 {self.max_possible}/{self.construction_days} 天（{metrics.pct(self.best_rate)}）")
        return f"{head}；应不少于 {self.required_days} 天（{metrics.pct(self.ratio, 0)}）：{self.label}"


def judge_counts(days_so_far: int, valid_days: int, days_remaining: int, ratio: float,
                 month_ended: bool) -> MonthVerdict:
    """The verdict from the counts (also used for the composite rate, in person-days)."""
    valid_days = min(valid_days, days_so_far)
    remaining = 0 if month_ended else max(0, days_remaining)
    total = days_so_far + remaining
    required = metrics.days_needed(total, ratio) if total else 0
    verdict: str | None
    if total == 0:
        verdict = None
    elif valid_days >= required:
        verdict = MonthVerdictCode.met
    elif month_ended:
        verdict = MonthVerdictCode.failed
    elif valid_days + remaining >= required:
        verdict = MonthVerdictCode.at_risk_but_reachable
    else:
        verdict = MonthVerdictCode.cannot_be_met
    return MonthVerdict(ratio=ratio, construction_days=total, required_days=required, days_so_far=days_so_far,
                        valid_days=valid_days, days_remaining=remaining, month_ended=month_ended, verdict=verdict)


def judge_month(construction_days: Iterable[date], valid_days: Iterable[date], today: date, month: str,
                ratio: float = DEFAULT_RULES.manager_valid_days_ratio) -> MonthVerdict:
    """One person's month: ``construction_days`` are the month's counted days (past ones and the projected rest),
    ``valid_days`` the days with a counted punch; days before ``today`` are past.  Days outside the month or not
    counted are ignored."""
    first, last = parse_month(month)
    counted = {d for d in construction_days if first <= d <= last}
    past = {d for d in counted if d < today}
    valid = sum(1 for d in set(valid_days) if d in past)
    return judge_counts(len(past), valid, len(counted) - len(past), ratio, month_ended=today > last)
