"""Vendor onboarding (issue 20 A.1–A.2): self-registration, profile, business scopes, and device access applications
through the four steps of seed 001 供应商操作指引 §2.4 (1 设备接入申请 → 2 设备接入审核 → 3 联网结果核查申请 →
4 联网结果核查).  All SQL of the domain.

Our readings of the seeds (docs/rules.md):
- §2.3.2: "申请接入业务经监管方审批后……方可进入下一步的供应商接入申请" — a vendor files device access applications only
  for projects of a district whose authority approved the matching business scope (设备类型 = 业务范围).
- §2.4.1: the authority produces 测试环境授权, 正式环境授权 and 设备作业核查 and writes the access details in the
  【备注】.  Here: step 2 is two grants (test, then production); the test credential is shown beside the test grant's
  remark to the vendor only (derived, never stored: ``devices.services.terminal_test_code``).
- Test access: login 843 with the test credential is accepted and nothing after it (no punch, whitelist or
  enrolment is taken); with the vendor code the login is refused "未通过联网结果核查，不能在生产环境登录".
  Production access (正式环境联调) logs in and works; verification closes the application (办结).
- seed 002 §四.2 / §三(一)2: the install plan's channel count is checked against 1 channel per 30,000 m² of floor
  area — a warning, never a refusal (the seed says 参考设置).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backend.accounts.services import CurrentUser, create_user, validate_password
from backend.accounts.tables import User
from backend.approvals.notify import notify
from backend.db import write_transaction
from backend.devices import services as devices
from backend.devices.tables import Terminal, TerminalAlarm, Vendor
from backend.errors import Conflict, Forbidden, NotFound, RateLimited, invalid
from backend.limits import FailureWindow
from backend.onboarding.rules_calc import channels_required
from backend.onboarding.tables import AccessApplication, AccessEvent, VendorProfile, VendorScope
from backend.org.services import rules_for_district
from backend.org.tables import District, Project
from backend.validators import clean_text, parse_phone, parse_uscc
from backend.vocabulary import (
    ACCESS_ACTION_ZH,
    ACCESS_STATUS_ZH,
    ALARM_KIND_ZH,
    BIOMETRIC_MODE_ZH,
    BUSINESS_SCOPE_ZH,
    CAPTURE_METHOD_ZH,
    DEFAULT_TZ,
    DIRECTION_ZH,
    SCOPE_STATUS_ZH,
    TERMINAL_ACCESS_ZH,
    VENDOR_STATE_ZH,
    AccessAction,
    AccessStatus,
    BusinessScope,
    ProjectStatus,
    Role,
    ScopeStatus,
    TerminalAccess,
    VendorState,
    local_time,
)

MAX_TEXT = 500
# Device types a vendor may connect through an access application (the scopes that are real-name devices;
# 噪音扬尘 is a scope of the platform but not a device of this system).
DEVICE_TYPES = (BusinessScope.collection_device, BusinessScope.attendance_device)
# Projects a vendor may file for: not yet finished.
OPEN_PROJECT_STATUSES = (ProjectStatus.preparing, ProjectStatus.under_construction, ProjectStatus.suspended)
# Where each status stands in the four steps (the step being worked on, 1–4; 5 = 办结).
STEP_OF: dict[str, int] = {
    AccessStatus.returned: 1, AccessStatus.applied: 2, AccessStatus.test: 2, AccessStatus.production: 3,
    AccessStatus.reported: 4, AccessStatus.verified: 5,
}
STEPS = ("设备接入申请", "设备接入审核", "联网结果核查申请", "联网结果核查")
# The terminal's access state that follows an application's status.
TERMINAL_STATE_OF: dict[str, str] = {
    AccessStatus.applied: TerminalAccess.applied, AccessStatus.returned: TerminalAccess.applied,
    AccessStatus.test: TerminalAccess.test, AccessStatus.production: TerminalAccess.production,
    AccessStatus.reported: TerminalAccess.production, AccessStatus.verified: TerminalAccess.verified,
}


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _text(value: Any, field: str, label: str, *, required: bool = False, max_len: int = MAX_TEXT,
          multiline: bool = False) -> str:
    return clean_text(value, field, label, max_len=max_len, required=required, multiline=multiline) or ""


def _mobile(value: Any, field: str) -> str:
    phone = parse_phone(str(value or ""), field)
    if phone is None:
        raise invalid(field, "请填写联系电话", "A contact phone is required", code="required")
    return phone


# --- Registration and profile (供应商注册 §2.1, 供应商信息完善 §2.3.1) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Registered:
    vendor_id: int
    user_id: int
    username: str
    vendor_code: str  # 厂家识别码: shown once, on the registration's reply; stored only as a hash


# Our choice: registrations (successful or not) from one address within the login limiter's window (5 min).  The
# page is public and each attempt hashes a password (argon2, ~0.4 s of CPU).
REGISTRATIONS_PER_ADDRESS = 10


async def register_vendor(data: dict[str, Any], *, now: datetime | None = None, limiter: FailureWindow | None = None,
                          address: str = "") -> Registered:
    """A vendor registers itself: the vendor (待完善), its profile and its login (the password it chose).  The
    vendor code is returned for one showing and never again (``smz rotate-vendor-code`` makes a new one).
    ``limiter`` (the app's login limiter) counts every attempt per ``address``: past
    ``REGISTRATIONS_PER_ADDRESS`` in its window, 429."""
    if limiter is not None:
        key = f"vendor-register:{address}"
        wait = limiter.retry_after(key, REGISTRATIONS_PER_ADDRESS)
        if wait:
            raise RateLimited(f"注册过于频繁，请 {wait} 秒后再试", f"Too many registrations, retry in {wait} s")
        limiter.failed(key)
    name = _text(data.get("name"), "name", "企业名称", required=True, max_len=200)
    uscc = parse_uscc(str(data.get("uscc") or ""))
    contact_name = _text(data.get("contact_name"), "contact_name", "联系人", required=True, max_len=60)
    phone = _mobile(data.get("contact_phone"), "contact_phone")
    username = _text(data.get("username"), "username", "登录账号", required=True, max_len=64)
    password = str(data.get("password") or "")
    validate_password(password, username)
    if await User.exists().where(User.username == username):
        raise Conflict("该登录账号已被使用", "Username already exists", field="username", code="username_taken")
    if await VendorProfile.exists().where(VendorProfile.uscc == uscc):
        raise Conflict("该统一社会信用代码已注册", "This USCC is already registered", field="uscc",
                       code="uscc_registered")
    at = _now(now)
    async with write_transaction():
        made = await devices.create_vendor(name, contact_phone=phone)
        await VendorProfile(vendor=made.vendor_id, uscc=uscc, contact_name=contact_name, contact_phone=phone,
                            state=VendorState.incomplete, registered_at=at, updated_at=at).save()
        user_id = await create_user(username, password, Role.vendor, display_name=name[:60], phone=phone,
                                    vendor_id=made.vendor_id)
    return Registered(made.vendor_id, user_id, username, made.code)


def _vendor_of(user: CurrentUser) -> int:
    if user.role != Role.vendor or user.vendor_id is None:
        raise Forbidden("只有设备厂商账号可以办理", "Only vendor accounts may do this", code="vendor_only")
    return user.vendor_id


async def get_profile(vendor_id: int) -> dict[str, Any]:
    row = await VendorProfile.select(
        *VendorProfile.all_columns(), VendorProfile.vendor.name.as_alias("name"),
    ).where(VendorProfile.vendor == vendor_id).first()
    if row is None:  # a vendor made by an admin (smz create-vendor) has no profile yet: an empty one
        vendor = await Vendor.select(Vendor.name, Vendor.contact_phone).where(Vendor.id == vendor_id).first()
        if vendor is None:
            raise NotFound("设备厂商不存在", "Vendor not found", field="vendor_id")
        row = {"vendor": vendor_id, "name": vendor["name"], "uscc": "", "contact_name": "",
               "contact_phone": vendor["contact_phone"], "address": "", "legal_representative": "", "products": "",
               "state": VendorState.incomplete, "registered_at": None, "updated_at": None}
    row["state_label"] = VENDOR_STATE_ZH.get(row["state"], row["state"])
    return row


async def my_profile(user: CurrentUser) -> dict[str, Any]:
    return await get_profile(_vendor_of(user))


async def update_profile(user: CurrentUser, data: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """完善供应商信息: contact, address, legal representative, products; all filled → 已完善."""
    vendor_id = _vendor_of(user)
    values = {
        "contact_name": _text(data.get("contact_name"), "contact_name", "联系人", required=True, max_len=60),
        "contact_phone": _mobile(data.get("contact_phone"), "contact_phone"),
        "address": _text(data.get("address"), "address", "企业地址", required=True, max_len=300),
        "legal_representative": _text(data.get("legal_representative"), "legal_representative", "法定代表人",
                                      required=True, max_len=60),
        "products": _text(data.get("products"), "products", "主要产品及型号", required=True, multiline=True),
    }
    at = _now(now)
    async with write_transaction():
        if await VendorProfile.exists().where(VendorProfile.vendor == vendor_id):
            await VendorProfile.update({
                **{getattr(VendorProfile, k): v for k, v in values.items()},
                VendorProfile.state: VendorState.complete, VendorProfile.updated_at: at,
            }).where(VendorProfile.vendor == vendor_id)
        else:
            uscc = parse_uscc(str(data.get("uscc") or ""))
            if await VendorProfile.exists().where(VendorProfile.uscc == uscc):
                raise Conflict("该统一社会信用代码已注册", "This USCC is already registered", field="uscc",
                               code="uscc_registered")
            await VendorProfile(vendor=vendor_id, uscc=uscc, state=VendorState.complete, registered_at=at,
                                updated_at=at, **values).save()
    return await get_profile(vendor_id)


# --- Business scopes (选择申请业务范围 §2.3.2) -------------------------------------------------------------------


def _scope_where(user: CurrentUser) -> Any:
    """Which scope applications ``user`` sees (None: all)."""
    if user.role == Role.admin:
        return None
    if user.role == Role.supervisor:
        return VendorScope.district.is_in(sorted(user.district_ids) or [-1])
    if user.role == Role.vendor and user.vendor_id is not None:
        return VendorScope.vendor == user.vendor_id
    raise Forbidden("当前角色不能查看厂商业务范围", "Your role may not see vendor scopes")


def _label_scope(row: dict[str, Any]) -> dict[str, Any]:
    row["scope_label"] = BUSINESS_SCOPE_ZH.get(row["scope"], row["scope"])
    row["status_label"] = SCOPE_STATUS_ZH.get(row["status"], row["status"])
    row["submitted_at_local"] = local_time(row.get("submitted_at"), row.get("tz") or DEFAULT_TZ)
    row["decided_at_local"] = local_time(row.get("decided_at"), row.get("tz") or DEFAULT_TZ)
    return row


async def list_scopes(user: CurrentUser, *, status: str | None = None) -> list[dict[str, Any]]:
    where = _scope_where(user)
    q = VendorScope.select(
        *VendorScope.all_columns(), VendorScope.vendor.name.as_alias("vendor_name"),
        VendorScope.district.name.as_alias("district_name"), VendorScope.district.timezone.as_alias("tz"),
    ).order_by(VendorScope.id, ascending=False).limit(500)
    if where is not None:
        q = q.where(where)
    if status:
        if status not in SCOPE_STATUS_ZH:
            raise invalid("status", "未知的审核状态", "Unknown scope status")
        q = q.where(VendorScope.status == status)
    rows = [_label_scope(r) for r in await q]
    profiles = await VendorProfile.select(VendorProfile.vendor, VendorProfile.uscc, VendorProfile.contact_name,
                                          VendorProfile.state).where(
        VendorProfile.vendor.is_in(sorted({r["vendor"] for r in rows}) or [-1]))
    by_vendor = {p["vendor"]: p for p in profiles}
    for r in rows:
        p = by_vendor.get(r["vendor"], {})
        r["uscc"], r["contact_name"] = p.get("uscc", ""), p.get("contact_name", "")
        r["can_decide"] = can_decide_scope(user, r)
    return rows


def can_decide_scope(user: CurrentUser, row: dict[str, Any]) -> bool:
    return row["status"] == ScopeStatus.pending and (
        user.role == Role.admin or (user.role == Role.supervisor and row["district"] in user.district_ids))


async def apply_scope(user: CurrentUser, data: dict[str, Any], *, now: datetime | None = None) -> int:
    """Apply for a business scope with one district's authority; a returned application of the same scope is
    filed again (same row).  The profile must be complete first (供应商信息完善 before §2.3.2)."""
    vendor_id = _vendor_of(user)
    scope = str(data.get("scope") or "")
    if scope not in BUSINESS_SCOPE_ZH:
        raise invalid("scope", "请选择业务范围", "Choose a business scope", code="scope")
    try:
        district_id = int(data.get("district_id") or 0)
    except (TypeError, ValueError):
        district_id = 0
    if district_id <= 0 or not await District.exists().where(District.id == district_id):
        raise invalid("district_id", "请选择受理的区县", "Choose the district", code="district_id")
    note = _text(data.get("note"), "note", "业务说明", required=True, multiline=True)
    profile = await get_profile(vendor_id)
    if profile["state"] != VendorState.complete:
        raise Conflict("请先完善供应商信息，再申请业务范围", "Complete the vendor profile first",
                       code="profile_incomplete")
    at = _now(now)
    async with write_transaction():
        existing = await VendorScope.select(VendorScope.id, VendorScope.status).where(
            (VendorScope.vendor == vendor_id) & (VendorScope.district == district_id)
            & (VendorScope.scope == scope)).first()
        if existing is not None:
            if existing["status"] != ScopeStatus.returned:
                raise Conflict("该业务范围已申请（待审核或已通过）", "This scope was applied for already",
                               code="scope_exists")
            await VendorScope.update({VendorScope.status: ScopeStatus.pending, VendorScope.note: note,
                                      VendorScope.submitted_at: at}).where(VendorScope.id == existing["id"])
            return existing["id"]
        row = VendorScope(vendor=vendor_id, district=district_id, scope=scope, status=ScopeStatus.pending, note=note,
                          submitted_at=at)
        await row.save()
        return row.id


async def decide_scope(user: CurrentUser, scope_id: int, *, approve: bool, reason: str = "",
                       now: datetime | None = None) -> dict[str, Any]:
    where = _scope_where(user)
    q = VendorScope.select().where(VendorScope.id == scope_id)
    row = await (q.where(where) if where is not None else q).first()
    if row is None:
        raise NotFound("业务范围申请不存在或无权查看", "Scope application not found", field="scope_id")
    if user.role not in (Role.admin, Role.supervisor):
        raise Forbidden("只有区县住建主管部门可以审核业务范围", "Only the district authority decides scopes")
    text = _text(reason, "reason", "退回原因", multiline=True)
    if not approve and not text:
        raise invalid("reason", "退回时须填写原因", "A reason is required to return", code="reason")
    at = _now(now)
    async with write_transaction():
        done = await VendorScope.update({
            VendorScope.status: ScopeStatus.approved if approve else ScopeStatus.returned,
            VendorScope.reason: "" if approve else text, VendorScope.decided_by: user.id, VendorScope.decided_at: at,
        }).where((VendorScope.id == scope_id) & (VendorScope.status == ScopeStatus.pending)).returning(VendorScope.id)
        if not done:
            raise Conflict("该申请已处理，不在待审核状态", "The scope application is no longer pending",
                           code="not_pending")
    scope_label = BUSINESS_SCOPE_ZH.get(row["scope"], row["scope"])
    await _notify_vendor(row["vendor"], f"业务范围「{scope_label}」{'已通过' if approve else '已退回'}",
                         "可以提交设备接入申请。" if approve else f"退回原因：{text}")
    return row


async def has_scope(vendor_id: int, district_id: int, scope: str) -> bool:
    return await VendorScope.exists().where(
        (VendorScope.vendor == vendor_id) & (VendorScope.district == district_id) & (VendorScope.scope == scope)
        & (VendorScope.status == ScopeStatus.approved))


async def approved_scopes(vendor_id: int) -> list[dict[str, Any]]:
    return await VendorScope.select(VendorScope.district, VendorScope.scope).where(
        (VendorScope.vendor == vendor_id) & (VendorScope.status == ScopeStatus.approved))


async def projects_for_vendor(user: CurrentUser) -> list[dict[str, Any]]:
    """Projects a vendor may file for: open projects of the districts where it holds an approved scope."""
    vendor_id = _vendor_of(user)
    districts = sorted({s["district"] for s in await approved_scopes(vendor_id)})
    if not districts:
        return []
    return await Project.select(Project.id, Project.name, Project.district.name.as_alias("district_name"),
                                Project.floor_area_m2).where(
        Project.district.is_in(districts) & Project.status.is_in(list(OPEN_PROJECT_STATUSES))).order_by(Project.id)


async def _notify_vendor(vendor_id: int, title: str, body: str, project_id: int | None = None) -> None:
    users = await User.select(User.id).where((User.vendor == vendor_id) & (User.role == Role.vendor))
    await notify([u["id"] for u in users], title, body, project_id)


# --- Device access applications (§2.4) -------------------------------------------------------------------------


def _app_where(user: CurrentUser) -> Any:
    """Which access applications ``user`` sees (None: all): the vendor its own, the authority its districts."""
    if user.role == Role.admin:
        return None
    if user.role == Role.supervisor:
        return AccessApplication.project.district.is_in(sorted(user.district_ids) or [-1])
    if user.role == Role.vendor and user.vendor_id is not None:
        return AccessApplication.vendor == user.vendor_id
    raise Forbidden("当前角色不能查看设备接入申请", "Your role may not see device access applications")


def _int(value: Any, field: str, zh: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise invalid(field, zh, f"{field}: a whole number {lo}–{hi}", code=field) from None
    if not lo <= n <= hi:
        raise invalid(field, zh, f"{field}: a whole number {lo}–{hi}", code=field)
    return n


def _area(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        area = float(value)
    except (TypeError, ValueError):
        raise invalid("site_area_m2", "建筑面积应为大于 0 的数字（平方米）", "Area must be a number > 0",
                      code="site_area_m2") from None
    if not 0 < area < 1e9:
        raise invalid("site_area_m2", "建筑面积应为大于 0 的数字（平方米）", "Area must be a number > 0",
                      code="site_area_m2")
    return area


def clean_device(data: dict[str, Any]) -> dict[str, Any]:
    """The device and install-plan fields of an application (step 1), in the form's order."""
    device_type = str(data.get("device_type") or "")
    if device_type not in DEVICE_TYPES:
        raise invalid("device_type", "请选择设备类型（采集设备或考勤设备）", "Choose the device type", code="device_type")
    capture = str(data.get("capture_method") or "")
    if capture not in CAPTURE_METHOD_ZH:
        raise invalid("capture_method", "请选择采集方式", "Choose the capture method", code="capture_method")
    mode = str(data.get("biometric_mode") or "")
    if mode not in BIOMETRIC_MODE_ZH:
        raise invalid("biometric_mode", "请选择生物识别方式", "Choose the biometric mode", code="biometric_mode")
    direction = str(data.get("direction") or "in")
    if direction not in DIRECTION_ZH:
        raise invalid("direction", "方向应为进或出", "Direction must be in or out", code="direction")
    return {
        "device_type": device_type,
        "model": _text(data.get("model"), "model", "设备型号", required=True, max_len=100),
        "install_position": _text(data.get("install_position"), "install_position", "设备安装位置", required=True,
                                  max_len=200),
        "capture_method": capture, "biometric_mode": mode, "direction": direction,
        "channel": _int(data.get("channel") or 1, "channel", "通道号应在 1–999 之间", 1, 999),
        "channels_planned": _int(data.get("channels_planned") or 0, "channels_planned",
                                 "请填写安装方案的考勤通道数（1–999）", 1, 999),
        "site_area_m2": _area(data.get("site_area_m2")),
        "install_plan": _text(data.get("install_plan"), "install_plan", "安装方案（通道布置）", required=True,
                              multiline=True, max_len=2000),
    }


async def _project_for(project_id: int) -> dict[str, Any]:
    row = await Project.select(Project.id, Project.name, Project.district, Project.floor_area_m2, Project.status,
                               Project.timezone).where(Project.id == project_id).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    return row


async def _required(values: dict[str, Any], project: dict[str, Any]) -> int:
    area = values["site_area_m2"] if values["site_area_m2"] is not None else project["floor_area_m2"]
    values["site_area_m2"] = area
    return channels_required(area or 0.0, await rules_for_district(project["district"]))


async def file_application(user: CurrentUser, data: dict[str, Any], *,
                           changes: devices.TerminalChanges | None = None, now: datetime | None = None) -> int:
    """Step 1 设备接入申请: the device is registered to the project (access state ``applied``: it cannot log in
    yet) and the application waits for the district's 设备接入审核."""
    vendor_id = _vendor_of(user)
    try:
        project_id = int(data.get("project_id") or 0)
    except (TypeError, ValueError):
        project_id = 0
    if project_id <= 0:
        raise invalid("project_id", "请选择项目", "Choose the project", code="project_id")
    values = clean_device(data)
    serial = str(data.get("serial") or "").strip()
    project = await _project_for(project_id)
    if not await has_scope(vendor_id, project["district"], values["device_type"]):
        raise Forbidden(f"尚未获得项目所在区县对「{BUSINESS_SCOPE_ZH[values['device_type']]}」业务范围的审核通过，"
                        "不能申请设备接入", "No approved business scope for this device type in the project's district",
                        code="scope_not_approved")
    values["channels_required"] = await _required(values, project)
    at = _now(now)
    async with write_transaction():
        terminal_id = await devices.register_terminal(
            project_id, serial, vendor_id, channel=values["channel"], direction=values["direction"],
            changes=changes, access_state=TerminalAccess.applied)
        app = AccessApplication(vendor=vendor_id, project=project_id, terminal=terminal_id, serial=serial,
                                status=AccessStatus.applied, submitted_by=user.id, submitted_at=at, updated_at=at,
                                **values)
        await app.save()
        await AccessEvent(application=app.id, action=AccessAction.submitted, by_user=user.id, at=at,
                          remark=_plan_remark(values)).save()
    return app.id


def _plan_remark(values: dict[str, Any]) -> str:
    short = max(0, values["channels_required"] - values["channels_planned"])
    text = f"安装方案 {values['channels_planned']} 条通道，按建筑面积应设 {values['channels_required']} 条"
    return text + (f"，少 {short} 条（提醒）" if short else "")


async def _visible(user: CurrentUser, application_id: int) -> dict[str, Any]:
    where = AccessApplication.id == application_id
    scope = _app_where(user)
    if scope is not None:
        where &= scope
    row = await AccessApplication.select(
        *AccessApplication.all_columns(), AccessApplication.project.name.as_alias("project_name"),
        AccessApplication.project.district.as_alias("district"),
        AccessApplication.project.district.name.as_alias("district_name"),
        AccessApplication.project.permit_no.as_alias("permit_no"),
        AccessApplication.project.timezone.as_alias("tz"), AccessApplication.vendor.name.as_alias("vendor_name"),
    ).where(where).first()
    if row is None:
        raise NotFound("设备接入申请不存在或无权查看", "Access application not found or not in your scope",
                       field="application_id")
    return row


def _label_app(row: dict[str, Any]) -> dict[str, Any]:
    tz = row.get("tz") or DEFAULT_TZ
    row["status_label"] = ACCESS_STATUS_ZH.get(row["status"], row["status"])
    row["device_type_label"] = BUSINESS_SCOPE_ZH.get(row["device_type"], row["device_type"])
    row["capture_method_label"] = CAPTURE_METHOD_ZH.get(row.get("capture_method", ""), row.get("capture_method", ""))
    row["biometric_mode_label"] = BIOMETRIC_MODE_ZH.get(row.get("biometric_mode", ""), row.get("biometric_mode", ""))
    row["direction_label"] = DIRECTION_ZH.get(row.get("direction", ""), row.get("direction", ""))
    row["step"] = STEP_OF.get(row["status"], 1)
    row["step_label"] = "办结" if row["step"] > 4 else f"{row['step']} {STEPS[row['step'] - 1]}"
    row["channels_short"] = max(0, row.get("channels_required", 0) - row.get("channels_planned", 0))
    row["submitted_at_local"] = local_time(row.get("submitted_at"), tz)
    row["updated_at_local"] = local_time(row.get("updated_at"), tz)
    return row


def _is_decider(user: CurrentUser, app: dict[str, Any]) -> bool:
    return user.role == Role.admin or (user.role == Role.supervisor and app["district"] in user.district_ids)


def _is_owner(user: CurrentUser, app: dict[str, Any]) -> bool:
    return user.role == Role.vendor and user.vendor_id == app["vendor"]


async def get_application(user: CurrentUser, application_id: int) -> dict[str, Any]:
    """One application with its history (流转记录), what ``user`` may do next, the terminal's state and its recent
    refusals; the test credential only for the owning vendor while the terminal has test access."""
    app = _label_app(await _visible(user, application_id))
    tz = app.get("tz") or DEFAULT_TZ
    events = await AccessEvent.select().where(AccessEvent.application == application_id).order_by(AccessEvent.id)
    names = await _user_names({e["by_user"] for e in events if e["by_user"]})
    for e in events:
        e["action_label"] = ACCESS_ACTION_ZH.get(e["action"], e["action"])
        e["by_name"] = names.get(e["by_user"], "")
        e["at_local"] = local_time(e["at"], tz)
    app["events"] = events
    terminal = None
    if app.get("terminal"):
        terminal = await Terminal.select(Terminal.id, Terminal.serial, Terminal.access_state, Terminal.online,
                                         Terminal.last_login_at, Terminal.vendor.code_hash.as_alias("code_hash"),
                                         ).where(Terminal.id == app["terminal"]).first()
    app["access_state"] = terminal["access_state"] if terminal else ""
    app["access_state_label"] = TERMINAL_ACCESS_ZH.get(app["access_state"], app["access_state"])
    app["online"] = bool(terminal and terminal["online"])
    app["last_login_local"] = local_time(terminal["last_login_at"], tz) if terminal else ""
    owner = _is_owner(user, app)
    app["test_credential"] = (devices.terminal_test_code(terminal["id"], terminal["serial"], terminal["code_hash"])
                              if owner and terminal and terminal["access_state"] == TerminalAccess.test else None)
    decider = _is_decider(user, app)
    status = app["status"]
    app["can"] = {
        "grant_test": decider and status == AccessStatus.applied,
        "return": decider and status in (AccessStatus.applied, AccessStatus.reported),
        "grant_production": decider and status == AccessStatus.test,
        "verify": decider and status == AccessStatus.reported,
        "report": owner and status == AccessStatus.production,
        "resubmit": owner and status == AccessStatus.returned,
    }
    app["alarms"] = await _alarms(app["terminal"], tz) if app.get("terminal") else []
    return app


async def _alarms(terminal_id: int, tz: str) -> list[dict[str, Any]]:
    """The terminal's recent gate alarms (refused logins, test logins): the vendor sees why its device was refused."""
    rows = await TerminalAlarm.select(TerminalAlarm.kind, TerminalAlarm.detail, TerminalAlarm.peer,
                                      TerminalAlarm.at).where(TerminalAlarm.terminal == terminal_id).order_by(
        TerminalAlarm.id, ascending=False).limit(20)
    for r in rows:
        r["kind_label"] = ALARM_KIND_ZH.get(r["kind"], r["kind"])
        r["at_local"] = local_time(r["at"], tz, seconds=True)
    return rows


async def _user_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await User.select(User.id, User.display_name).where(User.id.is_in(sorted(ids)))
    return {r["id"]: r["display_name"] for r in rows}


async def list_applications(user: CurrentUser, *, status: str | None = None,
                            limit: int = 500) -> list[dict[str, Any]]:
    """Newest first; a vendor's own, or the district's (admin: all)."""
    where = _app_where(user)
    q = AccessApplication.select(
        AccessApplication.id, AccessApplication.vendor, AccessApplication.project, AccessApplication.status,
        AccessApplication.device_type, AccessApplication.serial, AccessApplication.model,
        AccessApplication.channels_planned, AccessApplication.channels_required, AccessApplication.submitted_at,
        AccessApplication.updated_at, AccessApplication.round_no,
        AccessApplication.project.name.as_alias("project_name"), AccessApplication.project.district.as_alias("district"),
        AccessApplication.project.timezone.as_alias("tz"), AccessApplication.vendor.name.as_alias("vendor_name"),
    ).order_by(AccessApplication.updated_at, ascending=False).order_by(AccessApplication.id, ascending=False).limit(
        limit)
    if where is not None:
        q = q.where(where)
    if status:
        if status not in ACCESS_STATUS_ZH:
            raise invalid("status", "未知的申请状态", "Unknown application status")
        q = q.where(AccessApplication.status == status)
    return [_label_app(r) for r in await q]


def _wrong_step(app: dict[str, Any]) -> Conflict:
    label = ACCESS_STATUS_ZH.get(app["status"], app["status"])
    return Conflict(f"当前环节为「{label}」，不能办理这一步（接入流程须按顺序办理）",
                    f"The application is {app['status']}: steps must be taken in order", code="wrong_step")


async def _move(user: CurrentUser, app: dict[str, Any], *, expected: tuple[str, ...], to: str, action: str,
                remark: str, changes: devices.TerminalChanges | None, now: datetime | None,
                extra: dict[Any, Any] | None = None) -> None:
    """Move the application from one of ``expected`` to ``to`` (else 409), its terminal with it, and record it."""
    at = _now(now)
    async with write_transaction():
        done = await AccessApplication.update({
            AccessApplication.status: to, AccessApplication.updated_at: at, **(extra or {}),
        }).where((AccessApplication.id == app["id"]) & AccessApplication.status.is_in(list(expected))).returning(
            AccessApplication.id)
        if not done:
            raise _wrong_step(app)
        if app.get("terminal"):
            await devices.set_access_state(app["terminal"], TERMINAL_STATE_OF[to], changes=changes)
        await AccessEvent(application=app["id"], action=action, by_user=user.id, at=at, remark=remark).save()


def _require_decider(user: CurrentUser, app: dict[str, Any]) -> None:
    if not _is_decider(user, app):
        raise Forbidden("只有项目所在区县的住建主管部门可以审核设备接入",
                        "Only the authority of the project's district may decide device access")


def _require_owner(user: CurrentUser, app: dict[str, Any]) -> None:
    if not _is_owner(user, app):
        raise Forbidden("只有申请的设备厂商可以办理", "Only the applying vendor may do this", code="vendor_only")


async def grant_test(user: CurrentUser, application_id: int, remark: str = "", *,
                     changes: devices.TerminalChanges | None = None, now: datetime | None = None) -> None:
    """Step 2a 测试环境授权: the terminal may log in with its test credential (shown to the vendor only)."""
    app = await _visible(user, application_id)
    _require_decider(user, app)
    text = _text(remark, "remark", "备注", multiline=True) or "测试环境授权：请使用测试凭据登录联调"
    await _move(user, app, expected=(AccessStatus.applied,), to=AccessStatus.test, action=AccessAction.test_granted,
                remark=text, changes=changes, now=now)
    await _notify_vendor(app["vendor"], f"设备 {app['serial']} 已获测试环境授权",
                         "测试凭据见设备接入申请详情（仅厂商可见）。", app["project"])


async def grant_production(user: CurrentUser, application_id: int, remark: str = "", *,
                           changes: devices.TerminalChanges | None = None, now: datetime | None = None) -> None:
    """Step 2b 正式环境授权: the terminal logs in with the vendor code (正式环境联调)."""
    app = await _visible(user, application_id)
    _require_decider(user, app)
    text = _text(remark, "remark", "备注", multiline=True) or "正式环境授权：请使用厂家识别码登录联调，正式环境不要产生测试数据"
    await _move(user, app, expected=(AccessStatus.test,), to=AccessStatus.production,
                action=AccessAction.production_granted, remark=text, changes=changes, now=now)
    await _notify_vendor(app["vendor"], f"设备 {app['serial']} 已获正式环境授权", "联调成功后请提交联网结果核查申请。",
                         app["project"])


async def report_hookup(user: CurrentUser, application_id: int, result: str, *,
                        changes: devices.TerminalChanges | None = None, now: datetime | None = None) -> None:
    """Step 3 联网结果核查申请: the vendor reports the production hook-up."""
    app = await _visible(user, application_id)
    _require_owner(user, app)
    text = _text(result, "result", "联网结果核查申请说明", required=True, multiline=True)
    await _move(user, app, expected=(AccessStatus.production,), to=AccessStatus.reported, action=AccessAction.reported,
                remark=text, changes=changes, now=now, extra={AccessApplication.hookup_result: text})


async def verify(user: CurrentUser, application_id: int, remark: str = "", *,
                 changes: devices.TerminalChanges | None = None, now: datetime | None = None) -> None:
    """Step 4 联网结果核查: passed → 办结, the terminal is verified."""
    app = await _visible(user, application_id)
    _require_decider(user, app)
    text = _text(remark, "remark", "核查意见", multiline=True) or "联网结果核查通过"
    await _move(user, app, expected=(AccessStatus.reported,), to=AccessStatus.verified, action=AccessAction.verified,
                remark=text, changes=changes, now=now)
    await _notify_vendor(app["vendor"], f"设备 {app['serial']} 联网结果核查通过", "接入流程已办结。", app["project"])


async def return_application(user: CurrentUser, application_id: int, reason: str, *,
                             changes: devices.TerminalChanges | None = None, now: datetime | None = None) -> None:
    """Return with a reason: at 设备接入审核 back to the vendor to correct (退回), at 联网结果核查 back to
    正式环境 (the vendor reports again)."""
    app = await _visible(user, application_id)
    _require_decider(user, app)
    text = _text(reason, "reason", "退回原因", multiline=True)
    if not text:
        raise invalid("reason", "退回时须填写原因", "A reason is required to return", code="reason")
    if app["status"] == AccessStatus.reported:
        await _move(user, app, expected=(AccessStatus.reported,), to=AccessStatus.production,
                    action=AccessAction.verify_returned, remark=text, changes=changes, now=now)
    else:
        await _move(user, app, expected=(AccessStatus.applied,), to=AccessStatus.returned,
                    action=AccessAction.returned, remark=text, changes=changes, now=now)
    await _notify_vendor(app["vendor"], f"设备 {app['serial']} 的接入申请被退回", f"退回原因：{text}", app["project"])


async def resubmit(user: CurrentUser, application_id: int, data: dict[str, Any], *,
                   changes: devices.TerminalChanges | None = None, now: datetime | None = None) -> None:
    """A returned application corrected and filed again (project and serial stay)."""
    app = await _visible(user, application_id)
    _require_owner(user, app)
    values = clean_device(data)
    project = await _project_for(app["project"])
    if not await has_scope(app["vendor"], project["district"], values["device_type"]):
        raise Forbidden("尚未获得该设备类型的业务范围审核通过", "No approved business scope for this device type",
                        code="scope_not_approved")
    values["channels_required"] = await _required(values, project)
    extra = {getattr(AccessApplication, k): v for k, v in values.items()}
    extra[AccessApplication.round_no] = app["round_no"] + 1
    await _move(user, app, expected=(AccessStatus.returned,), to=AccessStatus.applied,
                action=AccessAction.resubmitted, remark=_plan_remark(values), changes=changes, now=now, extra=extra)
    if app.get("terminal"):
        await devices.update_terminal(app["terminal"], {"channel": values["channel"], "direction": values["direction"]},
                                      terminal_changes=changes)


async def pending_counts(user: CurrentUser) -> dict[str, int]:
    """What waits for ``user``: scope and access decisions (authority), hook-up reports (vendor)."""
    if user.role in (Role.admin, Role.supervisor):
        scope_where = _scope_where(user)
        app_where = _app_where(user)
        sq = VendorScope.count().where(VendorScope.status == ScopeStatus.pending)
        aq = AccessApplication.count().where(
            AccessApplication.status.is_in([AccessStatus.applied, AccessStatus.test, AccessStatus.reported]))
        return {"scopes": await (sq.where(scope_where) if scope_where is not None else sq),
                "applications": await (aq.where(app_where) if app_where is not None else aq)}
    if user.role == Role.vendor and user.vendor_id is not None:
        return {"scopes": 0, "applications": await AccessApplication.count().where(
            (AccessApplication.vendor == user.vendor_id)
            & AccessApplication.status.is_in([AccessStatus.production, AccessStatus.returned]))}
    return {"scopes": 0, "applications": 0}


async def districts() -> list[dict[str, Any]]:
    return await District.select(District.id, District.name).order_by(District.id)
