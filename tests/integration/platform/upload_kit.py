"""Set-up for the uploader tests (issue 17): a project with units, a team and N workers made through the product's
services (so their outbox tasks are the product's own), credentials pointing at a simulator, a fast config."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from backend.org import services as org
from backend.outbox import UploadTask
from backend.platform import services
from backend.platform.tables import UploadEntityState
from backend.platform.uploader import UploaderConfig
from backend.vocabulary import UploadState
from backend.workforce import services as workforce

APPID, SECRET = "110101-upload", "upload-test-secret"

FAST = UploaderConfig(concurrency=16, rate_per_s=0, poll_interval_s=0.05, give_up_s=30, backoff_base_s=0.05,
                      backoff_max_s=0.3, max_attempts=50, wait_recheck_s=5, circuit_after_s=30,
                      circuit_probe_s=0.2, timeout_s=2, batch=200, idle_s=0.05, lease_s=2)


@dataclass
class SiteKit:
    project_id: int
    units: list[int] = field(default_factory=list)
    teams: list[int] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)


async def make_project(world: Any, name: str, workers: int, *, district_id: int | None = None) -> SiteKit:
    from backend.demo import fake_uscc

    rng = random.Random(name)
    district = district_id or world.district_a
    pid = await org.create_project(name=name, district_id=district, category="building", floor_area_m2=20_000,
                                   planned_start=date.today() - timedelta(days=40), lon=116.4, lat=39.9,
                                   permit_no=f"1101012026{rng.randrange(10**8):08d}")
    await org.change_status(pid, "under_construction", effective_on=date.today() - timedelta(days=30), note="开工",
                            user_id=None)
    gc = await org.create_enterprise(f"{name}总包", fake_uscc(rng, "110101"))
    sup = await org.create_enterprise(f"{name}监理", fake_uscc(rng, "110101"))
    kit = SiteKit(pid)
    gc_unit = await org.add_unit(pid, gc, "general_contractor")
    kit.units = [gc_unit, await org.add_unit(pid, sup, "supervision_firm")]
    team = await org.create_team(pid, gc_unit, "木工班组")
    kit.teams = [t["id"] for t in await org.list_teams(pid)]
    for i in range(workers):
        person = await workforce.upsert_person(id_number=world.id_number(), name=_name(i))
        kit.entries.append(await workforce.enter_roster(
            project_id=pid, person_id=person, unit_id=gc_unit, team_id=team, work_role="worker", work_type="020",
            entered_on=date.today() - timedelta(days=20)))
    return kit


GIVEN = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张"
NUMS = "一二三四五六七八九十"


def _name(i: int) -> str:
    return GIVEN[i % len(GIVEN)] + NUMS[(i // len(GIVEN)) % 10] + NUMS[(i // 230) % 10] + "工"


async def point_districts_at(world: Any, url: str) -> None:
    for d in (world.district_a, world.district_b):
        await services.set_credentials(d, url, APPID, SECRET)


async def states(project_id: int) -> dict[str, dict[int, str]]:
    """kind → entity id → upload state, for one project."""
    out: dict[str, dict[int, str]] = {}
    for r in await UploadEntityState.select(UploadEntityState.kind, UploadEntityState.entity_id,
                                            UploadEntityState.state).where(
            UploadEntityState.project_id == project_id):
        out.setdefault(r["kind"], {})[r["entity_id"]] = r["state"]
    return out


async def open_tasks(project_id: int) -> int:
    return await UploadTask.count().where((UploadTask.project_id == project_id) & UploadTask.state.is_in(
        ["pending", "waiting", "sending", "polling"]))


def all_succeeded(kit: SiteKit, st: dict[str, dict[int, str]]) -> bool:
    ok = UploadState.succeeded
    return (st.get("project", {}).get(kit.project_id) == ok
            and all(st.get("project_unit", {}).get(u) == ok for u in kit.units)
            and all(st.get("team", {}).get(t) == ok for t in kit.teams)
            and all(st.get("worker", {}).get(e) == ok for e in kit.entries)
            and all(st.get("worker_entry", {}).get(e) == ok for e in kit.entries))
