"""Terminal outages (seed 001 §六(十八): 因设备故障导致考勤中止的时间不得超过 2 天 —
``rules.device_outage_max_days``, overridable per district): ``devices.services.outages(now)``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.devices import services as devices
from backend.devices.tables import Terminal
from backend.org import services as org
from tests.integration.conftest import unique
from tests.integration.gate.gate_site import make_site, register

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


async def terminal(world, project: int, *, created: datetime, online: bool = False,
                   seen: datetime | None = None, offline: datetime | None = None, enabled: bool = True) -> str:
    serial = await register(world, project, enabled=enabled)
    await Terminal.update({Terminal.created_at: created, Terminal.online: online, Terminal.last_seen_at: seen,
                           Terminal.last_offline_at: offline}).where(Terminal.serial == serial)
    return serial


async def outages_of(project: int) -> dict[str, devices.Outage]:
    return {o.serial: o for o in await devices.outages(NOW, project_ids={project})}


async def test_offline_longer_than_2_days_is_an_outage_with_its_duration(world):
    site = await make_site(world)
    long_ago = NOW - timedelta(days=30)
    over = await terminal(world, site.project, created=long_ago, seen=NOW - timedelta(days=2, minutes=1),
                          offline=NOW - timedelta(days=2, minutes=1))
    exactly = await terminal(world, site.project, created=long_ago, seen=NOW - timedelta(days=2),
                             offline=NOW - timedelta(days=2))
    recent = await terminal(world, site.project, created=long_ago, seen=NOW - timedelta(hours=30),
                            offline=NOW - timedelta(hours=30))
    found = await outages_of(site.project)
    assert set(found) == {over}
    o = found[over]
    assert o.duration == timedelta(days=2, minutes=1) and o.limit_days == 2 and not o.never_seen
    assert o.since == NOW - timedelta(days=2, minutes=1) and o.project_id == site.project
    assert exactly not in found and recent not in found


async def test_never_seen_terminal_counts_from_its_registration(world):
    site = await make_site(world)
    new = await terminal(world, site.project, created=NOW - timedelta(hours=5))
    old = await terminal(world, site.project, created=NOW - timedelta(days=3))
    found = await outages_of(site.project)
    assert set(found) == {old}
    assert found[old].never_seen and found[old].duration == timedelta(days=3)
    assert new not in found


async def test_online_terminal_is_no_outage_unless_its_last_sign_of_life_is_stale(world):
    site = await make_site(world)
    live = await terminal(world, site.project, created=NOW - timedelta(days=9), online=True,
                          seen=NOW - timedelta(seconds=40))
    ghost = await terminal(world, site.project, created=NOW - timedelta(days=9), online=True,
                           seen=NOW - timedelta(days=4))  # the server died without marking it
    found = await outages_of(site.project)
    assert set(found) == {ghost} and found[ghost].duration == timedelta(days=4)
    assert live not in found


async def test_disabled_terminals_and_projects_not_under_way_are_left_out(world):
    long_ago = NOW - timedelta(days=10)
    site = await make_site(world)
    disabled = await terminal(world, site.project, created=long_ago, enabled=False)
    preparing = await make_site(world, status="preparing")
    await terminal(world, preparing.project, created=long_ago)
    suspended = await make_site(world, status="suspended")
    kept = await terminal(world, suspended.project, created=long_ago)
    assert disabled not in await outages_of(site.project)
    assert await outages_of(preparing.project) == {}
    assert set(await outages_of(suspended.project)) == {kept}


async def test_a_districts_override_of_the_limit_applies(world):
    district = await org.create_district(f"4407{int(unique('')):04d}", unique("宽限区"), {"device_outage_max_days": 5})
    site = await make_site(world, district=district)
    four = await terminal(world, site.project, created=NOW - timedelta(days=20), seen=NOW - timedelta(days=4),
                          offline=NOW - timedelta(days=4))
    six = await terminal(world, site.project, created=NOW - timedelta(days=20), seen=NOW - timedelta(days=6),
                         offline=NOW - timedelta(days=6))
    found = await outages_of(site.project)
    assert set(found) == {six} and found[six].limit_days == 5
    assert four not in found


async def test_outages_are_longest_first_and_scoped(world):
    site = await make_site(world)
    other = await make_site(world)
    a = await terminal(world, site.project, created=NOW - timedelta(days=3))
    b = await terminal(world, site.project, created=NOW - timedelta(days=8))
    c = await terminal(world, other.project, created=NOW - timedelta(days=5))
    both = [o.serial for o in await devices.outages(NOW, project_ids={site.project, other.project})]
    assert both == [b, c, a]
    assert await devices.outages(NOW, project_ids=set()) == []
    assert {o.serial for o in await devices.outages(NOW, vendor_id=world.vendor)} >= {a, b, c}
