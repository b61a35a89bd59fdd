"""What the worker's phone checks before the camera, duplicate make-up requests, and the demo's self-enrolment
(issue 19 items 1, 15 and the demo).

Rules checked: seed 001 §五(十一) / seed 004 §四(一) (电子围栏: the pre-check says inside / near / outside with the
distance before the liveness routine, with the same limits as the final judgement: Rules.gps_max_accuracy_m,
Rules.fence_edge_margin_m), seed 000 §六 (补卡: one request per punch — a pending or approved twin refuses the
second, held by the database too), the issue's demo mode (self-enrolment only under ``smz demo``).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.site import PASSWORD, Site, build_site, near, offset
from tests.fixtures.faces import capture_like, face_images
from tests.integration.clockin.test_clockin_api import challenge, headers_for, live_frames, upload

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
async def site(migrated_db: str, client) -> Site:
    face_images()  # skip with the reason when the sdist photos cannot be had
    return await build_site()


async def precheck(client, h: dict[str, str], point: tuple[float, float] | None = None,
                   accuracy: float | None = None, **params: Any) -> dict[str, Any]:
    q: dict[str, Any] = dict(params)
    if point is not None:
        q.update(lon=repr(point[0]), lat=repr(point[1]), accuracy=repr(accuracy if accuracy is not None else 12.0))
    r = await client.get("/api/clockin/precheck", params=q, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def check(result: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in result["checks"] if c["code"] == code)


async def new_worker(site: Site, label: str) -> str:
    """Another worker on the site's roster with a phone account (no face): a test that changes it changes no
    one else's state."""
    from backend.accounts.services import create_user
    from backend.demo import fake_id_number, fake_name
    from backend.workforce import services as workforce

    rng = random.Random(uuid.uuid4().int)
    person = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng))
    await workforce.enter_roster(project_id=site.project_id, person_id=person, unit_id=site.unit_id,
                                 team_id=site.team_id, work_role="worker", work_type="020",
                                 entered_on=date.today() - timedelta(days=10))
    username = f"w_{label}_{uuid.uuid4().hex[:6]}"
    await create_user(username, PASSWORD, "worker", person_id=person, display_name=f"工人{label}")
    site.usernames[label] = username
    site.people[label] = person
    return label


# ------------------------------------------------------------------------------ pre-checks (item 1)


async def test_precheck_inside_the_fence_is_ready_with_every_check_passed(client, site: Site):
    h = await headers_for(client, site, "enrolled")
    r = await precheck(client, h, near(site.inside), 12.0)
    assert r["ready"] is True and r["project_id"] == site.project_id and r["summary"] == ""
    assert [c["code"] for c in r["checks"]] == ["face", "roster", "project", "fence", "location", "accuracy"]
    assert {c["status"] for c in r["checks"]} == {"ok"}, r
    assert check(r, "location")["message"] == "在电子围栏内"
    assert check(r, "accuracy")["message"] == "±12 米（要求不超过 100 米）"
    assert check(r, "face")["label"] == "人脸采集" and check(r, "face")["status_label"] == "通过"


async def test_precheck_outside_the_fence_blocks_with_the_distance_and_what_to_do(client, site: Site):
    h = await headers_for(client, site, "wanderer")
    r = await precheck(client, h, site.outside, 9.5)  # 120 m beyond the edge
    loc = check(r, "location")
    assert r["ready"] is False and loc["status"] == "block"
    assert 110 <= loc["distance_m"] <= 130
    assert loc["message"] == f"不在电子围栏内，距离 {loc['distance_m']:.0f} 米"
    assert loc["advice"] == f"走到围栏内再打卡，距离 {loc['distance_m']:.0f} 米"
    assert r["summary"] == loc["advice"]
    far = await precheck(client, h, offset(*site.inside, 90.0, 9_150.0), 9.5)  # ~9 km east of the fence
    assert check(far, "location")["message"] == "不在电子围栏内，距离 9.0 公里"


async def test_precheck_at_the_edge_warns_but_lets_the_worker_clock_in(client, site: Site):
    h = await headers_for(client, site, "wanderer")
    edge = offset(*site.inside, 180.0, 150.0 + 20.0)  # 20 m outside, accuracy 30 m: accepted with near_edge
    r = await precheck(client, h, edge, 30.0)
    loc = check(r, "location")
    assert loc["status"] == "warn" and "位于电子围栏边缘" in loc["message"] and r["ready"] is True


async def test_precheck_refuses_a_fix_less_accurate_than_the_limit(client, site: Site):
    h = await headers_for(client, site, "enrolled")
    r = await precheck(client, h, near(site.inside), 250.0)
    acc = check(r, "accuracy")
    assert acc["status"] == "block" and acc["message"] == "±250 米，超过 100 米的限制"
    assert "开阔处" in acc["advice"] and r["ready"] is False


async def test_precheck_without_a_fix_tells_an_unenrolled_worker_to_see_the_foreman(client, site: Site):
    h = await headers_for(client, site, "unenrolled")
    r = await precheck(client, h)
    face = check(r, "face")
    assert face["status"] == "block" and face["message"] == "尚未采集人脸" and face["advice"] == "请联系班组长采集人脸"
    assert r["demo_point"] is None  # the demo's stand-in position: never outside demo mode
    assert check(r, "location")["status"] == "pending" and check(r, "accuracy")["status"] == "pending"
    assert r["ready"] is False and r["demo_enrol"] is False
    assert "请联系班组长采集人脸" in r["summary"]


async def test_precheck_for_a_project_the_worker_is_not_on_blocks(client, site: Site):
    h = await headers_for(client, site, "enrolled")
    r = await precheck(client, h, project_id=site.project_id + 10_000)
    roster = check(r, "roster")
    assert roster["status"] == "block" and roster["message"] == "您不在该项目今天的花名册上"
    assert roster["advice"] == "请联系班组长或劳务员办理进场" and r["ready"] is False


async def test_precheck_of_a_suspended_project_warns_and_a_project_without_fence_blocks(client, site: Site):
    from backend.fences import services as fences
    from backend.org import services as org

    other = await build_site(with_faces=False)
    h = await headers_for(client, other, "enrolled")
    await org.change_status(other.project_id, "suspended", effective_on=date.today(), note="停工", user_id=None)
    r = await precheck(client, h, near(other.inside), 10.0)
    project = check(r, "project")
    assert project["status"] == "warn" and "停工" in project["message"]  # kept and marked (seed 001 §五(十三))
    assert other.fence is not None
    await org.change_status(other.project_id, "under_construction", effective_on=date.today(), note="复工",
                            user_id=None)
    await fences.delete_fence(other.project_id, other.fence["id"])
    r = await precheck(client, h, near(other.inside), 10.0)
    fence = check(r, "fence")
    assert fence["status"] == "block" and fence["advice"] == "请联系项目劳务员设置电子围栏"
    assert check(r, "location")["status"] == "pending" and r["ready"] is False


async def test_home_page_says_plainly_when_the_face_is_not_enrolled(client, site: Site):
    page = await client.get("/m/", headers=await headers_for(client, site, "unenrolled"))
    assert page.status_code == 200
    assert 'id="face-missing"' in page.text and "尚未采集人脸" in page.text and "请联系班组长采集人脸" in page.text
    enrolled = await client.get("/m/", headers=await headers_for(client, site, "enrolled"))
    assert 'id="face-missing"' not in enrolled.text


async def test_clock_page_has_an_h1_and_the_checks_before_the_camera(client, site: Site):
    page = await client.get("/m/clock", headers=await headers_for(client, site, "unenrolled"))
    assert "<h1" in page.text and 'id="precheck-list"' in page.text
    assert 'data-code="face" data-status="block"' in page.text
    assert "不能打卡：请联系班组长采集人脸" in page.text
    assert "演示模式" not in page.text  # not the demo


async def test_every_phone_page_has_a_logout_button_never_a_header_link(client, site: Site):
    h = await headers_for(client, site, "enrolled")
    home = await client.get("/m/", headers=h)
    assert 'id="logout"' in home.text and 'id="logout-dialog"' in home.text
    for path in ("/m/", "/m/clock", "/m/history", "/m/makeup"):
        page = await client.get(path, headers=h)
        header = page.text.split("</header>")[0]
        assert "退出" not in header and 'action="/logout"' not in header, path
        assert 'id="net-state"' in header, path  # the network badge on every page (item 13)


# ------------------------------------------------------------------------ duplicate make-ups (item 15)


async def makeup(client, h: dict[str, str], site: Site, when: datetime, direction: str | None = None) -> Any:
    data = {"project_id": str(site.project_id), "punch_time": when.isoformat(), "reason": "rain", "note": "暴雨"}
    if direction:
        data["direction"] = direction
    return await client.post("/api/makeups/", data=data, headers=h)


async def test_a_duplicate_makeup_request_is_refused_pointing_at_the_first(client, site: Site):
    h = await headers_for(client, site, await new_worker(site, "makeup_twin"))
    day = datetime.now(CN).replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=2)
    first = await makeup(client, h, site, day, "in")
    assert first.status_code == 201, first.text
    first_id = first.json()["id"]

    same = await makeup(client, h, site, day, "in")
    assert same.status_code == 409, same.text
    body = same.json()
    assert body["code"] == "duplicate_makeup" and body["field"] == "punch_time"
    assert f"编号 {first_id}" in body["message"] and day.strftime("%Y-%m-%d 08:00") in body["message"]
    assert "待审核" in body["message"] and f"#{first_id}" in body["message_en"]

    # the same day and direction at another time is the same missing punch; the other direction is not
    later = await makeup(client, h, site, day + timedelta(minutes=40), "in")
    assert later.status_code == 409 and later.json()["code"] == "duplicate_makeup"
    evening = await makeup(client, h, site, day + timedelta(hours=9), "out")
    assert evening.status_code == 201, evening.text
    # no direction: the time itself identifies the punch
    assert (await makeup(client, h, site, day + timedelta(days=-1))).status_code == 201
    assert (await makeup(client, h, site, day + timedelta(days=-1))).status_code == 409


async def test_a_refused_makeup_request_may_be_asked_again(client, site: Site):
    from backend.accounts.services import create_user

    h = await headers_for(client, site, await new_worker(site, "makeup_again"))
    when = datetime.now(CN).replace(hour=7, minute=50, second=0, microsecond=0) - timedelta(days=3)
    first = await makeup(client, h, site, when, "in")
    assert first.status_code == 201, first.text
    authority = f"jg_{uuid.uuid4().hex[:6]}"
    await create_user(authority, PASSWORD, "supervisor", district_ids=[site.district_id])
    ha = await headers_for_user(client, authority)
    decided = await client.post(f"/api/makeups/{first.json()['id']}/decision", json={"approve": False, "note": "无证明"},
                                headers=ha)
    assert decided.status_code == 200, decided.text
    again = await makeup(client, h, site, when, "in")
    assert again.status_code == 201, again.text


async def headers_for_user(client, username: str) -> dict[str, str]:
    r = await client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_the_database_refuses_a_twin_open_makeup_request(site: Site):
    """The partial unique indexes of migration 2026-12-02T21:10 (two requests at the same moment both pass the
    service's check on PostgreSQL)."""
    from backend.clockin.tables import MakeupRequest

    person = site.people["wanderer"]
    when = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
    fields = dict(person=person, project=site.project_id, requested_by=1, punch_time=when, direction="in",
                  reason="rain", note="", day=date(2026, 11, 2))
    await MakeupRequest(**fields).save()
    with pytest.raises(Exception, match=r"(?i)unique|makeup_request_open"):
        await MakeupRequest(**fields).save()
    with pytest.raises(Exception, match=r"(?i)unique|makeup_request_open"):  # same day and direction, other time
        await MakeupRequest(**{**fields, "punch_time": when + timedelta(minutes=30)}).save()
    await MakeupRequest(**{**fields, "status": "rejected"}).save()  # a refused one is no twin
    await MakeupRequest(**{**fields, "direction": "out", "punch_time": when + timedelta(hours=9)}).save()


# --------------------------------------------------------------------------------- the demo's self-enrolment


async def test_demo_enrol_is_refused_outside_demo_mode(client, site: Site):
    h = await headers_for(client, site, "unenrolled")
    r = await client.post("/api/clockin/demo-enrol", headers=h,
                          files=[("photo", ("face.jpg", capture_like("obama.jpg"), "image/jpeg"))])
    assert r.status_code == 403 and r.json()["code"] == "demo_only", r.text


@pytest.fixture
def demo_mode(monkeypatch: pytest.MonkeyPatch):
    from backend.settings import get_settings

    monkeypatch.setenv("SMZ_DEMO_MODE", "1")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("SMZ_DEMO_MODE")
    get_settings.cache_clear()


async def test_demo_worker_enrols_their_own_face_at_first_clock_in_then_clocks_in(client, site: Site, demo_mode):
    label = await new_worker(site, "demo_self")
    h = await headers_for(client, site, label)
    before = await precheck(client, h, near(site.inside), 12.0)
    assert before["demo_enrol"] is True and check(before, "face")["advice"] == "演示模式：可在打卡前采集本人人脸"
    page = await client.get("/m/clock", headers=h)
    assert "演示模式：首次打卡时采集本人人脸" in page.text and 'id="demo-enrol-start"' in page.text
    home = await client.get("/m/", headers=h)
    assert "演示模式：可在首次打卡时采集本人人脸" in home.text

    # issue 20 B.1: no face without the worker's consent (单独同意); the phone sends the version they ticked
    refused = await client.post("/api/clockin/demo-enrol", headers=h,
                                files=[("photo", ("face.jpg", capture_like("obama.jpg"), "image/jpeg"))])
    assert refused.status_code == 409 and refused.json()["code"] == "consent_missing"
    r = await client.post("/api/clockin/demo-enrol", headers=h, data={"consent_version": "2026-12"},
                          files=[("photo", ("face.jpg", capture_like("obama.jpg"), "image/jpeg"))])
    assert r.status_code == 200, r.text
    assert r.json()["enrolled"] is True and r.json()["person_id"] == site.people[label]
    after = await precheck(client, h, near(site.inside), 12.0)
    assert after["ready"] is True and after["demo_enrol"] is False

    # the demo's stand-in position (the person trying the demo is not on the demo site) lies inside the fence
    far = await precheck(client, h, offset(*site.inside, 90.0, 9_150.0), 9.0)
    assert far["ready"] is False and far["demo_point"] is not None
    stand_in = await precheck(client, h, tuple(far["demo_point"]), 8.0)
    assert check(stand_in, "location")["status"] == "ok" and stand_in["ready"] is True

    again = await client.post("/api/clockin/demo-enrol", headers=h,
                              files=[("photo", ("face.jpg", capture_like("obama.jpg"), "image/jpeg"))])
    assert again.status_code == 409 and again.json()["code"] == "already_enrolled"  # first clock-in only

    ch = await challenge(client, h)
    v = (await upload(client, h, live_frames(ch["actions"]), point=near(site.inside), nonce=ch["nonce"])).json()
    assert v["verdict"] == "accepted", v  # the same face as the liveness burst: the demo clock-in succeeds
