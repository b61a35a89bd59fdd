"""Integration fixtures: a small world of two districts, three projects and users of every role,
and an HTTP client against the real app (real database, no mocks).  Every test module has a database of its
own (``migrated_db`` in tests/conftest.py); ``world`` and ``client`` live as long as the module."""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx
import pytest

PASSWORD = "test-pass-2026"
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def unique_name(prefix: str) -> str:
    """A unique person name that passes the name rule (no digits): 工人 → 工人三七."""
    return prefix + "".join("零一二三四五六七八九"[int(d)] for d in str(next(_counter)))


@dataclass
class World:
    district_a: int
    district_b: int
    project_a: int  # district A, building
    project_b: int  # district A, municipal
    project_c: int  # district B
    units: dict[int, dict[str, int]] = field(default_factory=dict)  # project → unit_type → unit id
    teams: dict[int, dict[str, int]] = field(default_factory=dict)  # project → team name → team id
    users: dict[str, str] = field(default_factory=dict)  # role label → username
    vendor: int = 0
    vendor_code: str = ""  # the vendor's code (厂家识别码), as create_vendor showed it once
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def id_number(self, region: str = "440703", birth: date | None = None) -> str:
        from backend.validators import id_check_char

        birth = birth or date(1980, 1, 1) + timedelta(days=self.rng.randrange(0, 20 * 365))
        first17 = f"{region}{birth:%Y%m%d}{self.rng.randrange(0, 1000):03d}"
        return first17 + id_check_char(first17)


async def build_world() -> World:
    """Build the world in the current database (tests/conftest.py does it once per session, in the world
    template that every module using ``world`` is cloned from)."""
    from backend.accounts.services import create_user
    from backend.demo import fake_uscc
    from backend.devices.services import create_vendor
    from backend.org import services as org

    rng = random.Random(11)
    da = await org.create_district("110101", "测试区甲")
    db_ = await org.create_district("110102", "测试区乙")
    gc = await org.create_enterprise("测试总包有限公司", fake_uscc(rng, "110101"))
    sup = await org.create_enterprise("测试监理有限公司", fake_uscc(rng, "110101"))
    other = await org.create_enterprise("别区总包有限公司", fake_uscc(rng, "110102"))
    pa = await org.create_project(name="甲区住宅工程", district_id=da, category="building", floor_area_m2=45_000,
                                  planned_start=date.today() - timedelta(days=40), lon=116.40, lat=39.91)
    pb = await org.create_project(name="甲区道路工程", district_id=da, category="municipal",
                                  contract_value_yuan=20_000_000, lon=116.41, lat=39.92)
    pc = await org.create_project(name="乙区学校工程", district_id=db_, category="building", floor_area_m2=12_000)
    w = World(district_a=da, district_b=db_, project_a=pa, project_b=pb, project_c=pc)
    for pid, contractor in ((pa, gc), (pb, gc), (pc, other)):
        await org.change_status(pid, "under_construction", effective_on=date.today() - timedelta(days=30),
                                note="开工", user_id=None)
        w.units[pid] = {
            "general_contractor": await org.add_unit(pid, contractor, "general_contractor"),
            "supervision_firm": await org.add_unit(pid, sup, "supervision_firm"),
        }
        w.teams[pid] = {t["name"]: t["id"] for t in await org.list_teams(pid)}
        w.teams[pid]["钢筋班组"] = await org.create_team(pid, w.units[pid]["general_contractor"], "钢筋班组")
    # foreman_a is the 班组长 of project A's 钢筋班组 (team.leader = their person): a foreman sees their own team
    from backend.org.tables import Team
    from backend.workforce import services as workforce

    leader_a = await workforce.upsert_person(id_number=w.id_number(), name="钢筋班组长")
    await workforce.enter_roster(project_id=pa, person_id=leader_a, unit_id=w.units[pa]["general_contractor"],
                                 team_id=w.teams[pa]["钢筋班组"], work_role="worker", work_type="020",
                                 entered_on=date.today() - timedelta(days=30))
    await Team.update({Team.leader: leader_a}).where(Team.id == w.teams[pa]["钢筋班组"])
    made = await create_vendor("测试设备厂商")
    w.vendor, w.vendor_code = made.vendor_id, made.code
    for label, role, kw in (
        ("admin", "admin", {}),
        ("supervisor_a", "supervisor", {"district_ids": [da]}),
        ("supervisor_b", "supervisor", {"district_ids": [db_]}),
        ("enterprise_gc", "enterprise", {"enterprise_id": gc}),
        ("staff_a", "project_staff", {"project_ids": [pa]}),
        ("foreman_a", "foreman", {"project_ids": [pa], "person_id": leader_a}),
        ("foreman_c", "foreman", {"project_ids": [pc]}),
        ("vendor", "vendor", {"vendor_id": w.vendor}),
    ):
        username = unique(f"t_{label}_")
        await create_user(username, PASSWORD, role, **kw)
        w.users[label] = username
    return w


@pytest.fixture(scope="module")
def world(pristine_world: World) -> World:
    """The world, in this module's own database (cloned from the world template): a copy of the pristine
    ``World`` (its random generator included), so one module's changes never reach another."""
    return copy.deepcopy(pristine_world)


@asynccontextmanager
async def app_client(address: str = "testclient") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the real app, in the test's own event loop (the database pool opened by
    ``migrated_db`` belongs to it; Litestar's AsyncTestClient would run the app on another loop, where a
    PostgreSQL pool cannot be used).  ``address`` is the client address the app sees."""
    from backend.app import create_app
    from backend.runtime import AppServices
    from tests.shared_services import shared_face_service

    services = AppServices.build(face=shared_face_service())
    transport = httpx.ASGITransport(app=create_app(services=services), client=(address, 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c
    finally:  # the app's services (the live map's LISTEN task, parse workers); the face pool is the session's
        await services.aclose()


@pytest.fixture(scope="module")
async def client(migrated_db: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over a fresh app, for this module (its database is the module's own)."""
    async with app_client() as c:
        yield c


@pytest.fixture(scope="module")
def cheap_password_hashing() -> Iterator[None]:
    """Accounts made in a module that asks for this get cheap argon2 parameters (the default costs ~0.4 s
    per hash here); the flow is the real one, only the work factor is lower."""
    from argon2 import PasswordHasher

    import backend.accounts.services as accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)
        yield


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for ``username`` (API-client style; cookie login is tested separately)."""
    r = await client.post("/api/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class BearerHeaders:
    """``await auth(username)``: bearer headers issued directly (no password round trip), cached per instance —
    one instance per test module, so a module that changes a password cannot hand another a revoked token."""

    def __init__(self) -> None:
        self._headers: dict[str, dict[str, str]] = {}

    async def __call__(self, username: str) -> dict[str, str]:
        if username not in self._headers:
            from backend.accounts.services import issue_token

            self._headers[username] = {"Authorization": f"Bearer {await issue_token(await user_id(username), 'bearer')}"}
        return self._headers[username]


async def user_id(username: str) -> int:
    from backend.accounts.tables import User

    row = await User.select(User.id).where(User.username == username).first()
    assert row is not None, username
    return row["id"]
