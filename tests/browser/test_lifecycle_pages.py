"""Issue 15 in headless Chromium, as the roles that do each step: a stop request approved at two levels suspends
the project (seed 004 §三(九)); a start-date extension beyond 3 months is refused with the message (seed 004
§三(八)); a unit is added (bad USCC refused, good accepted), a team with its foreman, and the team cannot end while
someone is on it (seed 001 §2.6–2.7); two make-ups approved in bulk show 已批准 in the worker's phone (seed 000 §六).

The app runs in the test's own event loop (``serve_app``) against the session's database; the site is made
through the services."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SMZ_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "lifecycle-pass-2026"
TZ = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def today_local() -> date:
    return datetime.now(TZ).date()


@dataclass
class LifeSite:
    project: int  # 在建
    to_stop: int  # 在建, the one the stop request suspends
    preparing: int  # 筹备, planned start in 10 days
    planned_start: date
    gc_unit: int
    team: int
    workers: list[int]
    users: dict[str, str] = field(default_factory=dict)
    makeups: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
async def life_site(migrated_db: str) -> LifeSite:
    from backend.accounts.services import create_user
    from backend.clockin.tables import MakeupRequest
    from backend.demo import fake_id_number, fake_uscc
    from backend.org import services as org
    from backend.workforce import services as workforce

    rng = random.Random()
    tag = uuid.uuid4().hex[:6]
    district = await org.create_district(f"46{rng.randrange(0, 10**8):08d}", f"生命周期测试区{tag}")
    owner = await org.create_enterprise(f"生命周期建设单位{tag}", fake_uscc(rng))
    gc = await org.create_enterprise(f"生命周期总包{tag}", fake_uscc(rng))
    today = today_local()
    project = await org.create_project(name=f"生命周期在建项目{tag}", district_id=district, category="building",
                                       floor_area_m2=30_000, planned_start=today - timedelta(days=60), lon=113.09,
                                       lat=22.60)
    await org.change_status(project, "under_construction", effective_on=today - timedelta(days=50), note="开工",
                            user_id=None)
    planned = today + timedelta(days=10)
    preparing = await org.create_project(name=f"生命周期筹备项目{tag}", district_id=district, category="building",
                                         floor_area_m2=20_000, planned_start=planned, lon=113.10, lat=22.61)
    to_stop = await org.create_project(name=f"生命周期停工项目{tag}", district_id=district, category="building",
                                       floor_area_m2=25_000, planned_start=today - timedelta(days=60), lon=113.11,
                                       lat=22.62)
    await org.change_status(to_stop, "under_construction", effective_on=today - timedelta(days=50), note="开工",
                            user_id=None)
    units = {}
    for pid in (project, preparing, to_stop):
        await org.add_unit(pid, owner, "owner", today - timedelta(days=55))
        units[pid] = await org.add_unit(pid, gc, "general_contractor", today - timedelta(days=55))
    team = await org.create_team(project, units[project], "钢筋班组")
    workers = []
    for i in range(2):
        person = await workforce.upsert_person(id_number=fake_id_number(rng), name=f"补卡工人{'甲乙'[i]}")
        await workforce.enter_roster(project_id=project, person_id=person, unit_id=units[project], team_id=team,
                                     work_role="worker", work_type="020", entered_on=today - timedelta(days=30))
        workers.append(person)
    site = LifeSite(project=project, to_stop=to_stop, preparing=preparing, planned_start=planned, gc_unit=units[project], team=team,
                    workers=workers)
    for label, role, kw in (
        ("staff", "project_staff", {"project_ids": [project, preparing, to_stop]}),
        ("owner", "enterprise", {"enterprise_id": owner}),
        ("supervisor", "supervisor", {"district_ids": [district]}),
        ("worker", "worker", {"person_id": workers[0]}),
    ):
        site.users[label] = f"life_{label}_{tag}"
        await create_user(site.users[label], PASSWORD, role, display_name=f"生命周期{label}", **kw)
    from backend.accounts.tables import User

    uid = (await User.select(User.id).where(User.username == site.users["worker"]).first())["id"]
    day = today - timedelta(days=1)
    for hour in (8, 18):
        at = datetime.combine(day, time(hour, 0), tzinfo=TZ).astimezone(UTC)
        r = MakeupRequest(person=workers[0], project=project, requested_by=uid, punch_time=at,
                          direction="in" if hour == 8 else "out", reason="rain", note="暴雨", evidence=PNG,
                          evidence_type="image/png", day=day)
        await r.save()
        site.makeups.append(r.id)
    return site


@pytest.fixture
def life_server(app_server: str) -> str:
    return app_server


@pytest.fixture
async def open_as(life_server: str, life_site: LifeSite) -> AsyncIterator[Any]:
    """``await open_as("staff")`` → a logged-in desktop page (a fresh context per role)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        contexts = []

        async def make(role: str) -> Any:
            mobile = role == "worker"
            ctx = await browser.new_context(viewport={"width": 360 if mobile else 1280, "height": 800},
                                            locale="zh-CN", timezone_id="Asia/Shanghai")
            contexts.append(ctx)
            page = await ctx.new_page()
            page.errors = []
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.on("dialog", lambda d: d.accept())
            await page.goto(f"{life_server}/login")
            await page.fill("input[name=username]", life_site.users[role])
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_load_state("networkidle")
            page.base = life_server
            return page

        try:
            yield make
        finally:
            for ctx in contexts:
                await ctx.close()
            await browser.close()


async def _evidence(page: Any) -> None:
    await page.set_input_files("#change-form input[name=evidence]",
                               files=[{"name": "停工通知.png", "mimeType": "image/png", "buffer": PNG}])


async def test_stop_request_two_approvals_then_the_project_shows_suspended(open_as: Any, life_site: LifeSite):
    staff = await open_as("staff")
    await staff.goto(f"{staff.base}/projects/{life_site.to_stop}")
    await staff.click("#link-changes")
    await staff.select_option("#change-form select[name=kind]", "suspend")
    await staff.fill("#change-form textarea[name=reason]", "连续暴雨，停工整改")
    await staff.click("#change-form button[type=submit]")
    # the browser refuses a request without evidence, with the server's message
    assert "请上传证明材料" in await staff.inner_text("#change-form .msg")
    await _evidence(staff)
    await staff.click("#change-form button[type=submit]")
    await staff.wait_for_selector(".ok")
    assert "待一级审批" in await staff.inner_text("table.org-requests")

    owner = await open_as("owner")
    await owner.goto(f"{owner.base}/changes?project_id={life_site.to_stop}")
    row = owner.locator("tr[data-status=pending]").first
    await row.locator("input[name=note]").fill("情况属实")
    await row.locator("button[value=approve]").click()
    await owner.wait_for_selector(".ok")

    sup = await open_as("supervisor")
    await sup.goto(f"{sup.base}/changes?project_id={life_site.to_stop}")
    row = sup.locator("tr[data-status=level1_approved]").first
    await row.locator("button[value=approve]").click()
    await sup.wait_for_selector(".ok")

    await staff.goto(f"{staff.base}/projects/{life_site.to_stop}")
    assert "停工" in await staff.inner_text("h1 .status")
    await staff.goto(f"{staff.base}/projects/{life_site.to_stop}/changes")
    text = await staff.inner_text("table.org-requests")
    assert "审批通过，已生效" in text and "生命周期owner" in text and "生命周期supervisor" in text
    assert staff.errors == [] and owner.errors == [] and sup.errors == []


async def test_start_date_extension_beyond_three_months_is_refused_with_the_message(open_as: Any,
                                                                                     life_site: LifeSite):
    staff = await open_as("staff")
    await staff.goto(f"{staff.base}/projects/{life_site.preparing}/changes")
    assert "每次不超过 3 个月、以 2 次为限" in await staff.inner_text("#extension-rule")
    await staff.select_option("#change-form select[name=kind]", "planned_start")
    await staff.fill("#change-form input[name=target]", (life_site.planned_start + timedelta(days=120)).isoformat())
    await staff.fill("#change-form textarea[name=reason]", "征地未完成")
    await _evidence(staff)
    await staff.click("#change-form button[type=submit]")
    msg = await staff.inner_text("#change-form .msg")
    assert "开工日期每次延期不超过 3 个月" in msg
    # the server says the same when the browser check is bypassed
    await staff.evaluate("document.getElementById('change-form').removeAttribute('data-validate')")
    await staff.click("#change-form button[type=submit]")
    await staff.wait_for_selector("#page-error")
    assert "开工日期每次延期不超过 3 个月" in await staff.inner_text("#page-error")


async def test_unit_uscc_checked_team_with_foreman_and_ending_a_team_with_people_refused(open_as: Any,
                                                                                          life_site: LifeSite):
    from backend.demo import fake_uscc

    staff = await open_as("staff")
    await staff.goto(f"{staff.base}/projects/{life_site.project}")
    await staff.click("#link-units")
    good = fake_uscc(random.Random())
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    await staff.select_option("#unit-form select[name=unit_type]", "labour_subcontractor")
    await staff.fill("#unit-form input[name=uscc]", bad)
    await staff.fill("#unit-form input[name=enterprise_name]", "生命周期劳务有限公司")
    await staff.click("#unit-form button[type=submit]")
    assert "统一社会信用代码校验位错误" in await staff.inner_text("#unit-form .msg")
    await staff.fill("#unit-form input[name=uscc]", good)
    await staff.click("#unit-form button[type=submit]")
    await staff.wait_for_selector(".ok")
    assert "生命周期劳务有限公司" in await staff.inner_text("table.units")

    await staff.select_option("#team-form select[name=unit_id]", str(life_site.gc_unit))
    await staff.fill("#team-form input[name=name]", "二队")
    await staff.select_option("#team-form select[name=work_type]", "050")
    await staff.select_option("#team-form select[name=leader]", str(life_site.workers[1]))
    await staff.click("#team-form button[type=submit]")
    await staff.wait_for_selector(".ok")
    teams = await staff.inner_text("table.teams")
    assert "二队（模板工）" in teams and "补卡工人乙" in teams

    # the 钢筋班组 still has two people on it: ending it is refused and the page says who
    await staff.click(f"tr[data-team-id='{life_site.team}'] form.end-team button")
    await staff.wait_for_selector("#page-error")
    err = await staff.inner_text("#page-error")
    assert "仍有 2 人在场" in err and "补卡工人甲" in err and "补卡工人乙" in err
    assert staff.errors == []


async def test_two_makeups_approved_in_bulk_show_approved_in_the_workers_phone(open_as: Any, life_site: LifeSite):
    sup = await open_as("supervisor")
    await sup.goto(f"{sup.base}/")
    await sup.click("#link-makeups")
    await sup.select_option("select[name=project_id]", str(life_site.project))
    await sup.click("form.filters button[type=submit]")
    for rid in life_site.makeups:
        await sup.check(f"input[name=ids][value='{rid}']")
    await sup.fill("#makeup-form input[name=note]", "暴雨属实")
    await sup.click("#makeup-form button[value=approve]")
    await sup.wait_for_selector("#results")
    for rid in life_site.makeups:
        assert "已批准" in await sup.inner_text(f"li[data-result-id='{rid}']")

    worker = await open_as("worker")
    await worker.goto(f"{worker.base}/m/makeup")
    text = await worker.inner_text("body")
    assert text.count("已批准") >= 2
    assert sup.errors == []
