"""The closed sets of string codes the system stores and compares, with the Chinese each shows to people.

Base layer: this module imports nothing from ``backend`` packages; every package may import it.

Each set is a ``StrEnum`` (a member *is* its string: ``Role.admin == "admin"``, it hashes, sorts, formats and
serialises as that string, so a member can be stored, compared with a database value or used as a dict key in
place of the literal).  Each enum has exactly one label map, ``<NAME>_ZH``, keyed by its members in declaration
order (forms list them in that order); ``LABELS`` maps each enum to its label map and ``label(code, kind)``
looks a code up (the templates' ``label`` filter).  Column widths of the tables that hold these codes are
``width(Enum, floor)``: the longest code, never narrower than the column was when it was created (a column must
never shrink; a longer new code widens it and then needs a migration).

Adding a code: add the member and its label here (tests/unit/test_vocabulary.py checks every member has one and
every column fits), then the place that decides when it is used.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo


def width(codes: type[StrEnum], floor: int) -> int:
    """Varchar length for a column holding ``codes``: the longest code, at least ``floor`` (today's width)."""
    return max(floor, max(len(m.value) for m in codes))


# --- Accounts --------------------------------------------------------------------------------------------------


class Role(StrEnum):
    """Account roles (backend/accounts)."""

    admin = "admin"
    supervisor = "supervisor"  # staff of the authority (住建主管部门), sees a district
    enterprise = "enterprise"
    project_staff = "project_staff"
    foreman = "foreman"
    worker = "worker"
    vendor = "vendor"


ROLE_ZH: dict[str, str] = {
    Role.admin: "系统管理员",
    Role.supervisor: "主管部门监管人员",
    Role.enterprise: "企业人员",
    Role.project_staff: "项目管理人员",
    Role.foreman: "班组长/劳务员",
    Role.worker: "工人",
    Role.vendor: "设备厂商",
}


# --- Attendance --------------------------------------------------------------------------------------------------


class Source(StrEnum):
    """Where a punch came from (Punch.source)."""

    gate = "gate"
    mobile = "mobile"
    makeup = "makeup"


SOURCE_ZH: dict[str, str] = {Source.gate: "闸机", Source.mobile: "手机", Source.makeup: "补卡"}


class Direction(StrEnum):
    """Punch and terminal direction."""

    in_ = "in"
    out = "out"


DIRECTION_ZH: dict[str, str] = {Direction.in_: "进", Direction.out: "出"}


class PunchVerdict(StrEnum):
    """Outcome of a punch (Punch.verdict): accepted, accepted with review flags, rejected."""

    accepted = "accepted"
    flagged = "flagged"
    rejected = "rejected"


# What the person who punched is told.
VERDICT_ZH: dict[str, str] = {
    PunchVerdict.accepted: "打卡成功", PunchVerdict.flagged: "打卡成功（待复核）", PunchVerdict.rejected: "打卡失败",
}
# The same verdicts in the supervisors' punch lists (a column headed 打卡结果).
VERDICT_SHORT_ZH: dict[str, str] = {
    PunchVerdict.accepted: "成功", PunchVerdict.flagged: "成功（待复核）", PunchVerdict.rejected: "失败",
}


class Reason(StrEnum):
    """Reason codes (a rejection) and flag codes (accepted, marked for review) of punch verdicts."""

    # rejections
    not_on_roster = "not_on_roster"
    unknown_person = "unknown_person"
    not_enrolled = "not_enrolled"
    face_mismatch = "face_mismatch"
    liveness_failed = "liveness_failed"
    challenge_invalid = "challenge_invalid"
    outside_fence = "outside_fence"
    low_gps_accuracy = "low_gps_accuracy"
    invalid_coordinates = "invalid_coordinates"
    no_fence = "no_fence"
    invalid_accuracy = "invalid_accuracy"
    manager_makeup_forbidden = "manager_makeup_forbidden"
    project_not_active = "project_not_active"
    bad_image = "bad_image"
    # flags
    late_upload = "late_upload"
    clock_skew = "clock_skew"
    near_edge = "near_edge"
    impossible_speed = "impossible_speed"
    repeated_coordinates = "repeated_coordinates"
    suspicious_accuracy = "suspicious_accuracy"
    swapped_lat_lon = "swapped_lat_lon"
    offline_challenge = "offline_challenge"
    project_suspended = "project_suspended"
    makeup = "makeup"
    non_face_mode = "non_face_mode"


REASON_ZH: dict[str, str] = {
    # rejections
    Reason.not_on_roster: "不在本项目花名册中（未进场或已退场）",
    Reason.unknown_person: "人员不存在",
    Reason.not_enrolled: "尚未采集人脸，不能打卡",
    Reason.face_mismatch: "人脸比对不通过",
    Reason.liveness_failed: "活体检测未通过",
    Reason.challenge_invalid: "活体挑战无效（已过期或已使用）",
    Reason.outside_fence: "不在电子围栏内",
    Reason.low_gps_accuracy: "定位精度不足",
    Reason.invalid_coordinates: "定位坐标无效",
    Reason.no_fence: "项目未设置电子围栏",
    Reason.invalid_accuracy: "定位精度数据无效",
    Reason.manager_makeup_forbidden: "管理人员不得补卡",
    Reason.project_not_active: "项目未开工或已完工，不接受考勤",
    Reason.bad_image: "照片无效",
    # flags (accepted, but marked for review)
    Reason.late_upload: "上传超时",
    Reason.clock_skew: "设备时间与服务器时间偏差过大",
    Reason.near_edge: "位于围栏边缘（定位误差范围内）",
    Reason.impossible_speed: "两次打卡之间移动速度异常",
    Reason.repeated_coordinates: "定位坐标与之前完全相同",
    Reason.suspicious_accuracy: "定位精度数值可疑",
    Reason.swapped_lat_lon: "经纬度可能颠倒",
    Reason.offline_challenge: "离线打卡，未经服务器活体挑战（可信度较低）",
    Reason.project_suspended: "项目停工期间打卡",
    Reason.makeup: "补卡（经主管部门批准）",
    # seed 000 §六: 采用指纹、门禁卡等其他方式进入施工现场的，视为未落实实名制管理 — kept, never counted.
    Reason.non_face_mode: "非人脸方式（门禁卡、指纹等），不计入考勤",
}


class MakeupStatus(StrEnum):
    """A make-up request (MakeupRequest.status)."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"


MAKEUP_STATUS_ZH: dict[str, str] = {
    MakeupStatus.pending: "待审核", MakeupStatus.approved: "已批准", MakeupStatus.rejected: "未批准",
}


class MakeupReason(StrEnum):
    """Why a punch is made up (MakeupRequest.reason)."""

    rain = "rain"
    network_failure = "network_failure"
    device_failure = "device_failure"
    other = "other"


MAKEUP_REASON_ZH: dict[str, str] = {
    MakeupReason.rain: "暴雨等恶劣天气",
    MakeupReason.network_failure: "网络故障",
    MakeupReason.device_failure: "设备故障",
    MakeupReason.other: "其他",
}


# --- Organisation ----------------------------------------------------------------------------------------------


class ProjectStatus(StrEnum):
    """Project status (seed 000 §三 "筹备、在建、竣工、完工、停工"; national code table 001 筹备 … 005 停工)."""

    preparing = "preparing"
    under_construction = "under_construction"
    suspended = "suspended"
    finished = "finished"
    accepted = "accepted"


PROJECT_STATUS_ZH: dict[str, str] = {
    ProjectStatus.preparing: "筹备",
    ProjectStatus.under_construction: "在建",
    ProjectStatus.suspended: "停工",
    ProjectStatus.finished: "完工",
    ProjectStatus.accepted: "竣工",
}


class ChangeKind(StrEnum):
    """What a project change request changes (ProjectChangeRequest.kind; seed 004 §三(八)–(十))."""

    status = "status"
    planned_start = "planned_start"
    actual_start = "actual_start"


CHANGE_KIND_ZH: dict[str, str] = {
    ChangeKind.status: "项目状态变更（停工/复工/完工等）",
    ChangeKind.planned_start: "变更拟开工日期",
    ChangeKind.actual_start: "变更实际开工日期",
}


class ChangeRequestStatus(StrEnum):
    """A project change request (ProjectChangeRequest.status): two-level approval (二级审批, seed 004 §三(八)–(十))."""

    pending = "pending"
    level1_approved = "level1_approved"
    approved = "approved"
    rejected = "rejected"


CHANGE_REQUEST_STATUS_ZH: dict[str, str] = {
    ChangeRequestStatus.pending: "待一级审批",
    ChangeRequestStatus.level1_approved: "一级审批通过，待二级审批",
    ChangeRequestStatus.approved: "审批通过，已生效",
    ChangeRequestStatus.rejected: "未批准",
}


class ChangeFormKind(StrEnum):
    """What a person asks for on the change-request page (issue 15; seed 004 §三(八)–(十)): each maps to a
    ``ChangeKind`` and, for a status, its target (``backend.org.services.FORM_KINDS``)."""

    planned_start = "planned_start"
    suspend = "suspend"
    resume = "resume"
    finish = "finish"
    accept = "accept"


CHANGE_FORM_KIND_ZH: dict[str, str] = {
    ChangeFormKind.planned_start: "变更拟开工日期", ChangeFormKind.suspend: "停工", ChangeFormKind.resume: "复工",
    ChangeFormKind.finish: "完工", ChangeFormKind.accept: "竣工验收",
}


class Level1Holder(StrEnum):
    """Who decides level 1 of a district's project change requests (District.change_level1; 二级审批, seed 004
    §三(八)–(十)); level 2 is always the district's authority."""

    units = "units"
    district = "district"


LEVEL1_HOLDER_ZH: dict[str, str] = {
    Level1Holder.units: "项目的建设单位或监理单位",
    Level1Holder.district: "区县主管部门（须与二级审批为不同人员）",
}


class ProjectCategory(StrEnum):
    building = "building"
    municipal = "municipal"


PROJECT_CATEGORY_ZH: dict[str, str] = {
    ProjectCategory.building: "房屋建筑工程", ProjectCategory.municipal: "市政基础设施工程",
}


class UnitType(StrEnum):
    """A company's role on one project (ProjectUnit.unit_type)."""

    owner = "owner"
    general_contractor = "general_contractor"
    supervision_firm = "supervision_firm"
    specialist_subcontractor = "specialist_subcontractor"
    labour_subcontractor = "labour_subcontractor"


UNIT_TYPE_ZH: dict[str, str] = {
    UnitType.owner: "建设单位",
    UnitType.general_contractor: "施工总承包单位",
    UnitType.supervision_firm: "监理单位",
    UnitType.specialist_subcontractor: "专业分包单位",
    UnitType.labour_subcontractor: "劳务分包单位",
}


class TeamKind(StrEnum):
    management = "management"
    worker = "worker"
    other = "other"


TEAM_KIND_ZH: dict[str, str] = {
    TeamKind.management: "管理人员班组", TeamKind.worker: "普通工人班组", TeamKind.other: "其他人员班组",
}


# --- Workforce and registration --------------------------------------------------------------------------------


class WorkRole(StrEnum):
    """RosterEntry.work_role (national work_role codes: manager 10, worker 20)."""

    manager = "manager"
    worker = "worker"


WORK_ROLE_ZH: dict[str, str] = {WorkRole.manager: "管理人员", WorkRole.worker: "建筑工人"}


class EnrolmentSource(StrEnum):
    """Where a face template came from (Enrolment.source)."""

    tablet = "tablet"
    gate = "gate"
    import_ = "import"
    demo = "demo"  # the demo data's synthetic faces (backend/demo_faces.py): never a real person


ENROLMENT_SOURCE_ZH: dict[str, str] = {
    EnrolmentSource.tablet: "平板采集", EnrolmentSource.gate: "闸机采集", EnrolmentSource.import_: "批量导入",
    EnrolmentSource.demo: "演示数据（合成人脸）",
}


class RegistrationStatus(StrEnum):
    """Registration steps.  id_checked → (liveness + 人证核验) → face_checked → completed; a face mismatch waits
    for a supervisor (pending_confirmation), a face already enrolled under another ID number is blocked for
    review (pending_review); both end approved (→ face_checked) or rejected."""

    id_checked = "id_checked"
    pending_confirmation = "pending_confirmation"
    pending_review = "pending_review"
    face_checked = "face_checked"
    completed = "completed"
    rejected = "rejected"
    cancelled = "cancelled"


REGISTRATION_STATUS_ZH: dict[str, str] = {
    RegistrationStatus.id_checked: "证件已核验，待人证核验",
    RegistrationStatus.pending_confirmation: "人证不符，待主管人员确认",
    RegistrationStatus.pending_review: "疑似重复人脸，待审核",
    RegistrationStatus.face_checked: "人证核验通过，待进场登记",
    RegistrationStatus.completed: "登记完成",
    RegistrationStatus.rejected: "已驳回",
    RegistrationStatus.cancelled: "已取消",
}


class ReviewKind(StrEnum):
    """Why a registration waits for review (Registration.review_kind)."""

    face_mismatch = "face_mismatch"
    duplicate_face = "duplicate_face"
    gate_reenrol = "gate_reenrol"


REVIEW_KIND_ZH: dict[str, str] = {
    ReviewKind.face_mismatch: "人证不符",
    ReviewKind.duplicate_face: "疑似同一人使用不同身份证",
    ReviewKind.gate_reenrol: "闸机重新采集已有人脸",
}


class ReviewDecision(StrEnum):
    """A supervisor's decision on a registration waiting for review (Registration.review_decision)."""

    approved = "approved"
    rejected = "rejected"


REVIEW_DECISION_ZH: dict[str, str] = {ReviewDecision.approved: "审核通过", ReviewDecision.rejected: "已驳回"}


class ImportStatus(StrEnum):
    """A roster import job (ImportJob.status)."""

    queued = "queued"
    validating = "validating"
    writing = "writing"
    done = "done"
    failed = "failed"


IMPORT_STATUS_ZH: dict[str, str] = {
    ImportStatus.queued: "排队中",
    ImportStatus.validating: "正在校验",
    ImportStatus.writing: "正在写入",
    ImportStatus.done: "导入完成",
    ImportStatus.failed: "导入失败",
}


# --- Devices and fences ---------------------------------------------------------------------------------------


class MonthVerdictCode(StrEnum):
    """A key manager's month against the 80 % / 60 % rules (seed 000 §五; backend.supervision.month_verdict)."""

    met = "met"
    at_risk_but_reachable = "at_risk_but_reachable"
    cannot_be_met = "cannot_be_met"
    failed = "failed"


MONTH_VERDICT_ZH: dict[str, str] = {
    MonthVerdictCode.met: "达标",
    MonthVerdictCode.at_risk_but_reachable: "尚未达标（本月仍可达到）",
    MonthVerdictCode.cannot_be_met: "本月已无法达标",
    MonthVerdictCode.failed: "本月不达标",
}


class TerminalState(StrEnum):
    """A terminal's state as people see it (device pages, the live map)."""

    online = "online"
    offline = "offline"
    never = "never"
    disabled = "disabled"


TERMINAL_STATE_ZH: dict[str, str] = {
    TerminalState.online: "在线",
    TerminalState.offline: "离线",
    TerminalState.never: "从未上线",
    TerminalState.disabled: "停用",
}


class AlarmKind(StrEnum):
    """A terminal alarm (TerminalAlarm.kind)."""

    login_conflict = "login_conflict"
    network_refused = "network_refused"
    login_rate_limited = "login_rate_limited"
    vendor_code_rotated = "vendor_code_rotated"
    access_refused = "access_refused"  # not verified for production (backend/onboarding, issue 20 A.2)
    test_login = "test_login"  # a terminal with test access logged in (no attendance taken)


ALARM_KIND_ZH: dict[str, str] = {
    AlarmKind.login_conflict: "设备已在其他地址在线，新登录被拒绝",
    AlarmKind.network_refused: "登录来源不在设备允许的网段内",
    AlarmKind.login_rate_limited: "登录失败次数过多，已暂停登录",
    AlarmKind.vendor_code_rotated: "厂家识别码已更换，旧连接已断开",
    AlarmKind.access_refused: "未通过联网结果核查，登录被拒绝",
    AlarmKind.test_login: "测试环境授权登录成功（不接收考勤数据）",
}


class FenceKind(StrEnum):
    """ProjectFence.kind (the geofence library's fence shapes)."""

    polygon = "polygon"
    circle = "circle"
    corridor = "corridor"


FENCE_KIND_ZH: dict[str, str] = {FenceKind.polygon: "多边形", FenceKind.circle: "圆形", FenceKind.corridor: "带状（道路）"}


# --- Supervision: warnings ---------------------------------------------------------------------------------------


class WarningKind(StrEnum):
    post_missing = "post_missing"
    no_attendance = "no_attendance"
    manager_valid_days = "manager_valid_days"
    composite_rate = "composite_rate"
    device_outage = "device_outage"
    non_face_punch = "non_face_punch"
    # wages (backend/wages; seed 000 §三 missing items, §七 未及时足额支付): evaluated by wages, not by the nightly
    # attendance detection (supervision.services.warnings.EXTERNAL_KINDS)
    wage_account_missing = "wage_account_missing"
    wage_deposit_missing = "wage_deposit_missing"
    wage_unpaid = "wage_unpaid"
    wage_mismatch = "wage_mismatch"


WARNING_KIND_ZH: dict[str, str] = {
    WarningKind.post_missing: "关键岗位未设置",
    WarningKind.no_attendance: "无考勤数据",
    WarningKind.manager_valid_days: "管理人员月出勤不达标",
    WarningKind.composite_rate: "综合到岗率不达标",
    WarningKind.device_outage: "考勤设备离线",
    WarningKind.non_face_punch: "未落实实名制管理（非人脸方式进场）",
    WarningKind.wage_account_missing: "未开设（或未核准）农民工工资专户",
    WarningKind.wage_deposit_missing: "未缴纳工资保证金",
    WarningKind.wage_unpaid: "未及时足额支付工资",
    WarningKind.wage_mismatch: "工资发放与考勤不一致",
}


class WarningLevel(StrEnum):
    yellow = "yellow"
    red = "red"


WARNING_LEVEL_ZH: dict[str, str] = {WarningLevel.yellow: "黄灯", WarningLevel.red: "红灯"}


class WarningStatus(StrEnum):
    open = "open"
    notified = "notified"
    rectified = "rectified"
    closed = "closed"


WARNING_STATUS_ZH: dict[str, str] = {
    WarningStatus.open: "待通知",
    WarningStatus.notified: "已通知",
    WarningStatus.rectified: "已整改",
    WarningStatus.closed: "已销号",
}


class WarningAction(StrEnum):
    """A step of a warning case's trail (WarningEvent.action)."""

    opened = "opened"
    escalated = "escalated"
    notified = "notified"
    not_notified = "not_notified"
    rectified = "rectified"
    reopened = "reopened"
    closed = "closed"
    updated = "updated"


WARNING_ACTION_ZH: dict[str, str] = {
    WarningAction.opened: "产生预警",
    WarningAction.escalated: "转为红灯",
    WarningAction.notified: "已通知",
    WarningAction.not_notified: "未通知",
    WarningAction.rectified: "整改",
    WarningAction.reopened: "重新打开",
    WarningAction.closed: "销号",
    WarningAction.updated: "数据更新",
}


class SmsStatus(StrEnum):
    """An SMS notification attempt (SmsLog.status)."""

    sent = "sent"
    failed = "failed"
    skipped = "skipped"


SMS_STATUS_ZH: dict[str, str] = {SmsStatus.sent: "已发送", SmsStatus.failed: "失败", SmsStatus.skipped: "未发送"}


class ApplicationStatus(StrEnum):
    """A project application's state (项目申报, seed 001 §2.2 / §2.11.2; backend/approvals)."""

    pending = "pending"  # submitted or resubmitted, waiting for the district authority
    returned = "returned"  # 退回: the applicant may correct it and resubmit
    passed = "passed"  # 审核通过: the project exists and its project-staff account was issued


APPLICATION_STATUS_ZH: dict[str, str] = {
    ApplicationStatus.pending: "待审核", ApplicationStatus.returned: "已退回", ApplicationStatus.passed: "已通过",
}


class ApplicationAction(StrEnum):
    """One round of a project application's history (project_application_round.action)."""

    submitted = "submitted"
    resubmitted = "resubmitted"
    returned = "returned"
    passed = "passed"


APPLICATION_ACTION_ZH: dict[str, str] = {
    ApplicationAction.submitted: "提交申报", ApplicationAction.resubmitted: "修改后重新提交",
    ApplicationAction.returned: "退回", ApplicationAction.passed: "审核通过",
}


# --- Wages (backend/wages) ---------------------------------------------------------------------------------------


class WageAccountStatus(StrEnum):
    """Registration of a project's special wage account (seed 002 专户 notes §一.4: 网上提交并核准)."""

    submitted = "submitted"
    approved = "approved"
    returned = "returned"


WAGE_ACCOUNT_STATUS_ZH: dict[str, str] = {
    WageAccountStatus.submitted: "已提交待核准", WageAccountStatus.approved: "已核准", WageAccountStatus.returned: "已退回",
}


class WageUnit(StrEnum):
    """计量单位 of a labour contract (seed 001 §2.9; the seed lists no values: ours)."""

    day = "day"
    month = "month"
    piece = "piece"


WAGE_UNIT_ZH: dict[str, str] = {WageUnit.day: "按日", WageUnit.month: "按月", WageUnit.piece: "按件（计量）"}


class PayrollStatus(StrEnum):
    """A monthly payroll version (工资发放表, seed 000 §七)."""

    draft = "draft"
    submitted = "submitted"
    superseded = "superseded"


PAYROLL_STATUS_ZH: dict[str, str] = {
    PayrollStatus.draft: "草稿", PayrollStatus.submitted: "已提交（锁定）", PayrollStatus.superseded: "已被更正版本替代",
}


class BankStatus(StrEnum):
    """A payroll line's bank payment (代发) state."""

    none = "none"
    pending = "pending"
    paid = "paid"
    failed = "failed"


BANK_STATUS_ZH: dict[str, str] = {
    BankStatus.none: "未代发", BankStatus.pending: "已导出待银行回盘", BankStatus.paid: "银行代发成功",
    BankStatus.failed: "银行代发失败",
}


class WageFindingKind(StrEnum):
    """A reconciliation mismatch of a project's month (backend/wages/reconcile.py)."""

    attended_not_on_payroll = "attended_not_on_payroll"
    on_payroll_no_attendance = "on_payroll_no_attendance"
    underpaid = "underpaid"
    paid_late = "paid_late"
    card_not_own = "card_not_own"
    payroll_not_submitted = "payroll_not_submitted"
    exit_unsettled = "exit_unsettled"
    bank_failed = "bank_failed"
    not_received = "not_received"


WAGE_FINDING_KIND_ZH: dict[str, str] = {
    WageFindingKind.attended_not_on_payroll: "有考勤未列入工资表",
    WageFindingKind.on_payroll_no_attendance: "列入工资表但当月无考勤",
    WageFindingKind.underpaid: "实发少于应发",
    WageFindingKind.paid_late: "逾期发放",
    WageFindingKind.card_not_own: "工资卡非本人",
    WageFindingKind.payroll_not_submitted: "工资表逾期未提交",
    WageFindingKind.exit_unsettled: "退场未结清工资",
    WageFindingKind.bank_failed: "银行代发失败",
    WageFindingKind.not_received: "工人反映未收到工资",
}


class WageFindingStatus(StrEnum):
    open = "open"
    resolved = "resolved"


WAGE_FINDING_STATUS_ZH: dict[str, str] = {WageFindingStatus.open: "未解决", WageFindingStatus.resolved: "已解决"}


class PrecheckItem(StrEnum):
    """What the phone checks before the camera starts (GET /api/clockin/precheck, issue 19 item 1)."""

    face = "face"
    roster = "roster"
    project = "project"
    fence = "fence"
    location = "location"
    accuracy = "accuracy"


PRECHECK_ITEM_ZH: dict[str, str] = {
    PrecheckItem.face: "人脸采集", PrecheckItem.roster: "今日在场", PrecheckItem.project: "项目状态",
    PrecheckItem.fence: "电子围栏", PrecheckItem.location: "所在位置", PrecheckItem.accuracy: "定位精度",
}


class PrecheckStatus(StrEnum):
    """One pre-check's outcome: ``block`` = the punch would be refused, ``warn`` = recorded but flagged."""

    ok = "ok"
    warn = "warn"
    block = "block"
    pending = "pending"


PRECHECK_STATUS_ZH: dict[str, str] = {
    PrecheckStatus.ok: "通过", PrecheckStatus.warn: "注意", PrecheckStatus.block: "不能打卡",
    PrecheckStatus.pending: "待检查",
}



class UploadState(StrEnum):
    """Per-entity state of the upload to the provincial/national worker platform (issue 17; seed 001 §2.9
    上传省厅结果查询).  No row yet = ``not_uploaded``."""

    not_uploaded = "not_uploaded"
    uploading = "uploading"
    processing = "processing"
    succeeded = "succeeded"
    failed = "failed"
    waiting_parent = "waiting_parent"


UPLOAD_STATE_ZH: dict[str, str] = {
    UploadState.not_uploaded: "未上传", UploadState.uploading: "上传中", UploadState.processing: "处理中",
    UploadState.succeeded: "上传成功", UploadState.failed: "上传失败", UploadState.waiting_parent: "等待上级",
}

class ConsentAction(StrEnum):
    """A biometric-consent event (单独同意, PIPL §29; issue 20 B.1): given, declined at registration, withdrawn."""

    given = "given"
    declined = "declined"
    withdrawn = "withdrawn"


CONSENT_ACTION_ZH: dict[str, str] = {
    ConsentAction.given: "已同意", ConsentAction.declined: "不同意", ConsentAction.withdrawn: "已撤回同意",
}


class ConsentChannel(StrEnum):
    """Where the consent text was shown and the answer taken."""

    tablet = "tablet"
    phone = "phone"
    gate = "gate"
    roster_api = "roster_api"
    import_ = "import"
    paper = "paper"
    staff = "staff"


CONSENT_CHANNEL_ZH: dict[str, str] = {
    ConsentChannel.tablet: "登记平板", ConsentChannel.phone: "手机自助采集", ConsentChannel.gate: "闸机（852 采集）",
    ConsentChannel.roster_api: "花名册接口", ConsentChannel.import_: "批量导入", ConsentChannel.paper: "纸质同意书",
    ConsentChannel.staff: "管理人员登记",
}


class IdAccessKind(StrEnum):
    """Why full ID numbers were read by a person (the full-ID access log, issue 20 B.3)."""

    roster_export = "roster_export"
    wage_bank_file = "wage_bank_file"
    person_export = "person_export"


ID_ACCESS_KIND_ZH: dict[str, str] = {
    IdAccessKind.roster_export: "花名册导出（完整身份证号）", IdAccessKind.wage_bank_file: "工资代发文件",
    IdAccessKind.person_export: "个人信息导出（本人申请）",
}


class CorrectionField(StrEnum):
    """A person's data that staff may correct on the person's request (issue 20 B.4; PIPL §46)."""

    name = "name"
    phone = "phone"
    id_number = "id_number"


CORRECTION_FIELD_ZH: dict[str, str] = {
    CorrectionField.name: "姓名", CorrectionField.phone: "手机号", CorrectionField.id_number: "身份证号",
}


# --- Device onboarding (backend/onboarding, issue 20 A.1–A.2; seed 001 供应商操作指引 §2.3–2.4) ----------------


class BusinessScope(StrEnum):
    """A vendor's business scope (业务范围, seed 001 供应商 §2.3.2 "采集设备、考勤设备、噪音扬尘等")."""

    collection_device = "collection_device"
    attendance_device = "attendance_device"
    noise_dust = "noise_dust"


BUSINESS_SCOPE_ZH: dict[str, str] = {
    BusinessScope.collection_device: "采集设备", BusinessScope.attendance_device: "考勤设备",
    BusinessScope.noise_dust: "噪音扬尘",
}


class VendorState(StrEnum):
    """A registered vendor's profile (供应商信息完善, seed 001 供应商 §2.3.1)."""

    incomplete = "incomplete"
    complete = "complete"


VENDOR_STATE_ZH: dict[str, str] = {VendorState.incomplete: "待完善", VendorState.complete: "已完善"}


class ScopeStatus(StrEnum):
    """A business-scope application, decided by the district authority."""

    pending = "pending"
    approved = "approved"
    returned = "returned"


SCOPE_STATUS_ZH: dict[str, str] = {
    ScopeStatus.pending: "待审核", ScopeStatus.approved: "已通过（正常）", ScopeStatus.returned: "已退回",
}


class CaptureMethod(StrEnum):
    """采集方式 of a device in an access application (seed 001 供应商 §2.4.2: e.g. 移动应用)."""

    fixed_terminal = "fixed_terminal"
    mobile_app = "mobile_app"
    handheld = "handheld"


CAPTURE_METHOD_ZH: dict[str, str] = {
    CaptureMethod.fixed_terminal: "固定式终端（闸机/考勤机）", CaptureMethod.mobile_app: "移动应用",
    CaptureMethod.handheld: "手持终端",
}


class BiometricMode(StrEnum):
    """生物识别方式 (seed 001 供应商 §2.4.2; seed 000 §六: 人脸、虹膜 count, 指纹 does not)."""

    face = "face"
    iris = "iris"
    fingerprint = "fingerprint"


BIOMETRIC_MODE_ZH: dict[str, str] = {
    BiometricMode.face: "人脸识别", BiometricMode.iris: "虹膜识别", BiometricMode.fingerprint: "指纹识别",
}


class TerminalAccess(StrEnum):
    """Terminal.access_state: how far its access application went (``applied`` and ``test`` are refused at a
    production login, docs/rules.md)."""

    applied = "applied"
    test = "test"
    production = "production"
    verified = "verified"


TERMINAL_ACCESS_ZH: dict[str, str] = {
    TerminalAccess.applied: "已申请接入（未授权）", TerminalAccess.test: "测试环境授权",
    TerminalAccess.production: "正式环境授权（待联网核查）", TerminalAccess.verified: "联网结果核查通过",
}


class AccessStatus(StrEnum):
    """A device access application's state (设备接入申请 → 审核 → 联网结果核查申请 → 联网结果核查)."""

    applied = "applied"
    returned = "returned"
    test = "test"
    production = "production"
    reported = "reported"
    verified = "verified"


ACCESS_STATUS_ZH: dict[str, str] = {
    AccessStatus.applied: "待设备接入审核", AccessStatus.returned: "已退回（待修改）",
    AccessStatus.test: "测试环境已授权", AccessStatus.production: "正式环境已授权（待提交联网结果）",
    AccessStatus.reported: "待联网结果核查", AccessStatus.verified: "已办结（核查通过）",
}


class AccessAction(StrEnum):
    """One event of an access application's history (who, when, remark)."""

    submitted = "submitted"
    resubmitted = "resubmitted"
    returned = "returned"
    test_granted = "test_granted"
    production_granted = "production_granted"
    reported = "reported"
    verify_returned = "verify_returned"
    verified = "verified"


ACCESS_ACTION_ZH: dict[str, str] = {
    AccessAction.submitted: "设备接入申请", AccessAction.resubmitted: "修改后重新提交", AccessAction.returned: "审核退回",
    AccessAction.test_granted: "测试环境授权", AccessAction.production_granted: "正式环境授权",
    AccessAction.reported: "联网结果核查申请", AccessAction.verify_returned: "核查退回",
    AccessAction.verified: "联网结果核查通过（办结）",
}


# --- Device upkeep (issue 20; backend/upkeep) --------------------------------------------------------------------


class FaultKind(StrEnum):
    """What opened a repair ticket (RepairTicket.kind): a fault detected from stored data, or one reported by hand."""

    offline = "offline"
    heartbeat_gap = "heartbeat_gap"
    punch_failures = "punch_failures"
    gate_alarms = "gate_alarms"
    clock_drift = "clock_drift"
    reported = "reported"


FAULT_KIND_ZH: dict[str, str] = {
    FaultKind.offline: "设备离线",
    FaultKind.heartbeat_gap: "心跳中断",
    FaultKind.punch_failures: "打卡连续失败",
    FaultKind.gate_alarms: "登录告警频繁",
    FaultKind.clock_drift: "设备时钟偏差",
    FaultKind.reported: "人工报障",
}


class TicketStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    closed = "closed"


TICKET_STATUS_ZH: dict[str, str] = {
    TicketStatus.open: "待受理", TicketStatus.acknowledged: "维修中", TicketStatus.closed: "已修复关闭",
}


class RemovalAction(StrEnum):
    remove = "remove"
    move = "move"


REMOVAL_ACTION_ZH: dict[str, str] = {RemovalAction.remove: "拆除", RemovalAction.move: "移机"}


class RemovalStatus(StrEnum):
    filed = "filed"  # 已报知
    done = "done"  # 已拆除 / 已移机, acceptance pending
    accepted = "accepted"  # 合规性验收已报
    cancelled = "cancelled"


REMOVAL_STATUS_ZH: dict[str, str] = {
    RemovalStatus.filed: "已报知", RemovalStatus.done: "已完成，待合规验收", RemovalStatus.accepted: "已合规验收",
    RemovalStatus.cancelled: "已撤销",
}


class UpkeepFindingKind(StrEnum):
    repair_overdue = "repair_overdue"
    removal_notice_late = "removal_notice_late"
    acceptance_late = "acceptance_late"


UPKEEP_FINDING_KIND_ZH: dict[str, str] = {
    UpkeepFindingKind.repair_overdue: "报障后 24 小时内未修复",
    UpkeepFindingKind.removal_notice_late: "拆除/移机未提前 3 个工作日报知",
    UpkeepFindingKind.acceptance_late: "拆除/移机后未在 1 个工作日内合规验收",
}


# --- Lookup ------------------------------------------------------------------------------------------------------

LABELS: dict[type[StrEnum], dict[str, str]] = {
    Role: ROLE_ZH,
    TerminalState: TERMINAL_STATE_ZH,
    MonthVerdictCode: MONTH_VERDICT_ZH,
    Source: SOURCE_ZH,
    Direction: DIRECTION_ZH,
    PunchVerdict: VERDICT_ZH,
    Reason: REASON_ZH,
    MakeupStatus: MAKEUP_STATUS_ZH,
    MakeupReason: MAKEUP_REASON_ZH,
    ProjectStatus: PROJECT_STATUS_ZH,
    ChangeKind: CHANGE_KIND_ZH,
    ChangeRequestStatus: CHANGE_REQUEST_STATUS_ZH,
    ChangeFormKind: CHANGE_FORM_KIND_ZH,
    Level1Holder: LEVEL1_HOLDER_ZH,
    ProjectCategory: PROJECT_CATEGORY_ZH,
    UnitType: UNIT_TYPE_ZH,
    TeamKind: TEAM_KIND_ZH,
    WorkRole: WORK_ROLE_ZH,
    EnrolmentSource: ENROLMENT_SOURCE_ZH,
    RegistrationStatus: REGISTRATION_STATUS_ZH,
    ReviewKind: REVIEW_KIND_ZH,
    ReviewDecision: REVIEW_DECISION_ZH,
    ImportStatus: IMPORT_STATUS_ZH,
    WarningKind: WARNING_KIND_ZH,
    WarningLevel: WARNING_LEVEL_ZH,
    WarningStatus: WARNING_STATUS_ZH,
    WarningAction: WARNING_ACTION_ZH,
    SmsStatus: SMS_STATUS_ZH,
    ApplicationStatus: APPLICATION_STATUS_ZH,
    ApplicationAction: APPLICATION_ACTION_ZH,
    AlarmKind: ALARM_KIND_ZH,
    FenceKind: FENCE_KIND_ZH,
    WageAccountStatus: WAGE_ACCOUNT_STATUS_ZH,
    WageUnit: WAGE_UNIT_ZH,
    PayrollStatus: PAYROLL_STATUS_ZH,
    BankStatus: BANK_STATUS_ZH,
    WageFindingKind: WAGE_FINDING_KIND_ZH,
    WageFindingStatus: WAGE_FINDING_STATUS_ZH,
    PrecheckItem: PRECHECK_ITEM_ZH,
    PrecheckStatus: PRECHECK_STATUS_ZH,
    UploadState: UPLOAD_STATE_ZH,
    ConsentAction: CONSENT_ACTION_ZH,
    ConsentChannel: CONSENT_CHANNEL_ZH,
    IdAccessKind: ID_ACCESS_KIND_ZH,
    CorrectionField: CORRECTION_FIELD_ZH,
    BusinessScope: BUSINESS_SCOPE_ZH,
    VendorState: VENDOR_STATE_ZH,
    ScopeStatus: SCOPE_STATUS_ZH,
    CaptureMethod: CAPTURE_METHOD_ZH,
    BiometricMode: BIOMETRIC_MODE_ZH,
    TerminalAccess: TERMINAL_ACCESS_ZH,
    AccessStatus: ACCESS_STATUS_ZH,
    AccessAction: ACCESS_ACTION_ZH,
    FaultKind: FAULT_KIND_ZH,
    TicketStatus: TICKET_STATUS_ZH,
    RemovalAction: REMOVAL_ACTION_ZH,
    RemovalStatus: REMOVAL_STATUS_ZH,
    UpkeepFindingKind: UPKEEP_FINDING_KIND_ZH,
}
_BY_NAME: dict[str, type[StrEnum]] = {e.__name__: e for e in LABELS}


def label(code: str | None, kind: str | type[StrEnum] | None = None) -> str:
    """The Chinese for ``code``.  ``kind`` names the enum (``"WarningStatus"`` or the class; a member knows its
    own); the same string can mean different things (``rejected``: a punch, a registration, a make-up request).
    An unknown code comes back as it is, an empty one as ""."""
    if code is None or code == "":
        return ""
    if kind is None and isinstance(code, StrEnum):
        kind = type(code)
    if kind is None:
        raise ValueError(f"label({code!r}) needs the kind of code")
    enum = _BY_NAME[kind] if isinstance(kind, str) else kind
    return LABELS[enum].get(code, str(code))


def labels_of(*kinds: str) -> dict[str, dict[str, str]]:
    """The label maps of the enums named (``labels_of("PunchVerdict", "Source")``), for a page whose script shows
    codes (the live map): the page embeds them as JSON, so the browser never keeps a copy of its own."""
    return {kind: {str(code): text for code, text in LABELS[_BY_NAME[kind]].items()} for kind in kinds}


# --- Times as people read them ---------------------------------------------------------------------------------
# Stored times are UTC; a person sees them in the project's zone, in one format (seconds where latency matters).
DEFAULT_TZ = "Asia/Shanghai"  # a project's zone unless it says otherwise (DESIGN §1: UTC+8)
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M"
LOCAL_TIME_FORMAT_SECONDS = "%Y-%m-%d %H:%M:%S"


def local_today(tz: str | None = None) -> date:
    """Today in the zone ``tz`` (default: China's) — never the server's date, which is UTC on a server and a day
    behind before 08:00 in China."""
    return datetime.now(ZoneInfo(tz or DEFAULT_TZ)).date()


def local_time(at: datetime | None, tz: str | None = None, *, seconds: bool = False, fmt: str | None = None) -> str:
    """A stored time (UTC; a naive one is UTC) in the zone ``tz`` (default: China's), for a person; None → ""."""
    if at is None:
        return ""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    pattern = fmt or (LOCAL_TIME_FORMAT_SECONDS if seconds else LOCAL_TIME_FORMAT)
    return aware.astimezone(ZoneInfo(tz or DEFAULT_TZ)).strftime(pattern)
