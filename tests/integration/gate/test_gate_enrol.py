"""852 enrolment at a terminal (seed 001 附件3 §1.2.6): enrols a person of the terminal's project's
roster — ID data, ID photo, face photo and a face template computed by the face service from a real
photo; a person who already has a face goes to review instead of being overwritten (security issue
item 2: tests/integration/security/test_gate_security.py has the cross-tenant attacks); invalid data
is refused with the reason in the 30-byte 失败原因 field."""

from __future__ import annotations

from datetime import date

import pytest

from backend.crypto import lookup_hash
from backend.workforce.tables import Enrolment, Person
from device_tcp.messages import Enrolment as EnrolmentMsg
from device_tcp.simulator import make_jpeg
from tests.integration.gate.gate_site import add_worker, make_site, register

pytestmark = pytest.mark.integration


def terminal_photo(name: str, face_width: int = 210) -> bytes:
    """A real photo as an enrolment terminal captures it: 480×640, face ≈ 210 px, JPEG ≤ 50 KB."""
    from tests.fixtures.faces import capture_like_image, jpeg_bytes

    image, _ = capture_like_image(name, face_width=face_width)
    for quality in (85, 75, 65, 55):
        data = jpeg_bytes(image, quality)
        if len(data) <= 50 * 1024:
            return data
    raise AssertionError("cannot fit the photo in 50 KB")


def blank_photo() -> bytes:
    """A real JPEG of a wall: no face in it."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (480, 640), (150, 140, 120)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def enrolment(number: str, face: bytes, **kw: object) -> EnrolmentMsg:
    values: dict[str, object] = {
        "id_number": number, "name": "张三", "gender": "1" if int(number[16]) % 2 else "0", "ethnicity": "01",
        "birth_date": number[6:14], "address": "广东省江门市蓬江区建设路1号", "issuing_authority": "江门市公安局蓬江分局",
        "validity": "2020.01.01-2040.01.01", "id_photo": make_jpeg(1, (102, 126), 60), "face_photo": face,
    }
    values.update(kw)
    return EnrolmentMsg(**values)  # type: ignore[arg-type]


async def test_enrolment_of_a_person_on_the_roster_without_a_face_stores_the_id_data_and_the_template(
        world, open_terminal, face_photos):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(1985, 6, 1))
    await add_worker(world, site, name="欧阳建国", enrolled=False, id_number=number)
    face = terminal_photo("obama.jpg")
    msg = enrolment(number, face, name="欧阳建国", ethnicity="03")
    r = await t.enrol(msg)
    assert r.ok, r.message
    person = await Person.select().where(Person.id_hash == lookup_hash(number)).first()
    assert person is not None
    assert (person["name"], person["ethnicity"], person["id_issuer"]) == ("欧阳建国", "03", "江门市公安局蓬江分局")
    assert person["id_valid_until"] == date(2040, 1, 1)
    assert person["id_masked"] != number and number not in str(person)  # only masked / encrypted at rest
    enrol = await Enrolment.select().where(Enrolment.person == person["id"]).first()
    assert enrol["source"] == "gate" and len(enrol["face_template"]) == 512
    assert enrol["face_photo"] == face and enrol["id_photo"] == msg.id_photo


async def test_an_enrolment_at_a_terminal_bumps_the_face_version_exactly_once(world, open_terminal, face_photos):
    # issue 12: enrolment in one place (backend.crew.enrolment.save_enrolment) — every process's 1:N
    # matrix reloads once per enrolment; a capture that goes to review changes nothing.
    from backend.crew.enrolment import face_version

    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(1986, 7, 7))
    await add_worker(world, site, name="张三", enrolled=False, id_number=number)
    v0 = await face_version()
    assert (await t.enrol(enrolment(number, terminal_photo("obama.jpg")))).ok
    assert await face_version() == v0 + 1
    r = await t.enrol(enrolment(number, terminal_photo("obama.jpg", face_width=190)))
    assert not r.ok and r.message == "人脸待审核，暂未生效"
    assert await face_version() == v0 + 1


async def test_enrolling_again_goes_to_review_and_replaces_nothing(world, open_terminal, face_photos):
    # Before the security fix a second 852 silently replaced the template, photo and address; now a
    # person who already has a face gets a registration pending review (crew's duplicate-face review).
    from backend.crew.tables import Registration

    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(1990, 3, 3))
    await add_worker(world, site, name="张三", enrolled=False, id_number=number)
    first = terminal_photo("obama.jpg")
    assert (await t.enrol(enrolment(number, first))).ok
    second = terminal_photo("obama.jpg", face_width=190)
    r = await t.enrol(enrolment(number, second, address="广东省江门市新会区"))
    assert not r.ok and r.message == "人脸待审核，暂未生效"
    rows = await Person.select().where(Person.id_hash == lookup_hash(number))
    assert len(rows) == 1 and rows[0]["name"] == "张三" and rows[0]["address"] == "广东省江门市蓬江区建设路1号"
    enrol = await Enrolment.select().where(Enrolment.person == rows[0]["id"]).first()
    assert enrol["face_version"] == 1 and enrol["face_photo"] == first
    reg = await Registration.select().where(Registration.person == rows[0]["id"]).first()
    assert (reg["project"], reg["status"]) == (site.project, "pending_review")
    # gate_reenrol, or duplicate_face when the 1:N search found the same photo enrolled for another person
    assert reg["review_kind"] in ("gate_reenrol", "duplicate_face")
    assert reg["face_photo"] == second
    again = await t.enrol(enrolment(number, second))
    assert not again.ok and again.message == "已有待处理的登记"  # one open review at a time


async def test_another_name_for_a_registered_id_number_is_refused(world, open_terminal, face_photos):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(1991, 4, 4))
    await add_worker(world, site, name="张三", enrolled=False, id_number=number)
    assert (await t.enrol(enrolment(number, terminal_photo("obama.jpg")))).ok
    r = await t.enrol(enrolment(number, terminal_photo("obama.jpg", face_width=190), name="李鬼"))
    assert not r.ok and r.message == "姓名与已登记的不一致"
    person = await Person.select().where(Person.id_hash == lookup_hash(number)).first()
    assert person["name"] == "张三"
    enrol = await Enrolment.select().where(Enrolment.person == person["id"]).first()
    assert enrol["face_version"] == 1  # nothing stored half


async def test_invalid_id_number_is_refused_with_the_reason_and_nothing_is_stored(world, open_terminal, face_photos):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    good = world.id_number()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    r = await t.enrol(enrolment(bad, terminal_photo("obama.jpg")))
    assert not r.ok and r.value is not None and r.value.result == 1
    assert r.message == "身份证号码校验位错误"
    assert not await Person.exists().where(Person.id_hash == lookup_hash(bad))


async def test_birth_date_not_matching_the_id_number_is_refused(world, open_terminal, face_photos):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(1988, 8, 8))
    r = await t.enrol(enrolment(number, terminal_photo("obama.jpg"), birth_date="19880809"))
    assert not r.ok and r.message == "出生日期与身份证不符"


async def test_under_age_person_is_refused_with_the_districts_limit(world, open_terminal):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(date.today().year - 15, 1, 1))
    r = await t.enrol(enrolment(number, make_jpeg(3)))
    assert not r.ok and r.message == "未满16周岁，不得采集"


async def test_photo_without_a_face_is_refused(world, open_terminal):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(1980, 1, 2))
    pid, _, _ = await add_worker(world, site, name="张三", enrolled=False, id_number=number)
    r = await t.enrol(enrolment(number, blank_photo()))
    assert not r.ok and r.message == "未检测到人脸"
    assert not await Enrolment.exists().where(Enrolment.person == pid)


async def test_expired_id_card_is_refused(world, open_terminal, face_photos):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(1979, 5, 5))
    r = await t.enrol(enrolment(number, terminal_photo("obama.jpg"), validity="2000.01.01-2020.01.01"))
    assert not r.ok and r.message == "身份证已过期"
