"""Scope through HTTP: who sees which project, district, roster and terminal.

A project outside a user's scope answers 404 (its existence is not revealed) or, where a role guard
stops the request first, 403.  Nothing outside the scope may change."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.integration.conftest import PASSWORD, login, unique, unique_name

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cheap_password_hashing")]


_headers: dict[str, dict[str, str]] = {}


async def auth(client, username: str) -> dict[str, str]:
    """Bearer headers for a user, issued directly (no password round trip; cached per module)."""
    if username not in _headers:
        from backend.accounts.services import issue_token
        from backend.accounts.tables import User

        row = await User.select(User.id).where(User.username == username).first()
        assert row is not None, username
        _headers[username] = {"Authorization": f"Bearer {await issue_token(row['id'], 'bearer')}"}
    return _headers[username]


async def login_changing_password(client, username: str) -> dict[str, str]:
    """Log a freshly created account in and change its one-time password first (an account that must change
    its password may do nothing else on the API — security issue item 7)."""
    h = await login(client, username)
    r = await client.post("/api/auth/password", headers=h,
                          json={"old_password": PASSWORD, "new_password": "Scope-Changed-2027"})
    assert r.status_code == 200, r.text
    return h


async def enterprise_id_by_name(client, world, name: str) -> int:
    rows = (await client.get("/api/enterprises", headers=await auth(client, world.users["admin"]))).json()
    return next(e["id"] for e in rows if e["name"] == name)


def roster_payload(world, project_id: int, id_number: str | None = None) -> dict[str, Any]:
    return {
        "id_number": id_number or world.id_number(),
        "name": unique_name("工人"),
        "unit_id": world.units[project_id]["general_contractor"],
        "team_id": world.teams[project_id]["钢筋班组"],
        "work_role": "worker",
        "work_type": "020",
    }


@pytest.fixture(scope="module")
async def foreign_entries(client, world) -> dict[int, int]:
    """One roster entry on project B and on project C, made by users who may (admin, foreman_c)."""
    admin = await auth(client, world.users["admin"])
    fc = await auth(client, world.users["foreman_c"])
    out = {}
    for pid, h in ((world.project_b, admin), (world.project_c, fc)):
        r = await client.post(f"/api/projects/{pid}/roster", headers=h, json=roster_payload(world, pid))
        assert r.status_code == 201, r.text
        out[pid] = r.json()["id"]
    return out


@pytest.fixture(scope="module")
async def foreign_terminals(client, world) -> dict[int, int]:
    admin = await auth(client, world.users["admin"])
    r = await client.post(
        "/api/vendors", headers=admin, json={"name": unique("范围测试厂商")}
    )
    vendor = r.json()["id"]
    out = {}
    for pid in (world.project_b, world.project_c):
        r = await client.post(
            f"/api/projects/{pid}/terminals", headers=admin, json={"serial": unique("SCOPE-GATE-"), "vendor_id": vendor}
        )
        assert r.status_code == 201, r.text
        out[pid] = r.json()["id"]
    return out


def project_requests(
    world, pid: int, entry_id: int, terminal_id: int, enterprise_id: int
) -> list[tuple[str, str, Any]]:
    """Every project-scoped endpoint of the org, workforce and devices controllers, with a valid body."""
    return [
        ("GET", f"/api/projects/{pid}", None),
        ("PATCH", f"/api/projects/{pid}", {"name": "被篡改的项目名"}),
        ("POST", f"/api/projects/{pid}/status", {"status": "suspended", "note": "越权停工"}),
        ("GET", f"/api/projects/{pid}/status-history", None),
        ("GET", f"/api/projects/{pid}/units", None),
        ("POST", f"/api/projects/{pid}/units", {"enterprise_id": enterprise_id, "unit_type": "owner"}),
        ("GET", f"/api/projects/{pid}/teams", None),
        (
            "POST",
            f"/api/projects/{pid}/teams",
            {"unit_id": world.units[pid]["general_contractor"], "name": unique("越权班组")},
        ),
        ("GET", f"/api/projects/{pid}/roster", None),
        ("GET", f"/api/projects/{pid}/roster?active=true", None),
        ("POST", f"/api/projects/{pid}/roster", roster_payload(world, pid)),
        ("POST", f"/api/projects/{pid}/roster/{entry_id}/exit", {"exited_on": date.today().isoformat()}),
        ("GET", f"/api/projects/{pid}/terminals", None),
        ("POST", f"/api/projects/{pid}/terminals", {"serial": unique("EVIL-"), "vendor_id": world.vendor}),
        ("PATCH", f"/api/terminals/{terminal_id}", {"enabled": False}),
    ]


async def snapshot(client, world, pid: int) -> dict[str, Any]:
    admin = await auth(client, world.users["admin"])
    out = {}
    for part in ("", "/status-history", "/units", "/teams", "/roster", "/terminals"):
        r = await client.get(f"/api/projects/{pid}{part}", headers=admin)
        assert r.status_code == 200
        out[part] = r.json()
    return out


@pytest.mark.parametrize("target", ["project_b", "project_c"])
async def test_scope_foreman_of_a_gets_404_or_403_on_every_project_endpoint_of_b_and_c(
    client, world, foreign_entries, foreign_terminals, target
):
    pid = getattr(world, target)
    h = await auth(client, world.users["foreman_a"])
    ent = await enterprise_id_by_name(client, world, "测试监理有限公司")
    before = await snapshot(client, world, pid)
    for method, url, body in project_requests(world, pid, foreign_entries[pid], foreign_terminals[pid], ent):
        r = await client.request(method, url, headers=h, json=body)
        assert r.status_code in (403, 404), (method, url, r.status_code, r.text)
        assert r.json()["code"] in ("not_found", "forbidden", "role_forbidden"), r.text
        assert r.json()["message"] and r.json()["message_en"]
    # nothing changed, and no project data leaked into the error bodies
    assert await snapshot(client, world, pid) == before
    page = await client.get(f"/projects/{pid}", headers={**h, "accept": "text/html"})
    assert page.status_code == 404


async def test_scope_out_of_scope_project_looks_like_a_missing_one(client, world):
    h = await auth(client, world.users["foreman_a"])
    foreign = await client.get(f"/api/projects/{world.project_c}", headers=h)
    missing = await client.get("/api/projects/987654321", headers=h)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


async def test_scope_foreman_of_a_lists_only_project_a(client, world):
    h = await auth(client, world.users["foreman_a"])
    assert [p["id"] for p in (await client.get("/api/projects", headers=h)).json()] == [world.project_a]
    assert (await client.get(f"/api/projects/{world.project_a}", headers=h)).status_code == 200
    assert (await client.get(f"/api/projects/{world.project_a}/roster", headers=h)).status_code == 200
    assert (await client.get("/api/districts", headers=h)).json() == []
    # terminal serials are half of a gate login: never shown to foremen (security issue item 1)
    assert (await client.get("/api/terminals", headers=h)).status_code == 403
    assert (await client.get(f"/api/projects/{world.project_a}/terminals", headers=h)).status_code == 403


async def test_scope_foreman_c_gets_404_on_project_a(client, world):
    h = await auth(client, world.users["foreman_c"])
    assert (await client.get(f"/api/projects/{world.project_a}", headers=h)).status_code == 404
    assert (await client.get(f"/api/projects/{world.project_a}/roster", headers=h)).status_code == 404


async def test_scope_supervisor_sees_only_projects_of_their_district(client, world):
    h = await auth(client, world.users["supervisor_a"])
    ids = {p["id"] for p in (await client.get("/api/projects", headers=h)).json()}
    assert {world.project_a, world.project_b} <= ids
    assert world.project_c not in ids
    projects = (await client.get("/api/projects", headers=h)).json()
    assert {p["district"] for p in projects} == {world.district_a}
    for part in ("", "/units", "/teams", "/roster", "/terminals", "/status-history"):
        assert (await client.get(f"/api/projects/{world.project_a}{part}", headers=h)).status_code == 200, part
        assert (await client.get(f"/api/projects/{world.project_c}{part}", headers=h)).status_code == 404, part


async def test_scope_supervisor_b_mirrors_supervisor_a(client, world):
    h = await auth(client, world.users["supervisor_b"])
    ids = {p["id"] for p in (await client.get("/api/projects", headers=h)).json()}
    assert world.project_c in ids
    assert not ids & {world.project_a, world.project_b}


async def test_scope_supervisor_lists_only_own_districts(client, world):
    h = await auth(client, world.users["supervisor_a"])
    assert [d["id"] for d in (await client.get("/api/districts", headers=h)).json()] == [world.district_a]


async def test_scope_supervisor_rules_of_other_district_404(client, world):
    h = await auth(client, world.users["supervisor_a"])
    r = await client.get(f"/api/districts/{world.district_b}/rules", headers=h)
    assert r.status_code == 404
    assert r.json()["field"] == "district_id"
    own = await client.get(f"/api/districts/{world.district_a}/rules", headers=h)
    assert own.status_code == 200
    assert own.json()["gate_channel_area_m2"] == 30_000.0


async def test_scope_supervisor_cannot_change_status_or_create_projects_outside_district(client, world):
    h = await auth(client, world.users["supervisor_a"])
    r = await client.post(f"/api/projects/{world.project_c}/status", headers=h, json={"status": "suspended"})
    assert r.status_code == 404
    r = await client.post(
        "/api/projects",
        headers=h,
        json={"name": unique("越区项目"), "district_id": world.district_b, "category": "building"},
    )
    assert r.status_code == 404
    assert r.json()["field"] == "district_id"


async def test_scope_supervisor_reads_but_does_not_edit_project_data(client, world):
    h = await auth(client, world.users["supervisor_a"])
    pa = world.project_a
    r = await client.post(f"/api/projects/{pa}/roster", headers=h, json=roster_payload(world, pa))
    assert r.status_code == 403
    r = await client.patch(f"/api/projects/{pa}", headers=h, json={"name": "监管改名"})
    assert r.status_code == 403
    r = await client.post(
        f"/api/projects/{pa}/teams",
        headers=h,
        json={"unit_id": world.units[pa]["general_contractor"], "name": unique("监管班组")},
    )
    assert r.status_code == 403


async def test_scope_enterprise_sees_projects_where_it_is_a_unit(client, world):
    h = await auth(client, world.users["enterprise_gc"])
    ids = {p["id"] for p in (await client.get("/api/projects", headers=h)).json()}
    assert {world.project_a, world.project_b} <= ids
    assert world.project_c not in ids
    assert (await client.get(f"/api/projects/{world.project_c}", headers=h)).status_code == 404
    assert (await client.get(f"/api/projects/{world.project_a}/roster", headers=h)).status_code == 200


async def test_scope_enterprise_gains_a_project_when_added_as_unit(client, world):
    """A fresh enterprise account sees nothing until its enterprise joins a project."""
    import random

    from backend.demo import fake_uscc

    admin = await auth(client, world.users["admin"])
    r = await client.post(
        "/api/enterprises",
        headers=admin,
        json={"name": unique("新分包有限公司"), "uscc": fake_uscc(random.Random(), "110102")},
    )
    assert r.status_code == 201, r.text
    ent = r.json()["id"]
    username = unique("t_ent_")
    r = await client.post(
        "/api/users",
        headers=admin,
        json={"username": username, "password": PASSWORD, "role": "enterprise", "enterprise_id": ent},
    )
    assert r.status_code == 201, r.text
    h = await login_changing_password(client, username)
    assert (await client.get("/api/projects", headers=h)).json() == []
    assert (await client.get(f"/api/projects/{world.project_c}", headers=h)).status_code == 404
    r = await client.post(
        f"/api/projects/{world.project_c}/units",
        headers=admin,
        json={"enterprise_id": ent, "unit_type": "specialist_subcontractor"},
    )
    assert r.status_code == 201, r.text
    assert [p["id"] for p in (await client.get("/api/projects", headers=h)).json()] == [world.project_c]
    assert (await client.get(f"/api/projects/{world.project_c}", headers=h)).status_code == 200
    assert (await client.get(f"/api/projects/{world.project_a}", headers=h)).status_code == 404


async def _worker_user(client, world) -> tuple[str, int]:
    staff = await auth(client, world.users["staff_a"])
    r = await client.post(
        f"/api/projects/{world.project_a}/roster", headers=staff, json=roster_payload(world, world.project_a)
    )
    assert r.status_code == 201, r.text
    username = unique("t_worker_")
    admin = await auth(client, world.users["admin"])
    r = await client.post(
        "/api/users",
        headers=admin,
        json={"username": username, "password": PASSWORD, "role": "worker", "person_id": r.json()["person_id"]},
    )
    assert r.status_code == 201, r.text
    return username, r.json()["id"]


async def test_scope_worker_cannot_list_a_roster(client, world):
    username, _ = await _worker_user(client, world)
    h = await login_changing_password(client, username)
    assert [p["id"] for p in (await client.get("/api/projects", headers=h)).json()] == [world.project_a]
    r = await client.get(f"/api/projects/{world.project_a}/roster", headers=h)
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    assert (await client.get(f"/api/projects/{world.project_c}/roster", headers=h)).status_code == 404
    # nor change anything on their own project
    r = await client.post(
        f"/api/projects/{world.project_a}/roster", headers=h, json=roster_payload(world, world.project_a)
    )
    assert r.status_code == 403


async def test_scope_worker_home_page_redirects_to_phone_app(client, world):
    username, _ = await _worker_user(client, world)
    h = await login_changing_password(client, username)
    r = await client.get("/", headers={**h, "accept": "text/html"}, follow_redirects=False)
    assert r.status_code in (302, 303, 307)
    assert r.headers["location"] == "/m/"


async def _new_vendor(client, world) -> tuple[int, dict[str, str]]:
    """A vendor of its own with a vendor account (so the shared vendor's scope is left alone)."""
    admin = await auth(client, world.users["admin"])
    r = await client.post("/api/vendors", headers=admin, json={"name": unique("测试厂商")})
    assert r.status_code == 201, r.text
    vendor = r.json()["id"]
    username = unique("t_vendor_")
    r = await client.post(
        "/api/users",
        headers=admin,
        json={"username": username, "password": PASSWORD, "role": "vendor", "vendor_id": vendor},
    )
    assert r.status_code == 201, r.text
    return vendor, await login_changing_password(client, username)


async def _terminal(client, world, pid: int, vendor: int) -> int:
    """Terminals are bound to a project by project staff (here: admin), never by the vendor itself."""
    r = await client.post(
        f"/api/projects/{pid}/terminals",
        headers=await auth(client, world.users["admin"]),
        json={"serial": unique("T-GATE-"), "vendor_id": vendor},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_scope_vendor_sees_only_its_terminals(client, world):
    other_vendor, _ = await _new_vendor(client, world)
    vendor, h = await _new_vendor(client, world)
    other_terminal = await _terminal(client, world, world.project_a, other_vendor)
    assert (await client.get("/api/terminals", headers=h)).json() == []
    own = await _terminal(client, world, world.project_a, vendor)
    own_c = await _terminal(client, world, world.project_c, vendor)
    rows = (await client.get("/api/terminals", headers=h)).json()
    assert [t["id"] for t in rows] == [own, own_c]
    assert {t["vendor"] for t in rows} == {vendor}
    assert other_terminal not in {t["id"] for t in rows}
    # another vendor's device can't be changed; its own can
    r = await client.patch(f"/api/terminals/{other_terminal}", headers=h, json={"enabled": False})
    assert r.status_code == 404
    r = await client.patch(f"/api/terminals/{own}", headers=h, json={"channel": 2})
    assert r.status_code == 200 and r.json()["channel"] == 2


async def test_scope_vendor_project_terminal_list_shows_only_own_terminals(client, world):
    other_vendor, _ = await _new_vendor(client, world)
    vendor, h = await _new_vendor(client, world)
    other_terminal = await _terminal(client, world, world.project_a, other_vendor)
    own = await _terminal(client, world, world.project_a, vendor)
    r = await client.get(f"/api/projects/{world.project_a}/terminals", headers=h)
    assert r.status_code in (200, 403, 404)
    if r.status_code == 200:
        assert [t["id"] for t in r.json()] == [own]
        assert other_terminal not in {t["id"] for t in r.json()}


async def test_scope_vendor_sees_devices_never_projects_or_people(client, world, foreign_entries):
    """Even with a terminal on project C, a vendor account sees no project, unit, team or roster."""
    vendor, h = await _new_vendor(client, world)
    await _terminal(client, world, world.project_c, vendor)
    assert (await client.get("/api/projects", headers=h)).json() == []
    for part in ("", "/units", "/teams", "/roster", "/status-history"):
        r = await client.get(f"/api/projects/{world.project_c}{part}", headers=h)
        assert r.status_code in (403, 404), (part, r.text)


async def test_scope_vendor_cannot_bind_a_terminal_to_a_project(client, world):
    """A bound terminal downloads the project's whitelist (names, full ID numbers): only project staff bind."""
    vendor, h = await _new_vendor(client, world)
    r = await client.post(
        f"/api/projects/{world.project_c}/terminals", headers=h, json={"serial": unique("SNEAK-"), "vendor_id": vendor}
    )
    assert r.status_code in (403, 404), r.text
    assert (await client.get("/api/terminals", headers=h)).json() == []


async def _minted_account_sees(client, creator: str, body: dict[str, Any], project_id: int) -> bool:
    """Whether an account created by ``creator`` with ``body`` can see ``project_id``."""
    r = await client.post("/api/users", headers=await auth(client, creator), json=body)
    if r.status_code in (400, 403, 404):
        return False
    assert r.status_code == 201, r.text
    h = await login_changing_password(client, body["username"])
    return (await client.get(f"/api/projects/{project_id}", headers=h)).status_code == 200


async def test_scope_project_staff_cannot_mint_an_account_for_a_foreign_enterprise(client, world):
    other = await enterprise_id_by_name(client, world, "别区总包有限公司")
    body = {"username": unique("mint_"), "password": PASSWORD, "role": "enterprise", "enterprise_id": other}
    assert not await _minted_account_sees(client, world.users["staff_a"], body, world.project_c)


async def test_scope_supervisor_cannot_mint_an_account_reaching_another_district(client, world):
    other = await enterprise_id_by_name(client, world, "别区总包有限公司")
    body = {"username": unique("mint_"), "password": PASSWORD, "role": "enterprise", "enterprise_id": other}
    assert not await _minted_account_sees(client, world.users["supervisor_a"], body, world.project_c)
    body = {"username": unique("mint_"), "password": PASSWORD, "role": "supervisor", "district_ids": [world.district_b]}
    assert not await _minted_account_sees(client, world.users["supervisor_a"], body, world.project_c)


async def test_scope_project_staff_cannot_mint_a_worker_for_a_person_of_another_project(client, world, foreign_entries):
    admin = await auth(client, world.users["admin"])
    roster_c = (await client.get(f"/api/projects/{world.project_c}/roster", headers=admin)).json()
    person_c = next(e["person"] for e in roster_c if e["id"] == foreign_entries[world.project_c])
    body = {"username": unique("mint_"), "password": PASSWORD, "role": "worker", "person_id": person_c}
    assert not await _minted_account_sees(client, world.users["staff_a"], body, world.project_c)


async def test_scope_project_staff_creates_foreman_and_worker_of_own_project(client, world):
    staff = await auth(client, world.users["staff_a"])
    r = await client.post(
        f"/api/projects/{world.project_a}/roster", headers=staff, json=roster_payload(world, world.project_a)
    )
    person = r.json()["person_id"]
    for body in ({"role": "foreman", "project_ids": [world.project_a]}, {"role": "worker", "person_id": person}):
        username = unique("t_made_")
        r = await client.post("/api/users", headers=staff, json={"username": username, "password": PASSWORD, **body})
        assert r.status_code == 201, r.text
        h = await login(client, username)
        me = (await client.get("/api/me", headers=h)).json()
        assert me["role"] == body["role"] and me["must_change_password"] is True
        h = await login_changing_password(client, username)
        assert [p["id"] for p in (await client.get("/api/projects", headers=h)).json()] == [world.project_a]


async def test_scope_user_creation_checks_project_ids(client, world):
    for creator in ("staff_a", "supervisor_a"):
        r = await client.post(
            "/api/users",
            headers=await auth(client, world.users[creator]),
            json={
                "username": unique("mint_"),
                "password": PASSWORD,
                "role": "foreman",
                "project_ids": [world.project_c],
            },
        )
        assert r.status_code == 404, (creator, r.text)
    r = await client.post(
        "/api/users",
        headers=await auth(client, world.users["staff_a"]),
        json={
            "username": unique("mint_"),
            "password": PASSWORD,
            "role": "supervisor",
            "district_ids": [world.district_a],
        },
    )
    assert r.status_code == 403
    r = await client.post(
        "/api/users",
        headers=await auth(client, world.users["foreman_a"]),
        json={"username": unique("mint_"), "password": PASSWORD, "role": "worker"},
    )
    assert r.status_code == 403


async def test_scope_admin_only_endpoints_refuse_other_roles(client, world):
    for label in ("supervisor_a", "enterprise_gc", "staff_a", "foreman_a", "vendor"):
        h = await auth(client, world.users[label])
        r = await client.post("/api/districts", headers=h, json={"code": "999001", "name": "越权区"})
        assert r.status_code == 403, label
        r = await client.patch(
            f"/api/districts/{world.district_a}/rules",
            headers=h,
            json={"rule_overrides": {"warning_red_after_days": 1}},
        )
        assert r.status_code == 403, label
        r = await client.post("/api/vendors", headers=h, json={"name": "x"})
        assert r.status_code == 403, label


async def test_scope_unauthenticated_api_gets_401_json(client, world):
    client.cookies.clear()
    for method, url in (
        ("GET", "/api/projects"),
        ("GET", "/api/me"),
        ("GET", f"/api/projects/{world.project_a}"),
        ("POST", "/api/projects"),
        ("GET", "/api/terminals"),
        ("GET", "/api/districts"),
    ):
        r = await client.request(method, url, json={} if method == "POST" else None)
        assert r.status_code == 401, url
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert body["code"] == "not_authenticated"
        assert body["message"] == "请先登录" and body["message_en"]


async def test_scope_unauthenticated_api_with_html_accept_still_gets_json_401(client):
    client.cookies.clear()
    r = await client.get("/api/projects", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"


async def test_scope_bad_bearer_token_gets_401(client):
    client.cookies.clear()
    r = await client.get("/api/me", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"


async def test_scope_html_home_unauthenticated_redirects_to_login(client):
    client.cookies.clear()
    r = await client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code in (302, 303, 307)
    assert r.headers["location"].startswith("/login")
    r = await client.get("/login")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]


async def test_scope_html_project_page_unauthenticated_redirects_with_next(client, world):
    client.cookies.clear()
    r = await client.get(f"/projects/{world.project_a}", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code in (302, 303, 307)
    assert r.headers["location"] == f"/login?next=/projects/{world.project_a}"
