"""Rollups: the nightly set of days (late uploads re-roll their day), stale days read live, and the smz
commands (run as a user would, in a subprocess against the same database)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date, timedelta

import pytest

from backend.supervision import services
from tests.integration.supervision.conftest import add_person, make_district, make_site, punch

pytestmark = pytest.mark.integration


async def test_a_late_upload_makes_its_day_stale_and_the_nightly_run_re_rolls_it(migrated_db):
    site = await make_site(await make_district(), start=date(2025, 8, 1))
    worker = await add_person(site, "迟传工人", entered_on=date(2025, 8, 1))
    day = date(2025, 9, 10)
    await punch(site, worker, day)
    await services.rollup_days([day])
    await services.nightly_rollup(date(2025, 9, 12))  # a run: later punches are "received since"
    assert await services.person_day_counts({site.project}, day, day) == [(site.project, worker, "2025-09-10", 1, 1, 0)]
    # A terminal uploads a stored record of that day (captured on the 10th, received now).
    other = await add_person(site, "补传工人", entered_on=date(2025, 8, 1))
    await punch(site, other, day, received_now=True)
    assert day.isoformat() not in await services.fresh_rolled_days(day, day)  # stale: read live meanwhile
    assert {r[1] for r in await services.person_day_counts({site.project}, day, day)} == {worker, other}
    assert day in await services.days_to_roll(services.local_today())
    result = await services.nightly_rollup()
    assert day.isoformat() in result.day_list
    assert day.isoformat() in await services.fresh_rolled_days(day, day)


async def test_today_is_never_stored(migrated_db):
    from backend.errors import InvalidInput

    with pytest.raises(InvalidInput) as e:
        await services.rollup_days([services.local_today()])
    assert e.value.field == "day"


async def _smz(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"})
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(errors="replace")


async def test_smz_rollup_and_warnings_commands(migrated_db):
    site = await make_site(await make_district(), start=date(2025, 8, 1))
    pm = await add_person(site, "命令行经理", post="project_manager", entered_on=date(2025, 8, 1))
    await punch(site, pm, date(2025, 9, 3))
    code, out = await _smz("rollup", "--day", "2025-09-03", "--day", "2025-09-04")
    assert code == 0, out
    assert "已汇总 2 天" in out
    code, out = await _smz("rollup", "--day", (services.local_today() + timedelta(days=1)).isoformat())
    assert code != 0 and "只能统计今天以前的日期" in out
    code, out = await _smz("warnings", "--today", "2025-09-20", "--district", str(site.district), "--no-notify")
    assert code == 0, out
    assert "预警检测 2025-09-20" in out
    rows, _ = await services.list_cases({site.project})
    assert {r["kind"] for r in rows} >= {"post_missing", "manager_valid_days"}


async def test_smz_nightly_runs_the_rollups_the_warnings_and_then_the_wages_reconciliation(migrated_db):
    """Issue 16: the month's pay is checked against attendance every night, not only when someone types
    ``smz wages``."""
    code, out = await _smz("nightly")
    assert code == 0, out
    assert "已汇总" in out and "预警检测" in out
    assert "工资核对：" in out and "个项目" in out
