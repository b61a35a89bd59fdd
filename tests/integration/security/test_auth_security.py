"""Security issue items 7, 11, 13, 14, 16 — each attack reproduced against the real app and refused:

- 7: a password change (own, or a reset by someone else) ends the account's other sessions and tokens;
  an account that must change its password can do nothing else on the API (403) or in the pages;
- 11: malformed JSON (100,000 nested ``[``, invalid UTF-8) is a 400 with a bilingual message, not a 500;
- 13: a spoofed ``X-Forwarded-For`` does not bypass the login limiter; one attacker behind an office NAT
  cannot lock out the others; a login from a foreign page is refused; weak and common passwords are refused;
- 14: only the district authority decides make-up punches (seed 000 §六), not the admin;
- 16: face workers exit when their parent is killed with ``kill -9``.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import PASSWORD, app_client, unique, unique_name
from tests.integration.services_fixtures import client_with

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
async def client(migrated_db: str) -> AsyncIterator[httpx.AsyncClient]:
    """Its own client address, so the limiter budget of the shared client is never touched."""
    async with app_client("10.77.0.1") as c:
        yield c


async def new_user(role: str = "project_staff", **kw: Any) -> tuple[str, int]:
    from backend.accounts.services import create_user

    username = unique("t_sec_")
    return username, await create_user(username, PASSWORD, role, **kw)


async def token_for(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = await client.post("/api/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def roster_payload(world: Any, project_id: int) -> dict[str, Any]:
    """A worker for the project's rebar team (a name of Chinese characters only, unique enough)."""
    return {
        "id_number": world.id_number(), "name": unique_name("王"),
        "unit_id": world.units[project_id]["general_contractor"], "team_id": world.teams[project_id]["钢筋班组"],
        "work_role": "worker", "work_type": "020",
    }


async def admin_headers(world: Any) -> dict[str, str]:
    from backend.accounts.services import issue_token
    from backend.accounts.tables import User

    row = await User.select(User.id).where(User.username == world.users["admin"]).first()
    return {"Authorization": f"Bearer {await issue_token(row['id'], 'bearer')}"}


# ================================================================ 7: sessions end with the password

async def test_own_password_change_ends_other_sessions_and_tokens_but_keeps_the_current_one(client):
    username, _ = await new_user()
    stolen_token = await token_for(client, username)  # e.g. a 30-day bearer token on a lost laptop
    r = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    stolen_cookie = {"cookie": f"smz_session={r.cookies['smz_session']}"}
    client.cookies.clear()
    mine = await token_for(client, username)
    for h in (stolen_token, stolen_cookie, mine):
        assert (await client.get("/api/me", headers=h)).status_code == 200

    r = await client.post("/api/auth/password", headers=mine,
                          json={"old_password": PASSWORD, "new_password": "Fresh-Pass-2027"})
    assert r.status_code == 200, r.text
    for h in (stolen_token, stolen_cookie):
        r = await client.get("/api/me", headers=h)
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert (await client.get("/api/me", headers=mine)).status_code == 200


async def test_own_password_change_by_cookie_keeps_that_cookie_session(client):
    username, _ = await new_user()
    other = await token_for(client, username)
    client.cookies.clear()
    try:
        await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        r = await client.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": "Fresh-Pass-2027"})
        assert r.status_code == 200, r.text
        assert (await client.get("/api/me")).status_code == 200
        assert (await client.get("/api/me", headers=other)).status_code == 401
    finally:
        client.cookies.clear()


async def test_password_reset_by_a_foreman_ends_every_session_and_token_of_the_worker(client, world):
    foreman = await token_for(client, world.users["foreman_a"])
    r = await client.post(f"/api/projects/{world.project_a}/roster", headers=foreman,
                          json=roster_payload(world, world.project_a))
    assert r.status_code == 201, r.text
    person = r.json()["person_id"]
    url = f"/api/projects/{world.project_a}/crew/people/{person}/account"
    first = (await client.post(url, headers=foreman)).json()
    worker = await token_for(client, first["username"], first["initial_password"])
    r = await client.post("/api/auth/password", headers=worker,
                          json={"old_password": first["initial_password"], "new_password": "Worker-Pass-2027"})
    assert r.status_code == 200, r.text
    assert (await client.get("/api/clockin/history", headers=worker)).status_code == 200

    # the worker's 30-day token would survive a reset before the fix
    second = (await client.post(url, headers=foreman)).json()
    r = await client.get("/api/me", headers=worker)
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    # the new one-time password works, and must be changed before anything else
    fresh = await token_for(client, second["username"], second["initial_password"])
    assert (await client.get("/api/me", headers=fresh)).json()["must_change_password"] is True


async def test_must_change_password_account_gets_403_on_the_api_except_password_logout_and_me(client, world):
    admin = await admin_headers(world)
    username = unique("t_sec_new_")
    r = await client.post("/api/users", headers=admin, json={
        "username": username, "password": PASSWORD, "role": "project_staff", "project_ids": [world.project_a]})
    assert r.status_code == 201, r.text
    h = await token_for(client, username)
    for method, url in (("GET", "/api/projects"), ("GET", f"/api/projects/{world.project_a}"),
                        ("POST", "/api/users"), ("GET", "/api/terminals")):
        r = await client.request(method, url, headers=h, json={} if method == "POST" else None)
        assert r.status_code == 403, (url, r.text)
        body = r.json()
        assert body["code"] == "password_change_required"
        assert "修改密码" in body["message"] and "change your password" in body["message_en"].lower()
    assert (await client.get("/api/me", headers=h)).json()["must_change_password"] is True
    r = await client.post("/api/auth/password", headers=h, json={"old_password": PASSWORD, "new_password": PASSWORD})
    assert r.status_code == 400  # the same password again does not count as a change
    r = await client.post("/api/auth/password", headers=h,
                          json={"old_password": PASSWORD, "new_password": "Changed-Pass-2027"})
    assert r.status_code == 200, r.text
    assert [p["id"] for p in (await client.get("/api/projects", headers=h)).json()] == [world.project_a]
    assert (await client.post("/api/auth/logout", headers=h)).status_code == 200


async def test_must_change_password_pages_redirect_to_the_password_form_which_changes_it(client, world):
    from backend.accounts.services import create_user

    username = unique("t_sec_page_")
    await create_user(username, PASSWORD, "project_staff", project_ids=[world.project_a], must_change_password=True)
    client.cookies.clear()
    try:
        r = await client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
        assert r.status_code in (302, 303)
        page = await client.get(f"/projects/{world.project_a}", headers={"accept": "text/html"},
                                follow_redirects=False)
        assert page.status_code in (302, 303) and page.headers["location"].startswith("/password")
        form = await client.get("/password", headers={"accept": "text/html"})
        assert form.status_code == 200 and "修改密码" in form.text and 'id="password-required"' in form.text
        weak = await client.post("/password", data={"old_password": PASSWORD, "new_password": "12345678",
                                                     "new_password2": "12345678"}, follow_redirects=False)
        assert weak.status_code == 400 and "字母、数字、符号" in weak.text
        r = await client.post("/password", follow_redirects=False, data={
            "old_password": PASSWORD, "new_password": "Page-Pass-2027", "new_password2": "Page-Pass-2027",
            "next": f"/projects/{world.project_a}"})
        assert r.status_code in (302, 303) and r.headers["location"] == f"/projects/{world.project_a}"
        page = await client.get(f"/projects/{world.project_a}", headers={"accept": "text/html"})
        assert page.status_code == 200
    finally:
        client.cookies.clear()


# ================================================================ 11: malformed JSON is a 400

MALFORMED = [
    pytest.param(b"[" * 100_000, id="100k-nested-brackets"),
    pytest.param(b'{"a":' * 50_000, id="50k-nested-objects"),
    pytest.param(b'{"username": "\xff\xfe", "password": "x"}', id="invalid-utf8-in-string"),
    pytest.param(b"\xff\xfe\xfd", id="invalid-utf8-bytes"),
]


def assert_invalid_json(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "invalid_json"
    assert "JSON" in body["message"] and "JSON" in body["message_en"]
    assert "Traceback" not in r.text


@pytest.mark.parametrize("content", MALFORMED)
async def test_malformed_json_before_login_gives_400_not_500(client, content):
    for url in ("/api/auth/login", "/api/auth/token"):
        assert_invalid_json(await client.post(url, content=content, headers={"content-type": "application/json"}))


@pytest.mark.parametrize("content", MALFORMED)
async def test_malformed_json_after_login_gives_400_not_500(client, world, content):
    h = {**await admin_headers(world), "content-type": "application/json"}
    for url in ("/api/projects", "/api/auth/password", "/api/users"):
        assert_invalid_json(await client.post(url, content=content, headers=h))


# ================================================================ 13: login hygiene

@pytest.fixture
async def login_services(migrated_db):
    """The app's services of this test alone: its own login limiter, so no other test's failures count and
    none of this test's lock another out."""
    from backend.runtime import AppServices

    services = AppServices.build()
    yield services
    await services.aclose()


@asynccontextmanager
async def served_as_by_smz_serve(address: str, services) -> AsyncIterator[httpx.AsyncClient]:
    """The app (working with ``services``) wrapped the way ``smz serve`` has uvicorn wrap it (its proxy-header
    middleware rewrites the client address from X-Forwarded-For when it trusts the peer), seen from ``address``."""
    import uvicorn

    from backend.app import create_app
    from backend.cli import uvicorn_proxy_options
    from backend.settings import get_settings

    config = uvicorn.Config(create_app(services=services), log_config=None,
                            **uvicorn_proxy_options(get_settings().trusted_proxies))
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


async def test_spoofed_x_forwarded_for_does_not_bypass_the_login_limiter(login_services):
    username, _ = await new_user()
    async with served_as_by_smz_serve("127.0.0.1", login_services) as c:  # loopback: uvicorn's default trusted proxy
        codes = []
        for i in range(8):
            r = await c.post("/api/auth/token", json={"username": username, "password": "wrong-pass-1"},
                             headers={"x-forwarded-for": f"203.0.113.{i + 1}"})
            codes.append(r.status_code)
        assert codes == [401] * 5 + [429] * 3
        r = await c.post("/api/auth/token", json={"username": username, "password": PASSWORD},
                         headers={"x-forwarded-for": "198.51.100.7"})
        assert r.status_code == 429


async def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(monkeypatch, login_services):
    import backend.auth as auth
    from backend.settings import get_settings

    configured = dataclasses.replace(get_settings(), trusted_proxies=("10.88.0.0/16",))
    monkeypatch.setattr(auth, "get_settings", lambda: configured)
    username, _ = await new_user()
    monkeypatch.setattr("backend.settings.get_settings", lambda: configured)  # what smz serve hands uvicorn
    async with served_as_by_smz_serve("10.88.0.5", login_services) as proxy:
        # behind the proxy, two clients are two addresses: one's failures do not block the other
        for _ in range(5):
            r = await proxy.post("/api/auth/token", json={"username": username, "password": "wrong-pass-1"},
                                 headers={"x-forwarded-for": "198.51.100.1"})
            assert r.status_code == 401
        r = await proxy.post("/api/auth/token", json={"username": username, "password": PASSWORD},
                             headers={"x-forwarded-for": "198.51.100.1"})
        assert r.status_code == 429
        # a client cannot prepend a fake hop: the right-most untrusted entry counts
        r = await proxy.post("/api/auth/token", json={"username": username, "password": PASSWORD},
                             headers={"x-forwarded-for": "203.0.113.9, 198.51.100.1"})
        assert r.status_code == 429
        r = await proxy.post("/api/auth/token", json={"username": username, "password": PASSWORD},
                             headers={"x-forwarded-for": "198.51.100.2"})
        assert r.status_code == 200
    assert "userip:" + username.lower() + "|198.51.100.1" in login_services.login_limiter._fails


async def test_one_attacker_behind_a_nat_cannot_lock_out_the_other_users_of_that_address(login_services):
    victim, _ = await new_user()
    colleague, _ = await new_user()
    async with client_with(login_services, "10.66.0.1") as office:  # one app, one limiter, two addresses  # one NAT address for the whole site office
        statuses = [(await office.post("/api/auth/token", json={"username": victim, "password": f"guess-{i}-x"})
                     ).status_code for i in range(30)]
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
        # the colleague behind the same address still logs in
        assert (await office.post("/api/auth/token", json={"username": colleague, "password": PASSWORD})
                ).status_code == 200
    # and the victim from another address too: the attacker's refused attempts were not counted
    async with client_with(login_services, "10.66.0.2") as home:
        assert (await home.post("/api/auth/token", json={"username": victim, "password": PASSWORD})
                ).status_code == 200


@pytest.mark.parametrize("url", ["/api/auth/login", "/login"])
async def test_login_from_a_foreign_origin_is_refused_and_sets_no_session(client, url):
    username, _ = await new_user()
    client.cookies.clear()
    try:
        for header in ({"origin": "https://evil.example"}, {"referer": "https://evil.example/page"},
                       {"origin": "null"}):
            if url == "/login":
                r = await client.post(url, data={"username": username, "password": PASSWORD}, headers=header,
                                      follow_redirects=False)
            else:
                r = await client.post(url, json={"username": username, "password": PASSWORD}, headers=header)
            assert r.status_code == 403, r.text
            assert "set-cookie" not in r.headers
            assert "跨站" in r.text
        # same origin, and clients that send no Origin (curl, tests), still log in
        r = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD},
                              headers={"origin": "http://testserver.local"})
        assert r.status_code == 200 and "set-cookie" in r.headers
    finally:
        client.cookies.clear()


@pytest.mark.parametrize(("password", "why"), [
    ("12345678", "字母、数字、符号"),
    ("abcdefghij", "字母、数字、符号"),
    ("password1", "常见"),
    ("P@ssw0rd", "常见"),
    ("Woaini1314", "常见"),
])
async def test_weak_passwords_are_refused_on_create_and_change(client, world, password, why):
    admin = await admin_headers(world)
    r = await client.post("/api/users", headers=admin,
                          json={"username": unique("t_sec_weak_"), "password": password, "role": "worker"})
    assert r.status_code == 400 and r.json()["code"] == "weak_password" and why in r.json()["message"]
    username, _ = await new_user()
    h = await token_for(client, username)
    r = await client.post("/api/auth/password", headers=h, json={"old_password": PASSWORD, "new_password": password})
    assert r.status_code == 400 and r.json()["code"] == "weak_password" and r.json()["message_en"]
    assert (await client.post("/api/auth/token", json={"username": username, "password": PASSWORD})).status_code == 200


async def test_username_as_password_is_refused(client, world):
    admin = await admin_headers(world)
    name = unique("site_staff_")
    r = await client.post("/api/users", headers=admin, json={"username": name, "password": name.upper(),
                                                             "role": "worker"})
    assert r.status_code == 400 and r.json()["code"] == "weak_password" and "用户名" in r.json()["message"]


# ================================================================ 14: make-up decisions by the authority only

@pytest.fixture
async def makeup_request(client, world) -> int:
    from backend.clockin.tables import MakeupRequest

    admin = await admin_headers(world)
    r = await client.post(f"/api/projects/{world.project_a}/roster", headers=admin,
                          json=roster_payload(world, world.project_a))
    assert r.status_code == 201, r.text
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    rows = await MakeupRequest.insert(MakeupRequest(
        person=r.json()["person_id"], project=world.project_a, requested_by=0, punch_time=when, direction="in",
        reason="rain", note="暴雨", day=date.today() - timedelta(days=1),
    )).returning(MakeupRequest.id)
    return rows[0]["id"]


async def test_admin_cannot_approve_a_makeup_punch(client, world, makeup_request):
    from backend.clockin.tables import MakeupRequest

    r = await client.post(f"/api/makeups/{makeup_request}/decision", headers=await admin_headers(world),
                          json={"approve": True, "note": "admin says yes"})
    assert r.status_code == 403, r.text
    assert r.json()["message"] and r.json()["message_en"]
    row = await MakeupRequest.select(MakeupRequest.status, MakeupRequest.punch).where(
        MakeupRequest.id == makeup_request).first()
    assert row == {"status": "pending", "punch": None}


async def test_only_the_supervisor_of_the_projects_district_decides_a_makeup_punch(client, world, makeup_request):
    other = await token_for(client, world.users["supervisor_b"])
    r = await client.post(f"/api/makeups/{makeup_request}/decision", headers=other, json={"approve": True, "note": ""})
    assert r.status_code == 404
    for role in ("foreman_a", "staff_a", "enterprise_gc"):
        h = await token_for(client, world.users[role])
        r = await client.post(f"/api/makeups/{makeup_request}/decision", headers=h, json={"approve": True, "note": ""})
        assert r.status_code == 403, role
    own = await token_for(client, world.users["supervisor_a"])
    r = await client.post(f"/api/makeups/{makeup_request}/decision", headers=own,
                          json={"approve": True, "note": "暴雨，属实"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["punch_id"]


# ================================================================ 16: face workers die with their parent

def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone: it holds no memory)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _wait_gone(pids: list[int], deadline_s: float) -> list[int]:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _kill_parent_and_collect(code: str, *, start_timeout_s: float) -> list[int]:
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = parent.stdout.readline() if parent.stdout else ""  # blocks until the workers are up
        pids = [int(p) for p in line.split()]
        assert pids, f"the parent printed no worker pids (exit {parent.poll()})"
    except BaseException:
        parent.kill()
        raise
    parent.send_signal(signal.SIGKILL)  # no clean-up runs: the pool never shuts its workers down
    parent.wait(timeout=start_timeout_s)
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_face_workers_exit_when_the_server_is_killed_with_sigkill():
    pytest.importorskip("dlib")
    code = (
        "import asyncio\n"
        "from backend.face.service import FaceService\n"
        "async def main():\n"
        "    svc = FaceService(workers=2)\n"
        "    await svc.start()\n"
        "    print(' '.join(str(p) for p in svc._pool._processes), flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "asyncio.run(main())\n"
    )
    pids = _kill_parent_and_collect(code, start_timeout_s=120)
    assert len(pids) == 2
    assert _wait_gone(pids, deadline_s=30) == [], "face workers outlived their parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_face_worker_watchdog_alone_exits_when_the_parent_is_gone():
    """The watchdog thread (for systems without PR_SET_PDEATHSIG): the kernel's signal is switched off
    again in the worker, so only os.getppid() changing can end it."""
    code = (
        "import ctypes, multiprocessing, os, time\n"
        "from backend import children\n"
        "def worker(parent, ready):\n"
        "    children.die_with_parent(parent, interval_s=0.1)\n"
        "    ctypes.CDLL(None).prctl(children.PR_SET_PDEATHSIG, 0, 0, 0, 0)\n"
        "    ready.set()\n"
        "    time.sleep(600)\n"
        "ctx = multiprocessing.get_context('fork')  # no event loop or threads here; -c has no importable main\n"
        "ready = ctx.Event()\n"
        "p = ctx.Process(target=worker, args=(os.getpid(), ready))\n"
        "p.start()\n"
        "assert ready.wait(30)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    pids = _kill_parent_and_collect(code, start_timeout_s=30)
    assert _wait_gone(pids, deadline_s=20) == [], "the watchdog did not end the orphaned worker"
