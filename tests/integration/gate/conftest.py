"""Fixtures of the gate integration tests: the app's gate server running in the app's own lifespan
(real database, real sockets on 127.0.0.1) and simulated terminals connected to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from device_tcp.simulator import SimulatedTerminal
from tests.fixtures.faces import face_photos  # noqa: F401  (the session fixture of the face photos)
from tests.integration.conftest import World


@pytest.fixture(scope="module")
async def running_app(migrated_db: str) -> AsyncIterator[Any]:
    """The app as ``smz serve`` runs it — ``create_app`` with its whole lifespan (database, face pool,
    the gate server on a free port of 127.0.0.1) — in the tests' event loop, so that HTTP requests,
    gate connections and the tests' own queries share one loop and one connection pool; one per module,
    against the module's database."""
    from backend.app import create_app
    from backend.runtime import AppServices, gate_lifespan
    from tests.shared_services import shared_face_service

    services = AppServices.build(face=shared_face_service())
    app = create_app(services=services, extra_lifespan=[gate_lifespan(0, "127.0.0.1")])
    ready, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:  # enter and leave the lifespan in one task (anyio cancel scopes need it)
        async with app.lifespan():
            ready.set()
            await stop.wait()

    task = asyncio.create_task(run())
    ready_wait = asyncio.create_task(ready.wait())
    await asyncio.wait({task, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready_wait.cancel()
        task.result()  # start-up failed: raise its error
    yield app
    stop.set()
    try:
        await task
    finally:
        await services.aclose()


@pytest.fixture(scope="module")
def gate_server(running_app: Any) -> Any:
    """The running app's gate server (``.port``)."""
    return running_app.state.gate_server


@pytest.fixture(scope="module")
async def http(running_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the running app (in-process ASGI, same event loop)."""
    transport = httpx.ASGITransport(app=running_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


OpenTerminal = Callable[..., Awaitable[SimulatedTerminal]]


@pytest.fixture
async def open_terminal(gate_server: Any, world: World) -> AsyncIterator[OpenTerminal]:
    """Connect a simulated terminal to the app's gate server (logged in unless ``login=False``)."""
    opened: list[SimulatedTerminal] = []
    default_code = world.vendor_code

    async def open_(serial: str, *, vendor: str | None = None, login: bool = True) -> SimulatedTerminal:
        t = SimulatedTerminal("127.0.0.1", gate_server.port, vendor or default_code, serial, timeout_s=60)
        await t.connect()
        opened.append(t)
        if login:
            r = await t.login()
            assert r.ok, r.message
        return t

    yield open_
    for t in opened:
        await t.close()


