"""Issue 18 (several server processes): the login limiter holds across processes.  Two apps with their own
services stand for two ``smz serve`` processes over one PostgreSQL: failures made through either count toward
one limit, and a success through one clears the count in the other.  On SQLite (one process) nothing is shared."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from backend.accounts.shared_limits import LimiterLink
from backend.runtime import AppServices, login_limiter_from_settings
from backend.settings import get_settings
from tests.integration.conftest import PASSWORD, unique

pytestmark = pytest.mark.integration


@asynccontextmanager
async def process() -> AsyncIterator[tuple[httpx.AsyncClient, LimiterLink]]:
    """One 'server process': its own app, services and login limiter, sharing its counts."""
    from backend.app import create_app

    limiter = login_limiter_from_settings(get_settings())
    link = LimiterLink(limiter, shared=True)
    services = AppServices.build(login_limiter=limiter, limiter_link=link)
    transport = httpx.ASGITransport(app=create_app(services=services), client=("198.51.100.20", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c, link
    finally:
        await services.aclose()


async def _settle(*links: LimiterLink) -> None:
    """NOTIFY is delivered in a few milliseconds: wait until every sent message was heard."""
    for link in links:
        for t in list(link._sends):
            await t
    await asyncio.sleep(0.3)


async def test_failures_through_two_processes_count_toward_one_limit(migrated_db) -> None:
    from backend.accounts.services import create_user

    if not LimiterLink(login_limiter_from_settings(get_settings()), shared=True).enabled():
        pytest.skip("one process on SQLite: nothing to share (PostgreSQL only)")
    username = unique("t_shared_")
    await create_user(username, PASSWORD, "project_staff")
    async with process() as (a, link_a), process() as (b, link_b):
        assert await link_a.wait_listening() and await link_b.wait_listening()
        body = {"username": username, "password": "wrong-pass-1"}
        for client in (a, b, a, b):
            assert (await client.post("/api/auth/token", json=body)).status_code == 401
        await _settle(link_a, link_b)
        assert (await a.post("/api/auth/token", json=body)).status_code == 401  # the fifth, wherever it lands
        await _settle(link_a, link_b)
        for client in (a, b):  # both processes now refuse, even the right password
            r = await client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
            assert r.status_code == 429, r.text


async def test_a_success_in_one_process_clears_the_count_in_the_other(migrated_db) -> None:
    from backend.accounts.services import LoginLimiter, create_user

    if not LimiterLink(login_limiter_from_settings(get_settings()), shared=True).enabled():
        pytest.skip("one process on SQLite: nothing to share (PostgreSQL only)")
    username = unique("t_shared_")
    await create_user(username, PASSWORD, "project_staff")
    async with process() as (a, link_a), process() as (b, link_b):
        assert await link_a.wait_listening() and await link_b.wait_listening()
        for _ in range(3):
            await b.post("/api/auth/token", json={"username": username, "password": "wrong-pass-1"})
        await _settle(link_a, link_b)
        key = LoginLimiter.keys(username, "198.51.100.20")[0]
        assert len(link_a.limiter._fails.get(key, ())) == 3  # heard from b
        assert (await a.post("/api/auth/token", json={"username": username, "password": PASSWORD})).status_code == 200
        await _settle(link_a, link_b)
        assert key not in link_b.limiter._fails  # a's success reached b


def test_the_limiter_tells_its_link_of_failures_and_successes_and_applies_what_it_hears() -> None:
    from backend.accounts.services import LoginLimiter

    told: list[tuple[str, tuple[str, ...]]] = []
    lim = LoginLimiter(2, 60)
    lim.share = lambda op, keys: told.append((op, keys))
    keys = LoginLimiter.keys("Zhang", "10.0.0.1")
    lim.failed(*keys)
    lim.succeeded(*keys[:2])
    assert told == [("failed", keys), ("cleared", keys[:2])]
    other = LoginLimiter(2, 60)
    other.heard("failed", keys)
    other.heard("failed", keys)
    with pytest.raises(Exception, match="登录失败次数过多"):
        other.check(*keys)
    other.heard("cleared", keys)
    other.check(*keys)
    other.heard("bogus", keys)  # an unknown message changes nothing
