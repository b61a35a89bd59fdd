"""Helpers of the gate integration tests: fresh projects, registered terminals, enrolled people."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from device_tcp.simulator import make_jpeg
from tests.integration.conftest import World, unique


@dataclass
class Site:
    """A fresh project (under construction) with its units and teams: tests that count roster or
    whitelist entries need a project nobody else writes to."""

    project: int
    district: int
    unit: int
    team: int
    management_team: int


async def make_site(world: World, *, district: int | None = None, status: str = "under_construction") -> Site:
    from backend.org import services as org

    district = district or world.district_a
    pid = await org.create_project(name=unique("闸机测试工程"), district_id=district, category="building",
                                   floor_area_m2=20_000, planned_start=date.today() - timedelta(days=60))
    if status != "preparing":
        await org.change_status(pid, "under_construction", effective_on=date.today() - timedelta(days=50),
                                note="开工", user_id=None)
    if status == "suspended":
        await org.change_status(pid, "suspended", effective_on=date.today() - timedelta(days=1), note="停工",
                                user_id=None)
    from backend.org.tables import ProjectUnit

    gc = await ProjectUnit.select(ProjectUnit.enterprise).where(
        ProjectUnit.id == world.units[world.project_a]["general_contractor"]).first()
    unit = await org.add_unit(pid, gc["enterprise"], "general_contractor")
    teams = {t["name"]: t for t in await org.list_teams(pid)}
    management = next(t["id"] for t in teams.values() if t["kind"] == "management")
    team = await org.create_team(pid, unit, "钢筋班组")
    return Site(project=pid, district=district, unit=unit, team=team, management_team=management)


async def register(world: World, project: int, *, direction: str = "in", enabled: bool = True) -> str:
    """A terminal of the world's vendor on ``project``; returns its serial."""
    from backend.devices import services as devices

    serial = unique("GATE-T-")
    tid = await devices.register_terminal(project, serial, world.vendor, channel=1, direction=direction)
    if not enabled:
        await devices.update_terminal(tid, {"enabled": False})
    return serial


FAKE_TEMPLATE = bytes(range(256)) * 2  # 512 bytes: a stored template's size (tests of the roster only)


def site_today() -> date:
    """The site's own day (Asia/Shanghai, the projects' zone): the server judges rosters by it, so between
    16:00 and 24:00 UTC it is a day ahead of ``date.today()`` on a UTC machine."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def add_worker(world: World, site: Site, *, name: str = "测试工人", enrolled: bool = True,
                     entered_days_ago: int = 10, exited_days_ago: int | None = None,
                     id_number: str | None = None, contract: bool = True,
                     consent: bool = True) -> tuple[int, str, bytes]:
    """A person on the site's roster; ``enrolled`` gives them an enrolment (face photo + template),
    ``contract`` a labour contract in force (the gate admits no one without: seed 001 §五(十一)); an exit
    goes through the one exit rule (seed 004 §三(五)); ``consent`` records their biometric consent (no face is
    enrolled without it, issue 20 B.1).  Returns (person id, ID number, face photo)."""
    from backend.crew.enrolment import save_enrolment
    from backend.workforce import services as workforce
    from tests.integration.people_kit import exit_entry, sign_contract

    number = id_number or world.id_number()
    pid = await workforce.upsert_person(id_number=number, name=name)
    entered_on = site_today() - timedelta(days=entered_days_ago)
    entry = await workforce.enter_roster(project_id=site.project, person_id=pid, unit_id=site.unit, team_id=site.team,
                                         work_role="worker", entered_on=entered_on)
    if contract:
        await sign_contract(site.project, entry, starts_on=min(entered_on, site_today()))
    if exited_days_ago is not None:
        await exit_entry(site.project, entry, site_today() - timedelta(days=exited_days_ago))
    photo = make_jpeg(pid % 1000)
    if consent:
        from backend.workforce import consent as consents

        await consents.record(pid, "given", channel="paper")
    if enrolled:
        await save_enrolment(pid, FAKE_TEMPLATE, photo, make_jpeg(pid % 1000 + 1, (102, 126), 60), source="test")
    return pid, number, photo


async def wait_for(cond: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    """Poll an async condition (state written by the server's own task after a disconnect)."""
    deadline = time.monotonic() + timeout_s
    while not await cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def terminal_row(serial: str) -> dict[str, Any]:
    from backend.devices.tables import Terminal

    row = await Terminal.select().where(Terminal.serial == serial).first()
    assert row is not None
    return row
