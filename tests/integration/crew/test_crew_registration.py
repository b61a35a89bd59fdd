"""Crew registration over HTTP against the real app and database, with the real face engine
(only the blink/turn judgement of liveness is stood in for: see crewkit.CameraStandIn).

Rules checked: seed 004 §三(四) (ID card + face before work), seed 000 附件3 二.4 (人证比对: live face vs
the ID-card photo; rules.face_match_tolerance), a mismatch needs a supervisor's confirmation with a
note; 1:N duplicate faces (rules.face_duplicate_tolerance) are blocked for review; duplicate active ID
on another project → warning; duplicate entry on the same project → refused; enrolment reaches the
gate whitelist; seed 004 §三(五) exit with a signed confirmation; contracts; nothing stored half.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from crewkit import (
    PDF,
    CameraStandIn,
    blank_card,
    give_consent,
    id_card_back,
    id_card_front,
    id_fields,
    live_frames,
    png_document,
)

from backend.crew import services as crew
from backend.crew.enrolment import FACE_INDEX_MAX_AGE_S
from backend.crew.faceindex import FaceMatrix
from backend.crew.services import common as crew_common
from backend.crew.services import face_check
from backend.crew.tables import CrewFile, Registration
from backend.crypto import lookup_hash
from backend.workforce.tables import Enrolment, Person
from tests.fixtures.faces import face_images
from tests.integration.conftest import login, unique

pytestmark = pytest.mark.integration


@pytest.fixture
def camera(monkeypatch: pytest.MonkeyPatch, face_photos: Any) -> type[CameraStandIn]:
    # the seam both steps look up: it wraps the app's face service (AppServices.face) in the stand-in
    monkeypatch.setattr(crew_common, "face_service", CameraStandIn)
    return CameraStandIn


@pytest.fixture(scope="session")
def face_photos() -> Any:
    return face_images()


@pytest.fixture
def my_people(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """1:N over the REAL enrolment table, limited to the people this test registered (other test
    modules enrol the same sdist faces in the shared session database)."""
    people: set[int] = set()
    real = crew.face_index

    async def scoped(max_age_s: float = FACE_INDEX_MAX_AGE_S) -> FaceMatrix:
        m = await real(max_age_s)
        keep = [i for i, pid in enumerate(m.ids) if int(pid) in people]
        sub = FaceMatrix()
        sub.ids, sub.matrix, sub.norms, sub.version = m.ids[keep], m.matrix[keep], m.norms[keep], m.version
        return sub

    monkeypatch.setattr(face_check, "face_index", scoped)  # where submit_face looks it up
    return people


async def start(client: Any, h: dict[str, str], project: int, id_number: str, *, face: str = "obama.jpg",
                front: bytes | None = None, back: bytes | None = None, **fields: Any) -> Any:
    files = {"id_front": ("front.jpg", front if front is not None else id_card_front(face), "image/jpeg"),
             "id_back": ("back.jpg", back if back is not None else id_card_back(), "image/jpeg")}
    return await client.post(f"/api/projects/{project}/crew/registrations", data=id_fields(id_number, **fields),
                             files=files, headers=h)


async def face_step(client: Any, h: dict[str, str], project: int, rid: int, face: str = "obama.jpg") -> Any:
    await give_consent(client, h, project, rid)  # issue 20 B.1: the consent step comes before the selfie
    ch = await client.post(f"/api/projects/{project}/crew/registrations/{rid}/challenge", headers=h)
    assert ch.status_code == 200, ch.text
    from datetime import UTC, datetime

    files = [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(live_frames(face))]
    return await client.post(f"/api/projects/{project}/crew/registrations/{rid}/face",
                             data={"nonce": ch.json()["nonce"], "captured_at": datetime.now(UTC).isoformat()},
                             files=files, headers=h)


async def complete(client: Any, h: dict[str, str], world: Any, project: int, rid: int, *,
                   contract: bool = True, entered_on: date | None = None, **extra: Any) -> Any:
    data = {"unit_id": str(world.units[project]["general_contractor"]), "team_id": str(world.teams[project]["钢筋班组"]),
            "work_role": "worker", "work_type": "020", "phone": "",
            "entered_on": (entered_on or date.today()).isoformat()}
    files = None
    if contract:
        data.update({"contract_type": "fixed_term", "contract_no": unique("HT-"),
                     "starts_on": date.today().isoformat(),
                     "ends_on": (date.today() + timedelta(days=365)).isoformat()})
        files = {"contract_file": ("contract.pdf", PDF, "application/pdf")}
    data.update({k: str(v) for k, v in extra.items()})
    return await client.post(f"/api/projects/{project}/crew/registrations/{rid}/complete", data=data, files=files,
                             headers=h)


async def register(client: Any, world: Any, my_people: set[int], *, project: int | None = None,
                   face: str = "obama.jpg", live: str = "obama.jpg", **kw: Any) -> dict[str, Any]:
    project = project or world.project_a
    h = await login(client, world.users["foreman_a"])
    r = await start(client, h, project, world.id_number(), face=face)
    assert r.status_code == 201, r.text
    my_people.add(r.json()["person_id"])
    rid = r.json()["id"]
    f = await face_step(client, h, project, rid, live)
    assert f.status_code == 200, f.text
    assert f.json()["status"] == "face_checked", f.json()
    c = await complete(client, h, world, project, rid, **kw)
    assert c.status_code == 200, c.text
    return {"rid": rid, **r.json(), **c.json()}


# ------------------------------------------------------------------------------ the whole flow


async def test_completing_a_registration_bumps_the_face_version_exactly_once(client, world, camera, my_people):
    # issue 12: the tablet's completion and the gate's 852 share ONE enrolment write
    # (backend.crew.enrolment.save_enrolment); it used to bump the version twice on this path.
    from backend.crew.enrolment import face_version

    v0 = await face_version()
    done = await register(client, world, my_people)
    assert await face_version() == v0 + 1
    row = await Enrolment.select().where(Enrolment.person == done["person_id"]).first()
    assert (row["face_version"], row["source"]) == (1, "tablet")


async def test_registration_end_to_end(client, world, camera, my_people):
    from backend.devices.gate import AppGateBackend
    from backend.devices.services import register_terminal

    h = await login(client, world.users["foreman_a"])
    number = world.id_number()
    r = await start(client, h, world.project_a, number, name="王建国")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "id_checked" and body["elsewhere"] == []
    assert body["id_masked"] != number and number not in r.text  # masked only
    my_people.add(body["person_id"])
    rid = body["id"]

    f = await face_step(client, h, world.project_a, rid)
    assert f.status_code == 200, f.text
    res = f.json()
    assert res["status"] == "face_checked" and res["matched"] is True
    assert 0 <= res["distance"] < res["tolerance"]

    detail = (await client.get(f"/api/projects/{world.project_a}/crew/registrations/{rid}", headers=h)).json()
    assert detail["face_distance"] == pytest.approx(res["distance"], abs=1e-3) and detail["liveness_passed"] is True
    photo = await client.get(f"/api/projects/{world.project_a}/crew/registrations/{rid}/photo/id_photo", headers=h)
    assert photo.status_code == 200 and photo.content[:3] == b"\xff\xd8\xff"
    assert len(photo.content) <= 30 * 1024  # seed 001: ID photo ≤ 30 KB

    c = await complete(client, h, world, world.project_a, rid, phone="13800138000")
    assert c.status_code == 200, c.text
    done = c.json()
    assert done["status"] == "completed" and done["account_created"] and len(done["initial_password"]) == 10

    # the template is stored once (512 bytes) with the photos; no frame burst
    enrol = await Enrolment.select().where(Enrolment.person == body["person_id"]).first()
    assert len(enrol["face_template"]) == 512 and enrol["source"] == "tablet"
    assert len(enrol["face_photo"]) <= 50 * 1024 and enrol["id_photo"]

    # the worker can log in to the phone PWA with the one-time password (and must change it)
    w = await client.post("/api/auth/token", json={"username": done["username"], "password": done["initial_password"]})
    assert w.status_code == 200, w.text
    me = (await client.get("/api/me", headers={"Authorization": f"Bearer {w.json()['access_token']}"})).json()
    assert me["must_change_password"] is True

    # roster: contract present, enrolled
    roster = (await client.get(f"/api/projects/{world.project_a}/crew/roster", headers=h)).json()
    mine = next(x for x in roster if x["id"] == done["roster_entry_id"])
    assert mine["enrolled"] and mine["contract_state"] == "valid"

    # the project's gate terminals see the person in their whitelist
    serial = unique("CREWGATE")
    await register_terminal(world.project_a, serial, world.vendor)
    wl = await AppGateBackend().whitelist(serial)
    assert body["person_id"] in [rec.worker_no for rec in wl.records]

    # same person again on the same project: refused, nothing stored
    files_before = await CrewFile.count()
    again = await start(client, h, world.project_a, number, name="王建国")
    assert again.status_code == 409 and again.json()["code"] == "duplicate_roster_entry"
    assert await CrewFile.count() == files_before


async def test_active_on_another_project_is_a_warning(client, world, camera, my_people):
    from backend.workforce import services as workforce

    number = world.id_number()
    pid = await workforce.upsert_person(id_number=number, name="李四")
    since = date.today() - timedelta(days=30)
    await workforce.enter_roster(project_id=world.project_b, person_id=pid, unit_id=world.units[world.project_b]["general_contractor"],
                                 team_id=world.teams[world.project_b]["钢筋班组"], work_role="worker", work_type="020",
                                 entered_on=since)
    h = await login(client, world.users["foreman_a"])
    r = await start(client, h, world.project_a, number, name="李四")
    assert r.status_code == 201, r.text
    # the foreman of project A is told that the person is on site elsewhere — not where (project B is outside
    # their scope: security issue item 5); someone who sees project B (an admin) is told where
    (w,) = r.json()["elsewhere"]
    assert w["project_id"] is None and w["entered_on"] is None and w["team_name"] is None
    assert w["name"] == "李四" and "*" in w["id_masked"] and "甲区道路工程" not in r.text
    page = await client.get(f"/projects/{world.project_a}/crew/registrations/{r.json()['id']}", headers=h)
    assert page.status_code == 200 and "仍在其他项目在场" in page.text and "甲区道路工程" not in page.text
    admin = await login(client, world.users["admin"])
    await client.post(f"/api/projects/{world.project_a}/crew/registrations/{r.json()['id']}/cancel", headers=h)
    r = await start(client, admin, world.project_a, number, name="李四")
    assert r.status_code == 201, r.text
    (w,) = r.json()["elsewhere"]
    assert w["project_name"] == "甲区道路工程" and w["entered_on"] == since.isoformat()
    assert w["team_name"] == "钢筋班组" and w["name"] == "李四" and "*" in w["id_masked"]


async def test_face_mismatch_needs_a_supervisors_confirmation(client, world, camera, my_people):
    h = await login(client, world.users["foreman_a"])
    r = await start(client, h, world.project_a, world.id_number(), face="biden.jpg")
    assert r.status_code == 201, r.text
    my_people.add(r.json()["person_id"])
    rid = r.json()["id"]
    f = await face_step(client, h, world.project_a, rid, "obama.jpg")
    assert f.status_code == 200, f.text
    assert f.json()["status"] == "pending_confirmation" and f.json()["matched"] is False
    assert f.json()["distance"] > f.json()["tolerance"]

    blocked = await complete(client, h, world, world.project_a, rid)
    assert blocked.status_code == 409 and blocked.json()["code"] == "wrong_step"

    assert (await client.post(f"/api/crew/reviews/{rid}", json={"approve": True, "note": "本人"}, headers=h)).status_code == 403
    sup_b = await login(client, world.users["supervisor_b"])
    assert (await client.post(f"/api/crew/reviews/{rid}", json={"approve": True, "note": "x"}, headers=sup_b)).status_code == 404
    sup = await login(client, world.users["supervisor_a"])
    queue = (await client.get("/api/crew/reviews", headers=sup)).json()
    assert rid in [x["id"] for x in queue]
    no_note = await client.post(f"/api/crew/reviews/{rid}", json={"approve": True, "note": "  "}, headers=sup)
    assert no_note.status_code == 400 and no_note.json()["field"] == "note"
    ok = await client.post(f"/api/crew/reviews/{rid}", json={"approve": True, "note": "现场核对原件，确认为本人（证件照较旧）"},
                           headers=sup)
    assert ok.status_code == 200 and ok.json()["status"] == "face_checked"
    detail = (await client.get(f"/api/projects/{world.project_a}/crew/registrations/{rid}", headers=h)).json()
    assert detail["review_decision"] == "approved" and "确认为本人" in detail["review_note"]
    assert detail["reviewed_by"] and detail["reviewed_at"] and detail["face_matched"] is False
    c = await complete(client, h, world, world.project_a, rid, contract=False)
    assert c.status_code == 200, c.text


async def test_same_face_under_another_id_number_is_blocked_for_review(client, world, camera, my_people):
    first = await register(client, world, my_people)
    h = await login(client, world.users["foreman_a"])
    r = await start(client, h, world.project_a, world.id_number(), name="赵六")
    assert r.status_code == 201, r.text
    my_people.add(r.json()["person_id"])
    rid = r.json()["id"]
    f = await face_step(client, h, world.project_a, rid)
    assert f.status_code == 200, f.text
    out = f.json()
    assert out["status"] == "pending_review"
    assert out["duplicate"]["name"] == first["name"] and "*" in out["duplicate"]["id_masked"]
    reg = await Registration.select(Registration.duplicate_person, Registration.review_kind).where(
        Registration.id == rid).first()
    assert reg["duplicate_person"] == first["person_id"] and reg["review_kind"] == "duplicate_face"
    assert (await complete(client, h, world, world.project_a, rid)).status_code == 409

    admin = await login(client, world.users["admin"])
    dup = await client.get(f"/api/crew/reviews/{rid}/duplicate.jpg", headers=admin)
    assert dup.status_code == 200 and dup.headers["content-type"].startswith("image/jpeg")
    assert (await client.get(f"/api/crew/reviews/{rid}/duplicate.jpg", headers=h)).status_code == 403
    page = await client.get("/crew/reviews", headers=admin)
    assert page.status_code == 200 and "疑似同一人使用不同身份证" in page.text
    rej = await client.post(f"/api/crew/reviews/{rid}", json={"approve": False, "note": "同一人持两个身份证号"}, headers=admin)
    assert rej.status_code == 200 and rej.json()["status"] == "rejected"
    assert not await Enrolment.exists().where(Enrolment.person == r.json()["person_id"])


async def test_failed_liveness_is_recorded_and_the_challenge_is_single_use(client, world, face_photos, my_people):
    # the REAL liveness judgement: held-up photos never blink or turn
    from datetime import UTC, datetime

    h = await login(client, world.users["foreman_a"])
    r = await start(client, h, world.project_a, world.id_number())
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    await give_consent(client, h, world.project_a, rid)
    ch = (await client.post(f"/api/projects/{world.project_a}/crew/registrations/{rid}/challenge", headers=h)).json()
    files = [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(live_frames(n=5))]
    data = {"nonce": ch["nonce"], "captured_at": datetime.now(UTC).isoformat()}
    f = await client.post(f"/api/projects/{world.project_a}/crew/registrations/{rid}/face", data=data, files=files,
                          headers=h)
    assert f.status_code == 400 and f.json()["code"] == "liveness_failed"
    assert "活体检测未通过" in f.json()["message"]
    reg = await Registration.select(Registration.status, Registration.liveness_attempts,
                                    Registration.face_template).where(Registration.id == rid).first()
    assert reg["status"] == "id_checked" and reg["liveness_attempts"] == 1 and reg["face_template"] is None
    again = await client.post(f"/api/projects/{world.project_a}/crew/registrations/{rid}/face", data=data,
                              files=files, headers=h)
    assert again.status_code == 400 and again.json()["code"] == "challenge_invalid"


# ------------------------------------------------------------------------------ bad input, nothing stored


async def _nothing_stored(number: str, files_before: int) -> None:
    assert not await Person.exists().where(Person.id_hash == lookup_hash(number))
    assert await CrewFile.count() == files_before


@pytest.mark.parametrize("case", ["check_digit", "birth_date", "gender", "expired", "ethnicity", "too_young"])
async def test_bad_id_fields_are_refused_and_nothing_is_stored(client, world, camera, case):
    h = await login(client, world.users["foreman_a"])
    number = world.id_number()
    fields: dict[str, Any] = {}
    expect = {"check_digit": ("id_check_digit", "id_number"), "birth_date": ("id_birth_mismatch", "birth_date"),
              "gender": ("id_gender_mismatch", "gender"), "expired": ("id_expired", "id_valid_until"),
              "ethnicity": ("ethnicity", "ethnicity"), "too_young": ("too_young", "id_number")}[case]
    if case == "check_digit":
        number = number[:17] + ("0" if number[17] != "0" else "1")
    elif case == "birth_date":
        fields["birth_date"] = "1970-01-01"
    elif case == "gender":
        fields["gender"] = "M" if int(number[16]) % 2 == 0 else "F"
    elif case == "expired":
        fields["start"] = date.today() - timedelta(days=3700)
        fields["valid_years"] = 10
    elif case == "ethnicity":
        fields["ethnicity"] = "99"
    elif case == "too_young":
        number = world.id_number(birth=date.today() - timedelta(days=15 * 365))
        fields["valid_years"] = 5
    before = await CrewFile.count()
    r = await start(client, h, world.project_a, number, **fields)
    assert r.status_code == 400, r.text
    assert (r.json()["code"], r.json()["field"]) == expect
    assert r.json()["message"] and r.json()["message_en"]
    await _nothing_stored(number, before)


async def test_bad_uploads_are_refused(client, world, camera):
    h = await login(client, world.users["foreman_a"])
    before = await CrewFile.count()
    number = world.id_number()
    r = await start(client, h, world.project_a, number, front=PDF)
    assert r.status_code == 400 and r.json()["code"] == "bad_file_type" and r.json()["field"] == "id_front"
    r = await start(client, h, world.project_a, number, back=b"MZ\x90\x00 not an image at all" * 20)
    assert r.status_code == 400 and r.json()["code"] == "bad_file_type" and r.json()["field"] == "id_back"
    huge = id_card_front() + b"\x00" * (5 * 1024 * 1024)
    r = await start(client, h, world.project_a, number, front=huge)
    assert r.status_code == 413 and r.json()["field"] == "id_front"
    r = await start(client, h, world.project_a, number, front=blank_card())
    assert r.status_code == 400 and r.json()["field"] == "id_front" and "身份证人像面照片" in r.json()["message"]
    r = await client.post(f"/api/projects/{world.project_a}/crew/registrations", data=id_fields(number), headers=h)
    assert r.status_code == 400 and r.json()["code"] == "file_required"
    await _nothing_stored(number, before)


async def test_scope_and_roles(client, world, camera):
    other = await login(client, world.users["foreman_c"])
    r = await start(client, other, world.project_a, world.id_number())
    assert r.status_code == 404
    sup = await login(client, world.users["supervisor_a"])
    r = await start(client, sup, world.project_a, world.id_number())
    assert r.status_code == 403


# ------------------------------------------------------------------------------ exit, contracts


async def test_exit_needs_the_signed_confirmation_and_leaves_the_whitelist(client, world, camera, my_people):
    from backend.devices.gate import AppGateBackend
    from backend.devices.services import register_terminal

    done = await register(client, world, my_people, contract=False, entered_on=date.today() - timedelta(days=20))
    h = await login(client, world.users["foreman_a"])
    entry = done["roster_entry_id"]
    url = f"/api/projects/{world.project_a}/crew/roster/{entry}/exit"
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    confirmed = {"workload_confirmed": "true", "wages_settled": "true"}  # seed 004 §三(五), affirmed on the form
    r = await client.post(url, data={"exited_on": yesterday, **confirmed}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "exit_incomplete"
    assert r.json()["extra"]["missing"] == ["confirmation"]
    r = await client.post(url, data={"exited_on": yesterday, **confirmed},
                          files={"confirmation": ("x.pdf", b"hello", "application/pdf")}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "bad_file_type"
    tomorrow = (date.today() + timedelta(days=2)).isoformat()  # beyond the site's day too (UTC+8)
    r = await client.post(url, data={"exited_on": tomorrow, **confirmed},
                          files={"confirmation": ("c.pdf", PDF, "application/pdf")}, headers=h)
    assert r.status_code == 400 and r.json()["field"] == "exited_on"
    roster = (await client.get(f"/api/projects/{world.project_a}/crew/roster", headers=h)).json()
    assert any(x["id"] == entry for x in roster)  # still on site after the refused attempts

    r = await client.post(url, data={"exited_on": yesterday, "note": "工程量已结清", **confirmed},
                          files={"confirmation": ("c.png", png_document(), "image/png")}, headers=h)
    assert r.status_code == 200, r.text
    f = await client.get(f"/api/projects/{world.project_a}/crew/files/{r.json()['file_id']}", headers=h)
    assert f.status_code == 200 and f.headers["content-type"] == "image/png"
    assert f.headers["x-content-type-options"] == "nosniff"
    serial = unique("CREWGATE")
    await register_terminal(world.project_a, serial, world.vendor)
    wl = await AppGateBackend().whitelist(serial)
    assert done["person_id"] not in [rec.worker_no for rec in wl.records]
    r = await client.post(url, data={"exited_on": yesterday}, files={"confirmation": ("c.pdf", PDF, "application/pdf")},
                          headers=h)
    assert r.status_code == 409


async def test_contract_upload_and_the_missing_contract_list(client, world, camera, my_people):
    done = await register(client, world, my_people, contract=False)
    h = await login(client, world.users["foreman_a"])
    entry = done["roster_entry_id"]
    missing = (await client.get(f"/api/projects/{world.project_a}/crew/roster?missing_contract=true", headers=h)).json()
    assert entry in [x["id"] for x in missing]
    url = f"/api/projects/{world.project_a}/crew/roster/{entry}/contracts"
    base = {"contract_type": "fixed_term", "starts_on": date.today().isoformat()}
    r = await client.post(url, data=base, files={"contract_file": ("c.pdf", PDF, "application/pdf")}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "contract_end_required"
    r = await client.post(url, data={**base, "ends_on": "2099-01-01"},
                          files={"contract_file": ("c.jpg", b"GIF89a" + b"\x00" * 300, "image/jpeg")}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "bad_file_type"
    r = await client.post(url, data={**base, "contract_type": "open_ended"},
                          files={"contract_file": ("c.png", png_document(), "image/png")}, headers=h)
    assert r.status_code == 201, r.text
    missing = (await client.get(f"/api/projects/{world.project_a}/crew/roster?missing_contract=true", headers=h)).json()
    assert entry not in [x["id"] for x in missing]
    contracts = (await client.get(f"/api/projects/{world.project_a}/crew/roster/{entry}/contracts", headers=h)).json()
    assert contracts[0]["contract_type"] == "open_ended" and contracts[0]["current"] is True
    page = await client.get(f"/projects/{world.project_a}/crew?missing_contract=true", headers=h)
    assert page.status_code == 200 and "缺合同" in page.text


async def test_reissue_initial_password(client, world, camera, my_people):
    done = await register(client, world, my_people, contract=False)
    h = await login(client, world.users["foreman_a"])
    r = await client.post(f"/api/projects/{world.project_a}/crew/people/{done['person_id']}/account", headers=h)
    assert r.status_code == 200 and r.json()["username"] == done["username"]
    new = r.json()["initial_password"]
    assert new != done["initial_password"]
    bad = await client.post("/api/auth/token", json={"username": done["username"], "password": done["initial_password"]})
    assert bad.status_code == 401
    ok = await client.post("/api/auth/token", json={"username": done["username"], "password": new})
    assert ok.status_code == 200


async def test_pages_render(client, world, camera, my_people):
    from backend.static_assets import static_url

    done = await register(client, world, my_people)
    h = await login(client, world.users["foreman_a"])
    for url in (f"/projects/{world.project_a}/crew", f"/projects/{world.project_a}/crew/register",
                f"/projects/{world.project_a}/crew/import", f"/projects/{world.project_a}/crew/entries/{done['roster_entry_id']}",
                f"/projects/{world.project_a}/crew/registrations/{done['rid']}"):
        r = await client.get(url, headers=h)
        assert r.status_code == 200, (url, r.text[:300])
        assert static_url("js/crew.js") in r.text  # content-hashed name (backend/static_assets.py)
    table = await client.get(f"/projects/{world.project_a}/crew/table?q={done['name']}", headers=h)
    assert done["name"] in table.text


async def test_face_index_follows_the_version_counter(client, world):
    from backend.crew.enrolment import _MATRIX, bump_face_version, face_index, face_version

    m = await face_index()
    v0 = m.version
    assert (await face_index()) is m and m.version == v0  # no reload without a change
    loaded = _MATRIX.loaded_at
    assert (await face_index()).loaded_at == loaded
    await bump_face_version()
    assert await face_version() == (v0 or 0) + 1
    m2 = await face_index()
    assert m2.version == (v0 or 0) + 1 and m2.loaded_at >= loaded
    n = await Enrolment.count().where(Enrolment.face_template.is_not_null())
    assert len(m2) == n
