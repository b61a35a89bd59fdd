"""852 enrolment at a terminal needs the person's biometric consent (单独同意, issue 20 B.1; PIPL §29): the 852
protocol carries no consent, so it must be on record before (tablet, phone, or staff recording a signed form);
without it the terminal gets the reason in the 30-byte 失败原因 and nothing is stored."""

from __future__ import annotations

from datetime import date

import pytest

from backend.workforce import consent
from backend.workforce.tables import Enrolment
from tests.integration.gate.gate_site import add_worker, make_site, register
from tests.integration.gate.test_gate_enrol import enrolment, terminal_photo

pytestmark = pytest.mark.integration


async def test_gate_852_without_consent_is_refused_with_the_reason_and_stores_nothing(world, open_terminal,
                                                                                    face_photos):
    site = await make_site(world)
    t = await open_terminal(await register(world, site.project))
    number = world.id_number(birth=date(1986, 3, 1))
    pid, _, _ = await add_worker(world, site, name="未同意工人", enrolled=False, id_number=number, consent=False)
    r = await t.enrol(enrolment(number, terminal_photo("obama.jpg"), name="未同意工人"))
    assert not r.ok and r.message == "未签人脸采集同意书" and len(r.message.encode()) <= 30
    assert not await Enrolment.exists().where(Enrolment.person == pid)
    # once the signed form is recorded, the same capture enrols the person
    await consent.record(pid, "given", channel="gate", project_id=site.project)
    r = await t.enrol(enrolment(number, terminal_photo("obama.jpg"), name="未同意工人"))
    assert r.ok, r.message
    assert await Enrolment.exists().where((Enrolment.person == pid) & Enrolment.face_template.is_not_null())
