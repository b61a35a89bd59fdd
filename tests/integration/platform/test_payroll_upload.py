"""工资发放记录 go up (issue 17, the payroll kind): submitting a month's payroll enqueues it in the same transaction; it
waits for its workers, goes up as ``Payroll.Add`` with exact yuan amounts and the bank card decrypted only on the
wire; a later correction of the same month is not a second add (the national interface has no Payroll.Update)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from backend.accounts.services import CurrentUser
from backend.crypto import encrypt_text
from backend.outbox import UploadTask
from backend.platform.simulator import SimulatorHandle, start_simulator
from backend.platform.uploader import Uploader
from backend.vocabulary import UploadState
from backend.wages import payroll
from backend.wages.tables import Payroll, PayrollLine
from backend.wages.upload import PROVIDERS, payroll_row, upload_entity
from backend.workforce.tables import RosterEntry
from tests.integration.conftest import user_id
from tests.integration.platform.upload_kit import (
    APPID,
    FAST,
    SECRET,
    make_project,
    open_tasks,
    point_districts_at,
    states,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await start_simulator(appid=APPID, appsecret=SECRET, delay=0.02, seed=7)
    yield handle
    await handle.stop()


async def _admin(world) -> CurrentUser:
    return CurrentUser(id=await user_id(world.users["admin"]), username=world.users["admin"], display_name="管理员",
                       role="admin")


async def _month_with_lines(project_id: int, entries: list[int], month: str) -> int:
    """A draft payroll of the month with one line per worker (what an import leaves), paid in part."""
    draft = Payroll(project=project_id, month=month, version=1, status="draft")
    await draft.save()
    for i, entry in enumerate(entries):
        e = await RosterEntry.select(RosterEntry.person, RosterEntry.team).where(RosterEntry.id == entry).first()
        await PayrollLine(payroll=draft.id, person=e["person"], team=e["team"], days_worked=20 + i,
                          payable_fen=600_050 + i, paid_fen=600_050 + i if i else 500_000, paid_on=date(2026, 11, 10),
                          card_enc=encrypt_text(f"622202123456789{i:04d}", aad=payroll.CARD_AAD),
                          card_masked="6222****", card_holder="本人", card_bank="测试银行").save()
    return draft.id


async def _drain(project_id: int) -> None:
    uploader = Uploader(FAST, providers=PROVIDERS)
    try:
        async def done() -> bool:
            return await open_tasks(project_id) == 0

        await uploader.drain(90, until=done)
    finally:
        await uploader.aclose()


async def test_a_submitted_payroll_goes_up_after_its_workers_with_exact_amounts(world, sim) -> None:
    kit = await make_project(world, "工资上传工程", 3)
    await point_districts_at(world, sim.url)
    first = await _month_with_lines(kit.project_id, kit.entries, "2026-10")
    assert not await UploadTask.exists().where(UploadTask.kind == "payroll")  # a draft is not sent
    row = await payroll_row(first)
    assert row is None  # nothing to send before submission

    await payroll.submit(await _admin(world), kit.project_id, "2026-10")
    assert await UploadTask.exists().where((UploadTask.kind == "payroll") & (UploadTask.entity_id == first))
    row = await payroll_row(first)
    assert row is not None and row["month"] == "2026-10" and len(row["lines"]) == 3

    await _drain(kit.project_id)
    st = await states(kit.project_id)
    assert st["payroll"] == {first: UploadState.succeeded}
    assert all(st["worker"][e] == UploadState.succeeded for e in kit.entries)
    assert sim.stats.out_of_order == 0 and sim.stats.duplicate_adds == 0
    [(key, n)] = [(k, n) for k, n in sim.stats.created.items() if k.startswith("payroll|")]
    assert n == 1 and "2026-10" in key
    sent = sim.sim.records[key].data
    lines = sorted(sent["detailList"], key=lambda d: d["days"])
    assert [ln["totalPayAmount"] for ln in lines] == ["6000.50", "6000.51", "6000.52"]
    assert lines[0]["actualAmount"] == "5000.00" and lines[0]["payRollBankCardNumber"] == "6222021234567890000"


async def test_a_correction_after_the_month_went_up_is_not_a_second_add(world, sim) -> None:
    kit = await make_project(world, "工资更正工程", 2)
    await point_districts_at(world, sim.url)
    await _month_with_lines(kit.project_id, kit.entries, "2026-09")
    user = await _admin(world)
    await payroll.submit(user, kit.project_id, "2026-09")
    await _drain(kit.project_id)
    await payroll.start_correction(user, kit.project_id, "2026-09", "补发加班费")
    await payroll.submit(user, kit.project_id, "2026-09")
    entity = await upload_entity(kit.project_id, "2026-09")
    tasks = await UploadTask.select(UploadTask.entity_id).where(UploadTask.kind == "payroll").where(
        UploadTask.project_id == kit.project_id)
    assert {t["entity_id"] for t in tasks} == {entity}  # one month, one upload entity
    await _drain(kit.project_id)
    assert sim.stats.duplicate_adds == 0
    assert sum(n for k, n in sim.stats.created.items() if k.startswith("payroll|")) == 1
    done = await UploadTask.select(UploadTask.last_reason).where(
        (UploadTask.kind == "payroll") & (UploadTask.project_id == kit.project_id)).order_by(UploadTask.id)
    assert "只可新增" in (done[-1]["last_reason"] or "")


async def test_a_failed_payroll_can_be_sent_again_by_the_project(world, sim) -> None:
    from backend.platform import services

    kit = await make_project(world, "工资重传工程", 1)
    await point_districts_at(world, sim.url)
    first = await _month_with_lines(kit.project_id, kit.entries, "2026-08")
    await payroll.submit(await _admin(world), kit.project_id, "2026-08")
    await _drain(kit.project_id)
    assert await services.project_of_entity("payroll", first) == kit.project_id
    assert await services.entities_in_projects("payroll", [first], {kit.project_id}) == {first}
    assert await services.entities_in_projects("payroll", [first], {kit.project_id + 999}) == set()
    await services.retry_upload("payroll", first)
    assert (await states(kit.project_id))["payroll"][first] == UploadState.uploading
