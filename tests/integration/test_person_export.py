"""A person's request (issue 20 B.4; PIPL §45–46): everything held about one person in one .zip — JSON and .xlsx
with Chinese labels, the face photos, punches, roster entries, contracts, wage lines, consent records and the
ID-access log entries about them — and nothing of anyone else; corrections of name, phone and ID number, each
with a reason, audited (ID numbers masked in the audit)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from backend.crew.enrolment import save_enrolment
from backend.crypto import decrypt_text
from backend.db import write_transaction
from backend.privacy.export import SECTIONS
from backend.workforce import consent
from backend.workforce import services as workforce
from backend.workforce.tables import Person, PersonCorrection
from tests.integration.conftest import login
from tests.integration.people_kit import sign_contract

pytestmark = pytest.mark.integration


async def on_roster(world: Any, name: str, number: str | None = None) -> tuple[int, str, int]:
    number = number or world.id_number()
    pid = await workforce.upsert_person(id_number=number, name=name, phone="13800138000")
    entry = await workforce.enter_roster(project_id=world.project_a, person_id=pid,
                                         unit_id=world.units[world.project_a]["general_contractor"],
                                         team_id=world.teams[world.project_a]["钢筋班组"], work_role="worker",
                                         work_type="020", entered_on=date.today() - timedelta(days=5))
    return pid, number, entry


async def punch(world: Any, pid: int, key: str, photo: bytes | None = None) -> None:
    from backend.attendance.services import PunchIn, record_punch

    now = datetime.now(UTC)
    await record_punch(PunchIn(source="makeup", project_id=world.project_a, person_id=pid, idempotency_key=key,
                               captured_at=now - timedelta(hours=1), received_at=now, photo=photo))


async def test_the_export_holds_every_section_the_photos_and_no_one_else(client, world):
    pid, number, entry = await on_roster(world, "导出本人")
    other, other_number, _ = await on_roster(world, "旁人甲")
    await sign_contract(world.project_a, entry)
    await consent.record(pid, "given", channel="tablet", project_id=world.project_a)
    await consent.record(other, "given", channel="tablet", project_id=world.project_a)
    async with write_transaction():
        await save_enrolment(pid, bytes(512), b"\xff\xd8face-of-pid", b"\xff\xd8id-of-pid", source="tablet")
        await save_enrolment(other, bytes(512), b"\xff\xd8face-of-other", None, source="tablet")
    await punch(world, pid, f"pe-{pid}", photo=b"\xff\xd8punch-of-pid")  # in the photo store (issue 18)
    await punch(world, other, f"pe-{other}", photo=b"\xff\xd8punch-of-other")

    h = await login(client, world.users["staff_a"])
    r = await client.get(f"/api/privacy/people/{pid}/export", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/zip") and "no-store" in r.headers["cache-control"]
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(z.namelist())
    assert {"数据.json", "数据.xlsx", "照片/人脸采集照片.jpg", "照片/身份证照片.jpg"} <= names
    assert any(n.startswith("劳动合同/") for n in names)
    assert z.read("照片/人脸采集照片.jpg") == b"\xff\xd8face-of-pid"
    assert [z.read(n) for n in names if n.startswith("照片/考勤")] == [b"\xff\xd8punch-of-pid"]
    data = json.loads(z.read("数据.json"))
    assert set(SECTIONS) <= set(data)
    assert data["人员信息"][0]["姓名"] == "导出本人" and data["人员信息"][0]["身份证号"] == number
    assert data["花名册记录"][0]["项目"] == "甲区住宅工程" and data["劳动合同"]
    assert len(data["考勤记录"]) == 1 and data["考勤记录"][0]["来源"] == "补卡"
    assert data["人脸采集同意记录"][0]["操作"] == "已同意"
    # the export itself is in the ID-access records about the person (logged before the archive was built)
    assert data["身份证号访问记录"][0]["类型"] == "个人信息导出（本人申请）"
    blob = z.read("数据.json").decode() + "".join(n for n in names)
    assert "旁人甲" not in blob and other_number not in blob and "face-of-other" not in str(
        [z.read(n) for n in names if n.startswith("照片/")])
    assert "punch-of-other" not in str([z.read(n) for n in names if n.startswith("照片/")])
    wb = load_workbook(io.BytesIO(z.read("数据.xlsx")), read_only=True)
    assert "人员信息" in wb.sheetnames and "考勤记录" in wb.sheetnames


async def test_who_may_export_a_persons_data(client, world):
    pid, _, _ = await on_roster(world, "导出范围")
    for label, status in (("foreman_a", 403), ("supervisor_b", 404), ("enterprise_gc", 403), ("supervisor_a", 200),
                          ("admin", 200)):
        h = await login(client, world.users[label])
        r = await client.get(f"/api/privacy/people/{pid}/export", headers=h)
        assert r.status_code == status, (label, r.text[:200])


async def test_corrections_are_audited_with_masked_id_numbers(client, world):
    pid, number, _ = await on_roster(world, "更正前")
    h = await login(client, world.users["staff_a"])
    base = f"/api/privacy/people/{pid}/corrections"
    no_reason = await client.post(base, headers=h, json={"field": "name", "value": "更正后", "reason": ""})
    assert no_reason.status_code == 400
    r = await client.post(base, headers=h, json={"field": "name", "value": "更正后", "reason": "身份证姓名有误"})
    assert r.status_code == 201, r.text
    assert (r.json()["old_value"], r.json()["new_value"]) == ("更正前", "更正后")
    r = await client.post(base, headers=h, json={"field": "phone", "value": "13900139000", "reason": "换号"})
    assert r.status_code == 201
    new_number = world.id_number()
    r = await client.post(base, headers=h, json={"field": "id_number", "value": new_number, "reason": "录入错误"})
    assert r.status_code == 201, r.text
    assert new_number not in r.text and r.json()["new_value"].startswith(new_number[:4]) and "*" in r.json()["new_value"]
    p = await Person.select().where(Person.id == pid).first()
    assert (p["name"], p["phone"], decrypt_text(p["id_cipher"])) == ("更正后", "13900139000", new_number)
    audit = await PersonCorrection.select().where(PersonCorrection.person == pid).order_by(PersonCorrection.id)
    assert [(a["field"], a["reason"], a["username"]) for a in audit] == [
        ("name", "身份证姓名有误", world.users["staff_a"]), ("phone", "换号", world.users["staff_a"]),
        ("id_number", "录入错误", world.users["staff_a"])]
    assert number not in str(audit) and new_number not in str(audit)  # only masked numbers in the audit
    # another person's number is refused without saying whose
    _, other_number, _ = await on_roster(world, "另一人")
    taken = await client.post(base, headers=h, json={"field": "id_number", "value": other_number, "reason": "x"})
    assert taken.status_code == 409 and "另一人" not in taken.text
    page = await client.get(f"/privacy/people/{pid}", headers=h)
    assert page.status_code == 200 and "身份证姓名有误" in page.text and 'id="corrections"' in page.text
    foreman = await login(client, world.users["foreman_a"])
    assert (await client.post(base, headers=foreman, json={"field": "name", "value": "x", "reason": "y"})).status_code == 403
