"""Codes never reach a person (issue 19 §9): every supervision page — and the messages page — shows the Chinese
label of a code (backend/vocabulary.py ``LABELS``), never ``yellow`` / ``open`` / ``notified`` / ``rejected`` …

Warnings of every level, status and kind, their events and SMS, and punches of every verdict with reasons and
flags are stored first; then the pages each reader reaches by following links are scanned for any code value."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.vocabulary import LABELS, PunchVerdict, WarningAction, WarningKind, WarningLevel, WarningStatus
from tests.integration.conftest import BearerHeaders, World, app_client, user_id
from tests.integration.supervision.page_crawl import crawl

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

READERS = ("supervisor_a", "staff_a", "foreman_a", "enterprise_gc", "admin")
# Every code of every label map, as a whole lower-case word (snake_case included).
CODES = {str(code) for labels in LABELS.values() for code in labels if re.fullmatch(r"[a-z][a-z_]{2,}", str(code))}
WORD = re.compile(r"(?<![A-Za-z0-9_])[a-z][a-z_]{2,}(?![A-Za-z0-9_])")


@pytest.fixture(scope="module")
async def seeded(world: World) -> None:
    from backend.attendance.services import PunchIn, record_punch
    from backend.org.tables import Team
    from backend.supervision.tables import InSiteMessage, SmsLog, WarningCase, WarningEvent

    pa = world.project_a
    now = datetime.now(UTC)
    statuses = list(WarningStatus)
    for i, kind in enumerate(WarningKind):
        level = list(WarningLevel)[i % len(WarningLevel)]
        status = statuses[i % len(statuses)]
        case = (await WarningCase.insert(WarningCase(
            key=f"{kind}:{pa}:codes", topic=f"{kind}:{pa}:codes", project=pa, district=world.district_a, kind=kind,
            period=now.strftime("%Y-%m"), level=level, status=status, message=f"测试预警 {i}",
            opened_on=now.date())).returning(WarningCase.id))[0]["id"]
        await WarningEvent.insert(*[WarningEvent(warning=case, at=now, action=action, level=level, status=status,
                                                 note="测试") for action in WarningAction])
        await SmsLog.insert(SmsLog(warning=case, project=pa, recipient_name="项目经理", recipient_role="项目负责人",
                                   phone_masked="139****0000", status="failed", error="测试", at=now))
        await InSiteMessage.insert(InSiteMessage(user=await user_id(world.users["foreman_a"]), project=pa,
                                                 warning=case, title=f"预警 {i}", body="请整改。"))
    leader = (await Team.select(Team.leader).where(Team.id == world.teams[pa]["钢筋班组"]).first())["leader"]
    for source, extra in (("gate", {}), ("mobile", {"reasons": ("outside_fence",)}),
                          ("mobile", {"flags": ("near_edge",), "lon": 116.4, "lat": 39.91, "accuracy_m": 8.0})):
        await record_punch(PunchIn(source=source, project_id=pa, person_id=leader, idempotency_key=uuid.uuid4().hex,
                                   captured_at=now - timedelta(minutes=5), received_at=now - timedelta(minutes=5),
                                   **extra))


async def test_supervision_pages_show_labels_never_codes(world: World, seeded: None):
    pa = world.project_a
    start = ["/supervision/warnings", "/messages", "/supervision/map", f"/supervision/map/projects/{pa}/today",
             f"/supervision/attendance?project_id={pa}", f"/supervision/attendance/detail?project_id={pa}",
             "/supervision/execution", "/supervision/quality", "/supervision/managers"]
    auth = BearerHeaders()
    found: list[tuple[str, str, str]] = []
    pages = 0
    async with app_client() as client:
        for role in READERS:
            c = await crawl(client, await auth(world.users[role]), start, per_shape=3)
            for p in c.ok:
                if not p.url.startswith(("/supervision", "/messages")):
                    continue
                pages += 1
                found += [(role, p.url, w) for w in WORD.findall(p.text) if w in CODES]
    assert pages >= 20
    assert found == []


def test_the_code_list_covers_the_warning_and_punch_codes():
    assert {"yellow", "red", "open", "notified", "rectified", "closed", "rejected", "flagged", "accepted"} <= CODES
    assert {str(v) for v in PunchVerdict} <= CODES
