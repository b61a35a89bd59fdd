"""The full-ID access log (issue 20 B.3; docs/security.md §6): every path that decrypts ID numbers for a person to
take away writes one row — who, when, which project, which people, how many, why — in the same transaction as
the read (no row, no export); the district reads its own log (filters: user, date range), another district's
supervisor does not see it, a foreman cannot read it.  (The bank file's row: tests/integration/wages/
test_wage_payroll_flow.py checks count and person ids.)"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from backend.vocabulary import local_today
from backend.workforce import id_access
from backend.workforce import services as workforce
from backend.workforce.tables import IdAccessLog
from tests.integration.conftest import login

pytestmark = pytest.mark.integration


async def on_roster(world: Any, project: int, name: str) -> int:
    pid = await workforce.upsert_person(id_number=world.id_number(), name=name)
    await workforce.enter_roster(project_id=project, person_id=pid, unit_id=world.units[project]["general_contractor"],
                                 team_id=world.teams[project]["钢筋班组"], work_role="worker", work_type="020",
                                 entered_on=date.today() - timedelta(days=3))
    return pid


def ids_of(row: dict[str, Any]) -> list[int]:
    v = row["person_ids"]
    return v if isinstance(v, list) else json.loads(v)


async def last_row() -> dict[str, Any]:
    row = await IdAccessLog.select().order_by(IdAccessLog.id, ascending=False).first()
    assert row is not None
    return row


async def test_a_full_id_roster_export_logs_who_which_people_and_why(client, world):
    pid = await on_roster(world, world.project_a, "导出工人")
    h = await login(client, world.users["staff_a"])
    before = await IdAccessLog.count()
    r = await client.get(f"/api/projects/{world.project_a}/crew/export",
                         params={"full_id": "true", "reason": "报送主管部门"}, headers=h)
    assert r.status_code == 200, r.text
    assert await IdAccessLog.count() == before + 1
    row = await last_row()
    assert (row["username"], row["kind"], row["reason"], row["project"]) == (
        world.users["staff_a"], "roster_export", "报送主管部门", world.project_a)
    assert pid in ids_of(row) and row["records"] >= 2  # the team leader and this worker at least
    # masked exports are not logged
    r = await client.get(f"/api/projects/{world.project_a}/crew/export", headers=h)
    assert r.status_code == 200 and await IdAccessLog.count() == before + 1


async def test_a_person_export_is_logged_and_fails_when_the_log_cannot_be_written(client, world, monkeypatch):
    pid = await on_roster(world, world.project_a, "本人导出工人")
    h = await login(client, world.users["staff_a"])
    r = await client.get(f"/api/privacy/people/{pid}/export", params={"reason": "本人申请"}, headers=h)
    assert r.status_code == 200, r.text
    row = await last_row()
    assert (row["kind"], row["reason"], ids_of(row), row["records"]) == ("person_export", "本人申请", [pid], 1)

    async def broken(*_a: Any, **_kw: Any) -> int:
        raise RuntimeError("log table unavailable")

    monkeypatch.setattr(id_access, "log_access", broken)
    count = await IdAccessLog.count()
    r = await client.get(f"/api/privacy/people/{pid}/export", headers=h)
    assert r.status_code == 500 and r.content[:2] != b"PK"  # no archive leaves without its log row
    r = await client.get(f"/api/projects/{world.project_a}/crew/export", params={"full_id": "true", "reason": "核对"},
                         headers=h)
    assert r.status_code == 500 and await IdAccessLog.count() == count


async def test_the_district_reads_its_log_with_filters_and_another_district_does_not(client, world):
    pa = await on_roster(world, world.project_a, "甲区导出工人")
    pc = await on_roster(world, world.project_c, "乙区导出工人")
    staff = await login(client, world.users["staff_a"])
    assert (await client.get(f"/api/privacy/people/{pa}/export", headers=staff)).status_code == 200
    sup_b = await login(client, world.users["supervisor_b"])
    assert (await client.get(f"/api/privacy/people/{pc}/export", headers=sup_b)).status_code == 200

    sup_a = await login(client, world.users["supervisor_a"])
    rows = (await client.get("/api/privacy/id-access", headers=sup_a)).json()
    assert any(pa in r["person_ids"] for r in rows)
    assert all(r["project"] in (world.project_a, world.project_b) for r in rows)  # district A's projects only
    assert not any(pc in r["person_ids"] for r in rows)
    mine = (await client.get("/api/privacy/id-access", params={"username": world.users["staff_a"]}, headers=sup_a)).json()
    assert mine and {r["username"] for r in mine} == {world.users["staff_a"]}
    today = local_today().isoformat()
    dated = (await client.get("/api/privacy/id-access", params={"since": today, "until": today}, headers=sup_a)).json()
    assert any(pa in r["person_ids"] for r in dated)
    past = (await client.get("/api/privacy/id-access", params={"until": "2020-01-01"}, headers=sup_a)).json()
    assert past == []
    by_person = (await client.get("/api/privacy/id-access", params={"person_id": pa}, headers=sup_a)).json()
    assert by_person and all(pa in r["person_ids"] for r in by_person)

    rows_b = (await client.get("/api/privacy/id-access", headers=sup_b)).json()
    assert any(pc in r["person_ids"] for r in rows_b) and not any(pa in r["person_ids"] for r in rows_b)
    page = await client.get("/privacy/id-access", headers=sup_a)
    assert page.status_code == 200 and "身份证号访问记录" in page.text and "个人信息导出" in page.text
    foreman = await login(client, world.users["foreman_a"])
    assert (await client.get("/api/privacy/id-access", headers=foreman)).status_code == 403
    admin = await login(client, world.users["admin"])
    everything = (await client.get("/api/privacy/id-access", headers=admin)).json()
    assert any(pa in r["person_ids"] for r in everything) and any(pc in r["person_ids"] for r in everything)
