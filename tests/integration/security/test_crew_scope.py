"""Security issue items 5, 6, 8, 9, 10, 15: roster and crew data scope and validation.

Each test reproduces an attack against the real app and database and shows it refused:
5  the roster API neither reveals whose an ID number is nor changes another tenant's person;
6  a worker sees only their own registration and contracts, never import jobs or others' files;
8  one rule for person names; the roster export neutralises formulas;
9  control/invisible characters refused at the door; stored ones never break an export;
10 full ID numbers only for project staff / the district supervisor / admins, each export logged with its
   reason; a foreman sees only the teams they lead;
15 make-up direction, team leader and district name validated; SQLite enforces foreign keys.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.integration.conftest import BearerHeaders, unique, user_id
from tests.integration.people_kit import exit_body

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]

PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


auth = BearerHeaders()




async def new_user(role: str, **kw: Any) -> str:
    from backend.accounts.services import create_user

    username = unique(f"t_sec_{role}_")
    await create_user(username, "sec-pass-2026", role, **kw)
    return username


async def on_roster(world: Any, project: int, *, name: str = "花名册人员", team: str | int = "钢筋班组",
                    phone: str | None = None, id_number: str | None = None) -> tuple[int, int, str]:
    """A worker on a project's roster (services, as an administrator would): person, entry, ID number."""
    from backend.workforce import services as workforce

    number = id_number or world.id_number()
    person, entry, _ = await workforce.register_and_enter(
        project_id=project, id_number=number, name=name, phone=phone, ethnicity="01", birth_date=None,
        gender=None, unit_id=world.units[project]["general_contractor"],
        team_id=team if isinstance(team, int) else world.teams[project][team],
        work_role="worker", post=None, work_type="020", entered_on=date.today() - timedelta(days=5))
    return person, entry, number


def roster_body(world: Any, project: int, **kw: Any) -> dict[str, Any]:
    body = {"id_number": world.id_number(), "name": "正常姓名", "unit_id": world.units[project]["general_contractor"],
            "team_id": world.teams[project]["钢筋班组"], "work_role": "worker", "work_type": "020"}
    body.update(kw)
    return body


async def add_contract(client: Any, h: dict[str, str], project: int, entry: int) -> int:
    r = await client.post(
        f"/api/projects/{project}/crew/roster/{entry}/contracts", headers=h,
        data={"contract_type": "fixed_term", "starts_on": date.today().isoformat(),
              "ends_on": (date.today() + timedelta(days=300)).isoformat()},
        files={"contract_file": ("c.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def sheet_rows(content: bytes) -> list[tuple[Any, ...]]:
    return list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))


# ------------------------------------------------------------------------------------------- item 5


async def test_roster_api_wrong_name_does_not_reveal_the_registered_name(client, world):
    _, _, number = await on_roster(world, world.project_c, name="乙区真名")
    staff = await auth(world.users["staff_a"])
    r = await client.post(f"/api/projects/{world.project_a}/roster", headers=staff,
                          json=roster_body(world, world.project_a, id_number=number, name="冒名顶替"))
    assert r.status_code == 409 and r.json()["code"] == "name_mismatch"
    assert r.json()["message"] == "此身份证号已登记，姓名不符"
    assert "乙区真名" not in r.text


async def test_roster_api_right_name_keeps_other_tenants_phone_and_hides_their_project(client, world):
    from backend.workforce.tables import Person

    person, _, number = await on_roster(world, world.project_c, name="两地工人", phone="13800000001")
    staff = await auth(world.users["staff_a"])
    r = await client.post(f"/api/projects/{world.project_a}/roster", headers=staff,
                          json=roster_body(world, world.project_a, id_number=number, name="两地工人",
                                           phone="13900000002"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kept_fields"] == ["phone"] and "手机号" in body["message"]
    assert (await Person.select(Person.phone).where(Person.id == person).first())["phone"] == "13800000001"
    (other,) = body["active_elsewhere"]
    assert other["project"] is None and "乙区学校工程" not in r.text


async def test_roster_api_owner_project_may_still_update_its_own_persons_phone(client, world):
    from backend.workforce.tables import Person

    person, entry, number = await on_roster(world, world.project_a, name="本项目工人", phone="13800000003")
    admin = await auth(world.users["admin"])
    r = await client.post(f"/api/projects/{world.project_a}/roster/{entry}/exit", headers=admin,
                          json=await exit_body(client, admin, world.project_a, date.today()))
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/projects/{world.project_a}/roster", headers=admin,
                          json=roster_body(world, world.project_a, id_number=number, name="本项目工人",
                                           phone="13900000004"))
    assert r.status_code == 201 and r.json()["kept_fields"] == []
    assert (await Person.select(Person.phone).where(Person.id == person).first())["phone"] == "13900000004"


# ------------------------------------------------------------------------------------------- item 6


async def test_worker_sees_only_own_registration_and_contracts_and_no_import_jobs(client, world):
    from backend.crew.tables import CrewFile, ImportJob, LabourContract, Registration

    pa = world.project_a
    me, my_entry, _ = await on_roster(world, pa, name="工人本人")
    other, other_entry, _ = await on_roster(world, pa, name="别的工人")
    worker = await auth(await new_user("worker", person_id=me))
    staff = await auth(world.users["staff_a"])
    mine_c = await add_contract(client, staff, pa, my_entry)
    other_c = await add_contract(client, staff, pa, other_entry)
    for pid in (me, other):
        await Registration(project=pa, person=pid, status="completed").save()
    job = ImportJob(project=pa, created_by=await user_id(world.users["staff_a"]), status="failed",
                    errors=[{"row": 2, "message": "别的工人 出错"}])
    await job.save()
    other_file = (await LabourContract.select(LabourContract.file).where(LabourContract.id == other_c).first())["file"]
    assert await CrewFile.exists().where(CrewFile.id == other_file)

    base = f"/api/projects/{pa}/crew"
    regs = (await client.get(f"{base}/registrations?all=true", headers=worker)).json()
    assert regs and {r["person"] for r in regs} == {me}
    contracts = (await client.get(f"{base}/contracts", headers=worker)).json()
    assert [c["id"] for c in contracts] == [mine_c]
    assert (await client.get(f"{base}/roster/{other_entry}/contracts", headers=worker)).json() == []
    assert [c["id"] for c in (await client.get(f"{base}/roster/{my_entry}/contracts", headers=worker)).json()] == [mine_c]
    for url in (f"{base}/import/{job.id}", f"/projects/{pa}/crew/import/{job.id}", f"{base}/roster",
                f"{base}/export", f"{base}/files/{other_file}", f"/projects/{pa}/crew",
                f"/projects/{pa}/crew/entries/{other_entry}", f"/api/projects/{pa}/roster"):
        r = await client.get(url, headers=worker)
        assert r.status_code in (403, 404), (url, r.status_code)
        assert "别的工人" not in r.text, url


# ------------------------------------------------------------------------------------------- item 10


async def test_full_id_export_refused_to_foreman_and_enterprise(client, world):
    for who in ("foreman_a", "enterprise_gc"):
        r = await client.get(f"/api/projects/{world.project_a}/crew/export?full_id=true&reason=x",
                             headers=await auth(world.users[who]))
        assert r.status_code == 403 and r.json()["code"] == "full_id_forbidden", who


async def test_full_id_export_needs_a_reason_and_is_logged_for_the_district_supervisor(client, world):
    from backend.crew.tables import IdAccessLog

    _, _, number = await on_roster(world, world.project_a, name="全号导出")
    staff = await auth(world.users["staff_a"])
    url = f"/api/projects/{world.project_a}/crew/export?full_id=true"
    r = await client.get(url, headers=staff)
    assert r.status_code == 400 and r.json()["field"] == "reason"
    before = await IdAccessLog.count()
    r = await client.get(url + "&reason=报送工资专户银行", headers=staff)
    assert r.status_code == 200
    rows = sheet_rows(r.content)
    assert number in {row[1] for row in rows}
    assert await IdAccessLog.count() == before + 1
    log = (await client.get("/api/crew/id-access-log", headers=await auth(world.users["supervisor_a"]))).json()
    entry = log[0]
    assert entry["username"] == world.users["staff_a"] and entry["project"] == world.project_a
    assert entry["records"] == len(rows) - 1 and entry["reason"] == "报送工资专户银行" and entry["accessed_at"]
    other = (await client.get("/api/crew/id-access-log", headers=await auth(world.users["supervisor_b"]))).json()
    assert all(e["project"] != world.project_a for e in other)
    for who in ("staff_a", "foreman_a", "enterprise_gc"):
        r = await client.get("/api/crew/id-access-log", headers=await auth(world.users[who]))
        assert r.status_code == 403, who


async def test_foreman_sees_only_the_teams_they_lead(client, world):
    from backend.org import services as org

    pa = world.project_a
    leader, _, _ = await on_roster(world, pa, name="班组长甲")
    team = await org.create_team(pa, world.units[pa]["general_contractor"], unique("木工班组"),
                                 leader_person_id=leader)
    _, mine_entry, _ = await on_roster(world, pa, name="本组工人", team=team)
    _, other_entry, _ = await on_roster(world, pa, name="他组工人")
    staff = await auth(world.users["staff_a"])
    await add_contract(client, staff, pa, mine_entry)
    await add_contract(client, staff, pa, other_entry)
    foreman = await auth(await new_user("foreman", person_id=leader, project_ids=[pa]))

    roster = (await client.get(f"/api/projects/{pa}/crew/roster?active=false", headers=foreman)).json()
    assert {r["name"] for r in roster} == {"本组工人"}
    plain = (await client.get(f"/api/projects/{pa}/roster", headers=foreman)).json()
    assert {r["name"] for r in plain} == {"本组工人"}
    contracts = (await client.get(f"/api/projects/{pa}/crew/contracts", headers=foreman)).json()
    assert {c["name"] for c in contracts} == {"本组工人"}
    export = await client.get(f"/api/projects/{pa}/crew/export", headers=foreman)
    assert [r[0] for r in sheet_rows(export.content)[1:]] == ["本组工人"]
    page = await client.get(f"/projects/{pa}/crew/entries/{other_entry}", headers=foreman)
    assert page.status_code == 404

    teamless = await auth(await new_user("foreman", project_ids=[pa]))  # leads no team: sees nothing, not everything
    assert (await client.get(f"/api/projects/{pa}/crew/roster?active=false", headers=teamless)).json() == []
    assert (await client.get(f"/api/projects/{pa}/roster", headers=teamless)).json() == []
    assert (await client.get(f"/api/projects/{pa}/crew/contracts", headers=teamless)).json() == []
    export = await client.get(f"/api/projects/{pa}/crew/export", headers=teamless)
    assert sheet_rows(export.content)[1:] == []


# ------------------------------------------------------------------------------------------- items 8, 9


@pytest.mark.parametrize("name", ["张3", "<b>张三</b>", "=HYPERLINK(\"http://x\")", "@SUM(A1)", "张\u0000三",
                                  "张\u202e三", "张\u200b三", "张\u0007三", "  "])
async def test_roster_api_refuses_names_the_tablet_form_refuses(client, world, name):
    r = await client.post(f"/api/projects/{world.project_a}/roster", headers=await auth(world.users["staff_a"]),
                          json=roster_body(world, world.project_a, name=name))
    assert r.status_code == 400 and r.json()["field"] == "name", r.text
    assert r.json()["code"] in ("invalid_name", "invisible_characters")


async def test_roster_export_neutralises_formulas_and_survives_stored_control_characters(client, world):
    from backend.workforce.tables import Person

    formula, _, _ = await on_roster(world, world.project_a, name="公式人")
    broken, _, _ = await on_roster(world, world.project_a, name="坏字符")
    # data stored before the checks existed (or by another way in): written straight to the table
    await Person.update({Person.name: '=HYPERLINK("http://evil.example","点我")', Person.address: "@SUM(1+1)"}).where(
        Person.id == formula)
    # (U+0001: PostgreSQL cannot store NUL at all; SQLite can — both are illegal in XML 1.0)
    await Person.update({Person.name: "张\u0001三", Person.address: "-2+3"}).where(Person.id == broken)
    r = await client.get(f"/api/projects/{world.project_a}/crew/export", headers=await auth(world.users["staff_a"]))
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
    cells = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    evil = cells["'=HYPERLINK(\"http://evil.example\",\"点我\")"]
    assert evil[0].data_type == "s" and evil[6].value == "'@SUM(1+1)"
    assert cells["张\ufffd三"][6].value == "'-2+3"
    assert all(not str(c.value or "").startswith(("=", "+", "-", "@")) for row in ws.iter_rows() for c in row)


async def test_tablet_form_fields_refuse_control_characters(client, world):
    r = await client.post(f"/api/projects/{world.project_a}/crew/registrations",
                          headers=await auth(world.users["staff_a"]),
                          data={"id_number": world.id_number(), "name": "张三", "address": "某地\u202e址"},
                          files={"id_front": ("f.jpg", b"x", "image/jpeg")})
    assert r.status_code == 400 and r.json()["code"] == "invisible_characters" and r.json()["field"] == "address"


# ------------------------------------------------------------------------------------------- item 15


async def test_makeup_direction_must_be_in_or_out(client, world):
    person, _, _ = await on_roster(world, world.project_a, name="补卡工人")
    when = datetime.now(UTC) - timedelta(hours=3)
    for direction in ("x" * 5000, "sideways"):
        r = await client.post("/api/makeups/", headers=await auth(world.users["staff_a"]), data={
            "person_id": str(person), "project_id": str(world.project_a), "punch_time": when.isoformat(),
            "reason": "rain", "direction": direction})
        assert r.status_code == 400 and r.json()["field"] == "direction", r.text


async def test_team_leader_must_be_on_this_projects_roster(client, world):
    pa = world.project_a
    admin = await auth(world.users["admin"])
    elsewhere, _, _ = await on_roster(world, world.project_c, name="外项目班组长")
    url = f"/api/projects/{pa}/teams"
    for leader in (elsewhere, 2_000_000_000):
        r = await client.post(url, headers=admin, json={"unit_id": world.units[pa]["general_contractor"],
                                                        "name": unique("班组"), "leader_person_id": leader})
        assert r.status_code == 400 and r.json()["field"] == "leader_person_id", r.text
    here, _, _ = await on_roster(world, pa, name="本项目班组长")
    r = await client.post(url, headers=admin, json={"unit_id": world.units[pa]["general_contractor"],
                                                    "name": unique("班组"), "leader_person_id": here})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("name", ["", "   ", "\u3000", "甲\u200b区", "区\u0000"])
async def test_district_name_empty_or_invisible_is_refused(client, world, name):
    r = await client.post("/api/districts", headers=await auth(world.users["admin"]),
                          json={"code": "9" + unique("").zfill(7), "name": name})
    assert r.status_code == 400 and r.json()["field"] == "name", r.text


async def test_team_name_with_rtl_override_is_refused(client, world):
    pa = world.project_a
    r = await client.post(f"/api/projects/{pa}/teams", headers=await auth(world.users["admin"]),
                          json={"unit_id": world.units[pa]["general_contractor"], "name": "钢筋\u202e组班"})
    assert r.status_code == 400 and r.json()["code"] == "invisible_characters"


async def test_database_enforces_foreign_keys(world):
    from backend.workforce.tables import RosterEntry

    pa = world.project_a
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await RosterEntry(person=2_000_000_000, project=pa, unit=world.units[pa]["general_contractor"],
                          team=world.teams[pa]["钢筋班组"], work_role="worker", entered_on=date.today()).save()
