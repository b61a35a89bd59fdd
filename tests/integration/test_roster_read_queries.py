"""The roster API (``GET /api/projects/{id}/roster/``) read at speed (issue 18: a 110-row roster ≥ 0.25× bare
Litestar on PostgreSQL): the queries one request issues are few and do not grow with the roster (no query per
row), and the service answers the same rows whichever way it reads them — on a pooled PostgreSQL connection
directly, or through Piccolo (inside a transaction, and on SQLite).

Queries are counted at the driver (asyncpg / aiosqlite), so a statement that bypasses Piccolo is counted too;
the connection pool's reset on release is housekeeping, not a query of the request, and is not counted."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import msgspec
import pytest

from tests.integration.conftest import BearerHeaders, unique, unique_name

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

auth = BearerHeaders()


@contextmanager
def counting_queries() -> Iterator[list[str]]:
    """The statements sent to the database while the block runs (PRAGMAs and the pool's reset left out)."""
    import aiosqlite
    import asyncpg

    seen: list[str] = []

    def counted(original, position: int = 1):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            sql = str(args[position]) if len(args) > position else str(kwargs.get("query", kwargs.get("sql", "")))
            if not sql.lstrip().upper().startswith("PRAGMA") and "pg_advisory_unlock_all" not in sql:
                seen.append(sql)
            return original(*args, **kwargs)

        return wrapper

    with pytest.MonkeyPatch.context() as mp:
        for name in ("fetch", "fetchrow", "fetchval", "execute", "executemany"):
            mp.setattr(asyncpg.Connection, name, counted(getattr(asyncpg.Connection, name)))
        for name in ("execute", "executemany", "execute_fetchall"):
            mp.setattr(aiosqlite.Connection, name, counted(getattr(aiosqlite.Connection, name)))
        yield seen


@dataclass
class Site:
    project: int
    team: int
    other_team: int
    staff: str
    foreman: str


async def make_site(world, people: int) -> Site:
    """A project with ``people`` on its roster (every third in a second team), a project-staff account and the
    班组长 of the first team."""
    from backend.accounts.services import create_user
    from backend.demo import fake_uscc
    from backend.org import services as org
    from backend.org.tables import Team
    from backend.workforce import services as workforce

    rng = random.Random(people)
    ent = await org.create_enterprise(unique("花名册读取总包") + "有限公司", fake_uscc(rng, "110101"))
    pid = await org.create_project(name=unique("花名册读取工程"), district_id=world.district_a, category="building",
                                   floor_area_m2=9_000, lon=116.40, lat=39.91)
    unit = await org.add_unit(pid, ent, "general_contractor")
    team = await org.create_team(pid, unit, "木工班组")
    other = await org.create_team(pid, unit, "瓦工班组")
    persons = []
    for i in range(people):
        person = await workforce.upsert_person(id_number=world.id_number(), name=unique_name("读取工人"))
        await workforce.enter_roster(project_id=pid, person_id=person, unit_id=unit,
                                     team_id=other if i % 3 == 2 else team, work_role="worker", work_type="020",
                                     entered_on=date.today() - timedelta(days=10))
        persons.append(person)
    await Team.update({Team.leader: persons[0]}).where(Team.id == team)
    staff, foreman = unique("t_rr_staff_"), unique("t_rr_foreman_")
    await create_user(staff, "rr-pass-2026", "project_staff", project_ids=[pid])
    await create_user(foreman, "rr-pass-2026", "foreman", project_ids=[pid], person_id=persons[0])
    return Site(pid, team, other, staff, foreman)


@pytest.fixture(scope="module")
async def sites(migrated_db, world) -> tuple[Site, Site]:
    return await make_site(world, 6), await make_site(world, 45)


async def until_cached(client, headers: dict[str, str]) -> None:
    """Ask until the who-is-asking cache answers (on PostgreSQL it trusts itself only once its LISTEN is up), so
    that every counted request finds it in the same state."""
    from tests.integration.services_fixtures import services_of_client

    cache = services_of_client(client).principals
    for _ in range(100):
        before = cache.hits
        assert (await client.get("/api/me", headers=headers)).status_code == 200
        if cache.hits > before or cache.ttl_s <= 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the who-is-asking cache never answered")


async def queries_of(client, url: str, headers: dict[str, str]) -> int:
    await until_cached(client, headers)
    await client.get(url, headers=headers)  # warm: the connections, the statements
    with counting_queries() as seen:
        r = await client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    return len(seen)


async def test_a_roster_request_issues_the_same_few_queries_for_6_and_45_rows(client, sites) -> None:
    short, long_ = sites
    for role, extra in (("staff", 2), ("foreman", 3)):
        beyond_me = []
        for site in (short, long_):
            h = await auth(getattr(site, role))
            me = await queries_of(client, "/api/me", h)  # who is asking: the same for every request
            roster = await queries_of(client, f"/api/projects/{site.project}/roster/", h)
            beyond_me.append(roster - me)
        # project staff: the scope check and the roster; a foreman also the teams they lead — whatever its length
        assert beyond_me[0] == beyond_me[1] <= extra, (role, beyond_me)


async def test_the_roster_answer_is_the_same_read_directly_and_through_piccolo(client, sites) -> None:
    from backend.db import engine
    from backend.workforce import services as workforce
    from backend.workforce.schemas import RosterRowOut
    from backend.workforce.tables import RosterEntry

    assert workforce.ROSTER_FIELDS == RosterRowOut.__struct_fields__
    site = sites[1]
    entries = await RosterEntry.select(RosterEntry.id).where(RosterEntry.project == site.project).order_by(RosterEntry.id)
    await RosterEntry.update({RosterEntry.exited_on: date.today()}).where(RosterEntry.id == entries[1]["id"])
    shapes = [{}, {"active_only": True}, {"teams": {site.team}}, {"teams": {site.team, site.other_team}},
              {"active_only": True, "teams": {site.other_team}}]
    for kw in shapes:
        direct = await workforce.roster_values(site.project, **kw)  # type: ignore[arg-type]
        async with engine().transaction():  # in a transaction: always through Piccolo, on its connection
            piccolo = await workforce.roster_values(site.project, **kw)  # type: ignore[arg-type]
        assert msgspec.to_builtins(direct) == msgspec.to_builtins(piccolo), kw
        assert direct, kw
        assert [v[0] for v in direct] == sorted(v[0] for v in direct), kw
    everyone = await workforce.roster_values(site.project)
    active = await workforce.roster_values(site.project, active_only=True)
    assert len(everyone) == 45 and len(active) == 44
    assert all(len(v) == len(workforce.ROSTER_FIELDS) for v in everyone)
    # the values have the types Piccolo's own select gives them (on SQLite the statement bypasses its converters)
    typed = await RosterEntry.select(RosterEntry.id, RosterEntry.person, RosterEntry.unit, RosterEntry.team,
                                     RosterEntry.entered_on, RosterEntry.exited_on).where(
        RosterEntry.project == site.project).order_by(RosterEntry.id)
    assert [(v[0], v[1], v[5], v[6], v[14], v[15]) for v in everyone] == [tuple(r.values()) for r in typed]
    assert all(type(v[0]) is int and type(v[6]) is int and type(v[14]) is date for v in everyone)
    assert sum(v[15] == date.today() for v in everyone) == 1

    for username, active_flag in ((site.staff, "false"), (site.staff, "true"), (site.foreman, "false")):
        r = await client.get(f"/api/projects/{site.project}/roster/?active={active_flag}",
                             headers=await auth(username))
        assert r.status_code == 200, r.text
        teams = {site.team} if username == site.foreman else None
        async with engine().transaction():
            expected = await workforce.list_roster(site.project, active_only=active_flag == "true", teams=teams)
        assert r.json() == msgspec.to_builtins(expected), (username, active_flag)
        assert all(set(row) == set(workforce.ROSTER_FIELDS) for row in r.json())
        assert all("*" in row["id_masked"] for row in r.json())
    foreman_rows = (await client.get(f"/api/projects/{site.project}/roster/", headers=await auth(site.foreman))).json()
    assert foreman_rows and {row["team"] for row in foreman_rows} == {site.team}
