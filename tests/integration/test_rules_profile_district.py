"""Rule profiles per district (issue 14 item 7) and derived rules applied alike everywhere (item 10): the
district API sets a profile (an unknown one is a bilingual 400 and nothing is stored), the project page and API
show which profile judged the project, the worker's punch card names the gate limit for a late gate punch, the
latency report uses each source's limit from the project's rules, and the managers' make-up ban looks at the
person's roster row on that project on the punch day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.integration.conftest import PASSWORD, BearerHeaders, unique, user_id

pytestmark = pytest.mark.integration

auth = BearerHeaders()


def _code() -> str:
    return f"77{uuid.uuid4().int % 10**8:08d}"


async def _project(district: int, *, floor_area_m2: float = 1_000) -> int:
    from backend.org import services as org

    pid = await org.create_project(name=unique("规则测试工程"), district_id=district, category="building",
                                   floor_area_m2=floor_area_m2, planned_start=date.today() - timedelta(days=40))
    await org.change_status(pid, "under_construction", effective_on=date.today() - timedelta(days=30), note="开工",
                            user_id=None)
    return pid


# --- Setting the profile -----------------------------------------------------------------------------------------


async def test_district_api_sets_the_profile_seed001_s2_1(client, world):
    admin = await auth(world.users["admin"])
    code = _code()
    r = await client.post("/api/districts/", headers=admin,
                          json={"code": code, "name": unique("江门测试区"), "rule_profile": "jiangmen"})
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    rules = (await client.get(f"/api/districts/{did}/rules", headers=admin)).json()
    assert rules["profile"] == "jiangmen" and rules["scope_rule"] == "all_permitted"
    assert rules["manager_start_base"] == "actual_start"
    listed = next(d for d in (await client.get("/api/districts/", headers=admin)).json() if d["id"] == did)
    assert listed["rule_profile"] == "jiangmen" and listed["rule_profile_label"].startswith("江门市")

    r = await client.put(f"/api/districts/{did}/rule-profile", headers=admin, json={"rule_profile": "zhongshan"})
    assert r.status_code == 200 and r.json()["profile"] == "zhongshan" and r.json()["scope_rule"] == "size_threshold"
    profiles = (await client.get("/api/districts/rule-profiles", headers=admin)).json()
    assert [p["name"] for p in profiles] == ["baseline", "jiangxi", "jiangmen", "changde", "zhongshan"]


async def test_unknown_profile_is_a_bilingual_400_and_nothing_is_stored(client, world):
    from backend.org.tables import District

    admin = await auth(world.users["admin"])
    code = _code()
    r = await client.post("/api/districts/", headers=admin,
                          json={"code": code, "name": unique("未知规则区"), "rule_profile": "guangzhou"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "unknown_rule_profile" and body["field"] == "rule_profile"
    assert "未知的判定规则" in body["message"] and "Unknown rule profile" in body["message_en"]
    assert not await District.exists().where(District.code == code)

    r = await client.put(f"/api/districts/{world.district_b}/rule-profile", headers=admin,
                         json={"rule_profile": "nowhere"})
    assert r.status_code == 400 and r.json()["code"] == "unknown_rule_profile"
    row = await District.select(District.rule_profile).where(District.id == world.district_b).first()
    assert row["rule_profile"] == "baseline"
    # only the admin chooses a district's rules
    sup = await auth(world.users["supervisor_b"])
    r = await client.put(f"/api/districts/{world.district_b}/rule-profile", headers=sup,
                         json={"rule_profile": "jiangmen"})
    assert r.status_code == 403


async def test_profile_overrides_still_checked_when_the_profile_changes(world):
    from backend.errors import InvalidInput
    from backend.org import services as org
    from backend.org.tables import District

    did = await org.create_district(_code(), unique("覆盖规则区"), {"manager_valid_days_ratio": 0.7},
                                    rule_profile="changde")
    rules = await org.rules_for_district(did)
    assert rules.profile == "changde" and rules.manager_valid_days_ratio == 0.7
    with pytest.raises(InvalidInput):
        await org.set_rule_profile(did, "Changde")
    assert (await District.select(District.rule_profile).where(District.id == did).first())["rule_profile"] == "changde"


# --- The project page shows the profile that judged ------------------------------------------------------------


async def test_project_page_and_api_show_the_profile_seed001_vs_seed004(client, world):
    from backend.org import services as org

    jm = await org.create_district(_code(), unique("江门页面区"), rule_profile="jiangmen")
    zs = await org.create_district(_code(), unique("中山页面区"), rule_profile="zhongshan")
    p_jm, p_zs = await _project(jm), await _project(zs)
    admin = await auth(world.users["admin"])

    api_jm = (await client.get(f"/api/projects/{p_jm}", headers=admin)).json()
    assert api_jm["rule_profile"] == "jiangmen" and api_jm["in_scope"] is True  # 1,000 m², 报建: covered
    assert api_jm["manager_counting_start"] == (date.today() - timedelta(days=30)).isoformat()  # the actual start
    api_zs = (await client.get(f"/api/projects/{p_zs}", headers=admin)).json()
    assert api_zs["rule_profile"] == "zhongshan" and api_zs["in_scope"] is False  # below 5,000 m²
    # planned start 40 days ago + the 10 days after it (民法典 §201) → 29 days ago
    assert api_zs["manager_counting_start"] == (date.today() - timedelta(days=29)).isoformat()

    page = await client.get(f"/projects/{p_jm}", headers=admin)
    assert page.status_code == 200
    assert "判定规则：江门市（江建函〔2022〕109号）" in page.text and "不论规模" in page.text
    assert "自实际开工日期起计算" in page.text
    page = await client.get(f"/projects/{p_zs}", headers=admin)
    assert "判定规则：中山市" in page.text and "5,000 平方米" in page.text and "否（规模以下）" in page.text


async def test_explain_lists_profile_scope_start_and_latency(world):
    from backend.org import services as org
    from backend.supervision.services.explain import explain_project_month

    did = await org.create_district(_code(), unique("解释区"), rule_profile="jiangmen")
    pid = await _project(did)
    e = await explain_project_month(pid, "2026-11")
    assert e.profile == "jiangmen" and e.profile_label.startswith("江门市") and e.month == "2026-11"
    lines = {line.rule: line for line in e.lines}
    assert lines["scope_rule"].clause == "seed 001 §二(一)" and lines["scope_rule"].verdict.startswith("纳入")
    assert lines["manager_counting_start"].inputs["manager_start_base"] == "actual_start"
    assert (date.today() - timedelta(days=30)).isoformat() in lines["manager_counting_start"].verdict
    assert "5 秒" in lines["gate_max_latency_s"].verdict and "30 秒" in lines["mobile_max_latency_s"].verdict


# --- The worker's punch card: 限 5 秒 for a gate punch -------------------------------------------------------------


async def test_worker_page_names_the_gate_limit_for_a_late_gate_punch_seed002(client, world):
    from backend.accounts.services import create_user
    from backend.attendance.services import PunchIn, record_punch
    from backend.workforce import services as workforce

    person = await workforce.upsert_person(id_number=world.id_number(), name="闸机工人")
    await workforce.enter_roster(project_id=world.project_a, person_id=person,
                                 unit_id=world.units[world.project_a]["general_contractor"],
                                 team_id=world.teams[world.project_a]["钢筋班组"], work_role="worker",
                                 work_type="020", entered_on=date.today() - timedelta(days=5))
    username = unique("t_gate_worker_")
    await create_user(username, PASSWORD, "worker", person_id=person, project_ids=[world.project_a])
    now = datetime.now(UTC)
    v = await record_punch(PunchIn(source="gate", project_id=world.project_a, person_id=person,
                                   idempotency_key=uuid.uuid4().hex, captured_at=now - timedelta(seconds=6),
                                   received_at=now))
    assert "late_upload" in v.flags
    page = await client.get(f"/m/punches/{v.punch_id}", headers=await auth(username))
    assert page.status_code == 200
    assert "限 5 秒" in page.text and "限 30 秒" not in page.text
    assert "（6 秒后）" in page.text


# --- The latency report: each source's limit from the project's rules ----------------------------------------------


async def test_latency_report_uses_the_per_source_limit_of_each_project(world):
    from backend.attendance.services import PunchIn, record_punch
    from backend.org import services as org
    from backend.supervision.services.latency import latency_compliance
    from backend.workforce import services as workforce

    strict = await org.create_district(_code(), unique("时限区"), {"gate_max_latency_s": 3, "mobile_max_latency_s": 10},
                                       rule_profile="changde")
    plain = await org.create_district(_code(), unique("默认时限区"))
    made: dict[int, int] = {}
    for did in (strict, plain):
        pid = await _project(did)
        unit = await org.add_unit(pid, (await org.list_enterprises())[0]["id"], "general_contractor")
        team = await org.create_team(pid, unit, "测试班组")
        person = await workforce.upsert_person(id_number=world.id_number(), name="时限工人")
        await workforce.enter_roster(project_id=pid, person_id=person, unit_id=unit, team_id=team,
                                     work_role="worker", work_type="020", entered_on=date.today() - timedelta(days=5))
        now = datetime.now(UTC)
        for source, lag in (("gate", 4), ("gate", 2), ("mobile", 20), ("mobile", 5)):
            await record_punch(PunchIn(source=source, project_id=pid, person_id=person,
                                       idempotency_key=uuid.uuid4().hex, captured_at=now - timedelta(seconds=lag),
                                       received_at=now))
        made[did] = pid
    today = datetime.now(UTC).date()
    rows, _terminals = await latency_compliance(set(made.values()), today - timedelta(days=1), today + timedelta(days=1))
    by = {(r.project_id, r.source): r for r in rows}
    s_gate, s_mobile = by[(made[strict], "gate")], by[(made[strict], "mobile")]
    assert (s_gate.limit_s, s_gate.total, s_gate.within) == (3.0, 2, 1)  # 4 s late under a 3 s limit
    assert (s_mobile.limit_s, s_mobile.total, s_mobile.within) == (10.0, 2, 1)
    p_gate, p_mobile = by[(made[plain], "gate")], by[(made[plain], "mobile")]
    assert (p_gate.limit_s, p_gate.within) == (5.0, 2)  # seed 002 附件1 §二(17)
    assert (p_mobile.limit_s, p_mobile.within) == (30.0, 2)  # seed 000 附件3 §三.4


# --- The make-up ban reads the roster row on that project on the punch day (seed 000 §六) --------------------------


async def test_makeup_ban_checks_the_role_on_the_punch_day_seed000_s6(world):
    from backend.accounts.services import CurrentUser
    from backend.attendance.services import PunchIn, record_punch
    from backend.clockin.services import request_makeup
    from backend.errors import Forbidden
    from backend.workforce import services as workforce
    from tests.integration.people_kit import exit_entry

    pa = world.project_a
    person = await workforce.upsert_person(id_number=world.id_number(), name="转岗人员")
    manager_entry = await workforce.enter_roster(
        project_id=pa, person_id=person, unit_id=world.units[pa]["general_contractor"],
        team_id=world.teams[pa]["总承包单位项目部"], work_role="manager", post="safety_officer",
        entered_on=date.today() - timedelta(days=25))
    await exit_entry(pa, manager_entry, date.today() - timedelta(days=15))
    await workforce.enter_roster(project_id=pa, person_id=person, unit_id=world.units[pa]["general_contractor"],
                                 team_id=world.teams[pa]["钢筋班组"], work_role="worker", work_type="020",
                                 entered_on=date.today() - timedelta(days=10))
    admin_id = await user_id(world.users["admin"])
    user = CurrentUser(id=admin_id, username=world.users["admin"], display_name="管理员", role="admin")
    noon = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0)

    # a worker's day now: the make-up may be requested, and the attendance path does not reject it as a manager's
    rid = await request_makeup(user, person_id=person, project_id=pa, punch_time=noon - timedelta(days=2),
                               reason="rain", note="", direction="in", evidence=None, evidence_type=None)
    assert rid > 0
    v = await record_punch(PunchIn(source="makeup", project_id=pa, person_id=person,
                                   idempotency_key=uuid.uuid4().hex, captured_at=noon - timedelta(days=2)))
    assert "manager_makeup_forbidden" not in v.reasons

    # a day the person was a manager on this project: refused, on both paths
    with pytest.raises(Forbidden) as exc:
        await request_makeup(user, person_id=person, project_id=pa, punch_time=noon - timedelta(days=20),
                             reason="rain", note="", direction="in", evidence=None, evidence_type=None)
    assert exc.value.code == "manager_makeup_forbidden"
    v = await record_punch(PunchIn(source="makeup", project_id=pa, person_id=person,
                                   idempotency_key=uuid.uuid4().hex, captured_at=noon - timedelta(days=20)))
    assert "manager_makeup_forbidden" in v.reasons
