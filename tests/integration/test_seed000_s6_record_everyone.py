"""seed 000 §六 (and seed 001 §二(二)): 凡进入施工现场的……项目管理人员及农民工均应纳入实名制管理（含临时聘用人员），
做到应录尽录.  No seed caps age, so a 64-year-old project manager is recorded on every path — the roster API,
the foreman's tablet and a gate's 852 enrolment.  The only age refusal left is the labour law's minimum
(劳动法 §15: under 16).  A district that wants to be told about older people turns on
``rules.age_notice_enabled``: the foreman then gets a notice in the answer — never a refusal."""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from backend.crew.faceindex import FaceMatrix
from tests.integration.conftest import World, login, unique, unique_name
from tests.integration.crew.crewkit import (
    CameraStandIn,
    give_consent,
    id_card_back,
    id_card_front,
    id_fields,
    live_frames,
)

pytestmark = pytest.mark.integration


def born_64_years_ago() -> date:
    today = date.today()
    return date(today.year - 64, 1, 1)  # 64 on any day of this year


def male_id(world: World, birth: date) -> str:
    while True:
        number = world.id_number(birth=birth)
        if int(number[16]) % 2:
            return number


@pytest.fixture(scope="module")
async def noticing(world: World) -> dict[str, Any]:
    """A project in a district that turned the age notice on (thresholds 男 60 / 女 50 by default)."""
    from backend.org import services as org
    from backend.org.tables import ProjectUnit

    district = await org.create_district(str(random.SystemRandom().randrange(10**9, 10**10)), unique("关注年龄测试区"),
                                         rule_overrides={"age_notice_enabled": True})
    pid = await org.create_project(name=unique("应录尽录测试工程"), district_id=district, category="building",
                                   floor_area_m2=20_000, planned_start=date.today() - timedelta(days=60))
    await org.change_status(pid, "under_construction", effective_on=date.today() - timedelta(days=50), note="开工",
                            user_id=None)
    gc = await ProjectUnit.select(ProjectUnit.enterprise).where(
        ProjectUnit.id == world.units[world.project_a]["general_contractor"]).first()
    unit = await org.add_unit(pid, gc["enterprise"], "general_contractor")
    management = {t["name"]: t["id"] for t in await org.list_teams(pid)}["总承包单位项目部"]
    return {"project": pid, "district": district, "unit": unit, "management_team": management}


def manager_body(world: World, project: int, unit: int, team: int, number: str) -> dict[str, Any]:
    return {"id_number": number, "name": unique_name("项目经理"), "unit_id": unit, "team_id": team,
            "work_role": "manager", "post": "project_manager",
            "entered_on": (date.today() - timedelta(days=3)).isoformat()}


# ------------------------------------------------------------------------------------------ roster API


async def test_roster_api_records_a_64_year_old_project_manager(client, world):
    admin = await login(client, world.users["admin"])
    pa = world.project_a
    management = world.teams[pa]["总承包单位项目部"]
    number = male_id(world, born_64_years_ago())
    r = await client.post(f"/api/projects/{pa}/roster", headers=admin,
                          json=manager_body(world, pa, world.units[pa]["general_contractor"], management, number))
    assert r.status_code == 201, r.text
    assert "age_notice" not in [n["code"] for n in r.json()["notices"]]  # the notice is off by default
    rows = (await client.get(f"/api/projects/{pa}/roster?active=true", headers=admin)).json()
    assert r.json()["id"] in [x["id"] for x in rows]


async def test_roster_api_tells_the_foreman_where_the_district_wants_an_age_notice(client, world, noticing):
    admin = await login(client, world.users["admin"])
    number = male_id(world, born_64_years_ago())
    r = await client.post(f"/api/projects/{noticing['project']}/roster", headers=admin,
                          json=manager_body(world, noticing["project"], noticing["unit"], noticing["management_team"],
                                            number))
    assert r.status_code == 201, r.text  # recorded: a notice, not a refusal
    (age,) = [n for n in r.json()["notices"] if n["code"] == "age_notice"]
    assert "64 岁" in age["message"] and "男 60 岁" in age["message"] and age["message_en"]


async def test_under_16_is_still_refused_by_law_not_by_a_seed(client, world):
    admin = await login(client, world.users["admin"])
    pa = world.project_a
    today = date.today()
    young = world.id_number(birth=date(today.year - 15, 1, 1))
    r = await client.post(f"/api/projects/{pa}/roster", headers=admin, json={
        "id_number": young, "name": unique_name("少年"), "unit_id": world.units[pa]["general_contractor"],
        "team_id": world.teams[pa]["钢筋班组"], "work_role": "worker", "work_type": "020"})
    assert r.status_code == 400 and r.json()["code"] == "too_young" and "劳动法" in r.json()["message"]


# ------------------------------------------------------------------------------------------ the tablet


@pytest.fixture
def camera(monkeypatch: pytest.MonkeyPatch) -> type[CameraStandIn]:
    from backend.crew.services import common as crew_common

    # the seam wraps the app's face service (AppServices.face) in the stand-in
    monkeypatch.setattr(crew_common, "face_service", CameraStandIn)
    return CameraStandIn


@pytest.fixture
def my_people(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """1:N limited to the people this test registered (the sdist faces are enrolled by other modules too)."""
    from backend.crew import services as crew
    from backend.crew.enrolment import FACE_INDEX_MAX_AGE_S
    from backend.crew.services import face_check

    people: set[int] = set()
    real = crew.face_index

    async def scoped(max_age_s: float = FACE_INDEX_MAX_AGE_S) -> FaceMatrix:
        m = await real(max_age_s)
        keep = [i for i, pid in enumerate(m.ids) if int(pid) in people]
        sub = FaceMatrix()
        sub.ids, sub.matrix, sub.norms, sub.version = m.ids[keep], m.matrix[keep], m.norms[keep], m.version
        return sub

    monkeypatch.setattr(face_check, "face_index", scoped)
    return people


async def tablet_register(client: Any, h: dict[str, str], project: int, unit: int, team: int, number: str,
                          my_people: set[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The three tablet steps for a project manager: ID card, 人证核验, roster (with a contract)."""
    files = {"id_front": ("front.jpg", id_card_front("obama.jpg"), "image/jpeg"),
             "id_back": ("back.jpg", id_card_back(), "image/jpeg")}
    started = await client.post(f"/api/projects/{project}/crew/registrations",
                                data=id_fields(number, name=unique_name("项目经理")), files=files, headers=h)
    assert started.status_code == 201, started.text
    my_people.add(started.json()["person_id"])
    rid = started.json()["id"]
    await give_consent(client, h, project, rid)
    ch = await client.post(f"/api/projects/{project}/crew/registrations/{rid}/challenge", headers=h)
    assert ch.status_code == 200, ch.text
    frames = [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(live_frames("obama.jpg"))]
    face = await client.post(f"/api/projects/{project}/crew/registrations/{rid}/face",
                             data={"nonce": ch.json()["nonce"], "captured_at": datetime.now(UTC).isoformat()},
                             files=frames, headers=h)
    assert face.status_code == 200 and face.json()["status"] == "face_checked", face.text
    from tests.integration.people_kit import PDF

    done = await client.post(f"/api/projects/{project}/crew/registrations/{rid}/complete", headers=h, data={
        "unit_id": str(unit), "team_id": str(team), "work_role": "manager", "post": "project_manager",
        "entered_on": date.today().isoformat(), "phone": "", "contract_type": "open_ended",
        "starts_on": date.today().isoformat()}, files={"contract_file": ("contract.pdf", PDF, "application/pdf")})
    assert done.status_code == 200, done.text
    return started.json(), done.json()


async def test_tablet_records_a_64_year_old_project_manager_with_a_notice_when_the_district_wants_one(
        client, world, noticing, camera, my_people):
    admin = await login(client, world.users["admin"])
    number = male_id(world, born_64_years_ago())
    started, done = await tablet_register(client, admin, noticing["project"], noticing["unit"],
                                          noticing["management_team"], number, my_people)
    assert [n["code"] for n in started["notices"]] == ["age_notice"]  # told at the ID step …
    assert "age_notice" in [n["code"] for n in done["notices"]]  # … and on completion
    assert done["status"] == "completed" and done["on_gate"] is True  # a contract in force: sent to the gate
    page = await client.get(f"/projects/{noticing['project']}/crew/registrations/{started['id']}", headers=admin)
    assert page.status_code == 200 and 'data-code="age_notice"' in page.text


async def test_tablet_records_a_64_year_old_without_any_notice_by_default(client, world, camera, my_people):
    foreman = await login(client, world.users["foreman_a"])
    pa = world.project_a
    management = world.teams[pa]["总承包单位项目部"]
    number = male_id(world, born_64_years_ago())
    started, done = await tablet_register(client, foreman, pa, world.units[pa]["general_contractor"], management,
                                          number, my_people)
    assert started["notices"] == [] and done["notices"] == [] and done["status"] == "completed"


# ------------------------------------------------------------------------------------------ gate 852


async def test_gate_852_enrols_a_64_year_old_and_logs_the_districts_notice(world, noticing, caplog):
    from backend.devices.gate import AppGateBackend
    from backend.devices.services import register_terminal
    from backend.workforce import services as workforce
    from backend.workforce.tables import Enrolment
    from device_tcp.messages import Enrolment as EnrolmentMsg
    from device_tcp.simulator import make_jpeg
    from tests.fixtures.faces import capture_like_image, jpeg_bytes

    number = male_id(world, born_64_years_ago())
    name = unique_name("老项目经理")
    person = await workforce.upsert_person(id_number=number, name=name)
    await workforce.enter_roster(project_id=noticing["project"], person_id=person, unit_id=noticing["unit"],
                                 team_id=noticing["management_team"], work_role="manager", post="project_manager",
                                 entered_on=date.today() - timedelta(days=2))
    from backend.workforce import consent

    await consent.record(person, "given", channel="paper")  # issue 20 B.1: no face without 单独同意
    serial = unique("AGE852-")
    await register_terminal(noticing["project"], serial, world.vendor)
    image, _ = capture_like_image("obama.jpg")
    face = next(d for q in (85, 75, 65, 55) if len(d := jpeg_bytes(image, q)) <= 50 * 1024)
    msg = EnrolmentMsg(id_number=number, name=name, gender="1", ethnicity="01", birth_date=number[6:14],
                       address="广东省江门市蓬江区建设路1号", issuing_authority="江门市公安局蓬江分局",
                       validity="2020.01.01-2040.01.01", id_photo=make_jpeg(1, (102, 126), 60), face_photo=face)
    from backend.face.service import FaceService

    gate = AppGateBackend()
    async with FaceService() as face:  # the app's face workers, as start_gate_server hands them in
        gate.attach(terminal_changes=None, live_feed=None, face=face)
        with caplog.at_level(logging.INFO, logger="smz.crew"):
            await gate.enrol(serial, msg)  # no GateRefused: enrolled
    enrol = await Enrolment.select().where(Enrolment.person == person).first()
    assert enrol is not None and enrol["source"] == "gate" and len(enrol["face_template"]) == 512
    assert any("64 岁" in rec.getMessage() for rec in caplog.records)
