"""Authentication through HTTP: cookie sessions, bearer tokens, logout, login rate limit, CSRF, form
login, password change."""

from __future__ import annotations

from collections import deque

import pytest

from tests.integration.conftest import app_client, unique
from tests.integration.services_fixtures import services_of_client

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]


@pytest.fixture(scope="module")
async def client(migrated_db):
    """Its own client address, so the login limiter tests never touch the shared client's budget."""
    async with app_client("auth-testclient") as c:
        yield c


PASSWORD = "auth-test-pass-1"


@pytest.fixture
def jar(client):
    """The shared client with an empty cookie jar, emptied again afterwards (other tests use bearer tokens
    and expect no session cookie)."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


@pytest.fixture
def restore_login_limiter(client):
    """Failed logins count per username and per client address (all test requests share one address):
    put the shared app's limiter (its ``AppServices.login_limiter``) back as it was so this module cannot
    lock other tests out."""
    limiter = services_of_client(client).login_limiter
    fails = limiter._fails
    saved = {k: deque(v) for k, v in fails.items()}
    for key in [k for k in fails if k.startswith("ip:")]:
        del fails[key]  # failures other tests made from the same test address must not count here
    yield limiter
    fails.clear()
    fails.update(saved)


async def new_user(role: str = "project_staff", **kw) -> tuple[str, int]:
    from backend.accounts.services import create_user

    username = unique("t_auth_")
    uid = await create_user(username, PASSWORD, role, **kw)
    return username, uid


def session_token(response) -> str:
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("smz_session=")
    return cookie.split(";", 1)[0].split("=", 1)[1]


async def test_cookie_login_sets_httponly_session_cookie_that_works_for_me(jar, world):
    username, uid = await new_user(project_ids=[world.project_a])
    r = await jar.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["username"] == username
    assert r.json()["role"] == "project_staff" and r.json()["role_label"] == "项目管理人员"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    me = await jar.get("/api/me")
    assert me.status_code == 200
    assert me.json()["id"] == uid
    assert not {"password", "password_hash"} & set(me.json())
    # the cookie also opens the API the user is entitled to
    assert [p["id"] for p in (await jar.get("/api/projects")).json()] == [world.project_a]


async def test_cookie_logout_revokes_the_session(jar):
    username, _ = await new_user()
    r = await jar.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    token = session_token(r)
    r = await jar.post("/api/auth/logout")
    assert r.status_code == 200
    assert r.json() == {"status": "logged_out"}
    assert "max-age=0" in r.headers["set-cookie"].lower()
    jar.cookies.clear()
    # the old cookie value is dead on the server, not merely forgotten by the browser
    r = await jar.get("/api/me", headers={"cookie": f"smz_session={token}"})
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"


async def test_bearer_token_works_and_logout_revokes_it(jar, world):
    username, uid = await new_user("foreman", project_ids=[world.project_a])
    r = await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert "set-cookie" not in r.headers
    h = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await jar.get("/api/me", headers=h)).json()["id"] == uid
    assert (await jar.post("/api/auth/logout", headers=h)).status_code == 200
    assert (await jar.get("/api/me", headers=h)).status_code == 401


async def test_bearer_token_of_each_login_is_distinct(jar):
    username, _ = await new_user()
    tokens = set()
    for _ in range(2):
        r = await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})
        tokens.add(r.json()["access_token"])
    assert len(tokens) == 2


async def test_expired_token_is_refused(jar):
    from backend.accounts.services import issue_token

    _, uid = await new_user()
    token = await issue_token(uid, "bearer", hours=-1)
    r = await jar.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"


async def test_deactivated_user_cannot_log_in_and_loses_sessions(jar, restore_login_limiter):
    from backend.accounts.services import set_user_active

    username, uid = await new_user()
    r = await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await jar.get("/api/me", headers=h)).status_code == 200  # now in the who-is-asking cache
    await set_user_active(uid, False)
    assert (await jar.get("/api/me", headers=h)).status_code == 401
    r = await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 401


async def test_wrong_password_gives_401_without_revealing_the_user(jar, restore_login_limiter):
    username, _ = await new_user()
    wrong = await jar.post("/api/auth/login", json={"username": username, "password": "not-the-password"})
    nobody = await jar.post("/api/auth/login", json={"username": unique("nobody_"), "password": "whatever-1"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()
    assert wrong.json()["code"] == "bad_credentials"
    assert wrong.json()["message"] == "用户名或密码错误"
    assert "set-cookie" not in wrong.headers
    r = await jar.post("/api/auth/token", json={"username": username, "password": "not-the-password"})
    assert r.status_code == 401


async def test_login_payload_validated(jar):
    r = await jar.post("/api/auth/login", json={"username": "x"})
    assert r.status_code == 400
    r = await jar.post("/api/auth/login", json={"username": "x", "password": "y", "remember": True})
    assert r.status_code == 400
    assert r.json()["field"] == "remember"


async def test_five_failed_logins_for_one_username_give_429_with_retry_info(jar, restore_login_limiter):
    username, _ = await new_user()
    for _ in range(5):
        r = await jar.post("/api/auth/login", json={"username": username, "password": "bad-password"})
        assert r.status_code == 401
    r = await jar.post("/api/auth/login", json={"username": username, "password": "bad-password"})
    assert r.status_code == 429
    body = r.json()
    assert body["code"] == "rate_limited"
    retry = body["extra"]["retry_after_s"]
    assert 0 < retry <= 300
    assert str(retry) in body["message"] and str(retry) in body["message_en"]
    # locked even with the right password, and on the token endpoint too
    r = await jar.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 429
    r = await jar.post("/api/auth/token", json={"username": f"  {username.upper()} ", "password": PASSWORD})
    assert r.status_code == 429


async def test_successful_login_resets_the_failure_count(jar, restore_login_limiter):
    username, _ = await new_user()
    for _ in range(2):
        await jar.post("/api/auth/token", json={"username": username, "password": "bad-password"})
    for key in [k for k in restore_login_limiter._fails if k.startswith("ip:")]:
        del restore_login_limiter._fails[key]  # only the per-user count matters here
    assert (await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})).status_code == 200
    for _ in range(4):
        r = await jar.post("/api/auth/token", json={"username": username, "password": "bad-password"})
        assert r.status_code == 401


async def test_failed_logins_for_one_username_do_not_lock_out_other_users(jar, restore_login_limiter):
    victim, _ = await new_user()
    attacker_target = unique("nobody_")
    for _ in range(5):
        await jar.post("/api/auth/token", json={"username": attacker_target, "password": "guess-1234"})
    r = await jar.post("/api/auth/token", json={"username": victim, "password": PASSWORD})
    assert r.status_code == 200


async def test_cross_site_post_with_cookie_refused(jar):
    username, _ = await new_user()
    r = await jar.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200
    r = await jar.post("/api/auth/logout", headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    assert r.json()["code"] == "cross_site"
    r = await jar.post(
        "/api/auth/password",
        headers={"referer": "https://evil.example/page"},
        json={"old_password": PASSWORD, "new_password": "hijacked-pass-1"},
    )
    assert r.status_code == 403
    # the session survived, and a same-origin request passes
    assert (await jar.get("/api/me")).status_code == 200
    r = await jar.post("/api/auth/logout", headers={"origin": "http://testserver.local"})
    assert r.status_code == 200


async def test_bearer_requests_are_not_subject_to_the_origin_check(jar):
    username, _ = await new_user()
    r = await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    h = {"Authorization": f"Bearer {r.json()['access_token']}", "origin": "https://other-client.example"}
    r = await jar.post("/api/auth/logout", headers=h)
    assert r.status_code == 200


async def test_form_login_redirects_and_sets_cookie(jar, world):
    username, uid = await new_user(project_ids=[world.project_a])
    r = await jar.post(
        "/login",
        data={"username": username, "password": PASSWORD, "next": f"/projects/{world.project_a}"},
        follow_redirects=False,
    )
    assert r.status_code in (302, 303)
    assert r.headers["location"] == f"/projects/{world.project_a}"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert (await jar.get("/api/me")).json()["id"] == uid
    page = await jar.get(f"/projects/{world.project_a}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


async def test_form_login_worker_lands_on_phone_app(jar, world):
    username, _ = await new_user("worker")
    r = await jar.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code in (302, 303)
    assert r.headers["location"] == "/m/"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "evil.example", ""])
async def test_form_login_next_never_leaves_the_site(jar, target):
    username, _ = await new_user()
    r = await jar.post(
        "/login", data={"username": username, "password": PASSWORD, "next": target}, follow_redirects=False
    )
    assert r.status_code in (302, 303)
    assert r.headers["location"] == "/"


@pytest.mark.parametrize("target", ["/\\evil.example", "/\t/evil.example", "/\n/evil.example", "/ /evil.example"])
async def test_form_login_next_with_backslash_or_control_chars_stays_on_site(jar, target):
    """Browsers read a backslash as a slash and drop tabs/newlines: such characters must arrive escaped."""
    username, _ = await new_user()
    r = await jar.post(
        "/login", data={"username": username, "password": PASSWORD, "next": target}, follow_redirects=False
    )
    location = r.headers["location"]
    assert location.startswith("/") and not location.startswith("//")
    assert not any(c in location for c in "\\\t\n\r ")


async def test_form_login_wrong_password_rerenders_form_without_cookie(jar, restore_login_limiter):
    username, _ = await new_user()
    r = await jar.post("/login", data={"username": username, "password": "wrong-one"}, follow_redirects=False)
    assert r.status_code == 401
    assert "text/html" in r.headers["content-type"]
    assert "用户名或密码错误" in r.text
    assert "set-cookie" not in r.headers


async def test_form_logout_revokes_and_redirects(jar):
    username, _ = await new_user()
    r = await jar.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    token = session_token(r)
    r = await jar.post("/logout", follow_redirects=False)
    assert r.status_code in (302, 303)
    assert r.headers["location"] == "/login"
    jar.cookies.clear()
    assert (await jar.get("/api/me", headers={"cookie": f"smz_session={token}"})).status_code == 401


async def test_password_change(jar, restore_login_limiter):
    username, _ = await new_user()
    r = await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await jar.post(
        "/api/auth/password", headers=h, json={"old_password": "not-it-at-all", "new_password": "new-pass-2026"}
    )
    assert r.status_code == 400
    assert r.json()["field"] == "old_password"
    r = await jar.post("/api/auth/password", headers=h, json={"old_password": PASSWORD, "new_password": "short"})
    assert r.status_code == 400
    assert r.json()["field"] == "password" and r.json()["code"] == "weak_password"
    r = await jar.post(
        "/api/auth/password", headers=h, json={"old_password": PASSWORD, "new_password": "new-pass-2026"}
    )
    assert r.status_code == 200 and r.json() == {"status": "changed"}
    assert (await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})).status_code == 401
    r = await jar.post("/api/auth/token", json={"username": username, "password": "new-pass-2026"})
    assert r.status_code == 200


async def test_password_change_clears_must_change_flag_of_created_accounts(jar, world):
    from backend.accounts.services import issue_token
    from backend.accounts.tables import User

    admin_id = (await User.select(User.id).where(User.username == world.users["admin"]).first())["id"]
    admin = {"Authorization": f"Bearer {await issue_token(admin_id, 'bearer')}"}
    username = unique("t_auth_new_")
    r = await jar.post(
        "/api/users",
        headers=admin,
        json={"username": username, "password": PASSWORD, "role": "foreman", "project_ids": [world.project_a]},
    )
    assert r.status_code == 201, r.text
    r = await jar.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await jar.get("/api/me", headers=h)).json()["must_change_password"] is True
    r = await jar.post("/api/auth/password", headers=h, json={"old_password": PASSWORD, "new_password": "fresh-pass-9"})
    assert r.status_code == 200
    assert (await jar.get("/api/me", headers=h)).json()["must_change_password"] is False


async def test_user_creation_validates_role_password_and_duplicates(jar, world):
    from backend.accounts.services import issue_token
    from backend.accounts.tables import User

    admin_id = (await User.select(User.id).where(User.username == world.users["admin"]).first())["id"]
    admin = {"Authorization": f"Bearer {await issue_token(admin_id, 'bearer')}"}
    r = await jar.post(
        "/api/users", headers=admin, json={"username": unique("u_"), "password": PASSWORD, "role": "boss"}
    )
    assert r.status_code == 400 and r.json()["field"] == "role"
    r = await jar.post(
        "/api/users", headers=admin, json={"username": unique("u_"), "password": "short", "role": "worker"}
    )
    assert r.status_code == 400 and r.json()["code"] == "weak_password"
    r = await jar.post(
        "/api/users", headers=admin, json={"username": world.users["foreman_a"], "password": PASSWORD, "role": "worker"}
    )
    assert r.status_code == 409 and r.json()["field"] == "username"
