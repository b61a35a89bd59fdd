"""seed 001 §五(十一): 未与施工总承包单位或者分包单位订立劳动合同并进行用工实名登记的人员，不得进入工地从事相关施工活动.
Our reading: a person whose labour contract is not in force on the site's day is left off the gate whitelist
(849) and the 845 person look-up, and the foreman's roster says why (未签劳动合同，未下发到闸机); a district that
allows signing shortly after entry sets ``rules.contract_grace_days``.  The whitelist stays one roster query
(the contract rule is a sub-select in it)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.conftest import World, login, unique
from tests.integration.gate.gate_site import Site, add_worker, make_site, site_today
from tests.integration.people_kit import PDF, sign_contract

pytestmark = pytest.mark.integration


async def whitelist(project: int, world: World) -> list[int]:
    from backend.devices.gate import AppGateBackend
    from backend.devices.services import register_terminal

    serial = unique("CONTRACT-GATE-")
    await register_terminal(project, serial, world.vendor)
    return [r.worker_no for r in (await AppGateBackend().whitelist(serial)).records]


async def person_845(project: int, world: World, number: str) -> Any:
    from backend.devices.gate import AppGateBackend
    from backend.devices.services import register_terminal

    serial = unique("CONTRACT-845-")
    await register_terminal(project, serial, world.vendor)
    return await AppGateBackend().person_features(serial, number)


async def entry_of(project: int, person: int) -> int:
    from backend.workforce.services import active_entry

    row = await active_entry(project, person)
    assert row is not None
    return int(row["id"])


async def roster_row(client: Any, h: dict[str, str], project: int, person: int) -> dict[str, Any]:
    rows = (await client.get(f"/api/projects/{project}/crew/roster", headers=h)).json()
    return next(x for x in rows if x["person"] == person)


async def test_no_contract_not_on_the_whitelist_and_the_foreman_sees_why_then_a_contract_puts_them_on(client, world):
    from device_tcp.backend import GateRefused

    # project A's 钢筋班组 is led by foreman_a: the foreman's own roster view
    pa = world.project_a
    site = Site(project=pa, district=world.district_a, unit=world.units[pa]["general_contractor"],
                team=world.teams[pa]["钢筋班组"], management_team=world.teams[pa]["总承包单位项目部"])
    person, number, _ = await add_worker(world, site, name="无合同工人", contract=False)
    signed, _, _ = await add_worker(world, site, name="有合同工人")
    listed = await whitelist(pa, world)
    assert person not in listed and signed in listed
    with pytest.raises(GateRefused):
        await person_845(pa, world, number)  # 845 gives a terminal nothing about them either

    foreman = await login(client, world.users["foreman_a"])
    row = await roster_row(client, foreman, pa, person)
    assert row["on_gate"] is False and row["gate_note"] == "未签劳动合同，未下发到闸机"
    assert (await roster_row(client, foreman, pa, signed))["on_gate"] is True
    page = await client.get(f"/projects/{pa}/crew", headers=foreman)
    assert page.status_code == 200 and "未签劳动合同，未下发到闸机" in page.text

    # the contract uploaded on the tablet: on the whitelist, and the note is gone
    entry = await entry_of(pa, person)
    r = await client.post(f"/api/projects/{pa}/crew/roster/{entry}/contracts", headers=foreman,
                          data={"contract_type": "open_ended", "starts_on": site_today().isoformat()},
                          files={"contract_file": ("c.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    assert person in await whitelist(pa, world)
    assert (await person_845(pa, world, number)).worker_no == person
    row = await roster_row(client, foreman, pa, person)
    assert row["on_gate"] is True and row["gate_note"] == ""


async def test_a_contract_that_ended_or_has_not_started_does_not_admit(client, world):
    site = await make_site(world)
    ended, _, _ = await add_worker(world, site, name="合同到期", contract=False, entered_days_ago=400)
    await sign_contract(site.project, await entry_of(site.project, ended), starts_on=site_today() - timedelta(days=400),
                        ends_on=site_today() - timedelta(days=1))
    later, _, _ = await add_worker(world, site, name="合同未生效", contract=False)
    await sign_contract(site.project, await entry_of(site.project, later), starts_on=site_today() + timedelta(days=3),
                        ends_on=site_today() + timedelta(days=300))
    running, _, _ = await add_worker(world, site, name="合同有效", contract=False)
    await sign_contract(site.project, await entry_of(site.project, running), starts_on=site_today(),
                        ends_on=site_today())  # its last day is today: still in force
    assert await whitelist(site.project, world) == [running]
    admin = await login(client, world.users["admin"])
    assert (await roster_row(client, admin, site.project, ended))["gate_note"] == "劳动合同已到期，未下发到闸机"
    assert (await roster_row(client, admin, site.project, later))["gate_note"] == "劳动合同尚未生效，未下发到闸机"


async def test_a_districts_grace_days_admit_a_new_entry_without_a_contract_for_that_long(client, world):
    from backend.org import services as org

    district = await org.create_district(str(random.SystemRandom().randrange(10**9, 10**10)), unique("宽限测试区"),
                                         rule_overrides={"contract_grace_days": 3})
    site = await make_site(world, district=district)
    new, _, _ = await add_worker(world, site, name="新进场", contract=False, entered_days_ago=2)  # day 3 of 3
    old, _, _ = await add_worker(world, site, name="超宽限", contract=False, entered_days_ago=3)
    assert await whitelist(site.project, world) == [new]
    admin = await login(client, world.users["admin"])
    note = (await roster_row(client, admin, site.project, new))["gate_note"]
    assert "宽限期至" in note and site_today().isoformat() in note
    assert (await roster_row(client, admin, site.project, old))["gate_note"] == "未签劳动合同，未下发到闸机"


async def test_roster_api_entry_tells_the_foreman_the_gate_will_not_admit_without_a_contract(client, world):
    admin = await login(client, world.users["admin"])
    pa = world.project_a
    r = await client.post(f"/api/projects/{pa}/roster", headers=admin, json={
        "id_number": world.id_number(), "name": "花名册新人", "unit_id": world.units[pa]["general_contractor"],
        "team_id": world.teams[pa]["钢筋班组"], "work_role": "worker", "work_type": "020"})
    assert r.status_code == 201, r.text
    (notice,) = [n for n in r.json()["notices"] if n["code"] == "no_contract"]
    assert notice["message"].startswith("未签劳动合同，未下发到闸机") and notice["message_en"]


async def test_the_whitelist_is_still_one_roster_query_whatever_the_roster_size(world):
    """No N+1: the contract rule is a sub-select of the one roster query (the enrolments follow in chunks of 500)."""
    from backend.crew.services import admitted_to_site
    from backend.devices import services as devices
    from backend.rules import DEFAULT_RULES
    from backend.workforce.tables import Enrolment, RosterEntry

    site = await make_site(world)
    for i in range(6):
        await add_worker(world, site, name="批量工人", contract=i % 2 == 0)
    calls: list[str] = []
    real_roster, real_enrol = RosterEntry.select, Enrolment.select

    def counted(real: Any, label: str) -> Any:
        def select(*a: Any, **kw: Any) -> Any:
            calls.append(label)
            return real(*a, **kw)
        return select

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RosterEntry, "select", counted(real_roster, "roster"))
        mp.setattr(Enrolment, "select", counted(real_enrol, "enrolment"))
        rows = await devices.whitelist_entries(site.project, site_today(),
                                               admitted=admitted_to_site(site_today(), DEFAULT_RULES))
    assert len(rows) == 3 and calls == ["roster", "enrolment"]
