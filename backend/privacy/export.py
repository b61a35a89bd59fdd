"""A person's request for their data (issue 20 B.4; PIPL §45): everything held about one person as one .zip —
``数据.json`` (Chinese keys), ``数据.xlsx`` (one sheet per section, readable), the face photos held (enrolment, ID-card
portrait, registration captures, the newest punch photos) and the labour-contract files.

Bounded: at most ``PUNCHES_MAX`` punches and ``PUNCH_PHOTOS_MAX`` punch photos (the newest; the JSON says how many
were left out), contract files up to ``FILES_MAX_BYTES`` in all.  The archive is built off the event loop
(``asyncio.to_thread``).  The full ID number is in it, so the export is written to the full-ID access log
(``workforce.id_access``, kind ``person_export``) in the same transaction as the read: no log row, no export.
Nothing of another person is read: every query is by this person's id.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook

from backend import photostore
from backend.accounts.services import CurrentUser
from backend.attendance.tables import Punch, PunchPhoto
from backend.crew.dictionaries import CONTRACT_TYPE
from backend.crew.tables import CrewFile, LabourContract, Registration
from backend.crypto import decrypt_text
from backend.db import write_transaction
from backend.validators import ETHNICITY
from backend.vocabulary import (
    ConsentAction,
    ConsentChannel,
    Direction,
    IdAccessKind,
    PunchVerdict,
    Source,
    WorkRole,
    label,
    local_time,
    local_today,
)
from backend.wages.tables import PayrollLine
from backend.workforce import consent, id_access
from backend.workforce.dictionaries import POSTS, WORK_TYPES
from backend.workforce.tables import Enrolment, Person, PersonCorrection, RosterEntry
from backend.xlsx_safe import safe_row

PUNCHES_MAX = 20_000
PUNCH_PHOTOS_MAX = 200
FILES_MAX_BYTES = 20 * 1024 * 1024
REASON_DEFAULT = "本人申请导出个人信息"

SECTIONS = ("人员信息", "花名册记录", "劳动合同", "考勤记录", "工资记录", "人脸采集同意记录", "身份证号访问记录", "信息更正记录")


def _money(fen: int | None) -> str:
    return "" if fen is None else f"{fen / 100:.2f}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return local_time(value, seconds=True)
    if isinstance(value, date):
        return value.isoformat()
    return value


async def collect(person_id: int) -> tuple[dict[str, list[dict[str, Any]]], list[tuple[str, bytes]]]:
    """Every section (Chinese keys) and the files for the archive.  Call inside the export's transaction."""
    p = await Person.select().where(Person.id == person_id).first()
    assert p is not None
    person = {
        "人员编号": p["id"], "姓名": p["name"], "身份证号": decrypt_text(p["id_cipher"]), "性别": "男" if p["gender"] == "M" else "女",
        "出生日期": p["birth_date"], "民族": ETHNICITY.get(p["ethnicity"], p["ethnicity"]), "手机号": p["phone"] or "",
        "住址": p["address"] or "", "签发机关": p["id_issuer"] or "", "身份证有效期至": p["id_valid_until"] or "长期/未填",
        "登记时间": p["created_at"],
    }
    files: list[tuple[str, bytes]] = []
    enrol = await Enrolment.select().where(Enrolment.person == person_id).first()
    if enrol:
        person["人脸采集"] = "已采集" if enrol["face_template"] else "未采集或已删除"
        person["人脸采集时间"] = enrol["enrolled_at"]
        person["人脸特征值"] = f"{len(enrol['face_template'])} 字节（用于比对，不可还原为照片）" if enrol["face_template"] else ""
        if enrol["face_photo"]:
            files.append(("照片/人脸采集照片.jpg", bytes(enrol["face_photo"])))
        if enrol["id_photo"]:
            files.append(("照片/身份证照片.jpg", bytes(enrol["id_photo"])))
    for r in await Registration.select(Registration.id, Registration.face_photo, Registration.id_photo).where(
            Registration.person == person_id):
        if r["face_photo"]:
            files.append((f"照片/登记{r['id']}-现场照片.jpg", bytes(r["face_photo"])))
        if r["id_photo"]:
            files.append((f"照片/登记{r['id']}-身份证照片.jpg", bytes(r["id_photo"])))

    entries = [{
        "项目": r["project_name"], "参建单位": r["unit_name"], "班组": r["team_name"],
        "人员类型": label(r["work_role"], WorkRole), "岗位": POSTS.get(r["post"] or "", ""),
        "工种": WORK_TYPES.get(r["work_type"] or "", ""), "进场日期": r["entered_on"], "退场日期": r["exited_on"] or "",
    } for r in await RosterEntry.select(
        RosterEntry.project.name.as_alias("project_name"), RosterEntry.unit.enterprise.name.as_alias("unit_name"),
        RosterEntry.team.name.as_alias("team_name"), RosterEntry.work_role, RosterEntry.post, RosterEntry.work_type,
        RosterEntry.entered_on, RosterEntry.exited_on,
    ).where(RosterEntry.person == person_id).order_by(RosterEntry.entered_on)]

    contracts = []
    files_bytes = 0
    for c in await LabourContract.select(
        LabourContract.id, LabourContract.project.name.as_alias("project_name"), LabourContract.contract_no,
        LabourContract.contract_type, LabourContract.signed_on, LabourContract.starts_on, LabourContract.ends_on,
        LabourContract.file,
    ).where(LabourContract.person == person_id).order_by(LabourContract.id):
        contracts.append({"项目": c["project_name"], "合同编号": c["contract_no"], "合同类型": CONTRACT_TYPE.get(c["contract_type"], c["contract_type"]),
                          "签订日期": c["signed_on"] or "", "开始日期": c["starts_on"], "结束日期": c["ends_on"] or ""})
        f = await CrewFile.select(CrewFile.content_type, CrewFile.size, CrewFile.data).where(
            CrewFile.id == c["file"]).first()
        if f and files_bytes + f["size"] <= FILES_MAX_BYTES:
            ext = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(f["content_type"], "bin")
            files.append((f"劳动合同/合同{c['id']}.{ext}", bytes(f["data"])))
            files_bytes += f["size"]

    punch_rows = await Punch.select(
        Punch.id, Punch.project.name.as_alias("project_name"), Punch.project.timezone.as_alias("tz"), Punch.source,
        Punch.direction, Punch.captured_at, Punch.verdict, Punch.reasons, Punch.flags, Punch.photo_sha256,
        Punch.photo_loc,
    ).where(Punch.person == person_id).order_by(Punch.captured_at, ascending=False).limit(PUNCHES_MAX + 1)
    more_punches = len(punch_rows) > PUNCHES_MAX
    punch_rows = punch_rows[:PUNCHES_MAX]
    punches = [{
        "项目": r["project_name"], "时间": local_time(r["captured_at"], r["tz"], seconds=True),
        "来源": label(r["source"], Source), "方向": label(r["direction"], Direction) if r["direction"] else "",
        "结果": label(r["verdict"], PunchVerdict),
        "原因": "、".join(json.loads(r["reasons"]) if isinstance(r["reasons"], str) else r["reasons"] or []),
    } for r in punch_rows]
    # the newest punches' photos: from the photo store by hash, else a legacy punch_photo row (not yet migrated)
    newest = punch_rows[:PUNCH_PHOTOS_MAX]
    legacy = [r["id"] for r in newest if not r["photo_sha256"]]
    for r in newest:
        data = await photostore.get(r["photo_sha256"], r["photo_loc"]) if r["photo_sha256"] else None
        if data is not None:
            files.append((f"照片/考勤{r['id']}.jpg", data))
    if legacy:
        for ph in await PunchPhoto.select(PunchPhoto.punch, PunchPhoto.data).where(PunchPhoto.punch.is_in(legacy)):
            files.append((f"照片/考勤{ph['punch']}.jpg", bytes(ph["data"])))

    wages = [{
        "项目": r["project_name"], "月份": r["month"], "出勤天数": r["days_worked"], "应发（元）": _money(r["payable_fen"]),
        "实发（元）": _money(r["paid_fen"]), "发放日期": r["paid_on"] or "", "银行卡": r["card_masked"],
        "开户行": r["card_bank"],
    } for r in await PayrollLine.select(
        PayrollLine.payroll.project.name.as_alias("project_name"), PayrollLine.payroll.month.as_alias("month"),
        PayrollLine.days_worked, PayrollLine.payable_fen, PayrollLine.paid_fen, PayrollLine.paid_on,
        PayrollLine.card_masked, PayrollLine.card_bank,
    ).where(PayrollLine.person == person_id).order_by(PayrollLine.id)]

    consents = [{
        "操作": label(r["action"], ConsentAction), "同意书版本": r["version"], "渠道": label(r["channel"], ConsentChannel),
        "记录人": r["recorded_by_name"], "时间": r["recorded_at"], "说明": r["note"],
    } for r in await consent.history(person_id)]
    accesses = [{
        "时间": r["accessed_at"], "账号": r["username"], "项目": r["project_name"], "类型": r["kind_label"],
        "记录数": r["records"], "用途": r["reason"],
    } for r in await id_access.entries_about(person_id)]
    fixes = [{
        "更正内容": label(r["field"], "CorrectionField"), "原值": r["old_value"], "新值": r["new_value"],
        "原因": r["reason"], "办理账号": r["username"], "时间": r["corrected_at"],
    } for r in await PersonCorrection.select().where(PersonCorrection.person == person_id).order_by(PersonCorrection.id)]

    data = dict(zip(SECTIONS, ([person], entries, contracts, punches, wages, consents, accesses, fixes), strict=True))
    data = {k: [{kk: _plain(vv) for kk, vv in row.items()} for row in rows] for k, rows in data.items()}
    data["说明"] = [{
        "导出时间": local_time(datetime.now().astimezone(), seconds=True),
        "考勤记录": f"共 {len(punches)} 条" + ("（仅含最近的记录，更早的未列出）" if more_punches else ""),
        "考勤照片": f"含最近 {min(len(newest), PUNCH_PHOTOS_MAX)} 条考勤的照片",
        "照片": f"{len(files)} 个文件",
    }]
    return data, files


def build_zip(data: dict[str, list[dict[str, Any]]], files: list[tuple[str, bytes]]) -> bytes:
    """The archive (runs in a worker thread): JSON, .xlsx and the files."""
    wb = Workbook(write_only=True)
    for section, rows in data.items():
        ws = wb.create_sheet(section[:31])
        keys: list[str] = []
        for r in rows:
            keys += [k for k in r if k not in keys]
        ws.append(safe_row(ws, keys or ["（无）"]))
        for r in rows:
            ws.append(safe_row(ws, ["" if r.get(k) is None else r.get(k) for k in keys]))
    xbuf = io.BytesIO()
    wb.save(xbuf)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("数据.json", json.dumps(data, ensure_ascii=False, indent=2, default=str))
        z.writestr("数据.xlsx", xbuf.getvalue())
        for name, blob in files:
            z.writestr(name, blob)
    return buf.getvalue()


async def export_person(user: CurrentUser, person_id: int, project_id: int, reason: str = "") -> tuple[str, bytes]:
    """The archive of everything held about the person; scope checked by the caller (``people.scope``).  The read
    and its full-ID access-log row are one transaction."""
    async with write_transaction():  # the row first: the archive lists this export among the accesses
        await id_access.log_access(user, project_id=project_id, kind=IdAccessKind.person_export,
                                   person_ids=[person_id], reason=reason.strip() or REASON_DEFAULT, records=1)
        data, files = await collect(person_id)
    blob = await asyncio.to_thread(build_zip, data, files)
    return f"person-{person_id}-{local_today():%Y%m%d}.zip", blob
