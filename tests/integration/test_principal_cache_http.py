"""The who-is-asking cache through HTTP: a repeated request is answered without the database, and nothing that
ends a session (logout, password change, deactivation — here or, on PostgreSQL, in another process) is ever
hidden by it (issue 18: 'resolve a session from a short-lived cache invalidated on logout, password change and
role change, across processes by the notify channel')."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.integration.conftest import app_client, unique
from tests.integration.services_fixtures import services_of_client

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

PASSWORD = "cache-test-pass-1"
PG = os.environ.get("SMZ_TEST_DATABASE_URL", "").startswith("postgres")


@pytest.fixture(scope="module")
async def client(migrated_db):
    async with app_client("principal-cache-client") as c:
        yield c


async def token_for(client) -> tuple[dict[str, str], int]:
    from backend.accounts.services import create_user

    username = unique("t_pc_")
    uid = await create_user(username, PASSWORD, "project_staff")
    r = await client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}, uid


async def until_cached(client, headers) -> None:
    """Ask until the cache answers (on PostgreSQL it trusts itself only once its LISTEN is up)."""
    cache = services_of_client(client).principals
    for _ in range(100):
        before = cache.hits
        assert (await client.get("/api/me", headers=headers)).status_code == 200
        if cache.hits > before:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the who-is-asking cache never answered")


async def test_a_repeated_request_is_answered_from_the_cache(client):
    headers, _ = await token_for(client)
    await until_cached(client, headers)
    cache = services_of_client(client).principals
    before = cache.hits
    for _ in range(5):
        r = await client.get("/api/me", headers=headers)
        assert r.status_code == 200
    assert cache.hits >= before + 5


async def test_logout_ends_a_cached_token_at_once(client):
    headers, _ = await token_for(client)
    await until_cached(client, headers)
    assert (await client.post("/api/auth/logout", headers=headers)).status_code in (200, 204)
    assert (await client.get("/api/me", headers=headers)).status_code == 401


async def test_password_change_ends_the_other_cached_tokens_at_once(client):
    headers, _uid = await token_for(client)
    username = (await client.get("/api/me", headers=headers)).json()["username"]
    r = await client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    other = {"Authorization": f"Bearer {r.json()['access_token']}"}
    await until_cached(client, other)
    r = await client.post("/api/auth/password", headers=headers,
                          json={"old_password": PASSWORD, "new_password": "cache-new-pass-2026"})
    assert r.status_code == 200
    assert (await client.get("/api/me", headers=other)).status_code == 401
    assert (await client.get("/api/me", headers=headers)).status_code == 200  # the one that changed it stays


async def test_deactivation_ends_a_cached_session_at_once(client):
    from backend.accounts.services import set_user_active

    headers, uid = await token_for(client)
    await until_cached(client, headers)
    await set_user_active(uid, False)
    assert (await client.get("/api/me", headers=headers)).status_code == 401


@pytest.mark.skipif(not PG, reason="cross-process invalidation is PostgreSQL NOTIFY")
async def test_a_change_committed_by_another_process_reaches_the_cache_through_notify(client):
    """Another server process deactivates the account: its transaction updates the row and NOTIFYs smz_auth.
    Here that process is a bare asyncpg connection, so nothing in this process is told directly."""
    import asyncpg

    from backend.accounts.principals import AUTH_CHANNEL
    from backend.db import engine

    headers, uid = await token_for(client)
    await until_cached(client, headers)
    conn = await asyncpg.connect(**engine().config)  # type: ignore[attr-defined]
    try:
        async with conn.transaction():
            await conn.execute("UPDATE app_user SET active = false WHERE id = $1", uid)
            await conn.execute("DELETE FROM auth_token WHERE \"user\" = $1", uid)
            await conn.execute("SELECT pg_notify($1, $2)", AUTH_CHANNEL, f"user:{uid}")
    finally:
        await conn.close()
    for _ in range(100):
        if (await client.get("/api/me", headers=headers)).status_code == 401:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the cached session outlived its deactivation in another process")
