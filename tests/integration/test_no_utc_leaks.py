"""No UTC on any page (issue 19 §4): every HTML page each role of the ``world`` reaches by following links shows
stored times in the project's zone (China, UTC+8), in the one format of ``vocabulary.local_time``.

Known events are stored at UTC times whose China hour — and, for most, date — differ: a punch at 16:37:41 UTC
(00:37 the next day in China), an in-site message at 00:43 UTC (08:43), a warning event at 17:52 UTC, an SMS at
19:14 UTC, a registration in progress at 18:29 UTC.  No page may show one of those UTC clock readings, every one
of them must be shown somewhere in China time, and no page may show the UTC clock of anything stored while the
test ran (rows the world and this module create: ``created_at`` and the like)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import BearerHeaders, World, app_client
from tests.integration.supervision.page_crawl import Crawl, crawl

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

CHINA = ZoneInfo("Asia/Shanghai")
STARTED = datetime.now(UTC)
ROLES = ("admin", "supervisor_a", "supervisor_b", "enterprise_gc", "staff_a", "foreman_a", "foreman_c", "vendor")


def _hm(at: datetime, tz: Any) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def _has_clock(text: str, hm: str) -> bool:
    return re.search(rf"(?<![\d:]){re.escape(hm)}(?!\d)", text) is not None


def _past_china_day(local: time) -> date:
    """The latest China day whose ``local`` clock time is already past."""
    today = datetime.now(CHINA).date()
    return today if datetime.combine(today, local, tzinfo=CHINA) < datetime.now(CHINA) else today - timedelta(days=1)


def _past_utc(hour: int, minute: int) -> datetime:
    """The latest past UTC instant at ``hour:minute`` UTC."""
    now = datetime.now(UTC)
    at = datetime.combine(now.date(), time(hour, minute), tzinfo=UTC)
    return at if at < now else at - timedelta(days=1)


@pytest.fixture(scope="module")
async def stamps(world: World) -> dict[str, datetime]:
    """The known events, stored through the services where a service stores them, else as rows."""
    import uuid

    from backend.attendance.services import PunchIn, record_punch
    from backend.crew.tables import Registration
    from backend.org.tables import Team
    from backend.supervision.tables import InSiteMessage, SmsLog, WarningCase, WarningEvent
    from backend.workforce import services as workforce
    from tests.integration.conftest import user_id

    pa = world.project_a
    leader = (await Team.select(Team.leader).where(Team.id == world.teams[pa]["钢筋班组"]).first())["leader"]
    punch_day = _past_china_day(time(0, 37, 41))
    punch_at = datetime.combine(punch_day, time(0, 37, 41), tzinfo=CHINA).astimezone(UTC)  # 16:37:41 UTC
    await record_punch(PunchIn(source="gate", project_id=pa, person_id=leader, idempotency_key=uuid.uuid4().hex,
                               captured_at=punch_at, received_at=punch_at + timedelta(seconds=3)))
    message_at = _past_utc(0, 43)  # 08:43 in China
    warning_at = _past_utc(17, 52)  # 01:52 in China, the next day
    sms_at = _past_utc(19, 14)
    reg_at = _past_utc(18, 29)
    case = (await WarningCase.insert(WarningCase(
        key=f"no_attendance:{pa}:utc-test", topic=f"no_attendance:{pa}:utc-test", project=pa,
        district=world.district_a, kind="no_attendance", period=warning_at.astimezone(CHINA).strftime("%Y-%m"),
        level="yellow", status="notified", message="测试预警：连续无考勤", opened_on=warning_at.astimezone(CHINA).date(),
        created_at=warning_at, updated_at=warning_at)).returning(WarningCase.id))[0]["id"]
    await WarningEvent.insert(
        WarningEvent(warning=case, at=warning_at, action="opened", level="yellow", status="open", note="新预警"),
        WarningEvent(warning=case, at=warning_at + timedelta(seconds=5), action="notified", level="yellow",
                     status="notified", note="站内消息 2 人"))
    await SmsLog.insert(SmsLog(warning=case, project=pa, recipient_name="项目经理", recipient_role="项目负责人",
                               phone_masked="139****0000", status="failed", error="测试", at=sms_at))
    for label in ("foreman_a", "staff_a", "supervisor_a"):
        await InSiteMessage.insert(InSiteMessage(user=await user_id(world.users[label]), project=pa, warning=case,
                                                 title="【黄灯预警】甲区住宅工程：连续无考勤", body="请整改。",
                                                 created_at=message_at))
    person = await workforce.upsert_person(id_number=world.id_number(), name="登记中的人")
    await Registration.insert(Registration(project=pa, person=person, status="id_checked", created_at=reg_at,
                                           updated_at=reg_at))
    return {"punch": punch_at, "message": message_at, "warning_event": warning_at, "sms": sms_at,
            "registration": reg_at}


@pytest.fixture(scope="module")
async def crawls(world: World, stamps: dict[str, datetime], migrated_db: str) -> dict[str, Crawl]:
    pa = world.project_a
    day = stamps["punch"].astimezone(CHINA).date().isoformat()
    extra = [
        "/", "/messages", f"/projects/{pa}", f"/projects/{pa}/crew", "/supervision/warnings",
        f"/supervision/attendance/detail?project_id={pa}&day_from={day}&day_to={day}",
        f"/supervision/attendance?project_id={pa}&month={day[:7]}", f"/supervision/map/projects/{pa}/today",
        "/devices",
    ]
    auth = BearerHeaders()
    out: dict[str, Crawl] = {}
    async with app_client() as client:
        for role in ROLES:
            out[role] = await crawl(client, await auth(world.users[role]), extra)
    return out


def test_every_role_reaches_pages_and_none_fails(crawls: dict[str, Crawl]):
    for role, c in crawls.items():
        assert len(c.ok) >= 3, (role, [(p.url, p.status) for p in c.pages])
        assert not [p for p in c.pages if p.status >= 500], (role, [(p.url, p.status) for p in c.pages if p.status >= 500])


def test_no_page_shows_a_known_event_at_its_utc_clock(crawls: dict[str, Crawl], stamps: dict[str, datetime]):
    leaks = [(role, p.url, what, _hm(at, UTC)) for role, c in crawls.items() for p in c.ok
             for what, at in stamps.items() if _has_clock(p.text, _hm(at, UTC))]
    assert leaks == []


def test_each_known_event_is_shown_in_china_time(crawls: dict[str, Crawl], stamps: dict[str, datetime]):
    """A stored 00:43 UTC reads 08:43; the punch of 16:37:41 UTC reads 00:37 on the next day's date."""
    shown = {what: sorted({(role, p.url) for role, c in crawls.items() for p in c.ok if _has_clock(p.text, _hm(at, CHINA))})
             for what, at in stamps.items()}
    assert all(shown.values()), {k: v for k, v in shown.items() if not v}
    assert any(_has_clock(p.text, _hm(stamps["message"], CHINA)) for p in crawls["foreman_a"].ok
               if p.url == "/messages"), "the foreman reads the warning sent to them, in China time"
    punch_local = stamps["punch"].astimezone(CHINA)
    detail = next(p for p in crawls["supervisor_a"].ok if p.url.startswith("/supervision/attendance/detail?project_id"))
    assert punch_local.strftime("%Y-%m-%d %H:%M") in detail.text or punch_local.strftime("%H:%M:%S") in detail.text


def test_no_page_shows_the_utc_clock_of_rows_stored_during_the_test(crawls: dict[str, Crawl],
                                                                    stamps: dict[str, datetime]):
    """Rows the world and this module stored (created_at, updated_at …) carry the clock of the test run."""
    ended = datetime.now(UTC)
    local_known = {_hm(at, CHINA) for at in stamps.values()}
    window, at = set(), STARTED - timedelta(hours=3)  # < 8 h: never a China clock of the same rows
    while at <= ended + timedelta(minutes=1):
        if _hm(at, UTC) not in local_known:
            window.add(_hm(at, UTC))
        at += timedelta(minutes=1)
    leaks = [(role, p.url, hm) for role, c in crawls.items() for p in c.ok for hm in window if _has_clock(p.text, hm)]
    assert leaks == []


def test_no_page_shows_an_iso_or_utc_offset_timestamp(crawls: dict[str, Crawl]):
    iso = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|[+-]00:00\b|\bUTC\b")
    leaks = [(role, p.url, m.group(0)) for role, c in crawls.items() for p in c.ok for m in [iso.search(p.text)] if m]
    assert leaks == []
