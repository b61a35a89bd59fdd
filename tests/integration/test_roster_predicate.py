"""One roster predicate (backend.workforce.services.on_roster): entered on or before day D, not exited before D.

The phone's project picker (clockin) used to list every entry not exited — including one that starts
tomorrow (whose punch attendance rejects as not_on_roster) and excluding the exit day (which attendance
accepts).  Now both read the same predicate; these tests hold them together."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.attendance import batching
from backend.attendance.services import PunchIn, local_day, record_punch
from backend.clockin.services import my_projects
from backend.org.tables import Project
from backend.workforce import services as workforce
from backend.workforce.tables import RosterEntry

pytestmark = pytest.mark.integration


async def _today(project_id: int) -> date:
    tz = (await Project.select(Project.timezone).where(Project.id == project_id).first())["timezone"]
    return local_day(datetime.now(UTC), tz)


async def _entry(world, project: int, person: int, entered_on: date, exited_on: date | None = None) -> int:
    team = world.teams[project]["钢筋班组"]
    eid = await workforce.enter_roster(
        project_id=project, person_id=person, unit_id=world.units[project]["general_contractor"], team_id=team,
        work_role="worker", entered_on=min(entered_on, date.today()),
    )
    # entered_on may be in the future (a planned entry): written as stored, past the API's own checks
    await RosterEntry.update({RosterEntry.entered_on: entered_on, RosterEntry.exited_on: exited_on}).where(
        RosterEntry.id == eid)
    return eid


async def _attendance_says_on_roster(world, project: int, person: int) -> bool:
    now = datetime.now(UTC)
    v = await record_punch(PunchIn(source="mobile", project_id=project, person_id=person,
                                   idempotency_key=uuid.uuid4().hex, captured_at=now - timedelta(seconds=1),
                                   received_at=now))
    return "not_on_roster" not in v.reasons


async def test_roster_predicate_bounds_entry_day_and_exit_day_count(world):
    """Architecture rule (docs/architecture.md): the roster predicate — entered on or before D, not exited before D."""
    person = await workforce.upsert_person(id_number=world.id_number(), name="边界工人")
    p = world.project_a
    d = date(2026, 3, 10)
    await _entry(world, p, person, entered_on=d, exited_on=d + timedelta(days=5))

    async def held(day: date) -> bool:
        return await RosterEntry.exists().where((RosterEntry.person == person) & workforce.on_roster(day, p))

    assert [await held(d + timedelta(days=k)) for k in (-1, 0, 5, 6)] == [False, True, True, False]
    between = (RosterEntry.person == person) & workforce.on_roster_between(d - timedelta(days=9), d - timedelta(days=1))
    assert not await RosterEntry.exists().where(between)
    assert await RosterEntry.exists().where(
        (RosterEntry.person == person) & workforce.on_roster_between(d + timedelta(days=5), d + timedelta(days=30), [p]))


async def test_phone_project_picker_agrees_with_the_attendance_check(world):
    """The picker offers exactly the projects whose punch attendance would not reject as not_on_roster:
    the exit day is still offered; an entry starting tomorrow is not offered yet."""
    person = await workforce.upsert_person(id_number=world.id_number(), name="选项目工人")
    today_a = await _today(world.project_a)
    today_b = await _today(world.project_b)
    await _entry(world, world.project_a, person, entered_on=today_a - timedelta(days=10), exited_on=today_a)
    await _entry(world, world.project_b, person, entered_on=today_b + timedelta(days=1))

    offered = {p["id"] for p in await my_projects(person)}
    assert offered == {world.project_a}
    for project in (world.project_a, world.project_b):
        assert (project in offered) == await _attendance_says_on_roster(world, project, person), project


async def test_the_gate_batch_roster_query_is_the_roster_predicate(world):
    """The gate's batch asks the roster with a fixed statement (backend.attendance.batching._rostered, issue 18):
    it answers as ``on_roster`` does on every bound — the day before entry, entry day, exit day, the day after —
    for several people and projects in one question."""
    d = date(2026, 3, 10)
    people = [await workforce.upsert_person(id_number=world.id_number(), name="批量边界" + "甲乙丙"[i]) for i in range(3)]
    await _entry(world, world.project_a, people[0], entered_on=d, exited_on=d + timedelta(days=5))
    await _entry(world, world.project_b, people[0], entered_on=d + timedelta(days=3))
    await _entry(world, world.project_a, people[1], entered_on=d - timedelta(days=30))
    days = [d + timedelta(days=k) for k in (-1, 0, 3, 5, 6)]
    wanted = {(pe, pr, day) for pe in people for pr in (world.project_a, world.project_b) for day in days}
    expected = set()
    for pe, pr, day in wanted:
        if await RosterEntry.exists().where((RosterEntry.person == pe) & workforce.on_roster(day, pr)):
            expected.add((pe, pr, day))
    assert await batching._rostered(wanted) == expected
    assert (people[0], world.project_a, d + timedelta(days=5)) in expected  # the exit day counts
    assert (people[0], world.project_a, d + timedelta(days=6)) not in expected
    assert (people[0], world.project_b, d + timedelta(days=3)) in expected
