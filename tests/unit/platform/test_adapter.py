"""Our entities in the national platform's language (seed 003 数据标准 / 数据接口标准; issue 17): method names,
code tables (证件类型, 参建类型, 项目状态, 工种, 进出方向), payload fields, natural keys, and ID numbers that
reach the wire in clear but never a log."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest

from backend.crypto import encrypt_text
from backend.errors import InvalidInput
from backend.platform import adapter
from backend.platform.simulator import validate
from backend.platform.wire import WireRequest
from backend.vocabulary import ProjectStatus, UnitType
from refdata.idcard import id_check_char

FIRST17 = "44070319850101123"
ID = FIRST17 + id_check_char(FIRST17)
PROJECT = {"id": 42, "district_code": "440703", "timezone": "Asia/Shanghai"}
CODE = "44070300000042"


def roster(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "project": PROJECT, "uscc": "91440703MA4UABCDE1", "corp_name": "江门建工集团", "team_name": "钢筋班",
        "name": "张三", "id_cipher": encrypt_text(ID), "work_role": "worker", "work_type": "020", "is_leader": False,
        "ethnicity": "01", "gender": "M", "birth_date": date(1985, 1, 1), "phone": "13900001111",
        "address": "广东省江门市", "id_issuer": "江门市公安局", "id_valid_until": date(2035, 1, 1),
        "entered_on": date(2026, 11, 3), "exited_on": None,
    }
    row.update(over)
    return row


def test_every_entity_kind_has_an_add_method_and_a_query_method() -> None:
    assert set(adapter.METHODS) == set(adapter.QUERY_METHODS) == set(adapter.KIND_ZH)
    assert adapter.method_for("worker", "add") == "ProjectWorker.Add"
    assert adapter.method_for("worker", "update") == "ProjectWorker.Update"
    assert adapter.method_for("project_unit", "add") == "ProjectSubContractor.Add"


def test_add_only_kinds_refuse_an_update() -> None:
    for kind in ("worker_entry", "worker_exit", "attendance", "contract"):
        with pytest.raises(InvalidInput) as err:
            adapter.method_for(kind, "update")  # type: ignore[arg-type]
        assert err.value.code == "platform_no_update"


def test_unit_types_map_to_the_national_corp_type_table() -> None:
    assert adapter.CORP_TYPE == {
        UnitType.specialist_subcontractor: "001", UnitType.labour_subcontractor: "006",
        UnitType.supervision_firm: "007", UnitType.owner: "008", UnitType.general_contractor: "009",
    }
    assert set(adapter.CORP_TYPE) == set(UnitType)


def test_every_project_status_has_a_national_code() -> None:
    assert set(adapter.PROJECT_STATUS) == set(ProjectStatus)
    assert adapter.PROJECT_STATUS[ProjectStatus.under_construction] == "003"
    assert adapter.PROJECT_STATUS[ProjectStatus.suspended] == "005"


def test_project_payload_uses_the_standards_field_names() -> None:
    data = adapter.build_project({
        **PROJECT, "name": "江门市测试项目", "category": "building", "status": "under_construction",
        "permit_no": "440703202210170101", "address": "蓬江区", "contractor_uscc": "91440703MA4UABCDE1",
        "contractor_name": "江门建工集团", "owner_uscc": None, "owner_name": None, "contract_value_yuan": 1.5e7,
        "floor_area_m2": 32000.0, "planned_start": date(2026, 3, 1), "actual_start": None, "completed_on": None,
        "lat": 22.58, "lon": 113.08,
    })
    assert data["projectCode"] == CODE
    assert data["prjStatus"] == "003" and data["category"] == "01" and data["areaCode"] == "440703"
    assert data["builderLicenses"] == [{"prjName": "江门市测试项目", "builderLicenseNum": "440703202210170101"}]
    assert data["startDate"] == "2026-03-01" and data["lng"] == 113.08
    assert "buildCorpCode" not in data  # absent optional fields are left out


def test_unit_payload_carries_the_corp_type_code() -> None:
    data = adapter.build_project_unit({"project": PROJECT, "uscc": "91440703MA4UABCDE1", "corp_name": "劳务公司",
                                       "unit_type": "labour_subcontractor", "entered_on": date(2026, 11, 1),
                                       "exited_on": None})
    assert data == {"projectCode": CODE, "corpCode": "91440703MA4UABCDE1", "corpName": "劳务公司", "corpType": "006",
                    "entryTime": "2026-11-01"}


def test_team_payload_names_its_leader_with_the_id_in_clear_for_the_wire() -> None:
    data = adapter.build_team({"project": PROJECT, "uscc": "91440703MA4UABCDE1", "corp_name": "江门建工集团",
                               "name": "钢筋班", "entered_on": None, "exited_on": None,
                               "leader": {"name": "李四", "phone": "13800000000", "id_cipher": encrypt_text(ID)}})
    assert data["teamName"] == "钢筋班"
    assert data["responsiblePersonIDCardType"] == "01"
    assert data["responsiblePersonIDNumber"] == ID


def test_worker_payload_maps_id_type_work_role_and_work_type() -> None:
    data = adapter.build_worker(roster(is_leader=True))
    assert data["projectCode"] == CODE and data["teamName"] == "钢筋班" and "teamSysNo" not in data
    w = data["workerList"][0]
    assert w["idCardType"] == "01" and w["idCardNumber"] == ID
    assert w["workRole"] == "20" and w["workType"] == "020" and w["isTeamLeader"] == 1
    assert w["birthday"] == "1985-01-01" and w["nation"] == "01"
    assert validate("worker", "ProjectWorker.Add", data) is None


def test_a_manager_without_a_work_type_is_reported_as_900() -> None:
    w = adapter.build_worker(roster(work_role="manager", work_type=None))["workerList"][0]
    assert w["workRole"] == "10" and w["workType"] == adapter.MANAGER_WORK_TYPE


def test_worker_payload_uses_the_team_sys_no_when_the_uploader_knows_it() -> None:
    assert adapter.build_worker(roster(), {"teamSysNo": "TE00000007"})["teamSysNo"] == "TE00000007"


def test_entry_and_exit_records_carry_type_1_and_0() -> None:
    entry = adapter.build_entry_exit(roster(), exit=False)
    assert entry["workerList"][0] == {"idCardType": "01", "idCardNumber": ID, "date": "2026-11-03", "type": "1"}
    with pytest.raises(InvalidInput):
        adapter.build_entry_exit(roster(), exit=True)
    left = adapter.build_entry_exit(roster(exited_on=date(2026, 11, 30)), exit=True)
    assert left["workerList"][0]["type"] == "0" and left["workerList"][0]["date"] == "2026-11-30"
    assert adapter.kind_of_method("WorkerEntryExit.Add", entry) == "worker_entry"
    assert adapter.kind_of_method("WorkerEntryExit.Add", left) == "worker_exit"


def test_contract_period_types() -> None:
    assert adapter.CONTRACT_PERIOD_TYPE == {"fixed_term": "0", "task": "1", "open_ended": "2"}
    data = adapter.build_contract({"project": PROJECT, "uscc": "91440703MA4UABCDE1", "corp_name": "江门建工集团",
                                   "id_cipher": encrypt_text(ID), "contract_no": "", "contract_type": "task",
                                   "signed_on": None, "starts_on": date(2026, 11, 3), "ends_on": None})
    c = data["contractList"][0]
    assert c["contractPeriodType"] == "1" and c["startDate"] == "2026-11-03" and "contractCode" not in c


def test_attendance_time_is_the_projects_local_time_and_direction_is_coded() -> None:
    data = adapter.build_attendance({**roster(), "captured_at": datetime(2026, 12, 1, 23, 58, 0, tzinfo=UTC),
                                     "direction": "out", "source": "mobile", "lon": 113.0, "lat": 22.5})
    row = data["dataList"][0]
    assert row["date"] == "2026-12-02 07:58:00"  # UTC+8
    assert row["direction"] == "02" and row["attendType"] == "002"


def test_natural_keys_are_what_the_query_methods_take() -> None:
    worker = WireRequest("ProjectWorker.Add", adapter.build_worker(roster()))
    assert adapter.natural_key("worker", worker) == {"projectCode": CODE, "idCardType": "01", "idCardNumber": ID}
    entry = WireRequest("WorkerEntryExit.Add", adapter.build_entry_exit(roster(), exit=False))
    assert adapter.natural_key("worker_entry", entry) == {"projectCode": CODE, "idCardNumber": ID, "type": "1",
                                                          "date": "2026-11-03"}
    team = WireRequest("Team.Add", {"projectCode": CODE, "corpCode": "X", "teamName": "钢筋班"})
    assert adapter.natural_key("team", team) == {"projectCode": CODE, "corpCode": "X", "teamName": "钢筋班"}


def test_redact_masks_every_id_and_bank_number_in_nested_payloads() -> None:
    data = adapter.build_worker(roster())
    data["workerList"][0]["payRollBankCardNumber"] = "6222020200112233445"
    masked = adapter.redact(data)
    text = repr(masked)
    assert ID not in text and "6222020200112233445" not in text
    assert masked["workerList"][0]["idCardNumber"] == ID[:4] + "*" * 10 + ID[-4:]
    assert data["workerList"][0]["idCardNumber"] == ID  # the original is untouched


def test_describe_is_safe_to_log(caplog: pytest.LogCaptureFixture) -> None:
    req = WireRequest("ProjectWorker.Add", adapter.build_worker(roster()))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("backend.platform").info("sending %s", adapter.describe(req))
    assert "ProjectWorker.Add" in caplog.text
    assert ID not in caplog.text


def test_the_simulator_rejects_a_bad_check_digit_with_the_platforms_wording() -> None:
    data = adapter.build_worker(roster())
    wrong = ID[:17] + ("0" if ID[17] != "0" else "1")
    data["workerList"][0]["idCardNumber"] = wrong
    assert validate("worker", "ProjectWorker.Add", data) == "idCardNumber 校验位错误"
    data["workerList"][0]["workerName"] = ""
    assert validate("worker", "ProjectWorker.Add", data) == "workerList.workerName不能为空"


def test_payroll_lines_carry_amounts_in_yuan_and_the_card_in_clear_for_the_wire_only() -> None:
    card = "6222020200112233445"
    data = adapter.build_payroll({
        "project": PROJECT, "month": "2026-11", "uscc": "91440703MA4UABCDE1", "corp_name": "江门建工集团",
        "lines": [{"id_cipher": encrypt_text(ID), "team_name": "钢筋班", "days": 22, "payable_fen": 660050,
                   "paid_fen": 660050, "paid_on": date(2026, 12, 10), "card_cipher": encrypt_text(card, aad=b"card"),
                   "card_aad": b"card", "card_bank": "工商银行"}],
    })
    line = data["detailList"][0]
    assert data["payMonth"] == "2026-11" and data["projectCode"] == CODE
    assert line["totalPayAmount"] == "6600.50" and line["actualAmount"] == "6600.50" and line["days"] == 22
    assert line["payRollBankCardNumber"] == card and line["balanceDate"] == "2026-12-10"
    assert card not in adapter.describe(WireRequest("Payroll.Add", data))
    assert adapter.natural_key("payroll", WireRequest("Payroll.Add", data)) == {
        "projectCode": CODE, "corpCode": "91440703MA4UABCDE1", "payMonth": "2026-11"}
    assert validate("payroll", "Payroll.Add", data) is None
