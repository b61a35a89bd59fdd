"""Retention after completion (issue 20 B.2; seed 002 §三(二)2 "存储信息时长为工程竣工后2年", seed 004 §三(五)
"工程竣工验收后保存2年以上"): ``smz retention`` deletes faces, templates, punch photos and ID scans of projects 竣工
more than 2 years ago — the day after the anniversary, not a day earlier — and masks ID and card numbers only after
the 用工管理台账's 3 years (《保障农民工工资支付条例》第二十八条) once nothing is owed; keeps the attendance and wage
facts, and leaves alone everyone still on a project that is not due."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.attendance.tables import Punch, PunchPhoto
from backend.crew.enrolment import face_version
from backend.crew.tables import CrewFile, Registration
from backend.crypto import decrypt_text, encrypt_text, lookup_hash
from backend.org import services as org
from backend.privacy import retention
from backend.privacy.retention import anniversary, run_retention
from backend.privacy.tables import RetentionRun
from backend.wages.tables import Payroll, PayrollLine
from backend.workforce import services as workforce
from backend.workforce.tables import Enrolment, Person, RosterEntry
from tests.integration.conftest import unique_name

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 3)
PHOTO = b"\xff\xd8jpeg-bytes" * 10
TEMPLATE = b"\x01" * 512


@dataclass
class Site:
    project: int
    unit: int
    team: int


async def _project(world, name: str) -> Site:
    pid = await org.create_project(name=name, district_id=world.district_a, category="building",
                                   floor_area_m2=20_000)
    await org.change_status(pid, "under_construction", effective_on=TODAY - timedelta(days=2000), note="开工",
                            user_id=None)
    unit = await org.add_unit(pid, (await org.list_enterprises())[0]["id"], "general_contractor")
    team = await org.create_team(pid, unit, "木工班组")
    return Site(pid, unit, team)


async def _accept(site: Site, accepted_on: date) -> None:
    await org.change_status(site.project, "finished", effective_on=accepted_on - timedelta(days=30), note="完工",
                            user_id=None)
    await org.change_status(site.project, "accepted", effective_on=accepted_on, note="竣工验收", user_id=None)


async def _worker(world, site: Site, id_number: str | None = None) -> tuple[int, str]:
    """A person on the site with every kind of personal data retention handles; returns (person, ID number)."""
    number = id_number or world.id_number()
    person = await workforce.upsert_person(id_number=number, name=unique_name("工人"), address="广东省江门市某路1号")
    entry = await workforce.enter_roster(project_id=site.project, person_id=person, unit_id=site.unit,
                                         team_id=site.team, work_role="worker", entered_on=TODAY - timedelta(days=1500))
    if not await Enrolment.exists().where(Enrolment.person == person):
        await Enrolment(person=person, face_template=TEMPLATE, face_photo=PHOTO, id_photo=PHOTO).save()
    front = CrewFile(project=site.project, kind="id_front", content_type="image/jpeg", size=len(PHOTO), sha256="x",
                     data=PHOTO)
    await front.save()
    await Registration(project=site.project, person=person, status="completed", id_front=front.id, id_photo=PHOTO,
                       id_template=TEMPLATE, face_photo=PHOTO, face_template=TEMPLATE, roster_entry=entry).save()
    at = datetime(2023, 5, 10, 1, 0, tzinfo=UTC)
    punch = Punch(project=site.project, person=person, source="gate", idempotency_key=uuid.uuid4().hex,
                  captured_at=at, received_at=at, latency_s=0.5, local_date="2023-05-10", verdict="accepted")
    await punch.save()
    await PunchPhoto(punch=punch.id, data=PHOTO).save()
    payroll = await Payroll.select(Payroll.id).where(Payroll.project == site.project).first()
    if payroll is None:
        row = Payroll(project=site.project, month="2023-05", status="submitted")
        await row.save()
        payroll = {"id": row.id}
    await PayrollLine(payroll=payroll["id"], person=person, days_worked=20, payable_fen=600_000, paid_fen=600_000,
                      card_enc=encrypt_text("6222020200112233445", aad=b"wage_card_no"),
                      card_masked="6222***********3445").save()
    return person, number


async def _facts(site: Site) -> dict[str, object]:
    """The attendance and wage facts the law needs kept."""
    return {
        "punches": await Punch.select(Punch.id, Punch.person, Punch.captured_at, Punch.verdict).where(
            Punch.project == site.project).order_by(Punch.id),
        "roster": await RosterEntry.select(RosterEntry.id, RosterEntry.person, RosterEntry.entered_on).where(
            RosterEntry.project == site.project).order_by(RosterEntry.id),
        "wages": await PayrollLine.select(PayrollLine.id, PayrollLine.person, PayrollLine.days_worked,
                                          PayrollLine.payable_fen, PayrollLine.paid_fen, PayrollLine.card_masked).where(
            PayrollLine.payroll.project == site.project).order_by(PayrollLine.id),
    }


def _completed_for(today: date, *, days_after_anniversary: int) -> date:
    """The 竣工 day whose 2-year anniversary is ``days_after_anniversary`` days before ``today``."""
    anniv = today - timedelta(days=days_after_anniversary)
    return anniv.replace(year=anniv.year - 2)


async def test_two_years_and_one_day_after_completion_is_purged_one_day_short_is_kept(world):
    due = await _project(world, "竣工两年零一天的工程")
    short = await _project(world, "竣工差一天满两年的工程")
    p_due, number_due = await _worker(world, due)
    p_short, number_short = await _worker(world, short)
    await _accept(due, _completed_for(TODAY, days_after_anniversary=1))
    await _accept(short, _completed_for(TODAY, days_after_anniversary=-1))
    assert anniversary(_completed_for(TODAY, days_after_anniversary=-1), 2) == TODAY + timedelta(days=1)
    version = await face_version()

    items = [i for i in await run_retention(TODAY) if i.project_id in (due.project, short.project)]

    assert [i.project_id for i in items] == [due.project]
    c = items[0].counts
    assert (c.punch_photos, c.id_files, c.bank_cards, c.id_numbers) == (1, 1, 0, 0)
    assert c.face_photos == 2 and c.face_templates == 3 and c.id_photos == 2  # registration + enrolment
    # the due project's person: nothing biometric left; the ID number stays in the 用工管理台账 (3 years, 条例 §28)
    assert await workforce.find_person_id(number_due) == p_due
    enrol = await Enrolment.select().where(Enrolment.person == p_due).first()
    assert enrol["face_template"] is None and enrol["face_photo"] is None and enrol["id_photo"] is None
    assert await PunchPhoto.count().where(PunchPhoto.punch.project == due.project) == 0
    reg = await Registration.select().where(Registration.project == due.project).first()
    assert reg["face_photo"] is reg["face_template"] is reg["id_photo"] is reg["id_template"] is None
    scan = await CrewFile.select(CrewFile.data, CrewFile.size).where(CrewFile.project == due.project).first()
    assert scan["size"] == 0 and bytes(scan["data"]) == b""
    line = await PayrollLine.select().where(PayrollLine.person == p_due).first()
    assert line["card_enc"] != "" and line["card_masked"] == "6222***********3445"
    assert await face_version() > version  # every process drops the deleted templates from its 1:N matrix
    # one day short: untouched
    assert await workforce.find_person_id(number_short) == p_short
    assert await PunchPhoto.count().where(PunchPhoto.punch.project == short.project) == 1
    assert (await Enrolment.select().where(Enrolment.person == p_short).first())["face_template"] == TEMPLATE
    # logged with counts
    run = await RetentionRun.select().where(RetentionRun.project == due.project).first()
    assert run["status"] == "done" and run["punch_photos"] == 1 and run["id_numbers"] == 0
    assert run["completed_on"] == _completed_for(TODAY, days_after_anniversary=1) and run["as_of"] == TODAY
    assert not await RetentionRun.exists().where(RetentionRun.project == short.project)


async def test_id_and_card_numbers_are_masked_three_years_after_completion_once_nothing_is_owed(world):
    """《保障农民工工资支付条例》第二十八条: 用工管理台账保存至工程完工且工资全部结清后至少3年 — the ledger names the
    worker, so ID and card numbers outlive the faces: masked the day after the 3rd anniversary, and not while a
    payroll still owes money."""
    paid = await _project(world, "竣工三年零一天已结清的工程")
    owing = await _project(world, "竣工三年零一天仍欠薪的工程")
    p_paid, number_paid = await _worker(world, paid)
    p_owing, number_owing = await _worker(world, owing)
    await PayrollLine.update({PayrollLine.paid_fen: 500_000}).where(PayrollLine.person == p_owing)
    three = TODAY - timedelta(days=1)
    for site in (paid, owing):
        await _accept(site, three.replace(year=three.year - 3))

    items = {i.project_id: i for i in await run_retention(TODAY) if i.project_id in (paid.project, owing.project)}

    assert (items[paid.project].counts.id_numbers, items[paid.project].counts.bank_cards) == (1, 1)
    person = await Person.select().where(Person.id == p_paid).first()
    assert decrypt_text(person["id_cipher"]) == person["id_masked"] and "*" in person["id_masked"]
    assert person["id_hash"] != lookup_hash(number_paid) and person["address"] is None
    assert await workforce.find_person_id(number_paid) is None
    line = await PayrollLine.select().where(PayrollLine.person == p_paid).first()
    assert line["card_enc"] == "" and line["card_masked"] == "6222***********3445"
    # 100 yuan still owed: the faces went, the ledger stays whole
    assert (items[owing.project].counts.id_numbers, items[owing.project].counts.bank_cards) == (0, 0)
    assert items[owing.project].counts.face_templates > 0
    assert await workforce.find_person_id(number_owing) == p_owing
    assert await retention.owes_wages(owing.project) and not await retention.owes_wages(paid.project)


async def test_person_still_on_a_live_project_keeps_id_number_and_face(world):
    site = await _project(world, "竣工三年的工程")
    person, number = await _worker(world, site)
    await workforce.enter_roster(project_id=world.project_a, person_id=person, unit_id=world.units[world.project_a][
        "general_contractor"], team_id=world.teams[world.project_a]["钢筋班组"], work_role="worker",
        entered_on=date.today() - timedelta(days=3))
    await _accept(site, TODAY - timedelta(days=3 * 366))

    [item] = [i for i in await run_retention(TODAY) if i.project_id == site.project]

    assert item.kept_people == 1 and item.counts.id_numbers == 0
    assert await workforce.find_person_id(number) == person
    row = await Person.select(Person.id_cipher).where(Person.id == person).first()
    assert decrypt_text(row["id_cipher"]) == number
    assert (await Enrolment.select().where(Enrolment.person == person).first())["face_template"] == TEMPLATE
    # the project's own copies still go: its punch photos, registration photos, ID scan and card numbers
    assert await PunchPhoto.count().where(PunchPhoto.punch.project == site.project) == 0
    assert item.counts.punch_photos == 1 and item.counts.id_files == 1 and item.counts.bank_cards == 1


async def test_dry_run_changes_nothing_and_second_run_is_a_no_op_and_facts_survive(world):
    site = await _project(world, "竣工四年的工程")
    await _worker(world, site)
    await _worker(world, site)
    await _accept(site, TODAY - timedelta(days=4 * 366))
    before = await _facts(site)
    ciphers = await Person.select(Person.id_cipher).where(Person.id.is_in(
        [r["person"] for r in before["roster"]])).order_by(Person.id)

    dry = [i for i in await run_retention(TODAY, dry_run=True) if i.project_id == site.project]
    assert dry and dry[0].counts.punch_photos == 2 and dry[0].counts.id_numbers == 2 and dry[0].run_id is None
    assert await PunchPhoto.count().where(PunchPhoto.punch.project == site.project) == 2
    assert not await RetentionRun.exists().where(RetentionRun.project == site.project)
    assert await Person.select(Person.id_cipher).where(Person.id.is_in(
        [r["person"] for r in before["roster"]])).order_by(Person.id) == ciphers

    real = [i for i in await run_retention(TODAY) if i.project_id == site.project]
    assert real[0].counts.as_dict() == dry[0].counts.as_dict()  # the dry run told the truth
    assert await _facts(site) == before  # punches, roster and wage lines (amounts, masked card) all kept

    again = [i for i in await run_retention(TODAY) if i.project_id == site.project]
    assert again == []
    assert await RetentionRun.count().where(RetentionRun.project == site.project) == 1
    assert "nothing due" in retention.report_lines([], dry_run=False)[0]


async def test_a_crash_mid_run_leaves_consistent_state_and_the_next_run_resumes(world, monkeypatch):
    site = await _project(world, "竣工五年的工程")
    for _ in range(3):
        await _worker(world, site)
    await _accept(site, TODAY - timedelta(days=5 * 366))

    async def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(retention, "_mask_cards", crash)
    with pytest.raises(RuntimeError):
        await run_retention(TODAY, batch=2)  # batches of 2: the photos went in two transactions each
    run = await RetentionRun.select().where(RetentionRun.project == site.project).first()
    assert run["status"] == "running" and run["punch_photos"] == 3 and run["bank_cards"] == 0
    assert await PunchPhoto.count().where(PunchPhoto.punch.project == site.project) == 0
    monkeypatch.undo()

    [item] = [i for i in await run_retention(TODAY, batch=2) if i.project_id == site.project]
    assert item.run_id == run["id"]  # the same log row, resumed
    rows = await RetentionRun.select().where(RetentionRun.project == site.project)
    assert len(rows) == 1 and rows[0]["status"] == "done"
    assert rows[0]["punch_photos"] == 3 and rows[0]["bank_cards"] == 3 and rows[0]["id_numbers"] == 3


async def test_retention_log_page_shows_the_district_its_runs_only(world, client):
    from tests.integration.conftest import BearerHeaders

    auth = BearerHeaders()
    site = await _project(world, "竣工六年的工程")
    await _worker(world, site)
    await _accept(site, TODAY - timedelta(days=6 * 366))
    await run_retention(TODAY)

    r = await client.get("/privacy/retention", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 200 and "竣工六年的工程" in r.text and "打卡照片" in r.text and "已完成" in r.text
    r = await client.get("/privacy/retention", headers=await auth(world.users["supervisor_b"]))
    assert r.status_code == 200 and "竣工六年的工程" not in r.text and "还没有清理记录" in r.text
    r = await client.get("/privacy/retention", headers=await auth(world.users["staff_a"]))
    assert r.status_code == 403


async def _stored_punch(site: Site, person: int, photo: bytes) -> int:
    """A punch whose photo is in the photo store (issue 18), the hash in the row."""
    from backend import photostore

    [sha] = await photostore.put_many([(photo, "image/jpeg")])
    at = datetime(2023, 5, 11, 1, 0, tzinfo=UTC)
    punch = Punch(project=site.project, person=person, source="gate", idempotency_key=uuid.uuid4().hex,
                  captured_at=at, received_at=at, latency_s=0.5, local_date="2023-05-11", verdict="accepted",
                  photo_sha256=sha, photo_type="image/jpeg")
    await punch.save()
    return int(punch.id)


async def test_store_photos_of_a_due_project_go_unless_a_kept_punch_holds_the_same_file(world):
    """Photos in the photo store (issue 18): a due project's punch loses its hash and its file, except a file whose
    bytes a punch of a project not due also holds; legacy rows go as before; counted once each, then nothing."""
    from backend import photostore
    from backend.attendance.services import punch_photo

    due = await _project(world, "竣工两年多的照片工程")
    live = await _project(world, "未竣工的照片工程")
    p_due, _ = await _worker(world, due)  # + a legacy punch_photo row
    p_live, _ = await _worker(world, live)
    own, shared = b"\xff\xd8only-due" * 50, b"\xff\xd8same-bytes" * 50
    mine = await _stored_punch(due, p_due, own)
    twin = await _stored_punch(due, p_due, shared)
    kept = await _stored_punch(live, p_live, shared)
    await _accept(due, TODAY - timedelta(days=3 * 366))

    dry = [i for i in await run_retention(TODAY, dry_run=True) if i.project_id == due.project]
    assert dry[0].counts.punch_photos == 3  # one legacy row + two photos in the store
    [item] = [i for i in await run_retention(TODAY, batch=1) if i.project_id == due.project]

    assert item.counts.punch_photos == 3
    rows = await Punch.select(Punch.id, Punch.photo_sha256, Punch.photo_type).where(Punch.project == due.project)
    assert len(rows) == 3 and all(r["photo_sha256"] is None and r["photo_type"] is None for r in rows)
    assert await PunchPhoto.count().where(PunchPhoto.punch.project == due.project) == 0
    assert not await photostore.exists(photostore.sha256_hex(own))
    assert await photostore.exists(photostore.sha256_hex(shared))  # the live project's punch still holds it
    assert await punch_photo(kept) == (shared, "image/jpeg")
    assert await punch_photo(mine) is None and await punch_photo(twin) is None
    assert [i for i in await run_retention(TODAY) if i.project_id == due.project] == []


async def _packed_punches(punches: list[tuple[Site, int, bytes]]) -> list[int]:
    """Punches (site, person, photo) whose photos share ONE pack file, as a gate batch stores them (issue 18)."""
    from backend import photostore

    ids = []
    at = datetime(2023, 5, 11, 1, 0, tzinfo=UTC)
    stored = await photostore.put_packed([(photo, "image/jpeg") for _, _, photo in punches])
    for (site, person, _), (sha, loc) in zip(punches, stored, strict=True):
        punch = Punch(project=site.project, person=person, source="gate", idempotency_key=uuid.uuid4().hex,
                      captured_at=at, received_at=at, latency_s=0.5, local_date="2023-05-11", verdict="accepted",
                      photo_sha256=sha, photo_type="image/jpeg", photo_loc=loc)
        await punch.save()
        ids.append(int(punch.id))
    assert len({loc.split(":")[0] for _, loc in stored}) == 1
    return ids


async def test_a_due_projects_pack_slices_are_released_and_a_kept_projects_slices_in_the_same_pack_stay(world):
    """A gate batch's pack can hold photos of several projects: retention frees the due project's slices (a hole
    in the pack, or zeros) and leaves the others readable."""
    from backend.attendance.services import punch_photo

    due = await _project(world, "竣工两年多的打包照片工程")
    live = await _project(world, "未竣工的打包照片工程")
    p_due, _ = await _worker(world, due)
    p_live, _ = await _worker(world, live)
    photos = [b"\xff\xd8due-a" * 80, b"\xff\xd8live" * 80, b"\xff\xd8due-b" * 80]
    a, b, c = await _packed_punches([(due, p_due, photos[0]), (live, p_live, photos[1]), (due, p_due, photos[2])])
    assert await punch_photo(a) == (photos[0], "image/jpeg")
    await _accept(due, TODAY - timedelta(days=3 * 366))

    [item] = [i for i in await run_retention(TODAY, batch=1) if i.project_id == due.project]

    assert item.counts.punch_photos == 3  # one legacy row (``_worker``) + two slices
    assert await punch_photo(a) is None and await punch_photo(c) is None
    assert await punch_photo(b) == (photos[1], "image/jpeg")
    rows = await Punch.select(Punch.photo_sha256, Punch.photo_loc).where(Punch.id.is_in([a, c]))
    assert all(r["photo_sha256"] is None and r["photo_loc"] is None for r in rows)
    assert [i for i in await run_retention(TODAY) if i.project_id == due.project] == []


async def test_a_crash_after_releasing_slices_leaves_no_face_in_a_pack_and_the_next_run_finishes(world, monkeypatch):
    """The slices are released before the rows forget them: a run stopped in between leaves rows naming released
    slices (they read as no photo), and the next run clears them — never a photo left in a pack unfindable."""
    from backend import photostore
    from backend.attendance.services import punch_photo

    site = await _project(world, "竣工两年多的断电工程")
    person, _ = await _worker(world, site)
    photos = [b"\xff\xd8power-a" * 80, b"\xff\xd8power-b" * 80]
    ids = await _packed_punches([(site, person, p) for p in photos])
    rows = await Punch.select(Punch.photo_sha256, Punch.photo_loc).where(Punch.id.is_in(ids))
    await _accept(site, TODAY - timedelta(days=3 * 366))
    real = retention._add_counts

    async def crash_on_the_packed_batch(run_id, counts):
        if counts.punch_photos == 2:
            raise RuntimeError("power cut")
        await real(run_id, counts)

    monkeypatch.setattr(retention, "_add_counts", crash_on_the_packed_batch)
    with pytest.raises(RuntimeError):
        await run_retention(TODAY)
    assert [await photostore.get(r["photo_sha256"], r["photo_loc"]) for r in rows] == [None, None]  # released
    assert all([await punch_photo(i) is None for i in ids])
    monkeypatch.undo()

    [item] = [i for i in await run_retention(TODAY) if i.project_id == site.project]
    assert item.counts.punch_photos == 3  # the legacy row and the two slices, counted once
    left = await Punch.select(Punch.photo_sha256, Punch.photo_loc).where(Punch.id.is_in(ids))
    assert all(r["photo_sha256"] is None and r["photo_loc"] is None for r in left)
