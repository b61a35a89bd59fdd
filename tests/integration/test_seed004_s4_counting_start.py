"""Seed 004 §四(一): "工程项目施工报建开工日期（报建系统上项目的拟开工日期）起10天后开始对施工现场管理人员进行考勤管理，
对人员不到位无考勤的…无考勤记录等未落实实名制管理制度的…扣分" (issue 14 item 8): no warning about managers'
attendance or missing attendance before counting starts (``Rules.manager_counting_start``)."""

from __future__ import annotations

from datetime import date

import pytest

from backend.supervision import services
from backend.supervision.days import days_between
from tests.integration.supervision.conftest import add_person, make_district, make_site, punch

pytestmark = pytest.mark.integration

START = date(2025, 11, 1)  # planned and actual start: day 1; the 10 days are 2–11 Nov (民法典 §201): counted from the 12th


async def test_no_warning_on_day_4_when_counting_starts_on_day_12_seed004_s4(migrated_db):
    site = await make_site(await make_district(), start=START, planned_start=START)
    # Day 4's statistics (run on day 5): no key post set, no attendance at all — and nothing to warn about yet.
    findings, evaluated = await services.detect_findings(date(2025, 11, 5), {site.project})
    assert site.project in evaluated and findings == []
    summary = await services.evaluate_warnings(date(2025, 11, 5), {site.project}, notify=False)
    assert summary.opened == []
    for today in days_between(date(2025, 11, 2), date(2025, 11, 12)):  # statistics days 1–11
        findings, _ = await services.detect_findings(today, {site.project})
        assert findings == [], today
    # From the first counted day on (day 12's statistics, run on day 13) both findings appear.
    findings, _ = await services.detect_findings(date(2025, 11, 13), {site.project})
    kinds = {f.kind for f in findings}
    assert {"post_missing", "no_attendance"} <= kinds


async def test_the_first_partial_month_is_judged_on_its_counted_days_seed004_s4_seed000_s5(migrated_db):
    site = await make_site(await make_district(), start=START, planned_start=START)
    pm = await add_person(site, "始经理", post="project_manager", entered_on=START)
    for d in days_between(date(2025, 11, 15), date(2025, 11, 30)):  # 16 of the 19 counted days (12th–30th)
        await punch(site, pm, d)
    [s] = await services.managers_month({site.project}, "2025-11", as_of=date(2025, 11, 30))
    [p] = s.people
    assert s.manager_start == date(2025, 11, 12)
    assert (p.verdict.construction_days, p.verdict.required_days, p.verdict.valid_days) == (19, 16, 16)  # ⌈15.2⌉
    assert p.verdict.verdict == "met" and s.below == []
    # Absent 12th–14th: still reachable on day 14's statistics, so no warning during the month.
    findings, _ = await services.detect_findings(date(2025, 11, 15), {site.project})
    assert not any(f.kind in ("manager_valid_days", "composite_rate") for f in findings)


async def test_explain_names_punches_before_the_counting_start_seed004_s4(migrated_db):
    from backend.supervision.services.explain import explain_project_month

    site = await make_site(await make_district(), start=START, planned_start=START)
    pm = await add_person(site, "早经理", post="project_manager", entered_on=START)
    for d in days_between(START, date(2025, 11, 30)):
        await punch(site, pm, d)
    e = await explain_project_month(site.project, "2025-11")
    [cal] = [x for x in e.lines if x.rule == "construction_days"]
    assert cal.inputs["manager_counting_start"] == "2025-11-12" and cal.inputs["counted_days"] == 19
    [line] = [x for x in e.lines if x.rule == "manager_valid_days_ratio"]
    assert line.inputs["punches_counted"] == 19 and line.inputs["valid_days"] == 19
    [(reason, n)] = line.inputs["punches_not_counted"].items()
    assert reason.startswith("未到管理人员考勤计算日") and n == 11
