"""The platform adapter reads our database and speaks seed 003's language (issue 17): every entity kind of a
real project (units, teams, a worker with entry, contract, punch and exit) loads into a payload the simulator
accepts, in dependency order, over real sockets; ID numbers go out in clear only on the wire."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import aiohttp
import pytest

from backend.attendance.services import PunchIn, record_punch
from backend.errors import InvalidInput, NotFound
from backend.org.tables import Team
from backend.platform.adapter import load_request, natural_key
from backend.platform.client import PlatformClient
from backend.platform.simulator import SimulatorHandle, start_simulator
from backend.platform.wire import EntityKind, PlatformCredentials
from backend.workforce import services as workforce
from tests.integration.people_kit import exit_entry, sign_contract

pytestmark = pytest.mark.integration

APPID, SECRET = "110101-app", "db-test-secret"


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await start_simulator(appid=APPID, appsecret=SECRET, delay=0.05)
    yield handle
    await handle.stop()


async def _upload(client: PlatformClient, kind: EntityKind, entity_id: int, op: str = "add") -> str:
    req = await load_request(kind, entity_id, op)  # type: ignore[arg-type]
    sub = await client.submit(req)
    assert sub.kind == "accepted", (kind, sub)
    assert sub.serial
    end = time.monotonic() + 5
    while True:
        out = await client.query(sub.serial)
        if out.kind != "processing" or time.monotonic() > end:
            break
        await asyncio.sleep(0.02)
    assert out.kind == "success", (kind, out)
    return out.platform_id or ""


async def test_a_whole_project_goes_up_in_dependency_order(world, sim, caplog) -> None:
    pa = world.project_a
    number = world.id_number()
    person = await workforce.upsert_person(id_number=number, name="上传测试工人")
    entered = date.today() - timedelta(days=20)
    entry = await workforce.enter_roster(project_id=pa, person_id=person,
                                         unit_id=world.units[pa]["general_contractor"],
                                         team_id=world.teams[pa]["钢筋班组"], work_role="worker", work_type="020",
                                         entered_on=entered)
    contract = await sign_contract(pa, entry, starts_on=entered)
    now = datetime.now(UTC)
    punch = await record_punch(PunchIn(source="mobile", project_id=pa, person_id=person,
                                       idempotency_key=uuid.uuid4().hex, captured_at=now - timedelta(seconds=3),
                                       received_at=now))
    assert punch.verdict != "rejected", punch
    await exit_entry(pa, entry, date.today())
    team_ids = [t["id"] for t in await Team.select(Team.id).where(Team.project == pa)]

    caplog.set_level(logging.DEBUG, logger="backend.platform")
    async with aiohttp.ClientSession() as session:
        client = PlatformClient(PlatformCredentials(sim.url, APPID, SECRET), session=session)
        await _upload(client, "project", pa)
        for unit in world.units[pa].values():
            await _upload(client, "project_unit", unit)
        for team in team_ids:
            await _upload(client, "team", team)
        await _upload(client, "worker", entry)
        await _upload(client, "worker_entry", entry)
        await _upload(client, "contract", contract)
        await _upload(client, "attendance", punch.punch_id)
        await _upload(client, "worker_exit", entry)
        # an edit re-uploads as an update, never as a second Add
        await _upload(client, "worker", entry, "update")
        req = await load_request("worker", entry, "add")
        assert (await client.lookup("worker", natural_key("worker", req))).kind == "success"

    stats = sim.stats
    assert stats.count("project") == 1 and stats.count("project_unit") == len(world.units[pa])
    assert stats.count("team") == len(team_ids)
    for kind in ("worker", "worker_entry", "contract", "attendance", "worker_exit"):
        assert stats.count(kind) == 1, kind
    assert stats.duplicates() == {} and stats.duplicate_adds == 0 and stats.out_of_order == 0
    assert sum(stats.updated.values()) == 1
    assert number not in caplog.text  # the ID number went over the wire, never into a log


async def test_the_payload_carries_the_decrypted_id_and_national_codes(world) -> None:
    pa = world.project_a
    number = world.id_number()
    person = await workforce.upsert_person(id_number=number, name="管理人员甲")
    entry = await workforce.enter_roster(project_id=pa, person_id=person,
                                         unit_id=world.units[pa]["general_contractor"],
                                         team_id=world.teams[pa]["总承包单位项目部"], work_role="manager",
                                         post="safety_officer", entered_on=date.today() - timedelta(days=2))
    req = await load_request("worker", entry, "add")
    assert req.method == "ProjectWorker.Add"
    item = req.data["workerList"][0]
    assert item["idCardNumber"] == number and item["idCardType"] == "01"
    assert item["workRole"] == "10" and item["workType"] == "900"
    assert req.data["projectCode"] == f"110101{pa:08d}" and req.data["teamName"] == "总承包单位项目部"
    unit = await load_request("project_unit", world.units[pa]["supervision_firm"], "add")
    assert unit.data["corpType"] == "007"
    project = await load_request("project", pa, "update")
    assert project.method == "Project.Update" and project.data["prjStatus"] == "003"
    assert project.data["contractorCorpName"] == "测试总包有限公司"


async def test_missing_entities_and_unsendable_ones_say_why(world) -> None:
    with pytest.raises(NotFound):
        await load_request("team", 987654, "add")
    with pytest.raises(InvalidInput) as err:
        await load_request("attendance", 1, "update")
    assert err.value.code == "platform_no_update"
    with pytest.raises(InvalidInput) as err:
        await load_request("payroll", 1, "add")
    assert err.value.code == "platform_payroll_unavailable"
