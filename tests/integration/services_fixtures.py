"""The app's services in tests (``backend.runtime.AppServices``): every app has its own, so a test either
builds its own set (``own_services``, ``client_with``) or reaches the set of the app it talks to
(``services_of_client``).  The fixtures are plain helpers plus ``own_services``/``app_services``, for a
module that lists this one in ``pytest_plugins``; a module that also imports helpers from here defines its
fixture over ``fresh_services()`` instead (pytest cannot rewrite a plugin module imported before)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest


def services_of_client(client: httpx.AsyncClient) -> Any:
    """The services of the app behind an in-process client (``tests.integration.conftest.app_client``)."""
    from backend.runtime import services_of

    app = client._transport.app  # type: ignore[attr-defined]  # httpx.ASGITransport
    return services_of(app.state)


@asynccontextmanager
async def client_with(services: Any, address: str = "testclient") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over a new app that works with ``services`` (the caller builds and closes them)."""
    from backend.app import create_app

    transport = httpx.ASGITransport(app=create_app(services=services), client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


@asynccontextmanager
async def fresh_services(**given: Any) -> AsyncIterator[Any]:
    """A fresh set of app services (``AppServices.build(**given)``), closed afterwards; the face pool is the
    session's unless one is given."""
    from backend.runtime import AppServices
    from tests.shared_services import shared_face_service

    services = AppServices.build(**{"face": shared_face_service(), **given})
    try:
        yield services
    finally:
        await services.aclose()


@pytest.fixture
async def own_services(migrated_db: str) -> AsyncIterator[Any]:
    """A fresh set of app services for one test (its own login limiter, live feed …), closed afterwards."""
    async with fresh_services() as services:
        yield services


@pytest.fixture(scope="module")
async def app_services(client: httpx.AsyncClient) -> Any:
    """The services of the module's shared app (the ``client`` fixture: one per module, tests/conftest.py)."""
    return services_of_client(client)
