"""Workflow 5: once a project is 完工 (or 竣工) by an approved status change, it is read-only except for exits and
wages — roster entries, new units and teams, fence and terminal changes and project edits are refused with one clear
409 (``project_read_only``: "项目已完工，只能办理退场和工资…"); an exit is still allowed."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from backend.errors import Conflict
from tests.integration.conftest import BearerHeaders, unique

pytestmark = pytest.mark.integration

auth = BearerHeaders()
CIRCLE = {"name": "工地围栏", "kind": "circle", "geometry": {"type": "Point", "coordinates": [113.08, 22.6]},
          "radius_m": 150.0}


async def _finished_project(world: Any) -> dict[str, Any]:
    """A project with a unit, a team, one person on the roster and a fence, then 在建 → 完工."""
    from backend.demo import fake_uscc
    from backend.fences import services as fences
    from backend.org import services as org
    from backend.workforce import services as workforce

    pid = await org.create_project(name=unique("完工只读测试"), district_id=world.district_a, category="building",
                                   floor_area_m2=8000, lon=113.08, lat=22.6)
    start = date.today() - timedelta(days=60)
    await org.change_status(pid, "under_construction", effective_on=start, note="开工", user_id=None)
    ent = await org.create_enterprise(unique("完工测试总包"), fake_uscc(random.Random(unique("c")), "110101"))
    unit = await org.add_unit(pid, ent, "general_contractor", entered_on=start)
    team = await org.create_team(pid, unit, "木工班组", entered_on=start)
    person = await workforce.upsert_person(id_number=world.id_number(), name="完工测试工人")
    entry = await workforce.enter_roster(project_id=pid, person_id=person, unit_id=unit, team_id=team,
                                         work_role="worker", work_type="020", entered_on=start)
    fence = await fences.create_fence(pid, **CIRCLE)
    await org.change_status(pid, "finished", effective_on=date.today() - timedelta(days=1), note="完工",
                            user_id=None)
    return {"id": pid, "unit": unit, "team": team, "entry": entry, "enterprise": ent, "fence": fence["id"],
            "person": person}


def _read_only(exc: pytest.ExceptionInfo[Conflict]) -> None:
    assert exc.value.code == "project_read_only"
    assert exc.value.zh.startswith("项目已完工，只能办理退场和工资")


async def test_finished_project_refuses_roster_entry(world):
    from backend.workforce import services as workforce

    p = await _finished_project(world)
    person = await workforce.upsert_person(id_number=world.id_number(), name="迟到工人")
    with pytest.raises(Conflict) as exc:
        await workforce.enter_roster(project_id=p["id"], person_id=person, unit_id=p["unit"], team_id=p["team"],
                                     work_role="worker", work_type="020")
    _read_only(exc)


async def test_finished_project_refuses_new_units_and_teams(world):
    from backend.demo import fake_uscc
    from backend.org import services as org
    from backend.workforce import services as workforce

    p = await _finished_project(world)
    other = await org.create_enterprise(unique("完工后分包"), fake_uscc(random.Random(unique("d")), "110101"))
    with pytest.raises(Conflict) as exc:
        await org.add_unit(p["id"], other, "labour_subcontractor")
    _read_only(exc)
    with pytest.raises(Conflict) as exc:
        await workforce.create_team(p["id"], p["unit"], "新班组")
    _read_only(exc)


async def test_finished_project_refuses_fence_changes(world):
    from backend.fences import services as fences

    p = await _finished_project(world)
    with pytest.raises(Conflict) as exc:
        await fences.create_fence(p["id"], **{**CIRCLE, "name": "新围栏"})
    _read_only(exc)
    with pytest.raises(Conflict) as exc:
        await fences.update_fence(p["id"], p["fence"], **{**CIRCLE, "radius_m": 300.0})
    _read_only(exc)
    with pytest.raises(Conflict) as exc:
        await fences.delete_fence(p["id"], p["fence"])
    _read_only(exc)


async def test_finished_project_refuses_terminal_registration_and_project_edits(world):
    from backend.devices.services import register_terminal
    from backend.org import services as org

    p = await _finished_project(world)
    with pytest.raises(Conflict) as exc:
        await register_terminal(p["id"], unique("SNDONE"), world.vendor)
    _read_only(exc)
    with pytest.raises(Conflict) as exc:
        await org.update_project(p["id"], {"address": "新地址"})
    _read_only(exc)


async def test_finished_project_still_allows_exit(world):
    from backend.workforce import services as workforce
    from backend.workforce.tables import RosterEntry

    p = await _finished_project(world)
    await workforce.exit_roster(p["id"], p["entry"], workforce.ExitIn(
        exited_on=date.today(), confirmation_file=1, workload_confirmed=True, wages_settled=True))
    row = await RosterEntry.select(RosterEntry.exited_on).where(RosterEntry.id == p["entry"]).first()
    assert row["exited_on"] == date.today()


async def test_accepted_project_refuses_units_over_http_with_bilingual_conflict(client, world):
    from backend.org import services as org

    p = await _finished_project(world)
    await org.change_status(p["id"], "accepted", effective_on=date.today(), note="竣工验收", user_id=None)
    r = await client.post(f"/api/projects/{p['id']}/units", json={"enterprise_id": p["enterprise"],
                                                                   "unit_type": "labour_subcontractor"},
                          headers=await auth(world.users["admin"]))
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "project_read_only" and body["message"].startswith("项目已竣工，只能办理退场和工资")
    assert "only exits and wages" in body["message_en"]
