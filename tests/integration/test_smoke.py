import pytest

from tests.integration.conftest import login

pytestmark = pytest.mark.integration


async def test_health_and_schema_are_public(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/schema/openapi.json")).status_code == 200


async def test_foreman_sees_only_own_project(client, world):
    h = await login(client, world.users["foreman_a"])
    r = await client.get("/api/projects", headers=h)
    assert [p["id"] for p in r.json()] == [world.project_a]
    assert (await client.get(f"/api/projects/{world.project_c}", headers=h)).status_code == 404
