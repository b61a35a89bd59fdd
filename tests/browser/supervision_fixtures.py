"""Fixtures of the supervisor map's browser test (kept apart from the phone PWA's conftest).

- ``sup_map_site``: a district, a project with a polygon fence (through the fence store), a worker, a
  supervisor account — created in the test session's database.
- ``sup_server``: the real app served by uvicorn on 127.0.0.1 inside the test's event loop (so ``record_punch``
  called by the test commits into the same database and publishes to the same process, like a gate or phone
  request would).
- ``sup_page``: a desktop Chromium page that may reach only that server: every other request is refused and
  recorded (the map must work with no internet).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("SMZ_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "sup-map-pass-2026"
CENTRE = (113.0946, 22.6040)


@dataclass
class MapSite:
    project: int
    district: int
    worker: int
    supervisor: str
    name: str
    fence_name: str = "主入口围栏"
    external_requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
async def sup_map_site(migrated_db: str) -> MapSite:
    import random
    import uuid

    from backend.accounts.services import create_user
    from backend.demo import fake_id_number, fake_uscc
    from backend.fences.services import create_fence
    from backend.org import services as org
    from backend.workforce import services as workforce

    rng = random.Random()
    tag = uuid.uuid4().hex[:6]
    today = date.today()
    district = await org.create_district(f"45{rng.randrange(0, 10**8):08d}", f"地图测试区{tag}")
    name = f"地图测试项目{tag}"
    project = await org.create_project(name=name, district_id=district, category="building", floor_area_m2=30_000,
                                       planned_start=today - timedelta(days=60), lon=CENTRE[0], lat=CENTRE[1])
    await org.change_status(project, "under_construction", effective_on=today - timedelta(days=50), note="开工",
                            user_id=None)
    unit = await org.add_unit(project, await org.create_enterprise(f"地图测试总包{tag}", fake_uscc(rng)),
                              "general_contractor", today - timedelta(days=50))
    team = await org.create_team(project, unit, "钢筋班组")
    worker = await workforce.upsert_person(id_number=fake_id_number(rng, "450102"), name="地图工人")
    await workforce.enter_roster(project_id=project, person_id=worker, unit_id=unit, team_id=team, work_role="worker",
                                 work_type="020", entered_on=today - timedelta(days=30))
    lon, lat = CENTRE
    d = 0.0012
    site = MapSite(project=project, district=district, worker=worker, supervisor=f"sup_map_{tag}", name=name)
    await create_fence(project, name=site.fence_name, kind="polygon", geometry={
        "type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                                            [lon - d, lat + d], [lon - d, lat - d]]]})
    await create_user(site.supervisor, PASSWORD, "supervisor", display_name="地图监管员", district_ids=[district])
    return site


@pytest.fixture
async def sup_services(migrated_db: str) -> AsyncIterator[Any]:
    """The services of the map's app: a punch the test records reaches the page through their live feed."""
    from backend.runtime import AppServices
    from tests.shared_services import shared_face_service

    services = AppServices.build(face=shared_face_service())
    try:
        yield services
    finally:
        await services.aclose()


@pytest.fixture
async def sup_server(sup_services: Any) -> AsyncIterator[str]:
    from backend.app import create_app
    from tests.integration.supervision.live_server import serve_app

    async with serve_app(create_app(services=sup_services)) as base:
        yield base


@pytest.fixture
async def sup_page(sup_server: str, sup_map_site: MapSite) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    host = urlparse(sup_server).netloc
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN",
                                            timezone_id="Asia/Shanghai")

            async def guard(route: Any) -> None:
                if urlparse(route.request.url).netloc == host:
                    await route.continue_()
                else:  # no internet: anything else is refused and remembered
                    sup_map_site.external_requests.append(route.request.url)
                    await route.abort("internetdisconnected")

            await ctx.route("**/*", guard)
            page = await ctx.new_page()
            page.errors = []  # type: ignore[attr-defined]
            page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
            await page.goto(f"{sup_server}/login?next=/supervision/map")
            await page.fill("input[name=username]", sup_map_site.supervisor)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{sup_server}/supervision/map")
            yield page
            await ctx.close()
        finally:
            await browser.close()
