"""Seed 000 §六: "从实名制通道采用人脸、虹膜进行打卡考勤，采用指纹、门禁卡等其他方式进入施工现场的，视为未落实实名制管理"
(issue 14 item 1).  A gate punch in another mode than face (刷卡模式 ≠ 6, flagged ``non_face_mode``) is kept and
shown as 非人脸方式, never counts towards valid days, rates or "has attendance", and raises a finding."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.supervision import services
from backend.supervision.days import days_between
from tests.integration.supervision.conftest import add_person, make_district, make_site, punch

pytestmark = pytest.mark.integration

OCT = "2025-10"
OCT_DAYS = days_between(date(2025, 10, 1), date(2025, 10, 31))
CARD = ("non_face_mode",)  # what the gate adapter sets for 刷卡模式 ≠ 6 (backend/devices/protocols/jiangmen.py)


@pytest.fixture
async def card_site(migrated_db):
    """A project manager who entered by access card every day of October: 31 card punches."""
    site = await make_site(await make_district(), start=date(2025, 8, 1))
    pm = await add_person(site, "卡经理", post="project_manager", entered_on=date(2025, 8, 1))
    for d in OCT_DAYS:
        v = await punch(site, pm, d, flags=CARD)
        assert v.verdict == "flagged" and "non_face_mode" in v.flags  # stored with its verdict, kept
    return site


async def test_31_card_punches_give_no_valid_day_seed000_s6(card_site):
    pm = card_site.people["卡经理"]
    [s] = await services.managers_month({card_site.project}, OCT, as_of=date(2025, 10, 31))
    [p] = [p for p in s.people if p.person_id == pm]
    assert (p.month.valid_days, p.month.required_days) == (0, 31)
    assert p.verdict.verdict == "failed" and s.below == ["project_manager"] and s.absent == ["project_manager"]
    assert s.composite.valid_days == 0 and s.composite_below
    m = await services.monthly_matrix({card_site.project}, OCT, as_of=date(2025, 11, 30))
    [row] = [r for r in m.rows if r.person_id == pm]
    assert row.valid_days == 0 and set(row.cells) == {"×"} and row.meets is False
    # The stored rollups use the same predicate as the live aggregate.
    await services.rollup_month(OCT, today=date(2025, 11, 30))
    stored = await services.monthly_matrix({card_site.project}, OCT, as_of=date(2025, 11, 30))
    assert [(r.cells, r.valid_days) for r in stored.rows] == [(r.cells, r.valid_days) for r in m.rows]
    # "Has attendance" (dashboards: 有考勤项目) does not see card punches either.
    totals = await services.project_day_totals(await services.project_contexts({card_site.project}),
                                               date(2025, 10, 5))
    assert totals.get(card_site.project, (0, 0)) == (0, 0)


async def test_detail_shows_non_face_and_not_counted_seed000_s6(card_site):
    rows, total = await services.punch_detail({card_site.project}, date(2025, 10, 1), date(2025, 10, 31))
    assert total == 31
    for r in rows:
        assert not r["counted"] and r["not_counted_label"].startswith("非人脸方式")
        assert any(label.startswith("非人脸方式") for label in r["reason_labels"])


async def test_non_face_punches_raise_a_finding_that_turns_red_seed000_s6_s3(card_site):
    day1 = date(2025, 10, 20)
    findings, _ = await services.detect_findings(day1, {card_site.project})
    [f] = [f for f in findings if f.kind == "non_face_punch"]
    assert "非人脸方式" in f.message and "未落实实名制管理" in f.message and f.detail["punches"] == 1
    # Card punches are no attendance: the project had none on the 19th.
    assert any(f.kind == "no_attendance" for f in findings)
    scope = {card_site.project}
    s1 = await services.evaluate_warnings(day1, scope, notify=False)
    rows, _ = await services.list_cases(scope, kind="non_face_punch")
    [case] = rows
    assert case["id"] in s1.opened and case["level"] == "yellow" and case["kind_label"].startswith("未落实实名制管理")
    # Still entering by card: not rectified within the 5 days after the opening day (21st–25th), red on the 26th
    # (seed 000 §三: 5日内不能整改到位的，将转为红灯预警; 民法典 §201).
    s5 = await services.evaluate_warnings(day1 + timedelta(days=5), scope, notify=False)
    assert case["id"] not in s5.escalated
    s6 = await services.evaluate_warnings(day1 + timedelta(days=6), scope, notify=False)
    assert case["id"] in s6.escalated


async def test_a_face_punch_the_same_day_still_counts(migrated_db):
    site = await make_site(await make_district(), start=date(2025, 8, 1))
    pm = await add_person(site, "混经理", post="project_manager", entered_on=date(2025, 8, 1))
    day = date(2025, 10, 6)
    await punch(site, pm, day, flags=CARD)
    await punch(site, pm, day)  # by face at the same gate later
    [s] = await services.managers_month({site.project}, OCT, as_of=day)
    [p] = [p for p in s.people if p.person_id == pm]
    assert (p.month.valid_days, p.month.required_days) == (1, 6)
    rows, _ = await services.punch_detail({site.project}, day, day)
    assert sorted(r["counted"] for r in rows) == [False, True]


async def test_explain_shows_the_card_punches_as_not_counted_seed000_s6(card_site, client):
    """`smz rules explain PROJECT --month 2025-10` and the project page: inputs a supervisor can check by hand."""
    from backend.supervision.services.explain import explain_project_month
    from tests.integration.conftest import login
    from tests.integration.supervision.conftest import make_user

    e = await explain_project_month(card_site.project, OCT)
    [cal] = [x for x in e.lines if x.rule == "construction_days"]
    assert cal.inputs["counted_days"] == 31 and cal.inputs["month_ended"] is True
    [pm] = [x for x in e.lines if x.rule == "manager_valid_days_ratio"]
    assert (pm.inputs["construction_days"], pm.inputs["valid_days"], pm.inputs["required_days"]) == (31, 0, 25)
    assert pm.inputs["punches_counted"] == 0
    assert pm.inputs["punches_not_counted"] == {"非人脸方式（门禁卡、指纹等），不计入考勤": 31}
    assert "本月不达标" in pm.verdict and pm.clause
    [nf] = [x for x in e.lines if x.rule == "non_face_mode"]
    assert nf.inputs["punches"] == 31 and "未落实实名制管理" in nf.verdict
    headers = await login(client, await make_user("supervisor", district_ids=[card_site.district]))
    r = await client.get(f"/supervision/projects/{card_site.project}/month-rules?month={OCT}", headers=headers)
    assert r.status_code == 200 and "非人脸方式" in r.text and "本月不达标" in r.text
    page = await client.get(f"/projects/{card_site.project}", headers=headers)
    assert page.status_code == 200 and f"/supervision/projects/{card_site.project}/month-rules" in page.text
    outsider = await login(client, await make_user("supervisor", district_ids=[await make_district()]))
    r = await client.get(f"/supervision/projects/{card_site.project}/month-rules?month={OCT}", headers=outsider)
    assert r.status_code in (403, 404)
