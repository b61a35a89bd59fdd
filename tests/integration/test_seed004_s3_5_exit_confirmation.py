"""seed 004 §三(五): 施工现场人员退场时，施工企业应与项目人员确认工作量、结清工资，签署退场确认书，通过实名制管理平台
办理退场登记.  One exit rule for every path (``workforce.services.check_exit`` under ``exit_roster``, reached
through ``crew.services.record_exit``): the roster API and the foreman's tablet both need the signed 退场确认书
and the two confirmations; anything missing → 400 naming it, and nothing is stored."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.integration.conftest import World, login, unique_name
from tests.integration.people_kit import CONFIRMED, PDF, exit_body, upload_exit_document

pytestmark = pytest.mark.integration


async def enter(client: Any, h: dict[str, str], world: World, project: int) -> int:
    r = await client.post(f"/api/projects/{project}/roster", headers=h, json={
        "id_number": world.id_number(), "name": unique_name("退场工人"),
        "unit_id": world.units[project]["general_contractor"], "team_id": world.teams[project]["钢筋班组"],
        "work_role": "worker", "work_type": "020", "entered_on": (date.today() - timedelta(days=20)).isoformat()})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def state(entry: int) -> tuple[Any, ...]:
    """What an exit would change: the roster entry's exit date and note, its confirmation record."""
    from backend.crew.tables import ExitConfirmation
    from backend.workforce.tables import RosterEntry

    row = await RosterEntry.select(RosterEntry.exited_on, RosterEntry.exit_note).where(RosterEntry.id == entry).first()
    confirmations = await ExitConfirmation.count().where(ExitConfirmation.roster_entry == entry)
    return row["exited_on"], row["exit_note"], confirmations


async def crew_files(project: int) -> int:
    from backend.crew.tables import CrewFile

    return await CrewFile.count().where(CrewFile.project == project)


# ------------------------------------------------------------------------------------------ roster API


async def test_roster_api_exit_without_the_signed_confirmation_is_refused_and_changes_nothing(client, world):
    admin = await login(client, world.users["admin"])
    pa = world.project_a
    entry = await enter(client, admin, world, pa)
    url = f"/api/projects/{pa}/roster/{entry}/exit"
    before = await state(entry)

    r = await client.post(url, headers=admin, json={"exited_on": date.today().isoformat(), "note": "离场"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "exit_incomplete" and body["field"] == "confirmation"
    assert body["extra"]["missing"] == ["confirmation", "workload_confirmed", "wages_settled"]
    assert "退场确认书" in body["message"] and "结清工资" in body["message"] and "exit confirmation" in body["message_en"]
    assert await state(entry) == before

    doc = await upload_exit_document(client, admin, pa)
    r = await client.post(url, headers=admin, json={"exited_on": date.today().isoformat(), "confirmation_file_id": doc,
                                                    "workload_confirmed": True})
    assert r.status_code == 400 and r.json()["extra"]["missing"] == ["wages_settled"]
    assert await state(entry) == before

    r = await client.post(url, headers=admin, json={"confirmation_file_id": doc, **CONFIRMED})
    assert r.status_code == 400 and r.json()["extra"]["missing"] == ["exited_on"]
    assert await state(entry) == before


async def test_roster_api_exit_with_the_file_and_the_confirmations_exits_and_keeps_them(client, world):
    from backend.crew.tables import ExitConfirmation

    admin = await login(client, world.users["admin"])
    pa = world.project_a
    entry = await enter(client, admin, world, pa)
    leave = await exit_body(client, admin, pa, date.today(), note="工程量已确认，工资已结清")
    r = await client.post(f"/api/projects/{pa}/roster/{entry}/exit", headers=admin, json=leave)
    assert r.status_code == 201, r.text
    assert r.json()["file_id"] == leave["confirmation_file_id"] and r.json()["wages_settled"] is True
    exited_on, note, confirmations = await state(entry)
    assert exited_on == date.today() and note == "工程量已确认，工资已结清" and confirmations == 1
    kept = await ExitConfirmation.select().where(ExitConfirmation.roster_entry == entry).first()
    assert (kept["file"], kept["workload_confirmed"], kept["wages_settled"]) == (leave["confirmation_file_id"], True, True)
    # the foreman's roster shows the signed confirmation with the exit
    rows = (await client.get(f"/api/projects/{pa}/crew/roster?active=false", headers=admin)).json()
    assert next(x for x in rows if x["id"] == entry)["exit_file"] == leave["confirmation_file_id"]


async def test_roster_api_exit_document_must_be_this_projects_and_unused(client, world):
    admin = await login(client, world.users["admin"])
    pa, pb = world.project_a, world.project_b
    first, second = await enter(client, admin, world, pa), await enter(client, admin, world, pa)
    foreign = await upload_exit_document(client, admin, pb)
    r = await client.post(f"/api/projects/{pa}/roster/{first}/exit", headers=admin,
                          json={"exited_on": date.today().isoformat(), "confirmation_file_id": foreign, **CONFIRMED})
    assert r.status_code == 400 and r.json()["code"] == "exit_document_unknown"
    leave = await exit_body(client, admin, pa, date.today())
    assert (await client.post(f"/api/projects/{pa}/roster/{first}/exit", headers=admin, json=leave)).status_code == 201
    r = await client.post(f"/api/projects/{pa}/roster/{second}/exit", headers=admin, json=leave)  # the same document
    assert r.status_code == 409 and r.json()["code"] == "exit_document_used"
    assert (await state(second))[0] is None


# ------------------------------------------------------------------------------------------ the tablet: same rule


async def test_tablet_exit_needs_the_same_confirmations_and_stores_no_file_when_refused(client, world):
    admin = await login(client, world.users["admin"])
    foreman = await login(client, world.users["foreman_a"])
    pa = world.project_a
    entry = await enter(client, admin, world, pa)
    url = f"/api/projects/{pa}/crew/roster/{entry}/exit"
    files_before, before = await crew_files(pa), await state(entry)
    r = await client.post(url, data={"exited_on": date.today().isoformat()},
                          files={"confirmation": ("exit.pdf", PDF, "application/pdf")}, headers=foreman)
    assert r.status_code == 400 and r.json()["code"] == "exit_incomplete"
    assert r.json()["extra"]["missing"] == ["workload_confirmed", "wages_settled"]
    assert await crew_files(pa) == files_before and await state(entry) == before  # the upload was not kept

    r = await client.post(url, data={"exited_on": date.today().isoformat(), "workload_confirmed": "true",
                                     "wages_settled": "true"},
                          files={"confirmation": ("exit.pdf", PDF, "application/pdf")}, headers=foreman)
    assert r.status_code == 200, r.text
    assert r.json()["workload_confirmed"] is True and r.json()["wages_settled"] is True
    assert (await state(entry))[0] == date.today() and await crew_files(pa) == files_before + 1


async def test_tablet_page_exit_form_asks_for_both_confirmations(client, world):
    admin = await login(client, world.users["admin"])
    pa = world.project_a
    entry = await enter(client, admin, world, pa)
    page = await client.get(f"/projects/{pa}/crew/entries/{entry}", headers=admin)
    assert page.status_code == 200
    assert 'name="workload_confirmed"' in page.text and 'name="wages_settled"' in page.text


# ------------------------------------------------------------------------------------------ below the HTTP paths


async def test_the_roster_write_itself_refuses_an_exit_without_the_confirmations(world):
    from backend.errors import InvalidInput
    from backend.workforce import services as workforce

    person = await workforce.upsert_person(id_number=world.id_number(), name=unique_name("直接退场"))
    pa = world.project_a
    entry = await workforce.enter_roster(project_id=pa, person_id=person, unit_id=world.units[pa]["general_contractor"],
                                         team_id=world.teams[pa]["钢筋班组"], work_role="worker", work_type="020",
                                         entered_on=date.today() - timedelta(days=5))
    with pytest.raises(InvalidInput) as exc:
        await workforce.exit_roster(pa, entry, workforce.ExitIn(exited_on=date.today(), confirmation_file=None,
                                                                workload_confirmed=True, wages_settled=True))
    assert exc.value.code == "exit_incomplete" and exc.value.extra["missing"] == ["confirmation"]
    assert (await state(entry))[0] is None
