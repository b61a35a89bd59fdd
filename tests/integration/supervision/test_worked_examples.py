"""Worked examples from the seeds: a month with a suspension (seed 001 §五(十三)), a manager at 80 % and one at
79 % (seed 000 §五), managers counted from the day after the 10 days that follow the planned start (seed 004 §四(一), 民法典 §201)."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from backend.supervision import services
from backend.supervision.days import days_between

pytestmark = pytest.mark.integration

OCT = "2025-10"
OCT_DAYS = days_between(date(2025, 10, 1), date(2025, 10, 31))
SUSPENDED = [d for d in OCT_DAYS if date(2025, 10, 11) <= d <= date(2025, 10, 16)]
CONSTRUCTION = [d for d in OCT_DAYS if d not in SUSPENDED]


@pytest.fixture(scope="module")
async def october(migrated_db):
    """October 2025: 31 days, 停工 11–16 (6 days) → 25 construction days."""
    from tests.integration.supervision.conftest import add_person, make_district, make_site, punch

    district = await make_district()
    site = await make_site(district, start=date(2025, 8, 1), history=[
        (date(2025, 10, 11), "suspended"), (date(2025, 10, 17), "under_construction")])
    worker = await add_person(site, "张工人", entered_on=date(2025, 8, 1))
    pm = await add_person(site, "李经理", post="project_manager", entered_on=date(2025, 8, 1))
    so = await add_person(site, "王安全", post="safety_officer", entered_on=date(2025, 10, 2))
    tl = await add_person(site, "赵技术", post="technical_lead", entered_on=date(2025, 8, 1))
    for d in OCT_DAYS:  # the worker punches every day, also while suspended (seed 001 §五(十三): 仍要打卡)
        await punch(site, worker, d)
    for d in CONSTRUCTION[:20]:
        await punch(site, pm, d)
    await punch(site, pm, CONSTRUCTION[21], reasons=("face_mismatch",))  # only a rejected punch that day
    for d in [d for d in CONSTRUCTION if d >= date(2025, 10, 2)][:19]:
        await punch(site, so, d)
    for d in CONSTRUCTION + SUSPENDED[:3]:
        await punch(site, tl, d, at=time(7, 30))
    return site


async def test_month_with_a_suspension_excludes_the_stopped_days_from_every_rate_seed001(october):
    m = await services.monthly_matrix({october.project}, OCT, as_of=date(2025, 11, 30))
    row = next(r for r in m.rows if r.person_id == october.people["张工人"])
    assert row.required_days == 25 and row.valid_days == 25 and row.rate == 1.0
    for i, d in enumerate(m.days):
        assert row.cells[i] == ("停√" if d in SUSPENDED else "√"), d
    assert m.day_suspended == [d in SUSPENDED for d in m.days]
    assert m.day_required[m.days.index(date(2025, 10, 12))] == 0  # nobody is required on a 停工 day


async def test_manager_at_80_percent_meets_and_at_79_percent_does_not_seed000(october):
    [s] = await services.managers_month({october.project}, OCT, as_of=date(2025, 11, 30))
    assert (s.construction_days, s.suspended_days, s.manager_days) == (25, 6, 25)
    pm = next(p for p in s.people if p.post == "project_manager")
    so = next(p for p in s.people if p.post == "safety_officer")
    tl = next(p for p in s.people if p.post == "technical_lead")
    assert (pm.month.valid_days, pm.month.required_days, pm.month.meets) == (20, 25, True)  # 80.0 %
    assert (so.month.valid_days, so.month.required_days, so.month.meets) == (19, 24, False)  # 79.2 % (entered 2nd)
    assert (tl.month.valid_days, tl.month.required_days) == (25, 25)  # suspended-day punches do not count
    assert s.below == ["safety_officer"]
    assert s.composite.valid_days == 64 and s.composite.required_days == 74 and s.composite.meets is True
    assert set(s.missing) == {"quality_officer", "construction_officer", "labour_officer",
                              "chief_supervising_engineer"}
    assert s.absent == []
    assert "未到岗 5 天 到岗率 80.0%" in pm.summary and "到岗率 79.2%" in so.summary


async def test_rejected_only_day_is_not_valid_and_shows_a_cross(october):
    m = await services.monthly_matrix({october.project}, OCT, work_role="manager", as_of=date(2025, 11, 30))
    pm = next(r for r in m.rows if r.person_id == october.people["李经理"])
    assert pm.cells[m.days.index(CONSTRUCTION[21])] == "×" and pm.valid_days == 20
    assert {r.work_role for r in m.rows} == {"manager"}


async def test_filters_of_seed001_manager_table(october):
    stats = await services.managers_month({october.project}, OCT, as_of=date(2025, 11, 30))
    f = services.ManagerFilters
    assert await services.filter_managers(stats, f(below=frozenset({"safety_officer"})))
    assert not await services.filter_managers(stats, f(below=frozenset({"project_manager"})))
    assert await services.filter_managers(stats, f(missing=frozenset({"chief_supervising_engineer"})))
    assert not await services.filter_managers(stats, f(missing=frozenset({"project_manager"})))
    assert not await services.filter_managers(stats, f(absent=frozenset({"project_manager"})))
    assert not await services.filter_managers(stats, f(composite_below=True))
    assert await services.filter_managers(stats, f(person="王安全"))
    assert not await services.filter_managers(stats, f(person="不存在的人"))


async def test_rollup_gives_the_same_figures_as_live_computation(october):
    live = await services.monthly_matrix({october.project}, OCT, as_of=date(2025, 11, 30))
    result = await services.rollup_month(OCT)
    assert result.days == 31 and result.rows >= 25 + 20 + 19 + 28
    stored = await services.monthly_matrix({october.project}, OCT, as_of=date(2025, 11, 30))
    assert [(r.person_id, r.cells, r.valid_days, r.required_days) for r in stored.rows] == \
        [(r.person_id, r.cells, r.valid_days, r.required_days) for r in live.rows]
    assert stored.updated_at is not None


async def test_managers_counted_from_planned_start_plus_10_days_seed004(migrated_db):
    from tests.integration.supervision.conftest import add_person, make_district, make_site, punch

    site = await make_site(await make_district(), start=date(2025, 10, 5), planned_start=date(2025, 10, 5))
    worker = await add_person(site, "孙工人", entered_on=date(2025, 10, 5))
    pm = await add_person(site, "周经理", post="project_manager", entered_on=date(2025, 10, 5))
    for d in days_between(date(2025, 10, 5), date(2025, 10, 31)):
        await punch(site, worker, d)
        await punch(site, pm, d)
    m = await services.monthly_matrix({site.project}, OCT, as_of=date(2025, 11, 30))
    w = next(r for r in m.rows if r.person_id == worker)
    p = next(r for r in m.rows if r.person_id == pm)
    assert (w.valid_days, w.required_days) == (27, 27)
    # "拟开工日期起10天后": the 10 days are 6–15 October (民法典 §201: the 5th not counted) → from 16 October
    assert (p.valid_days, p.required_days) == (16, 16)
    assert p.cells[m.days.index(date(2025, 10, 15))] == "○" and p.cells[m.days.index(date(2025, 10, 16))] == "√"
    [s] = await services.managers_month({site.project}, OCT, as_of=date(2025, 11, 30))
    assert s.manager_start == date(2025, 10, 16) and s.manager_days == 16


async def test_warning_turns_red_the_day_after_its_5_days_when_not_fixed_seed000(migrated_db):
    """Seed 000 §三 "5日内不能整改到位的，将转为红灯预警" read with 民法典 §201 (the opening day is not counted):
    yellow on the 20th, the 5 days are the 21st–25th, still yellow on the 25th, red on the 26th; then rectified."""
    from tests.integration.supervision.conftest import add_person, make_district, make_site, punch

    site = await make_site(await make_district(), start=date(2025, 8, 1))
    pm = await add_person(site, "吴经理", post="project_manager", entered_on=date(2025, 8, 1))
    for d in days_between(date(2025, 10, 1), date(2025, 10, 31)):
        await punch(site, pm, d)
    scope = {site.project}
    day1 = date(2025, 10, 20)

    def safety_case(rows):
        return [r for r in rows if r["kind"] == "post_missing" and r["post"] == "safety_officer"]

    s1 = await services.evaluate_warnings(day1, scope, notify=False)
    [case] = safety_case((await services.list_cases(scope))[0])
    assert case["id"] in s1.opened and case["level"] == "yellow" and case["opened_on"] == day1
    assert "未设置安全员" in case["message"]
    await services.evaluate_warnings(day1 + timedelta(days=5), scope, notify=False)  # the 25th: last day to fix
    [case] = safety_case((await services.list_cases(scope))[0])
    assert case["level"] == "yellow"
    s6 = await services.evaluate_warnings(day1 + timedelta(days=6), scope, notify=False)  # the 26th
    [case] = safety_case((await services.list_cases(scope))[0])
    assert case["level"] == "red" and case["red_on"] == date(2025, 10, 26) and case["id"] in s6.escalated
    # The post is filled and the officer attends: the next run finds the condition cleared.
    so = await add_person(site, "郑安全", post="safety_officer", entered_on=date(2025, 10, 25))
    for d in days_between(date(2025, 10, 25), date(2025, 10, 26)):
        await punch(site, so, d)
    s7 = await services.evaluate_warnings(day1 + timedelta(days=7), scope, notify=False)
    detail = await services.get_case(case["id"], scope)
    assert case["id"] in s7.rectified and detail["status"] == "rectified" and detail["level"] == "red"
    assert [e["action"] for e in detail["events"]] == ["opened", "escalated", "rectified"]
    assert all(e["actor_name"] == "系统" for e in detail["events"])
