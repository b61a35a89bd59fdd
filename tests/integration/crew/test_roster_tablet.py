"""The foreman tablet's roster and person page (issue 19 items 6, 11, 12).

- The roster page is paged on the server, with counts, and filtered by presence, team, face enrolled or not and
  missing contract; a foreman sees only their own teams in it.
- 采集人脸 / 补录证件: a person already on the roster (imported, or already enrolled) gets a face through a
  registration of their existing entry — the ID number and name on record, the same 人证核验 (ID photo against the
  live face) and duplicate-face search — never a new person or a second roster entry.
- A card photo without a usable portrait is told in the words of a card, not "请正对镜头".
- A failed liveness try answers the new attempt count (the page's counter follows it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import test_crew_registration as reg_tests
from crewkit import blank_card, give_consent, id_card_back, id_card_front, id_fields, live_frames

from backend.crew import services as crew
from backend.crew.tables import Registration
from backend.workforce import services as workforce
from backend.workforce.tables import Enrolment, RosterEntry
from tests.integration.conftest import login

pytestmark = pytest.mark.integration
# the registration tests' fixtures and steps (the real face engine; only the liveness actions stood in for)
camera, face_photos, my_people = reg_tests.camera, reg_tests.face_photos, reg_tests.my_people
face_step, register = reg_tests.face_step, reg_tests.register


async def imported_person(world: Any, *, team: str = "钢筋班组", name: str | None = None) -> tuple[int, int]:
    """A person put on project A's roster without a face (as the .xlsx import does): (person, entry)."""
    pid = await workforce.upsert_person(id_number=world.id_number(), name=name or "导入人员")
    entry = await workforce.enter_roster(
        project_id=world.project_a, person_id=pid, unit_id=world.units[world.project_a]["general_contractor"],
        team_id=world.teams[world.project_a][team], work_role="worker", work_type="020",
        entered_on=date.today() - timedelta(days=3))
    return pid, entry


def card_files(face: str = "obama.jpg", *, front: bytes | None = None) -> dict[str, Any]:
    return {"id_front": ("front.jpg", front if front is not None else id_card_front(face), "image/jpeg"),
            "id_back": ("back.jpg", id_card_back(), "image/jpeg")}


def card_data() -> dict[str, str]:
    fields = id_fields("ignored")
    return {k: v for k, v in fields.items() if k not in ("id_number", "name")}


# ------------------------------------------------------------------------------ roster: paging and filters


async def test_roster_page_is_paged_on_the_server_with_counts(client, world):
    for _ in range(3):
        await imported_person(world)
    admin = await login(client, world.users["admin"])
    listing = await crew.roster_listing(await _user(world, "admin"), world.project_a, per_page=2)
    assert listing["total"] >= 4 and listing["pages"] == -(-listing["total"] // 2) and len(listing["rows"]) == 2
    assert listing["counts"]["enrolled"] + listing["counts"]["not_enrolled"] == listing["total"]
    last = await crew.roster_listing(await _user(world, "admin"), world.project_a, per_page=2, page=999)
    assert last["page"] == last["pages"]  # past the end: the last page
    r = await client.get(f"/projects/{world.project_a}/crew/table?enrolled=no", headers=admin)
    assert r.status_code == 200 and 'id="roster-counts"' in r.text
    assert r.headers["hx-push-url"].startswith(f"/projects/{world.project_a}/crew?presence=active&enrolled=no")
    assert "已采集</span>" not in r.text  # only people without a face


async def test_roster_filters_by_team_face_and_presence(client, world):
    _, entry = await imported_person(world, team="钢筋班组", name="筛选甲")
    user = await _user(world, "admin")
    team = world.teams[world.project_a]["钢筋班组"]
    by_team = await crew.roster_listing(user, world.project_a, team=team, per_page=200)
    assert by_team["rows"] and all(r["team"] == team for r in by_team["rows"])
    other = next(t for name, t in world.teams[world.project_a].items() if t != team)
    assert entry not in [r["id"] for r in (await crew.roster_listing(user, world.project_a, team=other))["rows"]]
    no_face = await crew.roster_listing(user, world.project_a, face="no", per_page=200)
    assert entry in [r["id"] for r in no_face["rows"]] and not any(r["enrolled"] for r in no_face["rows"])
    exited = await crew.roster_listing(user, world.project_a, state="exited", per_page=200)
    assert all(r["exited_on"] for r in exited["rows"])
    page = await client.get(f"/projects/{world.project_a}/crew?q=筛选甲&team={team}&enrolled=no",
                            headers=await login(client, world.users["admin"]))
    assert page.status_code == 200 and "筛选甲" in page.text and f'<option value="{team}" selected' in page.text


async def test_a_foreman_sees_only_their_own_teams_in_the_roster_filters(client, world):
    foreman = await _user(world, "foreman_a")
    listing = await crew.roster_listing(foreman, world.project_a, per_page=200)
    assert [t["id"] for t in listing["teams"]] == [world.teams[world.project_a]["钢筋班组"]]
    assert all(r["team"] == world.teams[world.project_a]["钢筋班组"] for r in listing["rows"])


# ------------------------------------------------------------------------------ 采集人脸 / 补录证件


async def test_adding_a_face_to_an_imported_person_keeps_their_roster_entry(client, world, camera, my_people):
    person, entry = await imported_person(world)
    my_people.add(person)
    h = await login(client, world.users["foreman_a"])
    page = await client.get(f"/projects/{world.project_a}/crew/entries/{entry}", headers=h)
    assert page.status_code == 200 and f"/crew/entries/{entry}/enrol" in page.text and "采集人脸 / 补录证件" in page.text
    form = await client.get(f"/projects/{world.project_a}/crew/entries/{entry}/enrol", headers=h)
    assert form.status_code == 200 and 'name="id_number"' not in form.text  # the number on record is used
    r = await client.post(f"/api/projects/{world.project_a}/crew/roster/{entry}/enrolment", data=card_data(),
                          files=card_files(), headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["person_id"] == person and r.json()["existing_entry"] == entry
    f = await face_step(client, h, world.project_a, r.json()["id"])
    assert f.status_code == 200 and f.json()["status"] == "face_checked", f.text
    c = await client.post(f"/api/projects/{world.project_a}/crew/registrations/{r.json()['id']}/complete",
                          data={"phone": ""}, headers=h)
    assert c.status_code == 200, c.text
    assert c.json()["roster_entry_id"] == entry
    assert await RosterEntry.count().where((RosterEntry.person == person) & (RosterEntry.project == world.project_a)) == 1
    assert await Enrolment.exists().where(Enrolment.person == person)


async def test_an_enrolled_person_is_re_enrolled_only_through_the_person_page(client, world, camera, my_people):
    done = await register(client, world, my_people)
    h = await login(client, world.users["foreman_a"])
    before = (await Enrolment.select(Enrolment.face_version).where(Enrolment.person == done["person_id"]).first())
    # a new-person registration of an enrolled person on the roster is still refused, and points at the entry
    again = await client.post(f"/api/projects/{world.project_a}/crew/registrations",
                              data=id_fields(await workforce.reveal_id_number(done["person_id"]), name=done["name"]),
                              files=card_files(), headers=h)
    assert again.status_code == 409 and again.json()["extra"]["roster_entry_id"] == done["roster_entry_id"]
    entry = done["roster_entry_id"]
    r = await client.post(f"/api/projects/{world.project_a}/crew/roster/{entry}/enrolment", data=card_data(),
                          files=card_files("biden.jpg"), headers=h)
    assert r.status_code == 201, r.text
    # the same 人证核验: a live face other than the card's goes to a supervisor's confirmation
    f = await face_step(client, h, world.project_a, r.json()["id"], face="obama.jpg")
    assert f.status_code == 200 and f.json()["status"] == "pending_confirmation", f.text
    after = (await Enrolment.select(Enrolment.face_version).where(Enrolment.person == done["person_id"]).first())
    assert after == before  # nothing replaced before the check passes and the step completes
    # an open registration: a second start is refused, naming it
    dup = await client.post(f"/api/projects/{world.project_a}/crew/roster/{entry}/enrolment", data=card_data(),
                            files=card_files(), headers=h)
    assert dup.status_code == 409 and dup.json()["code"] == "registration_open"


async def test_adding_a_face_is_refused_outside_the_foremans_teams_and_for_exited_entries(client, world, camera):
    from backend.org import services as org

    if "木工班组" not in world.teams[world.project_a]:
        world.teams[world.project_a]["木工班组"] = await org.create_team(
            world.project_a, world.units[world.project_a]["general_contractor"], "木工班组")
    _, entry = await imported_person(world, team="木工班组")
    h = await login(client, world.users["foreman_a"])
    r = await client.post(f"/api/projects/{world.project_a}/crew/roster/{entry}/enrolment", data=card_data(),
                          files=card_files(), headers=h)
    assert r.status_code == 404
    page = await client.get(f"/projects/{world.project_a}/crew/entries/{entry}/enrol",
                            headers={**h, "accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    staff = await login(client, world.users["staff_a"])  # the project's staff see every team
    assert (await client.get(f"/projects/{world.project_a}/crew/entries/{entry}/enrol", headers=staff)).status_code == 200
    await RosterEntry.update({RosterEntry.exited_on: date.today()}).where(RosterEntry.id == entry)
    r = await client.post(f"/api/projects/{world.project_a}/crew/roster/{entry}/enrolment", data=card_data(),
                          files=card_files(), headers=staff)
    assert r.status_code == 404 and r.json()["field"] == "entry_id"


async def test_a_card_photo_without_a_portrait_is_explained_as_a_card_problem(client, world, camera):
    person, entry = await imported_person(world)
    h = await login(client, world.users["foreman_a"])
    r = await client.post(f"/api/projects/{world.project_a}/crew/roster/{entry}/enrolment", data=card_data(),
                          files=card_files(front=blank_card()), headers=h)
    assert r.status_code == 400 and r.json()["field"] == "id_front"
    assert r.json()["code"] == "no_face"
    assert "证件头像" in r.json()["message"] and "正对镜头" not in r.json()["message"]
    assert await Registration.count().where(Registration.person == person) == 0


def test_every_card_photo_quality_code_has_card_words() -> None:
    from backend.errors import InvalidInput
    from backend.face.messages import MESSAGES

    quality = ("no_face", "multiple_faces", "face_too_small", "face_at_border", "face_tilted", "face_turned",
               "too_dark", "backlit", "blurred")
    for code in quality:
        err = crew.card_photo_error(InvalidInput(*MESSAGES[code], field="photo", code=code))
        assert err.field == "id_front" and err.zh.startswith("身份证人像面照片：") and "镜头" not in err.zh, code
    other = crew.card_photo_error(InvalidInput("图片格式不支持", "Unsupported", code="unsupported_format"))
    assert other.zh == "身份证人像面照片：图片格式不支持"


# ------------------------------------------------------------------------------ step 2: the attempt counter


async def test_a_failed_liveness_try_answers_the_new_attempt_count(client, world):
    # the real liveness check (no camera stand-in): still photos never show the challenged actions
    _, entry = await imported_person(world)
    h = await login(client, world.users["foreman_a"])
    r = await client.post(f"/api/projects/{world.project_a}/crew/roster/{entry}/enrolment", data=card_data(),
                          files=card_files(), headers=h)
    rid = r.json()["id"]
    await give_consent(client, h, world.project_a, rid)
    for expected in (1, 2):
        ch = await client.post(f"/api/projects/{world.project_a}/crew/registrations/{rid}/challenge", headers=h)
        files = [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(live_frames())]
        f = await client.post(f"/api/projects/{world.project_a}/crew/registrations/{rid}/face", files=files,
                              data={"nonce": ch.json()["nonce"], "captured_at": datetime.now(UTC).isoformat()},
                              headers=h)
        assert f.status_code == 400 and f.json()["code"] == "liveness_failed", f.text
        assert f.json()["extra"]["attempts"] == expected
    page = await client.get(f"/projects/{world.project_a}/crew/registrations/{rid}", headers=h)
    assert 'id="liveness-attempts">2<' in page.text and "重新开始活体检测" in page.text


async def _user(world: Any, who: str) -> Any:
    from backend.accounts.services import load_user
    from backend.accounts.tables import User

    u = await User.select(User.id).where(User.username == world.users[who]).first()
    return await load_user(u["id"])
