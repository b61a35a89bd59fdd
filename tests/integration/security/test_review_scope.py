"""Review findings (scope and bounded inputs): a make-up request's note is a stranger's free text — bounded
(500 characters, like the authority's decision note) and refused with a 400 naming the field, nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import BearerHeaders
from tests.integration.test_seed000_s6_makeup_decision import _worker

pytestmark = pytest.mark.integration

auth = BearerHeaders()


async def test_makeup_note_is_bounded(client, world):
    from backend.clockin.tables import MakeupRequest

    person = await _worker(world, world.project_a)
    when = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    form = {"person_id": str(person), "project_id": str(world.project_a), "punch_time": when.isoformat(),
            "reason": "other", "direction": "in"}
    before = await MakeupRequest.count()
    r = await client.post("/api/makeups/", headers=await auth(world.users["staff_a"]), data={**form, "note": "雨" * 501})
    assert r.status_code == 400, r.text
    assert "note" in r.text
    assert await MakeupRequest.count() == before
    r = await client.post("/api/makeups/", headers=await auth(world.users["staff_a"]), data={**form, "note": "雨" * 500})
    assert r.status_code == 201, r.text
