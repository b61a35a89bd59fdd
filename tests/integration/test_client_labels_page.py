"""Issue 12 (literals): the live map page hands its script the Chinese of verdict and source codes from
backend/vocabulary.py (the script keeps no copy of its own)."""

from __future__ import annotations

import json
import re

import pytest

from backend.vocabulary import REASON_ZH, SOURCE_ZH, VERDICT_ZH
from tests.integration.conftest import BearerHeaders

pytestmark = pytest.mark.integration

auth = BearerHeaders()


async def test_the_live_map_page_embeds_the_vocabulary_labels(client, world):
    r = await client.get("/supervision/map", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 200, r.text[:300]
    m = re.search(r'<script type="application/json" id="sup-labels">(.*?)</script>', r.text, re.S)
    assert m is not None
    # the live feed's one line per punch names each reason too (issue 19 item 8)
    assert json.loads(m.group(1)) == {"PunchVerdict": dict(VERDICT_ZH), "Source": dict(SOURCE_ZH),
                                      "Reason": dict(REASON_ZH)}
