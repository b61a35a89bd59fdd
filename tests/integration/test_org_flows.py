"""Organisation and workforce flows through HTTP: districts, enterprises, projects and their status
history, units with their automatic management teams, teams, roster enter/exit, terminals — and the
ID number kept encrypted at rest and masked on every way out."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from tests.integration.conftest import BearerHeaders, unique, unique_name, user_id
from tests.integration.people_kit import exit_body

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]


_rng = random.Random(53)


auth = BearerHeaders()




def uscc(region: str = "110101") -> str:
    from backend.demo import fake_uscc

    return fake_uscc(_rng, region)


def district_code() -> str:
    return str(_rng.randrange(10**9, 10**10))


async def new_enterprise(client, h, name_prefix: str = "流程测试公司") -> int:
    r = await client.post("/api/enterprises", headers=h, json={"name": unique(name_prefix), "uscc": uscc()})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def new_user(role: str, **kw: Any) -> dict[str, str]:
    from backend.accounts.services import create_user

    username = unique(f"t_flow_{role}_")
    await create_user(username, "flow-pass-2026", role, **kw)
    return await auth(username)


async def new_vendor(client, world) -> tuple[int, str]:
    name = unique("流程测试厂商")
    r = await client.post(
        "/api/vendors", headers=await auth(world.users["admin"]), json={"name": name}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], name


async def new_project(client, h, district_id: int, **kw: Any) -> int:
    body = {"name": unique("流程测试项目"), "district_id": district_id, "category": "building", **kw}
    r = await client.post("/api/projects", headers=h, json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture(scope="module")
async def site(client, world) -> dict[str, Any]:
    """A project of this module with a contractor (units and their teams) and a worker team."""
    admin = await auth(world.users["admin"])
    pid = await new_project(client, admin, world.district_a, floor_area_m2=30_001)
    gc = await new_enterprise(client, admin)
    sup = await new_enterprise(client, admin)
    units = {}
    for ent, unit_type in ((gc, "general_contractor"), (sup, "supervision_firm")):
        r = await client.post(
            f"/api/projects/{pid}/units", headers=admin, json={"enterprise_id": ent, "unit_type": unit_type}
        )
        units[unit_type] = r.json()["id"]
    teams = {t["unit_type"]: t["id"] for t in (await client.get(f"/api/projects/{pid}/teams", headers=admin)).json()}
    r = await client.post(
        f"/api/projects/{pid}/teams", headers=admin, json={"unit_id": units["general_contractor"], "name": "木工班组"}
    )
    teams["worker"] = r.json()["id"]
    return {"project": pid, "units": units, "teams": teams, "admin": admin}


def worker(world, site, **kw: Any) -> dict[str, Any]:
    return {
        "id_number": world.id_number(),
        "name": unique_name("流程工人"),
        "unit_id": site["units"]["general_contractor"],
        "team_id": site["teams"]["worker"],
        "work_role": "worker",
        "work_type": "240",
        **kw,
    }


# --- Districts -------------------------------------------------------------------------------------


async def test_district_create_admin_only(client, world):
    admin = await auth(world.users["admin"])
    code = district_code()
    r = await client.post(
        "/api/districts",
        headers=admin,
        json={"code": code, "name": "流程测试区", "rule_overrides": {"warning_red_after_days": 3}},
    )
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    listed = {d["id"]: d for d in (await client.get("/api/districts", headers=admin)).json()}
    assert listed[did]["code"] == code
    assert listed[did]["rule_overrides"] == {"warning_red_after_days": 3}
    rules = (await client.get(f"/api/districts/{did}/rules", headers=admin)).json()
    assert rules["warning_red_after_days"] == 3
    assert rules["manager_valid_days_ratio"] == 0.8  # untouched default
    sup = await auth(world.users["supervisor_a"])
    r = await client.post("/api/districts", headers=sup, json={"code": district_code(), "name": "监管自建区"})
    assert r.status_code == 403
    assert r.json()["code"] == "role_forbidden"


async def test_district_rule_overrides_change_required_channels_seed002(client, world):
    """A district that asks for a channel per 20,000 m²: a 45,000 m² site needs 3, not 2."""
    admin = await auth(world.users["admin"])
    did = (
        await client.post("/api/districts", headers=admin, json={"code": district_code(), "name": "通道加严区"})
    ).json()["id"]
    pid = await new_project(client, admin, did, floor_area_m2=45_000)
    assert (await client.get(f"/api/projects/{pid}", headers=admin)).json()["required_channels"] == 2
    r = await client.patch(
        f"/api/districts/{did}/rules", headers=admin, json={"rule_overrides": {"gate_channel_area_m2": 20_000}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["gate_channel_area_m2"] == 20_000.0
    assert (await client.get(f"/api/projects/{pid}", headers=admin)).json()["required_channels"] == 3
    # overrides are replaced as a whole: an empty object brings the defaults back
    await client.patch(f"/api/districts/{did}/rules", headers=admin, json={"rule_overrides": {}})
    assert (await client.get(f"/api/projects/{pid}", headers=admin)).json()["required_channels"] == 2


# --- Enterprises ---------------------------------------------------------------------------------------


async def test_enterprise_create_validates_and_normalises_uscc_gb32100(client, world):
    sup = await auth(world.users["supervisor_a"])
    code = uscc()
    r = await client.post(
        "/api/enterprises",
        headers=sup,
        json={
            "name": unique("流程测试建设有限公司"),
            "uscc": f" {code.lower()} ",
            "short_name": "流程建设",
            "legal_representative": "陈大文",
            "phone": "0750-3456789",
        },
    )
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    rows = {e["id"]: e for e in (await client.get("/api/enterprises", headers=sup)).json()}
    assert rows[eid]["uscc"] == code
    assert rows[eid]["phone"] == "07503456789"
    bad = code[:17] + ("0" if code[17] != "0" else "1")
    r = await client.post("/api/enterprises", headers=sup, json={"name": unique("坏代码公司"), "uscc": bad})
    assert r.status_code == 400 and r.json()["field"] == "uscc"


async def test_enterprise_create_roles(client, world):
    for label, status in (("foreman_a", 403), ("vendor", 403), ("staff_a", 201), ("enterprise_gc", 201)):
        r = await client.post(
            "/api/enterprises",
            headers=await auth(world.users[label]),
            json={"name": unique("角色测试公司"), "uscc": uscc()},
        )
        assert r.status_code == status, (label, r.text)
    assert (await client.get("/api/enterprises", headers=await auth(world.users["foreman_a"]))).status_code == 200


# --- Projects ----------------------------------------------------------------------------------------------


async def test_project_create_by_supervisor_in_own_district(client, world):
    sup = await auth(world.users["supervisor_a"])
    pid = await new_project(
        client,
        sup,
        world.district_a,
        floor_area_m2=60_001,
        contract_value_yuan=3e8,
        permit_no="110101202611250001",
        address="测试路 1 号",
        planned_start="2026-12-01",
        lon=116.39,
        lat=39.9,
    )
    assert pid in {p["id"] for p in (await client.get("/api/projects", headers=sup)).json()}
    p = (await client.get(f"/api/projects/{pid}", headers=sup)).json()
    assert p["status"] == "preparing" and p["status_label"] == "筹备"
    assert p["category_label"] == "房屋建筑工程"
    assert p["district"] == world.district_a and p["district_name"] == "测试区甲"
    assert p["required_channels"] == 3  # 60,001 m² → 3 channels (seed 002)
    assert p["in_scope"] is True
    assert p["planned_start"] == "2026-12-01"
    # other roles may not create projects; a supervisor not outside their district (test_scope)
    r = await client.post(
        "/api/projects",
        headers=await auth(world.users["staff_a"]),
        json={"name": "x", "district_id": world.district_a, "category": "building"},
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("category", "area", "value", "channels", "in_scope"),
    [
        ("building", 29_999, None, 1, True),
        ("building", 30_000, None, 1, True),
        ("building", 30_001, None, 2, True),
        ("building", 60_000, None, 2, True),
        ("building", 60_001, None, 3, True),
        ("building", 4_999, None, 1, False),
        ("building", 5_000, None, 1, True),
        ("building", None, None, 1, False),
        ("municipal", None, 10_000_000, 1, True),
        ("municipal", 100_000, 9_999_999, 1, False),
    ],
)
async def test_project_detail_required_channels_derived_from_area_seed002_and_scope_seed004(
    client, world, category, area, value, channels, in_scope
):
    admin = await auth(world.users["admin"])
    pid = await new_project(
        client, admin, world.district_a, category=category, floor_area_m2=area, contract_value_yuan=value
    )
    p = (await client.get(f"/api/projects/{pid}", headers=admin)).json()
    assert p["required_channels"] == channels
    assert p["in_scope"] is in_scope


async def test_world_projects_required_channels(client, world):
    admin = await auth(world.users["admin"])
    a = (await client.get(f"/api/projects/{world.project_a}", headers=admin)).json()
    b = (await client.get(f"/api/projects/{world.project_b}", headers=admin)).json()
    assert a["required_channels"] == 2  # 45,000 m²
    assert b["required_channels"] == 1  # municipal


async def test_project_patch_updates_area_and_channels(client, world):
    admin = await auth(world.users["admin"])
    pid = await new_project(client, admin, world.district_a, floor_area_m2=10_000)
    r = await client.patch(
        f"/api/projects/{pid}",
        headers=admin,
        json={"floor_area_m2": 90_001, "address": "新地址", "lon": 116.5, "lat": 39.95},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["floor_area_m2"] == 90_001 and body["required_channels"] == 4
    assert body["address"] == "新地址" and body["lon"] == 116.5
    assert body["status"] == "preparing"  # status only changes through /status


async def test_project_status_flow_and_history_seed004(client, world):
    """Each change is a request (seed 004 §三(八)–(十)): project staff ask, the owner (建设单位) approves at level 1,
    the district's authority at level 2 — here back-dating each step with a reason to record a past history."""
    sup = await auth(world.users["supervisor_a"])
    sup_id = await user_id(world.users["supervisor_a"])
    admin = await auth(world.users["admin"])
    pid = await new_project(client, sup, world.district_a, floor_area_m2=12_000)
    owner_ent = await new_enterprise(client, admin)
    r = await client.post(f"/api/projects/{pid}/units", headers=admin, json={"enterprise_id": owner_ent,
                                                                            "unit_type": "owner"})
    assert r.status_code == 201, r.text
    staff = await new_user("project_staff", project_ids=[pid])
    owner = await new_user("enterprise", enterprise_id=owner_ent)
    url = f"/api/projects/{pid}/status"
    start = date.today() - timedelta(days=20)
    steps = [
        ("under_construction", start, "开工"),
        ("suspended", start + timedelta(days=5), "停工整改"),
        ("under_construction", start + timedelta(days=8), "复工"),
        ("finished", start + timedelta(days=15), "完工"),
        ("accepted", start + timedelta(days=19), "竣工验收"),
    ]
    for status, day, note in steps:
        r = await client.post(url, headers=staff, json={"status": status, "note": note})
        assert r.status_code == 202, r.text
        rid = r.json()["id"]
        assert (await client.get(f"/api/projects/{pid}", headers=sup)).json()["status"] != status  # not yet
        decisions = f"/api/project-change-requests/{rid}/decisions"
        r = await client.post(decisions, headers=owner, json={"level": 1, "approve": True})
        assert r.status_code == 200, r.text
        r = await client.post(decisions, headers=sup, json={"level": 2, "approve": True, "effective_on": day.isoformat(),
                                                           "reason": "补录历史状态"})
        assert r.status_code == 200, r.text
        assert r.json()["backdated_reason"] == "补录历史状态"
        p = (await client.get(f"/api/projects/{pid}", headers=sup)).json()
        assert p["status"] == status
    assert p["status_label"] == "竣工"
    assert p["actual_start"] == start.isoformat()  # the first start, not the resumption
    assert p["completed_on"] == (start + timedelta(days=15)).isoformat()
    # 竣工 is final
    for target in ("under_construction", "finished", "preparing", "suspended"):
        r = await client.post(url, headers=sup, json={"status": target})
        assert r.status_code == 409, target
        assert r.json()["code"] == "bad_status_transition"
    history = (await client.get(f"/api/projects/{pid}/status-history", headers=sup)).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "preparing"),
        ("preparing", "under_construction"),
        ("under_construction", "suspended"),
        ("suspended", "under_construction"),
        ("under_construction", "finished"),
        ("finished", "accepted"),
    ]
    assert [h["to_label"] for h in history] == ["筹备", "在建", "停工", "在建", "完工", "竣工"]
    assert history[0]["note"] == "登记" and history[0]["from_label"] == ""
    assert [h["note"] for h in history[1:]] == [s[2] for s in steps]
    assert [h["effective_on"] for h in history[1:]] == [s[1].isoformat() for s in steps]
    assert all(h["changed_by"] == sup_id for h in history[1:])  # the level-2 approver
    assert all(h["request"] is not None for h in history[1:])


async def test_project_status_forbidden_transition_leaves_no_history(client, world):
    admin = await auth(world.users["admin"])
    pid = await new_project(client, admin, world.district_a)
    r = await client.post(f"/api/projects/{pid}/status", headers=admin, json={"status": "accepted"})
    assert r.status_code == 409
    assert "筹备" in r.json()["message"] and "在建" in r.json()["message"]
    history = (await client.get(f"/api/projects/{pid}/status-history", headers=admin)).json()
    assert [h["to_status"] for h in history] == ["preparing"]
    assert (await client.get(f"/api/projects/{pid}", headers=admin)).json()["status"] == "preparing"


async def test_project_status_change_roles(client, world):
    """Foremen and workers cannot ask for a status change; enterprise and project staff of the project can — a
    request (202), which changes nothing until two levels approve (seed 004 §三(九))."""
    admin = await auth(world.users["admin"])
    pid = await new_project(client, admin, world.district_a)
    gc = await new_enterprise(client, admin)
    await client.post(f"/api/projects/{pid}/units", headers=admin, json={"enterprise_id": gc, "unit_type": "owner"})
    foreman = await new_user("foreman", project_ids=[pid])
    r = await client.post(f"/api/projects/{pid}/status", headers=foreman, json={"status": "under_construction"})
    assert r.status_code == 403
    assert r.json()["code"] == "role_forbidden"
    assert (await client.get(f"/api/projects/{pid}", headers=admin)).json()["status"] == "preparing"
    staff = await new_user("project_staff", project_ids=[pid])
    r = await client.post(f"/api/projects/{pid}/status", headers=staff, json={"status": "under_construction"})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    ent = await new_user("enterprise", enterprise_id=gc)
    r = await client.post(f"/api/projects/{pid}/status", headers=ent, json={"status": "under_construction"})
    assert r.status_code == 409, r.text  # past the role check: one open request per kind
    assert r.json()["code"] == "change_request_pending"
    history = (await client.get(f"/api/projects/{pid}/status-history", headers=admin)).json()
    assert [h["to_status"] for h in history] == ["preparing"]
    assert (await client.get(f"/api/projects/{pid}", headers=admin)).json()["status"] == "preparing"


# --- Units and teams ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_type", "team_name"),
    [
        ("owner", "建设单位项目部"),
        ("general_contractor", "总承包单位项目部"),
        ("supervision_firm", "监理项目部"),
        ("specialist_subcontractor", "专业分包项目部"),
        ("labour_subcontractor", "劳务分包项目部"),
    ],
)
async def test_unit_gets_its_management_team_automatically_seed001(client, world, unit_type, team_name):
    admin = await auth(world.users["admin"])
    pid = await new_project(client, admin, world.district_a)
    eid = await new_enterprise(client, admin)
    r = await client.post(
        f"/api/projects/{pid}/units",
        headers=admin,
        json={"enterprise_id": eid, "unit_type": unit_type, "entered_on": "2026-10-01"},
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    units = (await client.get(f"/api/projects/{pid}/units", headers=admin)).json()
    assert [(u["id"], u["enterprise"], u["unit_type"]) for u in units] == [(uid, eid, unit_type)]
    assert units[0]["entered_on"] == "2026-10-01" and units[0]["exited_on"] is None
    teams = (await client.get(f"/api/projects/{pid}/teams", headers=admin)).json()
    assert len(teams) == 1
    t = teams[0]
    assert (t["unit"], t["name"], t["kind"], t["is_auto"]) == (uid, team_name, "management", True)
    assert t["kind_label"] == "管理人员班组"
    assert t["entered_on"] == "2026-10-01"


async def test_unit_added_by_project_staff_on_their_project(client, world):
    staff = await auth(world.users["staff_a"])
    eid = await new_enterprise(client, staff)
    r = await client.post(
        f"/api/projects/{world.project_a}/units",
        headers=staff,
        json={"enterprise_id": eid, "unit_type": "labour_subcontractor"},
    )
    assert r.status_code == 201, r.text
    teams = (await client.get(f"/api/projects/{world.project_a}/teams", headers=staff)).json()
    assert any(t["unit"] == r.json()["id"] and t["name"] == "劳务分包项目部" for t in teams)


async def test_team_create_and_list(client, world, site):
    admin = site["admin"]
    name = unique("钢筋班组")
    r = await client.post(
        f"/api/projects/{site['project']}/teams",
        headers=admin,
        json={"unit_id": site["units"]["general_contractor"], "name": f" {name} ", "kind": "other"},
    )
    assert r.status_code == 201, r.text
    teams = {t["id"]: t for t in (await client.get(f"/api/projects/{site['project']}/teams", headers=admin)).json()}
    t = teams[r.json()["id"]]
    assert t["name"] == name and t["kind"] == "other" and t["is_auto"] is False
    assert t["unit_type"] == "general_contractor"
    r = await client.post(
        f"/api/projects/{site['project']}/teams",
        headers=admin,
        json={"unit_id": site["units"]["general_contractor"], "name": name},
    )
    assert r.status_code == 409


# --- Roster --------------------------------------------------------------------------------------------------


async def test_roster_enter_worker_and_manager(client, world, site):
    admin = site["admin"]
    url = f"/api/projects/{site['project']}/roster"
    r = await client.post(url, headers=admin, json=worker(world, site, phone="139 0000 1111", ethnicity="壮"))
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["active_elsewhere"] == []
    r = await client.post(
        url,
        headers=admin,
        json={
            "id_number": world.id_number(),
            "name": unique_name("项目经理"),
            "unit_id": site["units"]["general_contractor"],
            "team_id": site["teams"]["general_contractor"],
            "work_role": "manager",
            "post": "project_manager",
        },
    )
    assert r.status_code == 201, r.text
    m = r.json()
    r = await client.post(
        url,
        headers=admin,
        json={
            "id_number": world.id_number(),
            "name": unique_name("总监"),
            "unit_id": site["units"]["supervision_firm"],
            "team_id": site["teams"]["supervision_firm"],
            "work_role": "manager",
            "post": "chief_supervising_engineer",
        },
    )
    assert r.status_code == 201, r.text
    rows = {e["id"]: e for e in (await client.get(url, headers=admin)).json()}
    assert rows[w["id"]]["work_role"] == "worker" and rows[w["id"]]["work_type_label"] == "木工"
    assert rows[w["id"]]["work_role_label"] == "建筑工人"
    assert rows[m["id"]]["post"] == "project_manager" and rows[m["id"]]["post_label"] == "项目负责人（项目经理）"
    assert rows[m["id"]]["team_name"] == "总承包单位项目部"


async def test_roster_enter_by_foreman_of_the_project(client, world):
    h = await auth(world.users["foreman_a"])
    pa = world.project_a
    r = await client.post(
        f"/api/projects/{pa}/roster",
        headers=h,
        json={
            "id_number": world.id_number(),
            "name": unique_name("工人"),
            "unit_id": world.units[pa]["general_contractor"],
            "team_id": world.teams[pa]["钢筋班组"],
            "work_role": "worker",
            "work_type": "020",
        },
    )
    assert r.status_code == 201, r.text


async def test_roster_exit_flow(client, world, site):
    admin = site["admin"]
    url = f"/api/projects/{site['project']}/roster"
    entered = date.today() - timedelta(days=10)
    body = worker(world, site, entered_on=entered.isoformat())
    entry = (await client.post(url, headers=admin, json=body)).json()["id"]
    exit_url = f"{url}/{entry}/exit"
    r = await client.post(exit_url, headers=admin,
                          json=await exit_body(client, admin, site["project"], entered - timedelta(days=1)))
    assert r.status_code == 400 and r.json()["field"] == "exited_on"
    leave = await exit_body(client, admin, site["project"], entered, note="合同期满")
    r = await client.post(exit_url, headers=admin, json=leave)
    assert r.status_code == 201, r.text
    assert r.json() == {"status": "exited", "entry_id": entry, "exited_on": entered.isoformat(),
                        "file_id": leave["confirmation_file_id"], "workload_confirmed": True, "wages_settled": True}
    r = await client.post(exit_url, headers=admin, json=await exit_body(client, admin, site["project"], date.today()))
    assert r.status_code == 409 and r.json()["field"] == "entry_id"
    rows = {e["id"]: e for e in (await client.get(url, headers=admin)).json()}
    assert rows[entry]["exited_on"] == entered.isoformat()
    active = {e["id"] for e in (await client.get(f"{url}?active=true", headers=admin)).json()}
    assert entry not in active
    # after leaving, the same person may enter again
    r = await client.post(url, headers=admin, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["id"] != entry
    assert r.json()["id"] in {e["id"] for e in (await client.get(f"{url}?active=true", headers=admin)).json()}


async def test_roster_exit_of_another_projects_entry_is_404(client, world, site):
    admin = site["admin"]
    entry = (
        await client.post(f"/api/projects/{site['project']}/roster", headers=admin, json=worker(world, site))
    ).json()["id"]
    r = await client.post(
        f"/api/projects/{world.project_a}/roster/{entry}/exit",
        headers=admin,
        json={"exited_on": date.today().isoformat()},
    )
    assert r.status_code == 404


async def test_roster_reports_active_entries_elsewhere(client, world, site):
    admin = site["admin"]
    number = world.id_number()
    pa = world.project_a
    r = await client.post(
        f"/api/projects/{pa}/roster",
        headers=admin,
        json={
            "id_number": number,
            "name": "两地跑",
            "unit_id": world.units[pa]["general_contractor"],
            "team_id": world.teams[pa]["钢筋班组"],
            "work_role": "worker",
        },
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/projects/{site['project']}/roster",
        headers=admin,
        json=worker(world, site, id_number=number, name="两地跑"),
    )
    assert r.status_code == 201, r.text
    assert [e["project"] for e in r.json()["active_elsewhere"]] == [pa]
    in_a = (await client.get(f"/api/projects/{pa}/roster?active=true", headers=admin)).json()
    assert r.json()["person_id"] in {e["person"] for e in in_a}


async def test_roster_same_person_twice_is_409(client, world, site):
    admin = site["admin"]
    body = worker(world, site)
    assert (await client.post(f"/api/projects/{site['project']}/roster", headers=admin, json=body)).status_code == 201
    r = await client.post(f"/api/projects/{site['project']}/roster", headers=admin, json=body)
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_roster_entry"


async def test_roster_same_person_with_full_width_digits_is_409(client, world, site):
    from backend.validators import id_check_char

    while True:
        number = world.id_number()
        if id_check_char(number[:17]) == "X":
            break
    admin = site["admin"]
    url = f"/api/projects/{site['project']}/roster"
    name = unique_name("全角工人")  # the same person: same name, the number typed with full-width digits
    assert (await client.post(url, headers=admin, json=worker(world, site, id_number=number, name=name))).status_code == 201
    full_width = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    r = await client.post(url, headers=admin, json=worker(world, site, id_number=full_width, name=name))
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "duplicate_roster_entry"


# --- ID numbers: encrypted at rest, masked on the way out ------------------------------------------------------


async def test_id_number_never_stored_in_plain_text(client, world, site):
    from backend.crypto import decrypt_text, lookup_hash
    from backend.workforce.tables import Person, RosterEntry

    number = world.id_number(birth=date(1988, 8, 8))
    r = await client.post(
        f"/api/projects/{site['project']}/roster",
        headers=site["admin"],
        json=worker(world, site, id_number=number, name="隐私测试"),
    )
    assert r.status_code == 201, r.text
    person_id = r.json()["person_id"]
    person = await Person.select().where(Person.id == person_id).first()
    entry = await RosterEntry.select().where(RosterEntry.id == r.json()["id"]).first()
    for row in (person, entry):
        for column, value in row.items():
            text = str(value)
            assert number not in text and number[6:14] + number[14:] not in text, (column, text)
    assert person["id_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert person["id_hash"] == lookup_hash(number)
    assert decrypt_text(person["id_cipher"]) == number
    assert person["birth_date"] == date(1988, 8, 8)
    assert person["gender"] == ("M" if int(number[16]) % 2 else "F")


async def test_id_number_only_masked_in_api_and_pages(client, world, site):
    number = world.id_number()
    admin = site["admin"]
    r = await client.post(
        f"/api/projects/{site['project']}/roster", headers=admin, json=worker(world, site, id_number=number)
    )
    assert r.status_code == 201
    assert number not in r.text
    listing = await client.get(f"/api/projects/{site['project']}/roster", headers=admin)
    assert number not in listing.text
    masked = number[:4] + "**********" + number[-4:]
    row = next(e for e in listing.json() if e["id"] == r.json()["id"])
    assert row["id_masked"] == masked
    assert not {"id_number", "id_cipher", "id_hash"} & set(row)
    page = await client.get(f"/projects/{site['project']}", headers={**admin, "accept": "text/html"})
    assert page.status_code == 200
    assert masked in page.text
    assert number not in page.text


async def test_id_number_lower_case_x_matches_the_same_person(client, world, site):
    from backend.validators import id_check_char
    from backend.vocabulary import local_today  # the entry's default day: China's today, not the server's

    while True:
        number = world.id_number()
        if id_check_char(number[:17]) == "X":
            break
    admin = site["admin"]
    url = f"/api/projects/{site['project']}/roster"
    name = unique_name("小写工人")  # the same person: same name
    first = (await client.post(url, headers=admin, json=worker(world, site, id_number=number.lower(), name=name))).json()
    entry = first["id"]
    r = await client.post(f"{url}/{entry}/exit", headers=admin,
                          json=await exit_body(client, admin, site["project"], local_today()))
    assert r.status_code == 201, r.text
    again = (await client.post(url, headers=admin, json=worker(world, site, id_number=number, name=name))).json()
    assert again["person_id"] == first["person_id"]


# --- Terminals ---------------------------------------------------------------------------------------------------


async def test_terminal_registration_and_duplicate_serial(client, world):
    staff = await auth(world.users["staff_a"])
    vendor, vendor_name = await new_vendor(client, world)
    serial = unique("FLOW-GATE-")
    url = f"/api/projects/{world.project_a}/terminals"
    r = await client.post(
        url, headers=staff, json={"serial": serial, "vendor_id": vendor, "channel": 2, "direction": "out"}
    )
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    rows = {t["id"]: t for t in (await client.get(url, headers=staff)).json()}
    t = rows[tid]
    assert (t["serial"], t["vendor"], t["channel"], t["direction"], t["project"]) == (
        serial,
        vendor,
        2,
        "out",
        world.project_a,
    )
    assert t["enabled"] is True and t["online"] is False
    assert t["vendor_name"] == vendor_name
    r = await client.post(url, headers=staff, json={"serial": serial, "vendor_id": vendor})
    assert r.status_code == 409 and r.json()["field"] == "serial"
    # the serial is unique across projects too
    r = await client.post(
        f"/api/projects/{world.project_b}/terminals",
        headers=await auth(world.users["admin"]),
        json={"serial": serial, "vendor_id": vendor},
    )
    assert r.status_code == 409
    r = await client.patch(f"/api/terminals/{tid}", headers=staff, json={"enabled": False, "direction": "in"})
    assert r.status_code == 200
    assert r.json()["enabled"] is False and r.json()["direction"] == "in"


async def test_terminal_registration_roles(client, world):
    vendor, _ = await new_vendor(client, world)
    url = f"/api/projects/{world.project_a}/terminals"
    r = await client.post(
        url, headers=await auth(world.users["foreman_a"]), json={"serial": unique("F-"), "vendor_id": vendor}
    )
    assert r.status_code == 403
    r = await client.post(
        url, headers=await auth(world.users["supervisor_a"]), json={"serial": unique("S-"), "vendor_id": vendor}
    )
    assert r.status_code == 403
    r = await client.post(
        url, headers=await auth(world.users["enterprise_gc"]), json={"serial": unique("E-"), "vendor_id": vendor}
    )
    assert r.status_code == 201


async def test_a_project_registered_under_construction_has_one_actual_start(world):
    """The project page and explain read ``project.actual_start``, the verdicts the status history's first 在建 day:
    a project registered as 在建 gets both from the same registration day (in China's zone, not the server's UTC
    date)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from backend.org import services as org

    pid = await org.create_project(name="直接在建登记工程", district_id=world.district_a, category="building",
                                   floor_area_m2=8_000, status="under_construction")
    project = await org.get_project(pid)
    [first] = await org.status_history(pid)
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert project["actual_start"] == first["effective_on"] == today
