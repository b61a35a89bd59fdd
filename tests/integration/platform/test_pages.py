"""The upload pages (issue 17; seed 001 §2.9 上传省厅结果查询): the result page opens on 上传失败 with the platform's
reason, filters and pages; the lists' state cells come in one request and never show another district's
entities; 重新上传 makes a new task for a failed entity (for the roles that change project data); the district
sees "省平台不可用 since …" when the circuit is open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.outbox import UploadTask
from backend.platform import services
from backend.vocabulary import UploadState
from tests.integration.conftest import BearerHeaders

pytestmark = pytest.mark.integration

auth = BearerHeaders()


async def _fail(kind: str, entity_id: int, project_id: int, district_id: int, reason: str) -> None:
    await services.set_state(kind, entity_id, UploadState.failed, reason=reason, project_id=project_id,
                             district_id=district_id)


async def test_result_page_opens_on_failed_with_the_reason_and_filters(client, world) -> None:
    pa, pc = world.project_a, world.project_c
    await _fail("project", pa, pa, world.district_a, "项目编码重复，请勿重复添加")
    await services.set_state("team", world.teams[pa]["钢筋班组"], UploadState.succeeded, project_id=pa,
                             district_id=world.district_a)
    await _fail("project", pc, pc, world.district_b, "乙区的失败原因")
    h = await auth(world.users["supervisor_a"])
    r = await client.get("/platform/results", headers=h)
    assert r.status_code == 200, r.text
    assert "上传省厅结果查询" in r.text
    assert "项目编码重复，请勿重复添加" in r.text
    assert "乙区的失败原因" not in r.text  # another district's
    assert "钢筋班组" not in r.text.split("<tbody>")[1]  # default: only 上传失败
    r = await client.get("/platform/results", params={"state": "succeeded", "kind": "team"}, headers=h)
    assert "钢筋班组" in r.text.split("<tbody>")[1]
    r = await client.get("/platform/results", params={"state": "", "project_id": str(pa)}, headers=h)
    assert r.status_code == 200 and "项目编码重复" in r.text
    r = await client.get("/platform/results", params={"project_id": str(pc)}, headers=h)
    assert r.status_code == 404  # outside the scope: not revealed
    r = await client.get("/platform/results", params={"day": "2026-13-01"}, headers=h)
    assert r.status_code == 400


async def test_result_page_is_refused_to_foremen(client, world) -> None:
    r = await client.get("/platform/results", headers=await auth(world.users["foreman_a"]))
    assert r.status_code == 403


async def test_list_state_cells_come_in_one_request_and_stay_in_scope(client, world) -> None:
    pa, pc = world.project_a, world.project_c
    unit_a, unit_c = world.units[pa]["general_contractor"], world.units[pc]["general_contractor"]
    await services.set_state("project_unit", unit_a, UploadState.succeeded, project_id=pa)
    await services.set_state("project_unit", unit_c, UploadState.succeeded, project_id=pc)
    r = await client.get("/platform/states", params={"kind": "project_unit", "ids": f"{unit_a},{unit_c}"},
                         headers=await auth(world.users["staff_a"]))
    assert r.status_code == 200
    assert f'id="up-project_unit-{unit_a}" hx-swap-oob="true"' in r.text and "上传成功" in r.text
    assert f"up-project_unit-{unit_c}" not in r.text
    r = await client.get(f"/projects/{pa}/units", headers=await auth(world.users["staff_a"]))
    if r.status_code == 200:  # the units page carries the column and one loader per table
        assert "上传省厅" in r.text and "/platform/states?kind=project_unit" in r.text
    r = await client.get("/api/platform/states/project_unit", params={"ids": f"{unit_a},{unit_c}"},
                         headers=await auth(world.users["staff_a"]))
    assert r.status_code == 200 and [s["id"] for s in r.json()] == [unit_a]


async def test_retry_makes_a_new_task_for_a_failed_entity(client, world) -> None:
    pa = world.project_a
    team = world.teams[pa]["钢筋班组"]
    await _fail("team", team, pa, world.district_a, "班组负责人证件号码有误")
    await UploadTask.update({UploadTask.state: "failed", UploadTask.open_key: None}).where(
        (UploadTask.kind == "team") & (UploadTask.entity_id == team))
    r = await client.post(f"/platform/retry/team/{team}", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 403  # the authority looks; the project fixes and re-uploads
    r = await client.post(f"/platform/retry/team/{team}", headers=await auth(world.users["staff_a"]))
    assert r.status_code == 200, r.text
    assert "上传中" in r.text
    assert await UploadTask.exists().where((UploadTask.kind == "team") & (UploadTask.entity_id == team)
                                           & (UploadTask.state == "pending"))
    pc_team = world.teams[world.project_c]["钢筋班组"]
    r = await client.post(f"/platform/retry/team/{pc_team}", headers=await auth(world.users["staff_a"]))
    assert r.status_code == 404


async def test_the_district_sees_the_platform_down_since(client, world) -> None:
    await services.set_credentials(world.district_a, "http://127.0.0.1:9/api", "app-a", "secret-a")
    await services.record_health("http://127.0.0.1:9/api", down_since=datetime(2026, 12, 1, 2, 30, tzinfo=UTC),
                                 error="无法连接平台")
    r = await client.get("/platform/results", headers=await auth(world.users["supervisor_a"]))
    assert "省平台不可用 since 2026-12-01 10:30" in r.text
    r = await client.get("/platform/results", headers=await auth(world.users["supervisor_b"]))
    assert "省平台不可用" not in r.text


async def test_the_demo_points_every_district_at_its_simulator(world) -> None:
    from backend.platform.demo import demo_uploads

    assert await demo_uploads("http://127.0.0.1:9850/api") >= 2
    for district in (world.district_a, world.district_b):
        [p] = await services.district_platforms({district})
        assert p["base_url"] == "http://127.0.0.1:9850/api" and p["appid"] == "demo-appid"
    found = await services.platform_for_project(world.project_c)
    assert found is not None and found.creds.appsecret == "demo-appsecret-not-for-production"


async def test_enterprise_list_shows_each_enterprise_of_the_scope_with_its_upload_state(client, world) -> None:
    """Seed 001 draws the enterprise list with a 上传省厅 column: the worst state of the enterprise's project units."""
    pa, pb = world.project_a, world.project_b
    await services.set_state("project_unit", world.units[pa]["general_contractor"], UploadState.succeeded,
                             project_id=pa)
    await _fail("project_unit", world.units[pb]["general_contractor"], pb, world.district_a, "企业名称与信用代码不符")
    r = await client.get("/enterprises", headers=await auth(world.users["supervisor_a"]))
    assert r.status_code == 200, r.text
    body = r.text.split("<tbody>")[1]
    assert "测试总包有限公司" in body and "测试监理有限公司" in body
    assert "别区总包有限公司" not in body  # district B's only
    gc_row = next(row for row in body.split("<tr") if "测试总包有限公司" in row)
    assert "上传失败" in gc_row and "1/2 个参建记录上传成功" in gc_row

    r = await client.get("/enterprises", headers=await auth(world.users["enterprise_gc"]))
    body = r.text.split("<tbody>")[1]
    assert "测试总包有限公司" in body and "测试监理有限公司" not in body  # an enterprise sees itself
    r = await client.get("/enterprises", params={"q": "监理"}, headers=await auth(world.users["supervisor_a"]))
    assert "测试监理有限公司" in r.text and "测试总包有限公司" not in r.text.split("<tbody>")[1]
    r = await client.get("/enterprises", headers=await auth(world.users["foreman_a"]))
    assert r.status_code == 403
