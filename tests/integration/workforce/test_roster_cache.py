"""The roster cache (issue 18) is never stale across a change: ``GET /api/projects/{id}/roster/`` answers from the
process's cache only while the project's ``roster_version`` — moved by database triggers (migration
smz_2026_12_03t08_30_00) on every change of what the roster shows, whoever writes it — is the one it was read at.

Each kind of change is made, then the next GET must show it at once: a roster entry added, an exit, a team move, a
person's name corrected, a team renamed, a team deleted, and an UPDATE on a connection of its own (another process,
the CLI, a psql session).  Writes the roster does not show (the exit note, a phone number, a team's leader, a value
set to what it already was) leave the version alone, so that they never empty the cache.  The scope stays: a
foreman sees only the teams they lead, and whoever does not see a project gets 404 whatever is cached."""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from tests.integration.conftest import BearerHeaders, unique, unique_name

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

auth = BearerHeaders()
MIGRATION = "backend.piccolo_migrations.smz_2026_12_03t08_30_00_000000"


async def roster(client, username: str, project_id: int, *, active: bool = False, status: int = 200) -> Any:
    r = await client.get(f"/api/projects/{project_id}/roster/?active={'true' if active else 'false'}",
                         headers=await auth(username))
    assert r.status_code == status, r.text
    return r.json()


async def uncached(project_id: int, **kw: Any) -> list[dict[str, Any]]:
    """The roster read straight from the database (in a transaction: never from the cache)."""
    from backend.db import engine
    from backend.workforce import services as workforce

    async with engine().transaction():
        return msgspec.to_builtins(await workforce.list_roster(project_id, **kw))


async def version(project_id: int) -> int:
    from backend.workforce.services import roster_version

    return await roster_version(project_id)


async def add_person(world, project_id: int, team_id: int) -> tuple[int, int]:
    from backend.workforce import services as workforce

    person = await workforce.upsert_person(id_number=world.id_number(), name=unique_name("缓存工人"))
    entry = await workforce.enter_roster(project_id=project_id, person_id=person,
                                         unit_id=world.units[project_id]["general_contractor"], team_id=team_id,
                                         work_role="worker", work_type="020",
                                         entered_on=date.today() - timedelta(days=5))
    return person, entry


async def outside_update(sql: str, *args: Any) -> None:
    """An UPDATE on a connection of its own, not the app's engine or pool: what another process makes."""
    from piccolo.engine.postgres import PostgresEngine

    from backend.db import engine

    eng = engine()
    if isinstance(eng, PostgresEngine):
        import asyncpg

        conn = await asyncpg.connect(**eng.config)
        try:
            await conn.execute(sql.replace("?", "$1", 1).replace("?", "$2", 1), *args)
        finally:
            await conn.close()
        return

    def run() -> None:
        with sqlite3.connect(str(eng.path), timeout=30) as conn:  # type: ignore[attr-defined]
            conn.execute(sql, args)
        conn.close()

    await asyncio.to_thread(run)


@pytest.fixture(scope="module")
async def site(world) -> dict[str, Any]:
    """Project A with a 木工班组 of three people besides the world's 钢筋班组 (led by foreman_a)."""
    from backend.org import services as org

    pa = world.project_a
    wood = await org.create_team(pa, world.units[pa]["general_contractor"], "木工班组")
    people = [await add_person(world, pa, wood) for _ in range(3)]
    return {"wood": wood, "people": people}


async def test_a_second_read_comes_from_the_cache_and_equals_the_database(client, world, site) -> None:
    from backend.workforce.services import ROSTER_CACHE

    staff = world.users["staff_a"]
    first = await roster(client, staff, world.project_a)
    hits = ROSTER_CACHE.hits
    again = await roster(client, staff, world.project_a)
    assert ROSTER_CACHE.hits == hits + 1
    assert again == first == await uncached(world.project_a)
    assert len(first) >= 4 and all("*" in row["id_masked"] for row in first)


async def test_a_new_roster_entry_shows_at_once(client, world, site) -> None:
    staff = world.users["staff_a"]
    before = await roster(client, staff, world.project_a)
    _, entry = await add_person(world, world.project_a, site["wood"])
    after = await roster(client, staff, world.project_a)
    assert [r["id"] for r in after] == [r["id"] for r in before] + [entry]
    assert after == await uncached(world.project_a)


async def test_an_exit_shows_at_once_and_leaves_the_active_roster(client, world, site) -> None:
    from backend.workforce import services as workforce

    staff = world.users["staff_a"]
    _, entry = site["people"][0]
    assert entry in [r["id"] for r in await roster(client, staff, world.project_a, active=True)]
    await roster(client, staff, world.project_a)  # both shapes cached
    await workforce.exit_roster(world.project_a, entry, workforce.ExitIn(
        exited_on=date.today(), confirmation_file=1, workload_confirmed=True, wages_settled=True))
    everyone = await roster(client, staff, world.project_a)
    assert next(r for r in everyone if r["id"] == entry)["exited_on"] == date.today().isoformat()
    assert entry not in [r["id"] for r in await roster(client, staff, world.project_a, active=True)]
    assert everyone == await uncached(world.project_a)


async def test_a_team_move_shows_at_once_also_to_the_foreman_of_the_new_team(client, world, site) -> None:
    from backend.workforce.tables import RosterEntry

    staff, foreman = world.users["staff_a"], world.users["foreman_a"]
    steel = world.teams[world.project_a]["钢筋班组"]
    _, entry = site["people"][1]
    assert entry not in [r["id"] for r in await roster(client, foreman, world.project_a)]
    await roster(client, staff, world.project_a)
    await RosterEntry.update({RosterEntry.team: steel}).where(RosterEntry.id == entry)
    moved = next(r for r in await roster(client, staff, world.project_a) if r["id"] == entry)
    assert (moved["team"], moved["team_name"]) == (steel, "钢筋班组")
    assert entry in [r["id"] for r in await roster(client, foreman, world.project_a)]
    await RosterEntry.update({RosterEntry.team: site["wood"]}).where(RosterEntry.id == entry)
    assert entry not in [r["id"] for r in await roster(client, foreman, world.project_a)]


async def test_a_corrected_name_shows_at_once(client, world, site) -> None:
    from backend.workforce import services as workforce

    staff = world.users["staff_a"]
    person, entry = site["people"][2]
    await roster(client, staff, world.project_a)
    new_name = unique_name("更正后")
    await workforce.correct_person(person, "name", new_name)
    assert next(r for r in await roster(client, staff, world.project_a) if r["id"] == entry)["name"] == new_name


async def test_a_renamed_team_shows_at_once(client, world, site) -> None:
    from backend.org.tables import Team

    staff = world.users["staff_a"]
    await roster(client, staff, world.project_a)
    name = unique("木工二班")
    await Team.update({Team.name: name}).where(Team.id == site["wood"])
    rows = [r for r in await roster(client, staff, world.project_a) if r["team"] == site["wood"]]
    assert rows and {r["team_name"] for r in rows} == {name}


async def test_a_deleted_team_moves_the_version(client, world, site) -> None:
    from backend.org import services as org
    from backend.org.tables import Team

    pa = world.project_a
    spare = await org.create_team(pa, world.units[pa]["general_contractor"], unique("临时班组"))
    before = await version(pa)
    await Team.delete().where(Team.id == spare)
    assert await version(pa) > before
    assert await roster(client, world.users["staff_a"], pa) == await uncached(pa)


async def test_an_update_from_another_connection_shows_at_once(client, world, site) -> None:
    staff = world.users["staff_a"]
    _, entry = site["people"][1]
    await roster(client, staff, world.project_a)
    await outside_update("UPDATE roster_entry SET work_type = ? WHERE id = ?", "010", entry)
    row = next(r for r in await roster(client, staff, world.project_a) if r["id"] == entry)
    assert row["work_type"] == "010" and row["work_type_label"]
    await outside_update("UPDATE person SET name = ? WHERE id = ?", "另一进程改名", site["people"][1][0])
    assert next(r for r in await roster(client, staff, world.project_a) if r["id"] == entry)["name"] == "另一进程改名"


async def test_writes_the_roster_does_not_show_leave_the_version_alone(client, world, site) -> None:
    from backend.org.tables import Team
    from backend.workforce.tables import Person, RosterEntry

    person, entry = site["people"][1]
    before = await version(world.project_a)
    await RosterEntry.update({RosterEntry.exit_note: "备注"}).where(RosterEntry.id == entry)
    await Person.update({Person.phone: "13800138000"}).where(Person.id == person)
    await Team.update({Team.leader: None}).where(Team.id == site["wood"])
    row = await RosterEntry.select().where(RosterEntry.id == entry).first()
    await RosterEntry.update({RosterEntry.team: row["team"], RosterEntry.work_type: row["work_type"],
                              RosterEntry.exited_on: row["exited_on"]}).where(RosterEntry.id == entry)
    await outside_update("UPDATE roster_entry SET entered_on = entered_on WHERE id = ?", entry)
    assert await version(world.project_a) == before


async def test_a_change_inside_a_transaction_is_never_cached(client, world, site) -> None:
    from backend.db import engine
    from backend.workforce import services as workforce
    from backend.workforce.tables import RosterEntry

    _, entry = site["people"][1]
    committed = await workforce.list_roster(world.project_a)

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with engine().transaction():
            await RosterEntry.update({RosterEntry.post: None, RosterEntry.work_type: "030"}).where(
                RosterEntry.id == entry)
            inside = await workforce.list_roster(world.project_a)
            assert next(r for r in inside if r["id"] == entry)["work_type"] == "030"
            raise Undo
    assert await workforce.list_roster(world.project_a) == committed


async def test_a_foreman_sees_only_their_teams_whatever_is_cached(client, world, site) -> None:
    staff, foreman = world.users["staff_a"], world.users["foreman_a"]
    steel = world.teams[world.project_a]["钢筋班组"]
    everyone = await roster(client, staff, world.project_a)
    assert {r["team"] for r in everyone} >= {steel, site["wood"]}
    for _ in range(2):
        mine = await roster(client, foreman, world.project_a)
        assert mine and {r["team"] for r in mine} == {steel}
        assert mine == await uncached(world.project_a, teams={steel})
    await roster(client, world.users["foreman_c"], world.project_a, status=404)


async def test_whoever_does_not_see_the_project_gets_404_from_a_warm_cache(client, world, site) -> None:
    from backend.accounts.services import create_user

    await roster(client, world.users["staff_a"], world.project_a)  # cached
    staff_b = unique("t_rc_staff_b_")
    await create_user(staff_b, "rc-pass-2026", "project_staff", project_ids=[world.project_b])
    assert await roster(client, staff_b, world.project_b) == await uncached(world.project_b)
    for username in (staff_b, world.users["supervisor_b"], world.users["vendor"], world.users["foreman_c"]):
        await roster(client, username, world.project_a, status=404)
    for username in ("admin", "supervisor_a", "enterprise_gc"):
        assert await roster(client, world.users[username], world.project_a) == await uncached(world.project_a)
    worker = unique("t_rc_worker_")
    await create_user(worker, "rc-pass-2026", "worker", person_id=site["people"][0][0])
    await roster(client, worker, world.project_a, status=403)  # their own project: not the whole roster
    await roster(client, worker, world.project_c, status=404)


async def test_the_scope_check_answers_as_the_visible_projects_do(client, world, site) -> None:
    from backend.accounts.services import can_see_project, load_user, visible_project_ids
    from tests.integration.conftest import user_id

    projects = (world.project_a, world.project_b, world.project_c, 999_999)
    for label, username in world.users.items():
        user = await load_user(await user_id(username))
        visible = await visible_project_ids(user)
        for pid in projects:
            assert await can_see_project(user, pid) == (visible is None or pid in visible), (label, pid)


async def test_every_trigger_of_the_migration_is_in_the_database(client, world) -> None:
    from backend.workforce import services as workforce

    migration = importlib.import_module(MIGRATION)
    assert tuple(t for _, t in migration.TRIGGERS) == workforce._ROSTER_TRIGGERS
    assert tuple(t for _, t in migration.PG_TRIGGERS) == workforce._ROSTER_PG_TRIGGERS
    workforce.ROSTER_CACHE.triggers.clear()  # ask the database again
    from backend.db import engine

    database = workforce._database_of(engine())
    from piccolo.engine.postgres import PostgresEngine

    assert await workforce._triggers_present(database, isinstance(engine(), PostgresEngine))


async def test_a_truncate_moves_every_roster_version_on_postgresql(client, world, site) -> None:
    from piccolo.engine.postgres import PostgresEngine

    from backend.db import engine

    eng = engine()
    if not isinstance(eng, PostgresEngine):
        pytest.skip("SQLite has no TRUNCATE: its DELETE without WHERE fires the row triggers")
    import asyncpg

    before = await version(world.project_a)
    conn = await asyncpg.connect(**eng.config)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("TRUNCATE roster_entry CASCADE")
        inside = await conn.fetchval("SELECT version FROM roster_version WHERE project = $1", world.project_a)
        await tx.rollback()  # the module's data stays
    finally:
        await conn.close()
    assert inside > before
