"""The one enrolment service (backend.crew.enrolment, issue 12): ``save_enrolment`` is the only
write of a face template, for the tablet and the gate; each call bumps the face-index version
exactly once and counts the person's replacements in ``enrolment.face_version``."""

from __future__ import annotations

import pytest

from backend.crew.enrolment import face_version, save_enrolment
from backend.db import write_transaction
from backend.workforce import consent
from backend.workforce import services as workforce
from backend.workforce.tables import Enrolment

pytestmark = pytest.mark.integration

TEMPLATE = bytes(range(256)) * 2


async def test_each_enrolment_bumps_the_face_version_exactly_once(world):
    pid = await workforce.upsert_person(id_number=world.id_number(), name="测试工人")
    await consent.record(pid, "given", channel="tablet")  # issue 20 B.1: no face without 单独同意
    v0 = await face_version()
    async with write_transaction():
        await save_enrolment(pid, TEMPLATE, b"face-1", b"id-1", source="tablet")
    assert await face_version() == v0 + 1
    row = await Enrolment.select().where(Enrolment.person == pid).first()
    assert (row["face_version"], row["face_photo"], row["id_photo"], row["source"]) == (1, b"face-1", b"id-1", "tablet")
    async with write_transaction():
        await save_enrolment(pid, TEMPLATE[::-1], b"face-2", None, source="gate")
    assert await face_version() == v0 + 2
    row = await Enrolment.select().where(Enrolment.person == pid).first()
    # replaced: template and face photo, the ID photo kept (none sent), one more version
    assert (row["face_version"], row["face_template"], row["face_photo"], row["id_photo"], row["source"]) == (
        2, TEMPLATE[::-1], b"face-2", b"id-1", "gate")
