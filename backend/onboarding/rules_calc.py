"""The channel count of an install plan (安装方案, seed 002 §四.2) against seed 002 §三(一)2: pure functions."""

from __future__ import annotations

from backend.rules import DEFAULT_RULES, Rules


def channels_required(site_area_m2: float, rules: Rules = DEFAULT_RULES) -> int:
    """Attendance channels (考勤通道) a building site of ``site_area_m2`` (建筑面积) needs — seed 002 §三(一)2:
    "建筑面积小于3万平方安装1条通道（一进一出）；面积大于3万平方安装2条通道；以此类推面积每增加3万平方增加一条通道"
    (``rules.gate_channel_area_m2`` = 30,000).  Exactly 30,000 m² reads as "not more than": 1; 60,000 → 2;
    60,001 → 3.  No area (or a municipal work, "基本满足一条考勤通道") → 1."""
    return rules.required_gate_channels("building", site_area_m2)


def channel_shortfall(planned: int, site_area_m2: float | None, rules: Rules = DEFAULT_RULES) -> int:
    """How many channels the plan is short of the rule (0 when it meets it).  A warning, never a refusal:
    the seed's numbers are 参考设置 (a reference)."""
    return max(0, channels_required(site_area_m2 or 0.0, rules) - planned)
