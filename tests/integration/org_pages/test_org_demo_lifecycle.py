"""Issue 15: the lifecycle demo data (``backend.org.demo_lifecycle``): a project in each state and a pending request
of each kind, and pending make-ups for the authority — the queues a new user opens are filled."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import BearerHeaders, unique

pytestmark = pytest.mark.integration

auth = BearerHeaders()


async def test_demo_lifecycle_makes_every_state_and_a_pending_request_of_each_kind(client, world):
    from backend.accounts.services import create_user, load_user
    from backend.clockin import services as clockin
    from backend.demo import fake_uscc
    from backend.org import services as org
    from backend.org.demo_lifecycle import demo_lifecycle
    from backend.workforce import services as workforce

    rng = random.Random(5)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    district = await org.create_district(f"4407{rng.randrange(10**6):06d}"[:8], unique("演示区"))
    ents = {k: await org.create_enterprise(unique(f"演示{k}"), fake_uscc(rng)) for k in ("owner", "gc", "sup")}
    projects = {}
    for key in ("building", "road", "suspended"):
        pid = await org.create_project(name=unique(f"演示{key}"), district_id=district, category="building",
                                       floor_area_m2=20_000, planned_start=today - timedelta(days=90))
        await org.change_status(pid, "under_construction", effective_on=today - timedelta(days=80), note="开工",
                                user_id=None)
        for k, t in (("owner", "owner"), ("gc", "general_contractor"), ("sup", "supervision_firm")):
            await org.add_unit(pid, ents[k], t, today - timedelta(days=85))
        projects[key] = pid
    await org.change_status(projects["suspended"], "suspended", effective_on=today - timedelta(days=10),
                            note="停工", user_id=None)
    team = await org.create_team(projects["road"], (await org.list_units(projects["road"]))[1]["id"], "路基班组")
    person = await workforce.upsert_person(id_number=world.id_number(), name="演示工人")
    await workforce.enter_roster(project_id=projects["road"], person_id=person,
                                 unit_id=(await org.list_units(projects["road"]))[1]["id"], team_id=team,
                                 work_role="worker", work_type="150", entered_on=today - timedelta(days=30))
    worker_id = await create_user(unique("demo_w_"), "demo-pass-2026x", "worker", person_id=person)
    requester = await create_user(unique("demo_gc_"), "demo-pass-2026x", "enterprise", enterprise_id=ents["gc"])
    worker = await load_user(worker_id)

    async def makeup(**kw) -> int:
        return await clockin.request_makeup(worker, person_id=person, project_id=projects["road"], **kw)

    made = await demo_lifecycle(district_id=district, projects=projects, enterprises=ents,
                                requester_user_id=requester, today=today, rng=rng, request_makeup=makeup)
    statuses = {(await org.get_project(pid))["status"] for pid in [*projects.values(), *made.values()]}
    assert statuses == {"preparing", "under_construction", "suspended", "finished", "accepted"}
    rows, _ = await org.search_change_requests({*projects.values(), *made.values()}, status="pending")
    assert {org.form_kind_of(r) for r in rows} == {"planned_start", "suspend", "resume", "finish"}
    pending, n = await clockin.makeup_queue({projects["road"]})
    assert n == 4 and all(r["has_evidence"] and not r["key_manager"] for r in pending)
    assert isinstance(made["preparing"], int)
