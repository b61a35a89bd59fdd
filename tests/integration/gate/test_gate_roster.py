"""849 whitelist and 845 person data from the app's gate server (seed 001 附件3 §1.2.3, §1.2.5; the
whitelist is the project's current roster: entered, not exited, enrolled)."""

from __future__ import annotations

import pytest

from backend.devices import services as devices
from backend.runtime import services_of
from tests.integration.gate.gate_site import add_worker, make_site, register, terminal_row

pytestmark = pytest.mark.integration


async def test_whitelist_holds_exactly_the_entered_not_exited_enrolled_people_of_the_project(world, open_terminal):
    site = await make_site(world)
    other = await make_site(world)
    on, on_number, on_photo = await add_worker(world, site, name="李四")
    also_on, _, _ = await add_worker(world, site, name="王五", entered_days_ago=0)  # entered today
    exits_today, _, _ = await add_worker(world, site, name="赵六", entered_days_ago=5, exited_days_ago=0)
    not_enrolled, _, _ = await add_worker(world, site, name="未采集", enrolled=False)
    exited, _, _ = await add_worker(world, site, name="已退场", entered_days_ago=20, exited_days_ago=2)
    future, _, _ = await add_worker(world, site, name="明天进场", entered_days_ago=-1)
    elsewhere, _, _ = await add_worker(world, other, name="别的项目")
    t = await open_terminal(await register(world, site.project))

    r = await t.whitelist()
    assert r.ok and r.value is not None
    wl = r.value
    assert wl.project_no == site.project
    assert [rec.worker_no for rec in wl.records] == sorted([on, also_on, exits_today])
    for absent in (not_enrolled, exited, future, elsewhere):
        assert absent not in [rec.worker_no for rec in wl.records]
    rec = next(x for x in wl.records if x.worker_no == on)
    assert rec.name == "李四"
    assert rec.id_number == on_number  # the full ID number: the terminal matches ID cards with it
    assert rec.photo_length == len(on_photo)


async def test_whitelist_names_are_cut_on_utf8_character_boundaries(world, open_terminal):
    site = await make_site(world)
    long_name, _, _ = await add_worker(world, site, name="欧阳娜娜娜")  # 15 bytes > the 10-byte field
    ascii_name, _, _ = await add_worker(world, site, name="Abdul·Kerimov")
    t = await open_terminal(await register(world, site.project))
    records = {r.worker_no: r for r in (await t.whitelist()).value.records}
    assert records[long_name].name == "欧阳娜"  # 9 bytes: a fourth character would not fit whole
    assert records[ascii_name].name.encode("utf-8") == "Abdul·Ker".encode()  # · is 2 bytes
    assert all(len(r.name.encode("utf-8")) <= 10 for r in records.values())


async def test_whitelist_project_name_is_the_terminals_project(world, open_terminal):
    from backend.org.services import get_project

    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    wl = (await t.whitelist()).value
    assert wl.project_name == (await get_project(site.project))["name"] and wl.records == ()


async def test_845_returns_the_persons_data_and_photos(world, open_terminal):
    from backend.workforce.tables import Enrolment, Person

    site = await make_site(world)
    pid, number, photo = await add_worker(world, site, name="钱七")
    await Person.update({Person.ethnicity: "03", Person.address: "广东省江门市蓬江区建设路1号"}).where(Person.id == pid)
    t = await open_terminal(await register(world, site.project))
    r = await t.person_features(number)
    assert r.ok, r.message
    p = r.value
    enrol = await Enrolment.select().where(Enrolment.person == pid).first()
    person = await Person.select().where(Person.id == pid).first()
    assert (p.worker_no, p.name, p.id_number, p.ethnicity) == (pid, "钱七", number, "03")
    assert p.gender == ("1" if person["gender"] == "M" else "0")
    assert p.birth_date == person["birth_date"].strftime("%Y%m%d")
    assert p.address == "广东省江门市蓬江区建设路1号"
    assert p.face_photo == photo and p.id_photo == enrol["id_photo"]


async def test_845_refuses_people_of_other_projects_and_exited_people(world, open_terminal):
    site = await make_site(world)
    other = await make_site(world)
    _, elsewhere, _ = await add_worker(world, other)
    _, exited, _ = await add_worker(world, site, entered_days_ago=20, exited_days_ago=3)
    t = await open_terminal(await register(world, site.project))
    for number in (elsewhere, exited, world.id_number()):
        r = await t.person_features(number)
        assert not r.ok and "不在本项目花名册中" in r.message


async def test_845_refuses_an_invalid_id_number(world, open_terminal):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    good = world.id_number()
    r = await t.person_features(good[:17] + ("0" if good[17] != "0" else "1"))  # wrong check digit
    assert not r.ok and "身份证号码无效" in r.message


async def test_845_a_terminal_of_a_disabled_registration_gets_nothing(world, open_terminal, running_app):
    site = await make_site(world)
    _, number, _ = await add_worker(world, site)
    serial = await register(world, site.project)
    t = await open_terminal(serial)
    await devices.update_terminal((await terminal_row(serial))["id"], {"enabled": False},  # as the app's API does
                                  terminal_changes=services_of(running_app.state).terminal_changes)
    r = await t.person_features(number)
    assert not r.ok and "设备已停用" in r.message
