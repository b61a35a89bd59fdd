"""Live punches for the map: in-process fan-out, PostgreSQL LISTEN/NOTIFY across processes, and the SSE
endpoint over a real socket."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime

import aiohttp
import pytest

from backend.supervision import live_bridge, services
from tests.integration.conftest import login
from tests.integration.services_fixtures import fresh_services
from tests.integration.supervision.conftest import add_person, make_district, make_site, make_user, punch
from tests.integration.supervision.live_server import serve_app

pytestmark = pytest.mark.integration
ON_PG = bool(os.environ.get("SMZ_TEST_DATABASE_URL"))


async def _next(q: asyncio.Queue, pred):
    async def find():
        while True:
            ev = await q.get()
            if pred(ev):
                return ev

    return await asyncio.wait_for(find(), 5.0)


@pytest.fixture
async def own_services(migrated_db):
    """This test's app services: its own live feed and live map bridge."""
    async with fresh_services() as services:
        yield services


@pytest.fixture(scope="module")
async def site(migrated_db):
    first = datetime.now(UTC).date().replace(day=1)
    s = await make_site(await make_district(), start=first)
    await add_person(s, "实时工人", entered_on=first)
    return s


async def test_committed_punch_reaches_hub_subscribers_once(site, own_services):
    async with own_services.live_bridge.subscribe() as q:
        v = await punch(site, site.people["实时工人"], datetime.now(UTC).date(), feed=own_services.live_feed)
        ev = await _next(q, lambda e: e.get("id") == v.punch_id)
        assert ev["name"] == "实时工人" and ev["project_id"] == site.project
        if not ON_PG:
            return  # the repeat below travels through NOTIFY, which SQLite has not
        await live_bridge.notify_committed(ev)  # the hook record_punch calls: a repeat is dropped by id
        marker = {**ev, "id": -v.punch_id}  # sent after the repeat on the same path: once it is here, so would be the repeat
        await live_bridge.notify_committed(marker)
        seen: list[dict] = []
        await _next(q, lambda e: seen.append(e) or e.get("id") == marker["id"])
        assert all(e.get("id") != v.punch_id for e in seen)


@pytest.mark.skipif(not ON_PG, reason="LISTEN/NOTIFY needs PostgreSQL")
async def test_notify_from_another_process_reaches_this_process(site, own_services):
    import asyncpg

    from backend.db import engine

    async with own_services.live_bridge.subscribe() as q:
        other = await asyncpg.connect(**engine().config)  # stands for another server process
        try:
            fake = {"type": "punch", "id": 987_654_321, "project_id": site.project, "name": "别的进程",
                    "verdict": "accepted"}
            await other.execute("SELECT pg_notify($1, $2)", services.LIVE_CHANNEL, json.dumps(fake))
            ev = await _next(q, lambda e: e.get("id") == 987_654_321)
            assert ev["name"] == "别的进程"
        finally:
            await other.close()


@pytest.mark.skipif(not ON_PG, reason="LISTEN/NOTIFY needs PostgreSQL")
async def test_oversized_event_travels_as_a_reference_and_is_loaded(site, own_services):
    v = await punch(site, site.people["实时工人"], datetime.now(UTC).date())
    async with own_services.live_bridge.subscribe() as q:
        own_services.live_bridge.hub._recent.pop(("punch", v.punch_id), None)
        await services.pg_notify({"type": "punch", "id": v.punch_id, "project_id": site.project,
                                  "message": "长" * 5000})
        ev = await _next(q, lambda e: e.get("id") == v.punch_id)
        assert ev["name"] == "实时工人" and "message" in ev and len(ev["message"]) < 100


async def test_sse_endpoint_streams_punches_of_the_users_projects_only(client, site, own_services):
    from backend.app import create_app

    other_site = await make_site(await make_district(), start=datetime.now(UTC).date().replace(day=1))
    outsider = await add_person(other_site, "别区工人", entered_on=datetime.now(UTC).date().replace(day=1))
    headers = await login(client, await make_user("supervisor", district_ids=[site.district]))
    async with serve_app(create_app(services=own_services)) as base, aiohttp.ClientSession() as http, http.get(
        f"{base}/api/supervision/live", headers=headers, timeout=aiohttp.ClientTimeout(total=20)
    ) as resp:
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/event-stream")

        async def events():
            event, data = None, []
            async for raw in resp.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and event:
                    yield event, json.loads("\n".join(data)) if data else None
                    event, data = None, []

        stream = events()
        assert (await asyncio.wait_for(anext(stream), 5))[0] == "hello"
        feed = own_services.live_feed  # the served app's feed: punches recorded here reach its map
        await punch(other_site, outsider, datetime.now(UTC).date(), feed=feed)  # not in this supervisor's district
        v = await punch(site, site.people["实时工人"], datetime.now(UTC).date(), feed=feed)
        kind, ev = await asyncio.wait_for(anext(stream), 5)
        assert kind == "punch" and ev["id"] == v.punch_id and ev["name"] == "实时工人"
