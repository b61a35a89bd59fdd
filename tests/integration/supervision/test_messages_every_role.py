"""站内消息 for every role (issue 19 §3): /messages for each role, the unread count in every page's header, a
foreman reads the warning sent about their project and opens it, marking read empties the count."""

from __future__ import annotations

import pytest

from tests.integration.conftest import BearerHeaders, World, app_client, user_id

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

ROLES = ("admin", "supervisor_a", "enterprise_gc", "staff_a", "foreman_a", "vendor")


@pytest.fixture(scope="module")
async def warning_for_foreman(world: World) -> int:
    """A warning about project A, notified through the district's settings (in-site messages are on by default)."""
    from backend.supervision.services import notify_cases
    from backend.supervision.sms import NullSender
    from backend.supervision.tables import WarningCase
    from backend.vocabulary import local_today

    today = local_today()
    case = (await WarningCase.insert(WarningCase(
        key=f"no_attendance:{world.project_a}:msg", topic=f"no_attendance:{world.project_a}:msg",
        project=world.project_a, district=world.district_a, kind="no_attendance", period=today.strftime("%Y-%m"),
        level="yellow", status="open", message="甲区住宅工程连续 3 日无考勤", opened_on=today,
    )).returning(WarningCase.id))[0]["id"]
    [result] = await notify_cases([case], sender=NullSender())
    assert result["in_site"] >= 1
    return case


async def test_every_role_has_a_messages_page_linked_from_the_header(world: World):
    auth = BearerHeaders()
    async with app_client() as client:
        for role in ROLES:
            h = await auth(world.users[role])
            page = await client.get("/messages", headers=h)
            assert page.status_code == 200 and "<h1>站内消息" in page.text, role
            home = await client.get("/", headers=h)
            assert 'id="nav-messages" href="/messages"' in home.text, role


async def test_foreman_sees_the_warning_sent_to_them_with_an_unread_count(world: World, warning_for_foreman: int):
    h = await BearerHeaders()(world.users["foreman_a"])
    async with app_client() as client:
        badge = await client.get("/messages/unread", headers=h)
        assert badge.status_code == 200 and 'id="unread-badge"' in badge.text
        assert badge.headers["cache-control"] == "no-store"
        page = await client.get("/messages", headers=h)
        assert "甲区住宅工程连续 3 日无考勤" in page.text and "未读" in page.text
        assert f'href="/supervision/warnings/{warning_for_foreman}"' in page.text
        warning = await client.get(f"/supervision/warnings/{warning_for_foreman}", headers=h)
        assert warning.status_code == 200 and "甲区住宅工程连续 3 日无考勤" in warning.text
        # a supervision page carries the count itself (no extra request)
        sup = await client.get("/supervision/warnings", headers=h)
        assert 'id="nav-messages"' in sup.text and 'id="unread-badge"' in sup.text
        r = await client.post("/messages/read", data={}, headers={**h, "HX-Request": "true"})
        assert r.status_code == 200 and r.headers["HX-Redirect"] == "/messages"
        assert 'id="unread-badge"' not in (await client.get("/messages/unread", headers=h)).text


async def test_messages_are_private_to_their_user(world: World, warning_for_foreman: int):
    from backend.supervision.services.messages import send_message

    await send_message([await user_id(world.users["vendor"])], "设备接入申请已通过", "测试厂商的消息")
    auth = BearerHeaders()
    async with app_client() as client:
        vendor = await client.get("/messages", headers=await auth(world.users["vendor"]))
        assert "设备接入申请已通过" in vendor.text and "甲区住宅工程连续 3 日无考勤" not in vendor.text
        other = await client.get("/messages", headers=await auth(world.users["foreman_c"]))
        assert "设备接入申请已通过" not in other.text and "甲区住宅工程连续 3 日无考勤" not in other.text
        assert "暂无消息" in other.text
