"""The app's services (backend.runtime.AppServices): built once per app in its lifespan, handed to handlers,
closed at shutdown; a test's own set is used as given and left open for the test to close."""

from __future__ import annotations

import pytest

from tests.integration.conftest import PASSWORD, unique
from tests.integration.services_fixtures import client_with

pytestmark = pytest.mark.integration


@pytest.fixture
async def lifespan_ok(migrated_db):
    """The app's lifespan also closes the PostgreSQL pool the session opened: open it again afterwards."""
    from backend import db

    yield
    await db.start_pool()


async def test_the_lifespan_builds_one_set_and_closes_it_at_shutdown(lifespan_ok):
    from backend.app import create_app
    from backend.runtime import AppServices, services_of

    app = create_app()
    async with app.lifespan():
        services = services_of(app.state)
        assert isinstance(services, AppServices)
        assert services_of(app.state) is services  # one per app
        assert not services.face.closed and not services.runner.closed
    assert services.face.closed and services.runner.closed


async def test_an_app_given_services_uses_them_and_leaves_closing_to_the_caller(lifespan_ok):
    from backend.app import create_app
    from backend.runtime import AppServices, services_of

    own = AppServices.build()
    try:
        app = create_app(services=own)
        async with app.lifespan():
            assert services_of(app.state) is own
        assert not own.runner.closed and not own.face.closed
    finally:
        await own.aclose()
    assert own.runner.closed and own.face.closed


async def test_each_app_counts_failed_logins_in_its_own_limiter(migrated_db):
    """A test builds a LoginLimiter with its own numbers; another app's failures never count there."""
    from backend.accounts.services import LoginLimiter, create_user
    from backend.runtime import AppServices

    username = unique("svc_user_")
    await create_user(username, PASSWORD, "project_staff")
    strict = AppServices.build(login_limiter=LoginLimiter(2, 300.0))
    lenient = AppServices.build()
    try:
        async with client_with(strict, "10.55.0.1") as a, client_with(lenient, "10.55.0.1") as b:
            wrong = {"username": username, "password": "wrong-pass-1"}
            assert [(await a.post("/api/auth/token", json=wrong)).status_code for _ in range(3)] == [401, 401, 429]
            # the same address and username at the other app: its own window, nothing counted yet
            ok = await b.post("/api/auth/token", json={"username": username, "password": PASSWORD})
            assert ok.status_code == 200
    finally:
        await strict.aclose()
        await lenient.aclose()
