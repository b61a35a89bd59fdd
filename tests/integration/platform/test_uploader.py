"""The uploader against the platform simulator over real loopback sockets (issue 17).

- a project of 200 workers goes up in dependency order to 100 % 上传成功 (the simulator refuses out-of-order
  uploads: it counted none);
- with 20 % of replies dropped and 10 % answered 5xx the end state is the same and every entity was created on
  the platform exactly once (lost replies are reconciled through a lookup before anything is resent);
- an edit of an entity that is 上传成功 goes up as an update, never as a second add.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.org import services as org
from backend.platform.simulator import SimulatorHandle, start_simulator
from backend.platform.uploader import Uploader
from backend.vocabulary import UploadState
from tests.integration.platform.upload_kit import (
    APPID,
    FAST,
    SECRET,
    all_succeeded,
    make_project,
    open_tasks,
    point_districts_at,
    states,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await start_simulator(appid=APPID, appsecret=SECRET, delay=0.02, seed=5)
    yield handle
    await handle.stop()


async def _run_until_done(project_id: int, timeout_s: float = 120) -> None:
    uploader = Uploader(FAST)
    try:
        async def done() -> bool:
            return await open_tasks(project_id) == 0

        await uploader.drain(timeout_s, until=done)
    finally:
        await uploader.aclose()


async def test_a_project_of_200_workers_goes_up_in_dependency_order_to_100_percent(world, sim) -> None:
    kit = await make_project(world, "上传二百人工程", 200)
    await point_districts_at(world, sim.url)
    await _run_until_done(kit.project_id)
    st = await states(kit.project_id)
    assert all_succeeded(kit, st), {k: {s for s in v.values()} for k, v in st.items()}
    assert len(st["worker"]) == 200
    assert sim.stats.out_of_order == 0  # never a child before its parent
    assert sim.stats.duplicates() == {}
    assert sim.stats.duplicate_adds == 0


async def test_dropped_replies_and_5xx_end_in_the_same_state_with_each_entity_created_once(world, sim) -> None:
    kit = await make_project(world, "丢包工程", 60)
    await point_districts_at(world, sim.url)
    await sim.set_mode(drop_rate=0.2, error_rate=0.1)
    await _run_until_done(kit.project_id)
    st = await states(kit.project_id)
    assert all_succeeded(kit, st), {k: {s for s in v.values()} for k, v in st.items()}
    assert sim.stats.dropped > 0 and sim.stats.errors_5xx > 0  # the trouble did happen
    assert sim.stats.duplicates() == {}
    assert sim.stats.duplicate_adds == 0
    created = [k for k in sim.stats.created if f"|{_code(kit.project_id, st)}" in k or k.startswith("project|")]
    assert created


def _code(project_id: int, _st: object) -> str:
    return f"{project_id:08d}"


async def test_an_edit_after_success_goes_up_as_an_update_not_a_second_add(world, sim) -> None:
    kit = await make_project(world, "修改工程", 1)
    await point_districts_at(world, sim.url)
    await _run_until_done(kit.project_id)
    assert (await states(kit.project_id))["project"][kit.project_id] == UploadState.succeeded
    await org.update_project(kit.project_id, {"address": "新地址 1 号"})
    await _run_until_done(kit.project_id)
    assert sim.stats.by_method["Project.Update"] == 1
    assert sim.stats.by_method["Project.Add"] == 1
    assert sim.stats.duplicates() == {}


async def test_a_person_edit_after_success_goes_up_as_a_worker_update(world, sim) -> None:
    from backend.workforce import services as workforce
    from backend.workforce.tables import RosterEntry

    kit = await make_project(world, "人员修改工程", 1)
    await point_districts_at(world, sim.url)
    await _run_until_done(kit.project_id)
    assert (await states(kit.project_id))["worker"][kit.entries[0]] == UploadState.succeeded
    before = dict(sim.stats.by_method)
    entry = await RosterEntry.select(RosterEntry.person).where(RosterEntry.id == kit.entries[0]).first()
    kept = await workforce.update_shared_fields(entry["person"], kit.project_id, {"phone": "13800138123"})
    assert kept == ()
    await _run_until_done(kit.project_id)
    after = sim.stats.by_method
    assert after["ProjectWorker.Update"] - before.get("ProjectWorker.Update", 0) == 1
    assert after["ProjectWorker.Add"] == before["ProjectWorker.Add"]  # an update, never a second add
    assert sim.stats.duplicates() == {}
