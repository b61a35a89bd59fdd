"""Builders for the supervision tests: a district of their own, projects with a status history, people on the
roster, and punches on chosen days (through the one attendance path, ``record_punch``)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import PASSWORD, unique

_seq = itertools.count(1)
TZ = ZoneInfo("Asia/Shanghai")


def id_number() -> str:
    """Unique, valid ID numbers of a region no other test uses (130102)."""
    from backend.validators import id_check_char

    n = next(_seq)
    birth = date(1970, 1, 1) + timedelta(days=n * 7)
    first17 = f"130102{birth:%Y%m%d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def phone() -> str:
    return f"139{next(_seq):08d}"


@dataclass
class Site:
    project: int
    district: int
    gc_unit: int
    sup_unit: int
    gc_team: int  # management team of the general contractor
    sup_team: int  # management team of the supervision firm
    worker_team: int
    name: str
    people: dict[str, int] = field(default_factory=dict)


async def make_district(overrides: dict[str, Any] | None = None) -> int:
    from backend.org import services as org

    return await org.create_district(f"9{next(_seq):08d}", unique("监管测试区"), overrides)


async def make_site(district: int, *, start: date, planned_start: date | None = None,
                    history: list[tuple[date, str]] = (), name: str | None = None, lon: float = 113.08,
                    lat: float = 22.60, permit: str | None = "440703202601010101") -> Site:
    """A project 在建 from ``start`` (then the status changes of ``history``), a contractor and a supervision firm."""
    import random

    from backend.demo import fake_uscc
    from backend.org import services as org

    rng = random.Random(next(_seq))
    name = name or unique("监管测试项目")
    pid = await org.create_project(name=name, district_id=district, category="building", floor_area_m2=20_000,
                                   planned_start=planned_start or start, lon=lon, lat=lat, permit_no=permit)
    await org.change_status(pid, "under_construction", effective_on=start, note="开工", user_id=None)
    for effective_on, status in history:
        await org.change_status(pid, status, effective_on=effective_on, note="测试", user_id=None)
    gc = await org.create_enterprise(unique("监管测试总包"), fake_uscc(rng, "130102"))
    sup = await org.create_enterprise(unique("监管测试监理"), fake_uscc(rng, "130102"))
    gc_unit = await org.add_unit(pid, gc, "general_contractor", entered_on=start)
    sup_unit = await org.add_unit(pid, sup, "supervision_firm", entered_on=start)
    teams = {t["name"]: t["id"] for t in await org.list_teams(pid)}
    worker_team = await org.create_team(pid, gc_unit, "钢筋班组", entered_on=start)
    return Site(project=pid, district=district, gc_unit=gc_unit, sup_unit=sup_unit,
                gc_team=teams["总承包单位项目部"], sup_team=teams["监理项目部"], worker_team=worker_team, name=name)


async def add_person(site: Site, label: str, *, post: str | None = None, entered_on: date,
                     exited_on: date | None = None, with_phone: bool = True) -> int:
    from backend.workforce import services as workforce

    person = await workforce.upsert_person(id_number=id_number(), name=label, phone=phone() if with_phone else None)
    supervision = post == "chief_supervising_engineer"
    entry = await workforce.enter_roster(
        project_id=site.project, person_id=person, unit_id=site.sup_unit if supervision else site.gc_unit,
        team_id=(site.sup_team if supervision else site.gc_team) if post else site.worker_team,
        work_role="manager" if post else "worker", post=post, work_type=None if post else "020", entered_on=entered_on)
    if exited_on is not None:
        from tests.integration.people_kit import exit_entry

        await exit_entry(site.project, entry, exited_on)
    site.people[label] = person
    return person


async def punch(site: Site, person: int | None, day: date, *, at: time = time(8, 0), source: str = "gate",
                latency_s: float = 1.0, received_now: bool = False, feed: Any = None, **kw: Any) -> Any:
    """A punch captured on ``day`` at ``at`` (local time), received ``latency_s`` later — or now (a terminal
    uploading a stored record).  ``feed``: the live feed of the app that should see it (``AppServices.live_feed``)."""
    from backend.attendance.services import PunchIn, record_punch

    captured = datetime.combine(day, at, tzinfo=TZ).astimezone(UTC)
    received = datetime.now(UTC) if received_now else captured + timedelta(seconds=latency_s)
    return await record_punch(PunchIn(
        source=source, project_id=site.project, person_id=person, idempotency_key=uuid.uuid4().hex,
        captured_at=captured, received_at=received, **kw), feed=feed)


async def make_user(role: str, **kw: Any) -> str:
    from backend.accounts.services import create_user

    username = unique(f"sup_{role}_")
    await create_user(username, PASSWORD, role, **kw)
    return username


@pytest.fixture
def build() -> Any:
    """The builders, as a namespace for tests."""
    import types

    return types.SimpleNamespace(district=make_district, site=make_site, person=add_person, punch=punch,
                                 user=make_user)


@pytest.fixture(autouse=True)
async def _database(migrated_db: str) -> None:
    """Every test here needs the migrated session database."""


@pytest.fixture(scope="module", autouse=True)
def _cheap_hashing(cheap_password_hashing: None) -> None:
    """Password strength is not what these tests check."""
