"""项目申报 (seed 001 §2.1): an enterprise applies, the district authority passes or returns it; on pass the project is
created (``org.services.create_project`` + ``add_unit``, management teams with them) and a project-staff account is
issued with a one-time password shown once to the approver.  All SQL of the workflow.

Our readings of the seed (docs/rules.md):
- seed 001 §2.1 lists the form (项目名称, 项目分类, 施工许可证, 项目所在地, 项目地点, 申请人姓名/手机 …) and "审核通过将发放
  登录平台的账号与密码"; the issue adds planned dates, area, contract value and the participant units (USCC, GB 32100).
  施工许可证 is optional in the seed; we require "施工许可证或报建编号" (one of the two always exists before a site opens).
- the result reaches the applicant as a 站内消息 always, and by SMS to the applicant's phone when the district switched
  on 手机短信 (seed 001 §2.11.2 "可设置项目申报结果通知 …；仅开启站内短消息才可设置手机短信").
- the applying enterprise must be one of the participant units (it sees the project afterwards through its unit) and
  the units must include a 施工总承包单位 (the construction unit files, seed 004 §三).
"""

from __future__ import annotations

import json
import re
import secrets
import string
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts.services import CurrentUser, create_user
from backend.accounts.tables import User
from backend.approvals.notify import notify, send_sms
from backend.approvals.tables import ProjectApplication, ProjectApplicationRound
from backend.db import write_transaction
from backend.errors import Conflict, Forbidden, NotFound, invalid
from backend.org import services as org
from backend.org.tables import District, Enterprise
from backend.supervision.sms import SmsSender
from backend.supervision.tables import NotifySetting
from backend.validators import clean_text, parse_phone, parse_uscc
from backend.vocabulary import (
    APPLICATION_ACTION_ZH,
    APPLICATION_STATUS_ZH,
    DEFAULT_TZ,
    PROJECT_CATEGORY_ZH,
    UNIT_TYPE_ZH,
    ApplicationAction,
    ApplicationStatus,
    ProjectCategory,
    Role,
    UnitType,
    local_time,
)

MAX_UNITS = 20  # our choice: a project application lists at most 20 participant units (more are added later)
PAGE_SIZE = 20
MAX_REASON = 500
# Mainland China's bounding box (WGS-84): a point outside is a mistyped or mis-clicked location.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)
PERMIT_RE = re.compile(r"[0-9A-Za-z\-]{4,40}")

# The Chinese messages of the checks, shared with the browser (approvals.js shows the same text before sending).
MESSAGES: dict[str, str] = {
    "name": "请填写项目名称",
    "permit_no": "请填写施工许可证或报建编号（4–40 位字母、数字或连字符）",
    "category": "请选择项目分类",
    "district_id": "请选择项目所在区县",
    "location": "请在地图上点击项目位置",
    "location_range": "项目位置应在中国境内（经度 73–136，纬度 3–54）",
    "planned_start": "请填写计划开工日期",
    "planned_finish": "请填写计划竣工日期",
    "finish_before_start": "计划竣工日期不能早于计划开工日期",
    "floor_area_m2": "房屋建筑项目须填写建筑面积（大于 0）",
    "amount": "数值须大于 0 且不超过 10¹³",
    "contract_value_yuan": "请填写合同金额（元，大于 0）",
    "applicant_name": "请填写申请人姓名",
    "applicant_phone": "请填写申请人手机号（11 位）",
    "units": "请至少填写一个参建单位",
    "too_many_units": f"参建单位最多 {MAX_UNITS} 个（其余在项目建立后添加）",
    "unit_name": "请填写参建单位名称",
    "uscc_format": "统一社会信用代码必须是 18 位（数字或除 I、O、Z、S、V 以外的大写字母）",
    "uscc_check": "统一社会信用代码校验位错误",
    "unit_type": "请选择参建单位类型",
    "unit_duplicate": "同一企业以同一身份只能填写一次",
    "no_contractor": "参建单位须包含施工总承包单位",
    "applicant_not_unit": "申报企业须是参建单位之一（按统一社会信用代码）",
    "reason": "退回时须填写原因",
}


def _bad(field: str, key: str, en: str) -> Exception:
    return invalid(field, MESSAGES[key], en, code=key)


def _number(value: Any, field: str, key: str, en: str, *, required: bool) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _bad(field, key, en)
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad(field, key, en) from None
    if not 0 < number < 1e13:
        raise _bad(field, "amount" if key != "location" else key, f"{field}: must be > 0 and < 1e13")
    return number


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise _bad(field, field, f"{field}: a date (YYYY-MM-DD) is required") from None


def _coordinate(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad("lon", "location", "Click the project's location on the map") from None


def clean_units(raw: Any, applicant_uscc: str | None) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise _bad("units", "units", "At least one participant unit is required")
    if len(raw) > MAX_UNITS:
        raise _bad("units", "too_many_units", f"At most {MAX_UNITS} participant units")
    units: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for i, u in enumerate(raw):
        u = u if isinstance(u, dict) else {}
        name = clean_text(u.get("name"), f"units.{i}.name", "参建单位名称", max_len=200)
        if not name:
            raise _bad(f"units.{i}.name", "unit_name", "Unit name is required")
        uscc = parse_uscc(str(u.get("uscc") or ""), field=f"units.{i}.uscc")
        unit_type = str(u.get("unit_type") or "")
        if unit_type not in UNIT_TYPE_ZH:
            raise _bad(f"units.{i}.unit_type", "unit_type", "Choose the unit type")
        if (uscc, unit_type) in seen:
            raise _bad(f"units.{i}.uscc", "unit_duplicate", "The same enterprise appears twice with the same role")
        seen.add((uscc, unit_type))
        units.append({"name": name, "uscc": uscc, "unit_type": unit_type})
    if not any(u["unit_type"] == UnitType.general_contractor for u in units):
        raise _bad("units", "no_contractor", "The units must include a general contractor")
    if applicant_uscc and not any(u["uscc"] == applicant_uscc for u in units):
        raise _bad("units", "applicant_not_unit", "The applying enterprise must be one of the units")
    return units


def clean_application(data: dict[str, Any], *, applicant_uscc: str | None = None) -> dict[str, Any]:
    """The checks of the form, in its order; the first problem is raised (400, the same Chinese as the browser)."""
    name = clean_text(data.get("name"), "name", "项目名称", max_len=200)
    if not name:
        raise _bad("name", "name", "Project name is required")
    permit_no = str(data.get("permit_no") or "").strip()
    if not PERMIT_RE.fullmatch(permit_no):
        raise _bad("permit_no", "permit_no", "Permit or filing number: 4–40 letters, digits or hyphens")
    category = str(data.get("category") or "")
    if category not in PROJECT_CATEGORY_ZH:
        raise _bad("category", "category", "Choose the project category")
    try:
        district_id = int(data.get("district_id") or 0)
    except (TypeError, ValueError):
        district_id = 0
    if district_id <= 0:
        raise _bad("district_id", "district_id", "Choose the district")
    address = clean_text(data.get("address"), "address", "项目地址", max_len=300)
    if data.get("lon") in (None, "") or data.get("lat") in (None, ""):
        raise _bad("lon", "location", "Click the project's location on the map")
    lon, lat = _coordinate(data.get("lon")), _coordinate(data.get("lat"))
    if not (CHINA_LON[0] <= lon <= CHINA_LON[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1]):
        raise _bad("lon", "location_range", "The location must be in China")
    planned_start = _date(data.get("planned_start"), "planned_start")
    planned_finish = _date(data.get("planned_finish"), "planned_finish")
    if planned_finish < planned_start:
        raise _bad("planned_finish", "finish_before_start", "Planned finish is before planned start")
    floor_area = _number(data.get("floor_area_m2"), "floor_area_m2", "floor_area_m2", "Floor area is required",
                         required=category == ProjectCategory.building)
    contract_value = _number(data.get("contract_value_yuan"), "contract_value_yuan", "contract_value_yuan",
                             "Contract value is required", required=True)
    applicant_name = clean_text(data.get("applicant_name"), "applicant_name", "申请人姓名", max_len=60)
    if not applicant_name:
        raise _bad("applicant_name", "applicant_name", "Applicant name is required")
    phone_raw = str(data.get("applicant_phone") or "").strip()
    if not re.fullmatch(r"1[3-9][0-9]{9}", phone_raw):
        raise _bad("applicant_phone", "applicant_phone", "Applicant mobile number (11 digits) is required")
    applicant_phone = parse_phone(phone_raw, field="applicant_phone")
    units = clean_units(data.get("units"), applicant_uscc)
    return {
        "name": name, "permit_no": permit_no, "category": category, "district": district_id, "address": address,
        "lon": lon, "lat": lat, "planned_start": planned_start, "planned_finish": planned_finish,
        "floor_area_m2": floor_area, "contract_value_yuan": contract_value, "applicant_name": applicant_name,
        "applicant_phone": applicant_phone, "units": units,
    }


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "units": json.dumps(values["units"], ensure_ascii=False)}


async def _applicant_uscc(user: CurrentUser) -> str | None:
    if user.enterprise_id is None:
        return None
    row = await Enterprise.select(Enterprise.uscc).where(Enterprise.id == user.enterprise_id).first()
    return row["uscc"] if row else None


def _require_enterprise(user: CurrentUser) -> None:
    if user.role != Role.enterprise or user.enterprise_id is None:
        raise Forbidden("只有企业账号可以申报项目", "Only enterprise accounts may apply for projects")


async def _check_district(district_id: int) -> None:
    if not await District.exists().where(District.id == district_id):
        raise _bad("district_id", "district_id", "District does not exist")


async def submit_application(user: CurrentUser, data: dict[str, Any], *, now: datetime | None = None) -> int:
    _require_enterprise(user)
    values = clean_application(data, applicant_uscc=await _applicant_uscc(user))
    await _check_district(values["district"])
    at = now or datetime.now(UTC)
    async with write_transaction():
        app = ProjectApplication(applicant=user.id, enterprise=user.enterprise_id, status=ApplicationStatus.pending,
                                 round_no=1, submitted_at=at, **_stored(values))
        await app.save()
        await ProjectApplicationRound(application=app.id, round_no=1, action=ApplicationAction.submitted,
                                      by_user=user.id, at=at).save()
    return app.id


async def resubmit_application(user: CurrentUser, application_id: int, data: dict[str, Any], *,
                               now: datetime | None = None) -> None:
    _require_enterprise(user)
    app = await _visible(user, application_id)
    values = clean_application(data, applicant_uscc=await _applicant_uscc(user))
    await _check_district(values["district"])
    at = now or datetime.now(UTC)
    async with write_transaction():
        rows = await ProjectApplication.update({
            **{getattr(ProjectApplication, k): v for k, v in _stored(values).items()},
            ProjectApplication.status: ApplicationStatus.pending,
            ProjectApplication.round_no: app["round_no"] + 1,
            ProjectApplication.submitted_at: at,
        }).where((ProjectApplication.id == application_id)
                 & (ProjectApplication.status == ApplicationStatus.returned)).returning(ProjectApplication.id)
        if not rows:
            raise Conflict("只有已退回的申报可以修改后重新提交", "Only a returned application can be resubmitted",
                           code="not_returned")
        await ProjectApplicationRound(application=application_id, round_no=app["round_no"] + 1,
                                      action=ApplicationAction.resubmitted, by_user=user.id, at=at).save()


# --- Who sees what -----------------------------------------------------------------------------------------------

def _scope(user: CurrentUser) -> Any:
    """The where-clause of the applications ``user`` may see (None: all)."""
    if user.role == Role.admin:
        return None
    if user.role == Role.supervisor:
        return ProjectApplication.district.is_in(sorted(user.district_ids) or [-1])
    if user.role == Role.enterprise and user.enterprise_id is not None:
        return ProjectApplication.enterprise == user.enterprise_id
    raise Forbidden("当前角色不能查看项目申报", "Your role may not see project applications")


async def _visible(user: CurrentUser, application_id: int) -> dict[str, Any]:
    where = ProjectApplication.id == application_id
    scope = _scope(user)
    if scope is not None:
        where &= scope
    row = await ProjectApplication.select(
        *ProjectApplication.all_columns(), ProjectApplication.district.name.as_alias("district_name"),
        ProjectApplication.district.timezone.as_alias("tz"),
        ProjectApplication.enterprise.name.as_alias("enterprise_name"),
    ).where(where).output(load_json=True).first()
    if row is None:
        raise NotFound("申报不存在或无权查看", "Application not found or not in your scope", field="application_id")
    return row


def _label(row: dict[str, Any]) -> dict[str, Any]:
    tz = row.get("tz") or DEFAULT_TZ
    row["status_label"] = APPLICATION_STATUS_ZH.get(row["status"], row["status"])
    row["category_label"] = PROJECT_CATEGORY_ZH.get(row["category"], row["category"])
    row["submitted_at_local"] = local_time(row["submitted_at"], tz)
    row["decided_at_local"] = local_time(row.get("decided_at"), tz)
    return row


def can_decide(user: CurrentUser, app: dict[str, Any]) -> bool:
    return (user.role == Role.supervisor and app["district"] in user.district_ids
            and app["status"] == ApplicationStatus.pending)


def can_resubmit(user: CurrentUser, app: dict[str, Any]) -> bool:
    return (user.role == Role.enterprise and app["enterprise"] == user.enterprise_id
            and app["status"] == ApplicationStatus.returned)


async def get_application(user: CurrentUser, application_id: int) -> dict[str, Any]:
    app = _label(await _visible(user, application_id))
    tz = app.get("tz") or DEFAULT_TZ
    for u in app["units"] if isinstance(app["units"], list) else []:
        u["unit_type_label"] = UNIT_TYPE_ZH.get(u.get("unit_type", ""), u.get("unit_type", ""))
    rounds = await ProjectApplicationRound.select().where(
        ProjectApplicationRound.application == application_id).order_by(ProjectApplicationRound.id)
    names = await _user_names({r["by_user"] for r in rounds if r["by_user"]})
    for r in rounds:
        r["action_label"] = APPLICATION_ACTION_ZH.get(r["action"], r["action"])
        r["by_name"] = names.get(r["by_user"], "")
        r["at_local"] = local_time(r["at"], tz)
    app["rounds"] = rounds
    app["can_decide"] = can_decide(user, app)
    app["can_resubmit"] = can_resubmit(user, app)
    return app


async def _user_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await User.select(User.id, User.display_name).where(User.id.is_in(sorted(ids)))
    return {r["id"]: r["display_name"] for r in rows}


async def list_applications(user: CurrentUser, *, status: str | None = None, date_from: date | None = None,
                            date_to: date | None = None, page: int = 1,
                            page_size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int]:
    """Newest submissions first; ``date_from``/``date_to`` are local dates (China) of the last submission."""
    where = _scope(user)
    clauses = [] if where is None else [where]
    if status:
        if status not in APPLICATION_STATUS_ZH:
            raise invalid("status", "未知申报状态", "Unknown application status")
        clauses.append(ProjectApplication.status == status)
    zone = ZoneInfo(DEFAULT_TZ)
    if date_from:
        clauses.append(ProjectApplication.submitted_at >= datetime.combine(date_from, time(), zone).astimezone(UTC))
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), time(), zone).astimezone(UTC)
        clauses.append(ProjectApplication.submitted_at < end)
    combined = None
    for c in clauses:
        combined = c if combined is None else combined & c
    page = max(1, page)
    count_q = ProjectApplication.count()
    q = ProjectApplication.select(
        ProjectApplication.id, ProjectApplication.name, ProjectApplication.status, ProjectApplication.category,
        ProjectApplication.district, ProjectApplication.district.name.as_alias("district_name"),
        ProjectApplication.district.timezone.as_alias("tz"),
        ProjectApplication.enterprise.name.as_alias("enterprise_name"), ProjectApplication.round_no,
        ProjectApplication.submitted_at, ProjectApplication.decided_at, ProjectApplication.reason,
        ProjectApplication.project,
    )
    if combined is not None:
        count_q = count_q.where(combined)
        q = q.where(combined)
    total = await count_q
    rows = await q.order_by(ProjectApplication.submitted_at, ascending=False).order_by(
        ProjectApplication.id, ascending=False).limit(page_size).offset((page - 1) * page_size)
    return [_label(r) for r in rows], total


# --- Decisions ---------------------------------------------------------------------------------------------------

def _decider(user: CurrentUser, app: dict[str, Any]) -> None:
    if user.role != Role.supervisor or app["district"] not in user.district_ids:
        raise Forbidden("只有项目所在区县的住建主管部门可以审核申报",
                        "Only the authority of the project's district may decide an application")


def _already_decided() -> Conflict:
    return Conflict("该申报已处理，不在待审核状态", "The application is no longer pending", code="not_pending")


async def return_application(user: CurrentUser, application_id: int, reason: str, *,
                             sms: SmsSender | None = None, now: datetime | None = None) -> None:
    app = await _visible(user, application_id)
    _decider(user, app)
    text = clean_text(reason, "reason", "退回原因", max_len=MAX_REASON, multiline=True)
    if not text:
        raise _bad("reason", "reason", "A reason is required to return an application")
    at = now or datetime.now(UTC)
    async with write_transaction():
        rows = await ProjectApplication.update({
            ProjectApplication.status: ApplicationStatus.returned, ProjectApplication.reason: text,
            ProjectApplication.decided_by: user.id, ProjectApplication.decided_at: at,
        }).where((ProjectApplication.id == application_id)
                 & (ProjectApplication.status == ApplicationStatus.pending)).returning(ProjectApplication.id)
        if not rows:
            raise _already_decided()
        await ProjectApplicationRound(application=application_id, round_no=app["round_no"],
                                      action=ApplicationAction.returned, by_user=user.id, at=at, reason=text).save()
    await _notify_result(app, f"项目申报已退回：{app['name']}", f"退回原因：{text}。请修改后重新提交。", None, sms)


def one_time_password(length: int = 12) -> str:
    """Letters and digits without look-alikes (0/O, 1/l/I): easy to read out, two character classes."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lIo")
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


async def _staff_username(project_id: int) -> str:
    base = f"xm{project_id:05d}"
    name, n = base, 1
    while await User.exists().where(User.username == name):
        n += 1
        name = f"{base}-{n}"
    return name


async def _enterprise_for(unit: dict[str, str]) -> int:
    row = await Enterprise.select(Enterprise.id).where(Enterprise.uscc == unit["uscc"]).first()
    if row:
        return row["id"]
    return await org.create_enterprise(unit["name"], unit["uscc"])


async def pass_application(user: CurrentUser, application_id: int, *, sms: SmsSender | None = None,
                           now: datetime | None = None) -> dict[str, Any]:
    """Create the project, its units (with their management teams) and the project-staff account, in one
    transaction.  Returns ``project_id``, ``username`` and the one-time ``password`` — the only time it exists
    in plaintext: it is not stored and cannot be shown again (a lost one is reset by an administrator)."""
    app = await _visible(user, application_id)
    _decider(user, app)
    at = now or datetime.now(UTC)
    password = one_time_password()
    async with write_transaction():
        rows = await ProjectApplication.update({
            ProjectApplication.status: ApplicationStatus.passed, ProjectApplication.reason: "",
            ProjectApplication.decided_by: user.id, ProjectApplication.decided_at: at,
        }).where((ProjectApplication.id == application_id)
                 & (ProjectApplication.status == ApplicationStatus.pending)).returning(ProjectApplication.id)
        if not rows:
            raise _already_decided()
        project_id = await org.create_project(
            name=app["name"], district_id=app["district"], category=app["category"], permit_no=app["permit_no"],
            address=app["address"], floor_area_m2=app["floor_area_m2"], contract_value_yuan=app["contract_value_yuan"],
            planned_start=app["planned_start"], lon=app["lon"], lat=app["lat"])
        for unit in app["units"]:
            await org.add_unit(project_id, await _enterprise_for(unit), unit["unit_type"])
        username = await _staff_username(project_id)
        staff_id = await create_user(username, password, Role.project_staff,
                                     display_name=f"{app['name'][:50]}·项目账号", phone=app["applicant_phone"],
                                     project_ids=[project_id], must_change_password=True)
        await ProjectApplication.update({ProjectApplication.project: project_id,
                                         ProjectApplication.staff_user: staff_id}).where(
            ProjectApplication.id == application_id)
        await ProjectApplicationRound(application=application_id, round_no=app["round_no"],
                                      action=ApplicationAction.passed, by_user=user.id, at=at).save()
    await _notify_result(app, f"项目申报已通过：{app['name']}",
                         f"项目已建立，项目账号 {username} 的初始密码由审核部门告知，首次登录须修改密码。", project_id, sms)
    return {"project_id": project_id, "username": username, "password": password}


async def _notify_result(app: dict[str, Any], title: str, body: str, project_id: int | None,
                         sms: SmsSender | None) -> None:
    """项目申报结果通知 (seed 001 §2.11.2) to the applicant: in-site always, SMS when the district has it on."""
    setting = await NotifySetting.select(NotifySetting.in_site, NotifySetting.sms).where(
        NotifySetting.district == app["district"]).first()
    await notify([app["applicant"]], title, body, project_id)
    if sms is not None and setting and setting["in_site"] and setting["sms"] and app["applicant_phone"]:
        await send_sms(app["applicant_phone"], f"{title}。{body}", recipient_name=app["applicant_name"],
                       recipient_role=Role.enterprise, project_id=project_id, sms=sms)


async def pending_count(user: CurrentUser) -> int:
    """Applications waiting for this supervisor (for the home page link)."""
    if user.role != Role.supervisor:
        return 0
    return await ProjectApplication.count().where(
        ProjectApplication.district.is_in(sorted(user.district_ids) or [-1])
        & (ProjectApplication.status == ApplicationStatus.pending))


async def districts_for_form() -> list[dict[str, Any]]:
    return await District.select(District.id, District.name).order_by(District.id)
