"""Our entities in the national platform's language (seed 003: 全国建筑工人管理服务信息平台数据标准 / 数据接口标准).

Everything a platform variant may change lives here, in tables: method names per entity kind (``METHODS``),
lookup methods (``QUERY_METHODS``), our codes → the national code tables (``ID_CARD_TYPE``, ``CORP_TYPE``,
``PROJECT_STATUS``, ``PROJECT_CATEGORY``, ``CONTRACT_PERIOD_TYPE``, ``DIRECTION``, ``ATTEND_TYPE``,
``WORK_ROLE``) and the payload builders (plain rows in, ``data`` dict out).  A second platform that copied the
interface with other names is a second module like this one, not a rewrite.  docs/platform-interface.md
shows the same tables for people.

ID numbers are decrypted only here (``payloads`` hands the cipher, ``_plain_id`` opens it), for the wire, and
never logged: use ``redact`` / ``describe`` for anything that goes to a log or an error message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.crypto import decrypt_text
from backend.errors import InvalidInput, NotFound
from backend.platform import payloads
from backend.platform.wire import EntityKind, Op, WireRequest
from backend.validators import mask_id
from backend.vocabulary import Direction, ProjectCategory, ProjectStatus, Source, UnitType, WorkRole

log = logging.getLogger(__name__)

# --- Method names (seed 003 数据接口标准: <Entity>.Add / .Update / .Query; AsyncHandleResult.Query) ------------
# kind → (add method, update method or None when the platform keeps no editable record of that kind)
METHODS: dict[str, tuple[str, str | None]] = {
    "project": ("Project.Add", "Project.Update"),
    "project_unit": ("ProjectSubContractor.Add", "ProjectSubContractor.Update"),
    "team": ("Team.Add", "Team.Update"),
    "worker": ("ProjectWorker.Add", "ProjectWorker.Update"),
    "worker_entry": ("WorkerEntryExit.Add", None),
    "worker_exit": ("WorkerEntryExit.Add", None),
    "contract": ("WorkerContract.Add", None),
    "attendance": ("WorkerAttendance.Add", None),
    "payroll": ("Payroll.Add", None),
}
QUERY_METHODS: dict[str, str] = {
    "project": "Project.Query",
    "project_unit": "ProjectSubContractor.Query",
    "team": "Team.Query",
    "worker": "ProjectWorker.Query",
    "worker_entry": "WorkerEntryExit.Query",
    "worker_exit": "WorkerEntryExit.Query",
    "contract": "WorkerContract.Query",
    "attendance": "WorkerAttendance.Query",
    "payroll": "Payroll.Query",
}
ASYNC_RESULT_METHOD = "AsyncHandleResult.Query"

# AsyncHandleResult.Query → data.status (public clients of the national interface test status == "20" for
# success; 0/10 = 待处理/处理中 and 30 = 处理失败 are our reading, see docs/platform-interface.md).
ASYNC_STATUS_PROCESSING_CODE = "10"
ASYNC_STATUS_PROCESSING = frozenset({"0", ASYNC_STATUS_PROCESSING_CODE})
ASYNC_STATUS_SUCCESS = "20"
ASYNC_STATUS_FAILURE = "30"

# --- Code tables (seed 003 数据标准 code tables; our vocabulary → national code) --------------------------------
# 人员证件类型: 01 居民身份证 (the only document this product registers; 02–25, 99 are other documents).
ID_CARD_TYPE_RESIDENT = "01"
ID_CARD_TYPE: dict[str, str] = {"resident_id": "01"}
# 参建单位类型 (corpType): 001 专业分包 002 设备分包 003 材料分包 004 后勤服务 005 特殊设备 006 劳务分包
# 007 监理 008 建设单位 009 总承包单位 010 勘察 011 设计 012 其它.
CORP_TYPE: dict[str, str] = {
    UnitType.specialist_subcontractor: "001",
    UnitType.labour_subcontractor: "006",
    UnitType.supervision_firm: "007",
    UnitType.owner: "008",
    UnitType.general_contractor: "009",
}
# 项目状态 (prjStatus): 001 筹备 002 立项 003 在建 004 完工 005 停工 (DESIGN glossary).  竣工 (accepted) has no
# code of its own: it is reported as 004 完工.
PROJECT_STATUS: dict[str, str] = {
    ProjectStatus.preparing: "001",
    ProjectStatus.under_construction: "003",
    ProjectStatus.finished: "004",
    ProjectStatus.accepted: "004",
    ProjectStatus.suspended: "005",
}
# 项目分类 (category): 01 房屋建筑工程, 02 市政公用工程 (our reading of the standard's project category table).
PROJECT_CATEGORY: dict[str, str] = {ProjectCategory.building: "01", ProjectCategory.municipal: "02"}
# 合同期限类型 (contractPeriodType): 0 固定期限合同, 1 以完成一定工作为期限的合同; 无固定期限 → 2 (our reading).
CONTRACT_PERIOD_TYPE: dict[str, str] = {"fixed_term": "0", "task": "1", "open_ended": "2"}
# 进出方向 (direction): 01 入场, 02 出场.
DIRECTION: dict[str, str] = {Direction.in_: "01", Direction.out: "02"}
# 考勤方式 (attendType): 001 人脸识别闸机, 002 移动端人脸考勤, 003 补录 (our reading; one code per punch source).
ATTEND_TYPE: dict[str, str] = {Source.gate: "001", Source.mobile: "002", Source.makeup: "003"}
# 工人类型 (workRole): 10 管理人员, 20 建筑工人.
WORK_ROLE: dict[str, str] = {WorkRole.manager: "10", WorkRole.worker: "20"}
# 工种 (workType): our RosterEntry.work_type already holds the national 3-digit code
# (backend/workforce/dictionaries.WORK_TYPES); managers without one are reported as 900.
MANAGER_WORK_TYPE = "900"
# 进退场类型 (WorkerEntryExit type): 1 进场, 0 退场.
ENTRY_TYPE = "1"
EXIT_TYPE = "0"

# Fields that carry an ID or bank number: masked by ``redact``.
SECRET_FIELDS = frozenset({
    "idCardNumber", "responsiblePersonIDNumber", "pmIDCardNumber", "payRollBankCardNumber", "bankNumber",
})

DATE_FMT = "%Y-%m-%d"
DATETIME_FMT = "%Y-%m-%d %H:%M:%S"


def method_for(kind: EntityKind, op: Op) -> str:
    """The platform method of ``op`` on ``kind``; an update of an add-only kind is refused."""
    add, update = METHODS[kind]
    if op == "add":
        return add
    if update is None:
        raise InvalidInput(f"省平台不支持修改已上传的{KIND_ZH[kind]}，只能新增", f"The platform cannot update a {kind}",
                           field="op", code="platform_no_update")
    return update


KIND_ZH: dict[str, str] = {
    "project": "项目", "project_unit": "参建单位", "team": "班组", "worker": "人员", "worker_entry": "进场记录",
    "worker_exit": "退场记录", "contract": "劳动合同", "attendance": "考勤记录", "payroll": "工资发放记录",
}


# --- Masking for logs -----------------------------------------------------------------------------------------

def redact(value: Any) -> Any:
    """A copy of a payload with every ID/bank number masked (4407**********123X), for logs and messages."""
    if isinstance(value, Mapping):
        return {k: (mask_id(str(v)) if k in SECRET_FIELDS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def describe(req: WireRequest) -> str:
    """One log line for a request: method and the masked payload."""
    return f"{req.method} {redact(req.data)}"


# --- Payload builders (pure: rows in, data out) ---------------------------------------------------------------

def _d(day: date | None) -> str | None:
    return day.strftime(DATE_FMT) if day else None


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Drop absent optional fields (the platform reads a missing field and a null alike)."""
    return {k: v for k, v in data.items() if v is not None}


def project_code(project: Mapping[str, Any]) -> str:
    """项目编码 we report: the district's GB/T 2260 code + our project id (stable, unique per platform)."""
    return f"{project['district_code']}{int(project['id']):08d}"


def build_project(p: Mapping[str, Any]) -> dict[str, Any]:
    return _clean({
        "projectCode": project_code(p),
        "name": p["name"],
        "category": PROJECT_CATEGORY.get(p["category"], "01"),
        "prjStatus": PROJECT_STATUS[p["status"]],
        "areaCode": p["district_code"],
        "address": p.get("address"),
        "contractorCorpCode": p.get("contractor_uscc"),
        "contractorCorpName": p.get("contractor_name"),
        "buildCorpCode": p.get("owner_uscc"),
        "buildCorpName": p.get("owner_name"),
        "builderLicenses": [{"prjName": p["name"], "builderLicenseNum": p["permit_no"]}] if p.get("permit_no") else None,
        "invest": p.get("contract_value_yuan"),
        "buildingArea": p.get("floor_area_m2"),
        "startDate": _d(p.get("actual_start") or p.get("planned_start")),
        "completeDate": _d(p.get("completed_on")),
        "lat": p.get("lat"),
        "lng": p.get("lon"),
    })


def build_project_unit(u: Mapping[str, Any]) -> dict[str, Any]:
    return _clean({
        "projectCode": project_code(u["project"]),
        "corpCode": u["uscc"],
        "corpName": u["corp_name"],
        "corpType": CORP_TYPE[u["unit_type"]],
        "entryTime": _d(u.get("entered_on")),
        "exitTime": _d(u.get("exited_on")),
    })


def build_team(t: Mapping[str, Any]) -> dict[str, Any]:
    leader = t.get("leader")
    return _clean({
        "projectCode": project_code(t["project"]),
        "corpCode": t["uscc"],
        "corpName": t["corp_name"],
        "teamName": t["name"],
        "entryTime": _d(t.get("entered_on")),
        "exitTime": _d(t.get("exited_on")),
        "responsiblePersonName": leader["name"] if leader else None,
        "responsiblePersonPhone": leader.get("phone") if leader else None,
        "responsiblePersonIDCardType": ID_CARD_TYPE_RESIDENT if leader else None,
        "responsiblePersonIDNumber": _plain_id(leader["id_cipher"]) if leader else None,
    })


def _team_ref(r: Mapping[str, Any], refs: Mapping[str, str] | None) -> dict[str, Any]:
    """How a worker-level record names its team: teamSysNo when the platform gave one, else corp + team name."""
    ref = {"corpCode": r["uscc"], "corpName": r["corp_name"], "teamName": r["team_name"]}
    if refs and refs.get("teamSysNo"):
        ref["teamSysNo"] = refs["teamSysNo"]
    return ref


def _worker_id(r: Mapping[str, Any]) -> dict[str, str]:
    return {"idCardType": ID_CARD_TYPE_RESIDENT, "idCardNumber": _plain_id(r["id_cipher"])}


def build_worker(r: Mapping[str, Any], refs: Mapping[str, str] | None = None) -> dict[str, Any]:
    role = r["work_role"]
    worker = _clean({
        "workerName": r["name"],
        **_worker_id(r),
        "isTeamLeader": 1 if r.get("is_leader") else 0,
        "workRole": WORK_ROLE[role],
        "workType": r.get("work_type") or (MANAGER_WORK_TYPE if role == WorkRole.manager else None),
        "nation": r.get("ethnicity"),
        "gender": r.get("gender"),
        "birthday": _d(r.get("birth_date")),
        "address": r.get("address"),
        "cellPhone": r.get("phone"),
        "grantOrg": r.get("id_issuer"),
        "expiryDate": _d(r.get("id_valid_until")),
    })
    return {"projectCode": project_code(r["project"]), **_team_ref(r, refs), "workerList": [worker]}


def build_entry_exit(r: Mapping[str, Any], *, exit: bool, refs: Mapping[str, str] | None = None) -> dict[str, Any]:
    day = r["exited_on"] if exit else r["entered_on"]
    if day is None:
        raise InvalidInput("该人员尚未退场", "This person has not exited", field="entity_id", code="platform_not_exited")
    return {
        "projectCode": project_code(r["project"]),
        **_team_ref(r, refs),
        "workerList": [{**_worker_id(r), "date": _d(day), "type": EXIT_TYPE if exit else ENTRY_TYPE}],
    }


def build_contract(c: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "projectCode": project_code(c["project"]),
        "contractList": [_clean({
            "corpCode": c["uscc"],
            "corpName": c["corp_name"],
            **_worker_id(c),
            "contractCode": c.get("contract_no") or None,
            "contractPeriodType": CONTRACT_PERIOD_TYPE[c["contract_type"]],
            "signDate": _d(c.get("signed_on")),
            "startDate": _d(c["starts_on"]),
            "endDate": _d(c.get("ends_on")),
        })],
    }


def build_attendance(a: Mapping[str, Any], refs: Mapping[str, str] | None = None) -> dict[str, Any]:
    at: datetime = a["captured_at"]
    local = at.astimezone(ZoneInfo(a["project"].get("timezone") or "Asia/Shanghai"))
    row = _clean({
        **_worker_id(a),
        "date": local.strftime(DATETIME_FMT),
        "direction": DIRECTION.get(a.get("direction") or Direction.in_, "01"),
        "attendType": ATTEND_TYPE.get(a["source"], "001"),
        "lng": a.get("lon"),
        "lat": a.get("lat"),
    })
    return {"projectCode": project_code(a["project"]), **_team_ref(a, refs), "dataList": [row]}


def _yuan(fen: int | None) -> str | None:
    """Integer fen → "1234.50" (exact)."""
    if fen is None:
        return None
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


def build_payroll(p: Mapping[str, Any]) -> dict[str, Any]:
    """工资发放记录 of one project and month (Payroll.Add).

    ``p``: ``project`` (as elsewhere), ``month`` "YYYY-MM", ``uscc``/``corp_name`` of the paying unit (the
    general contractor pays through the special account), ``lines``: each with ``id_cipher``, ``team_name``,
    ``days``, ``payable_fen``, ``paid_fen``, ``paid_on``, ``card_cipher`` + ``card_aad`` (as the wages domain
    encrypted it), ``card_bank``.  Our reading: one call per project-month, each line naming its team (the national
    variant that wants one call per team is a split of ``lines`` by ``teamName``)."""
    lines = []
    for line in p["lines"]:
        card = decrypt_text(line["card_cipher"], aad=line["card_aad"]) if line.get("card_cipher") else None
        lines.append(_clean({
            **_worker_id(line),
            "teamName": line.get("team_name"),
            "days": line.get("days"),
            "payRollBankCardNumber": card,
            "payRollBankName": line.get("card_bank") or None,
            "totalPayAmount": _yuan(line.get("payable_fen")),
            "actualAmount": _yuan(line.get("paid_fen")),
            "isBackPay": 1 if line.get("back_pay") else 0,
            "balanceDate": _d(line.get("paid_on")),
        }))
    return {"projectCode": project_code(p["project"]), "corpCode": p["uscc"], "corpName": p["corp_name"],
            "payMonth": p["month"], "detailList": lines}


def _plain_id(cipher: str) -> str:
    """The ID number for the wire (the one place the adapter decrypts)."""
    return decrypt_text(cipher)


# --- Natural keys (what lookup() asks for, what the platform counts) -----------------------------------------

def natural_key(kind: EntityKind, request: WireRequest) -> dict[str, Any]:
    """The fields by which the platform knows this entity (the data of its ``*.Query`` method).

    May contain an ID number: recompute it from ``load_request`` when needed, never store or log it
    (``redact`` it for messages)."""
    d = request.data
    code = d.get("projectCode")
    if kind == "project":
        return {"projectCode": code}
    if kind == "project_unit":
        return {"projectCode": code, "corpCode": d.get("corpCode")}
    if kind == "team":
        return {"projectCode": code, "corpCode": d.get("corpCode"), "teamName": d.get("teamName")}
    if kind == "worker":
        w = (d.get("workerList") or [{}])[0]
        return {"projectCode": code, "idCardType": w.get("idCardType"), "idCardNumber": w.get("idCardNumber")}
    if kind in ("worker_entry", "worker_exit"):
        w = (d.get("workerList") or [{}])[0]
        return {"projectCode": code, "idCardNumber": w.get("idCardNumber"), "type": w.get("type"), "date": w.get("date")}
    if kind == "contract":
        c = (d.get("contractList") or [{}])[0]
        return {"projectCode": code, "idCardNumber": c.get("idCardNumber"), "startDate": c.get("startDate")}
    if kind == "attendance":
        a = (d.get("dataList") or [{}])[0]
        return {"projectCode": code, "idCardNumber": a.get("idCardNumber"), "date": a.get("date"),
                "direction": a.get("direction")}
    if kind == "payroll":
        return {"projectCode": code, "corpCode": d.get("corpCode"), "payMonth": d.get("payMonth")}
    raise ValueError(f"unknown entity kind {kind!r}")


def kind_of_method(method: str, data: Mapping[str, Any]) -> EntityKind | None:
    """The entity kind a write method is about (the simulator's reading; entry/exit by the record's type)."""
    for kind, (add, update) in METHODS.items():
        if method in (add, update):
            if add == "WorkerEntryExit.Add":
                w = (data.get("workerList") or [{}])[0]
                return "worker_exit" if str(w.get("type")) == EXIT_TYPE else "worker_entry"
            return kind  # type: ignore[return-value]
    return None


# --- Loading from our database --------------------------------------------------------------------------------

RowLoader = Callable[[int], Awaitable[dict[str, Any] | None]]


async def load_request(kind: EntityKind, entity_id: int, op: Op, *,
                       refs: Mapping[str, str] | None = None,
                       loaders: Mapping[str, RowLoader] | None = None) -> WireRequest:
    """Read entity ``entity_id`` of ``kind`` and build the platform call for ``op``.

    ``refs`` optionally carries platform ids of parents (``teamSysNo``) when the uploader knows them.
    ``loaders`` lets a higher layer supply the row of a kind this package may not read (payroll: the wages
    domain sits above platform; the entry layer passes its payroll-row loader, see ``build_payroll``).
    Raises NotFound when the entity is gone and InvalidInput when it cannot be uploaded (e.g. a rejected
    punch, an update of an add-only kind, payroll without a loader)."""
    method = method_for(kind, op)
    if kind == "project":
        data = build_project(await _need(payloads.project_row(entity_id), kind, entity_id))
    elif kind == "project_unit":
        data = build_project_unit(await _need(payloads.unit_row(entity_id), kind, entity_id))
    elif kind == "team":
        data = build_team(await _need(payloads.team_row(entity_id), kind, entity_id))
    elif kind == "worker":
        data = build_worker(await _need(payloads.roster_row(entity_id), kind, entity_id), refs)
    elif kind in ("worker_entry", "worker_exit"):
        data = build_entry_exit(await _need(payloads.roster_row(entity_id), kind, entity_id),
                                exit=kind == "worker_exit", refs=refs)
    elif kind == "contract":
        data = build_contract(await _need(payloads.contract_row(entity_id), kind, entity_id))
    elif kind == "attendance":
        row = await _need(payloads.punch_row(entity_id), kind, entity_id)
        if row["verdict"] == "rejected" or row.get("person_id") is None:
            raise InvalidInput("被拒绝的打卡不上传省平台", "A rejected punch is not uploaded", field="entity_id",
                               code="platform_rejected_punch")
        data = build_attendance(row, refs)
    elif kind == "payroll" and loaders and "payroll" in loaders:
        data = build_payroll(await _need(loaders["payroll"](entity_id), kind, entity_id))
    elif kind == "payroll":
        raise InvalidInput("工资发放记录尚无数据来源（工资模块未接入上传）", "Payroll has no row loader",
                           field="kind", code="platform_payroll_unavailable")
    else:
        raise ValueError(f"unknown entity kind {kind!r}")
    req = WireRequest(method=method, data=data)
    log.debug("platform request %s#%s: %s", kind, entity_id, describe(req))
    return req


async def _need(coro: Any, kind: str, entity_id: int) -> dict[str, Any]:
    row = await coro
    if row is None:
        raise NotFound(f"{KIND_ZH.get(kind, kind)}不存在（编号 {entity_id}）", f"{kind} {entity_id} not found")
    return row
