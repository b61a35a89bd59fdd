"""单独同意 to biometric processing (issue 20 B.1; PIPL §28–29: faces are sensitive personal information; seed 002
§三(二)2 and seed 004 §三(五) for how long they are kept): no face is enrolled without the person's consent on
record — on the tablet the selfie step is refused, the one enrolment write refuses too; the consent (version,
when, channel) is shown; a withdrawal deletes the template so nothing uses it again; a refusal tells the project."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from backend.crew.enrolment import face_version, save_enrolment
from backend.db import write_transaction
from backend.errors import Conflict
from backend.workforce import consent
from backend.workforce import services as workforce
from backend.workforce.tables import ConsentRecord, Enrolment
from tests.integration.conftest import login
from tests.integration.crew.crewkit import id_card_back, id_card_front, id_fields

pytestmark = pytest.mark.integration

TEMPLATE = bytes(range(256)) * 2


async def on_roster(world: Any, name: str = "同意测试工人") -> int:
    pid = await workforce.upsert_person(id_number=world.id_number(), name=name)
    await workforce.enter_roster(project_id=world.project_a, person_id=pid, unit_id=world.units[world.project_a]["general_contractor"],
                                 team_id=world.teams[world.project_a]["钢筋班组"], work_role="worker", work_type="020",
                                 entered_on=date.today() - timedelta(days=3))
    return pid


async def start(client: Any, h: dict[str, str], world: Any) -> dict[str, Any]:
    files = {"id_front": ("front.jpg", id_card_front("obama.jpg"), "image/jpeg"),
             "id_back": ("back.jpg", id_card_back(), "image/jpeg")}
    r = await client.post(f"/api/projects/{world.project_a}/crew/registrations", data=id_fields(world.id_number()),
                          files=files, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


async def test_the_tablet_refuses_the_selfie_step_without_consent_then_allows_it(client, world):
    h = await login(client, world.users["foreman_a"])
    reg = await start(client, h, world)
    base = f"/api/projects/{world.project_a}/crew/registrations/{reg['id']}"
    refused = await client.post(f"{base}/challenge", headers=h)
    assert refused.status_code == 409 and refused.json()["code"] == "consent_missing"
    assert "同意" in refused.json()["message"]
    # an unknown text version is refused: the version shown is what is recorded
    bad = await client.post(f"/api/privacy/people/{reg['person_id']}/consent", headers=h, json={
        "action": "given", "channel": "tablet", "version": "1999-01", "project_id": world.project_a})
    assert bad.status_code == 400 and bad.json()["code"] == "consent_version_unknown"
    ok = await client.post(f"/api/privacy/people/{reg['person_id']}/consent", headers=h, json={
        "action": "given", "channel": "tablet", "version": consent.CURRENT_CONSENT_VERSION, "project_id": world.project_a})
    assert ok.status_code == 201, ok.text
    assert (await client.post(f"{base}/challenge", headers=h)).status_code == 200


async def test_the_one_enrolment_write_refuses_a_face_without_consent(world):
    pid = await on_roster(world, "无同意工人")
    v0 = await face_version()
    with pytest.raises(Conflict) as e:
        async with write_transaction():
            await save_enrolment(pid, TEMPLATE, b"face", None, source="tablet")
    assert e.value.code == "consent_missing" and e.value.status_code == 409
    assert not await Enrolment.exists().where(Enrolment.person == pid) and await face_version() == v0


async def test_the_registration_page_shows_the_consent_text_before_the_selfie(client, world):
    h = await login(client, world.users["foreman_a"])
    reg = await start(client, h, world)
    page = (await client.get(f"/projects/{world.project_a}/crew/registrations/{reg['id']}", headers=h)).text
    assert 'id="consent-step"' in page and 'id="liveness"' not in page
    assert "人脸信息采集告知与单独同意书" in page and "工程竣工后保存 2 年" in page and "怎样撤回" in page
    # not ticked: refused, nothing recorded
    r = await client.post(f"/projects/{world.project_a}/crew/registrations/{reg['id']}/consent", headers=h,
                          data={"consent_version": consent.CURRENT_CONSENT_VERSION, "agree": "1"})
    assert r.status_code == 400 and not await consent.has_consent(reg["person_id"])
    r = await client.post(f"/projects/{world.project_a}/crew/registrations/{reg['id']}/consent", headers=h,
                          data={"consent_version": consent.CURRENT_CONSENT_VERSION, "agree": "1", "consent_tick": "on"})
    assert r.status_code == 200 and r.headers.get("HX-Refresh") == "true"
    page = (await client.get(f"/projects/{world.project_a}/crew/registrations/{reg['id']}", headers=h)).text
    assert 'id="consent-step"' not in page and 'id="liveness"' in page
    state = await consent.current(reg["person_id"])
    assert state is not None and (state["action"], state["channel"], state["version"], state["project"]) == (
        "given", "tablet", consent.CURRENT_CONSENT_VERSION, world.project_a)


async def test_the_person_page_shows_version_time_and_channel(client, world):
    pid = await on_roster(world, "页面同意工人")
    await consent.record(pid, "given", channel="paper", project_id=world.project_a, username="staff")
    h = await login(client, world.users["staff_a"])
    page = (await client.get(f"/privacy/people/{pid}", headers=h)).text
    assert 'data-in-force="yes"' in page and "已同意" in page and "纸质同意书" in page
    assert consent.CURRENT_CONSENT_VERSION in page
    api = (await client.get(f"/api/privacy/people/{pid}/consent", headers=h)).json()
    assert api["in_force"] is True and api["current"]["channel_label"] == "纸质同意书"
    # another district's supervisor does not learn the person exists
    other = await login(client, world.users["supervisor_b"])
    assert (await client.get(f"/privacy/people/{pid}", headers=other)).status_code == 404


async def test_withdrawal_deletes_the_face_template_and_stops_its_use(client, world):
    pid = await on_roster(world, "撤回同意工人")
    await consent.record(pid, "given", channel="tablet")
    async with write_transaction():
        await save_enrolment(pid, TEMPLATE, b"face", b"id", source="tablet")
    v0 = await face_version()
    h = await login(client, world.users["staff_a"])
    r = await client.post(f"/api/privacy/people/{pid}/consent", headers=h, json={
        "action": "withdrawn", "channel": "staff", "note": "本人书面申请"})
    assert r.status_code == 201, r.text
    assert r.json()["face_deleted"] is True and r.json()["action_label"] == "已撤回同意"
    row = await Enrolment.select().where(Enrolment.person == pid).first()
    assert row["face_template"] is None and row["face_photo"] is None and row["id_photo"] is None
    assert await face_version() == v0 + 1  # every process's 1:N matrix reloads without the template
    assert not await consent.has_consent(pid)
    # and no new face until the person consents again
    with pytest.raises(Conflict):
        async with write_transaction():
            await save_enrolment(pid, TEMPLATE, b"face", None, source="tablet")
    # the history keeps both events (nothing is overwritten)
    assert [r["action"] for r in await consent.history(pid)] == ["withdrawn", "given"]
    again = await client.post(f"/api/privacy/people/{pid}/consent", headers=h, json={
        "action": "withdrawn", "channel": "staff"})
    assert again.status_code == 409 and again.json()["code"] == "consent_missing"


async def test_a_refusal_is_recorded_and_the_projects_staff_are_told(client, world):
    from backend.accounts.tables import User
    from backend.supervision.tables import InSiteMessage

    h = await login(client, world.users["foreman_a"])
    reg = await start(client, h, world)
    r = await client.post(f"/projects/{world.project_a}/crew/registrations/{reg['id']}/consent", headers=h,
                          data={"consent_version": consent.CURRENT_CONSENT_VERSION, "agree": "0"})
    assert r.status_code == 200
    assert await ConsentRecord.exists().where((ConsentRecord.person == reg["person_id"])
                                              & (ConsentRecord.action == "declined"))
    assert not await consent.has_consent(reg["person_id"])
    staff = await User.select(User.id).where(User.username == world.users["staff_a"]).first()
    assert await InSiteMessage.exists().where((InSiteMessage.user == staff["id"])
                                              & (InSiteMessage.title == "人员未同意人脸采集"))


async def test_a_foreman_cannot_withdraw_for_a_person_of_another_district(client, world):
    pid = await workforce.upsert_person(id_number=world.id_number(), name="乙区工人")
    await workforce.enter_roster(project_id=world.project_c, person_id=pid, unit_id=world.units[world.project_c]["general_contractor"],
                                 team_id=world.teams[world.project_c]["钢筋班组"], work_role="worker", work_type="020",
                                 entered_on=date.today() - timedelta(days=3))
    await consent.record(pid, "given", channel="paper")
    h = await login(client, world.users["foreman_a"])
    r = await client.post(f"/api/privacy/people/{pid}/consent", headers=h, json={"action": "withdrawn", "channel": "staff"})
    assert r.status_code == 404 and await consent.has_consent(pid)


async def test_the_persons_roster_page_shows_the_consent_and_links_to_the_privacy_page(client, world):
    pid = await on_roster(world, "名册同意工人")
    h = await login(client, world.users["staff_a"])
    rows = (await client.get(f"/api/projects/{world.project_a}/crew/roster", params={"q": "名册同意工人"}, headers=h)).json()
    entry = rows[0]["id"]
    page = (await client.get(f"/projects/{world.project_a}/crew/entries/{entry}", headers=h)).text
    assert "无同意记录" in page and f"/privacy/people/{pid}?project_id={world.project_a}" in page
    await consent.record(pid, "given", channel="paper", project_id=world.project_a)
    page = (await client.get(f"/projects/{world.project_a}/crew/entries/{entry}", headers=h)).text
    assert "已同意（版本 2026-12" in page and "纸质同意书" in page
    # a foreman of another team of the same project may not act for this person (nor learn of them)
    from backend.org import services as org

    unit = world.units[world.project_a]["general_contractor"]
    carpenters = await org.create_team(world.project_a, unit, "木工班组（同意测试）")
    other_team = await workforce.upsert_person(id_number=world.id_number(), name="别班组工人")
    await workforce.enter_roster(project_id=world.project_a, person_id=other_team, unit_id=unit, team_id=carpenters,
                                 work_role="worker", work_type="020", entered_on=date.today() - timedelta(days=1))
    foreman = await login(client, world.users["foreman_a"])
    assert (await client.get(f"/privacy/people/{other_team}", headers=foreman)).status_code == 404
    assert (await client.get(f"/privacy/people/{pid}", headers=foreman)).status_code == 200
