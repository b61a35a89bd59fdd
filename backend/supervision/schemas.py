"""Input structs of the supervision API (unknown fields are refused)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from backend.org.schemas import Strict
from backend.schemas import MaskedId, Out


class ActionIn(Strict):
    action: str  # rectify | reopen | close
    note: str


class EvaluateIn(Strict):
    today: date | None = None
    notify: bool = True


class RollupIn(Strict):
    day: date | None = None
    month: str | None = None


class NotifySettingIn(Strict):
    in_site: bool
    sms: bool = False
    key_people: bool = False
    to_project_manager: bool = False
    to_chief_supervising_engineer: bool = False
    to_safety_officer: bool = False
    others: bool = False


class RecipientIn(Strict):
    project_id: int
    name: str
    phone: str
    note: str = ""


class ReadIn(Strict):
    message_id: int | None = None


# --- responses ---------------------------------------------------------------------------------------------


class MarkedOut(Out):
    """How many messages were marked read."""

    marked: int


class MatrixRowOut(Out):
    project_id: int
    project_name: str
    person_id: int
    name: str
    id_masked: MaskedId
    team_id: int
    team_name: str
    work_role: str
    post: str | None
    job_label: str
    cells: list[str]
    valid_days: int
    required_days: int
    rate: float | None
    meets: bool | None


class MatrixOut(Out):
    """The monthly attendance matrix: one row per person, one cell code per day of ``days``."""

    month: str
    as_of: str
    days: list[str]
    day_valid: list[int]
    day_required: list[int]
    day_suspended: list[bool]
    updated_at: str | None
    rows: list[MatrixRowOut]


class PunchDetailRowOut(Out):
    id: int
    project: int
    project_name: str
    person: int | None
    name: str | None
    id_masked: MaskedId | None
    team_name: str
    source: str
    source_label: str
    direction: str | None
    direction_label: str
    captured_at: datetime
    received_at: datetime
    captured_local: str
    received_local: str
    latency_s: float
    local_date: str
    verdict: str
    verdict_label: str
    reasons: list[str]
    flags: list[str]
    reason_labels: list[str]
    terminal_serial: str | None
    counted: bool  # counts as attendance (backend.attendance.counting; seed 000 §六: not by card/fingerprint)
    not_counted_label: str  # why not ("非人脸方式…", a rejection reason); "" when counted


class PunchDetailOut(Out):
    total: int
    rows: list[PunchDetailRowOut]


class ManagerPersonOut(Out):
    person_id: int
    name: str
    id_masked: MaskedId
    post: str
    active: bool
    required_days: int
    valid_days: int
    absent_days: int
    rate: float | None
    meets: bool | None  # month to date
    summary: str
    verdict: str | None  # whole-month verdict (seed 000 §五): met | at_risk_but_reachable | cannot_be_met | failed
    verdict_label: str
    projection: str


class PostPeopleOut(Out):
    count: int
    people: list[ManagerPersonOut]


class CompositeOut(Out):
    valid_days: int
    required_days: int
    rate: float | None
    threshold: float
    meets: bool | None  # month to date
    verdict: str | None  # whole-month verdict of the 60 % rule, in person-days
    verdict_label: str
    projection: str


class ProjectManagersOut(Out):
    """A project's key managers for the month: per key post (``posts``), missing / absent / below posts and
    the composite on-duty rate."""

    project_id: int
    project_name: str
    district: str
    status: str
    status_label: str
    contractors: list[str]
    supervisors: list[str]
    first: str
    stat_last: str
    construction_days: int
    suspended_days: int
    manager_days: int
    manager_start: str | None
    posts: dict[str, PostPeopleOut]
    missing: list[str]
    absent: list[str]
    below: list[str]
    composite: CompositeOut


class ManagersOut(Out):
    month: str
    updated_at: str | None
    projects: list[ProjectManagersOut]


class DistrictExecutionOut(Out):
    district_id: int | None
    name: str
    projects: int
    uploaded: int
    failed: int
    upload_rate: float | None
    with_attendance: int
    without_attendance: int
    update_rate: float | None
    people: int
    avg_people: float | None
    pm_registration: float | None
    pm_on_duty: float | None
    cse_registration: float | None
    cse_on_duty: float | None


class ProjectExecutionOut(Out):
    project_id: int
    name: str
    district: str
    status_label: str
    qualified: bool
    problems: list[str]
    roster: int
    attended: int
    has_attendance: bool
    pm: str
    pm_label: str
    cse: str
    cse_label: str


class ExecutionOut(Out):
    """The execution dashboard of a day: per district, the total, per project."""

    day: str
    districts: list[DistrictExecutionOut]
    total: DistrictExecutionOut
    projects: list[ProjectExecutionOut]


class VendorSupportOut(Out):
    vendor_id: int
    name: str
    projects: int
    uploaded: int
    failed: int
    upload_rate: float | None
    with_attendance: int
    without_attendance: int
    update_rate: float | None
    terminals: int
    online: int


class VendorsOut(Out):
    day: str
    vendors: list[VendorSupportOut]


class QualificationOut(Out):
    project_id: int
    name: str
    qualified: bool
    project_ok: bool
    teams_ok: bool
    people_ok: bool
    people_active: int
    people_enrolled: int
    problems: list[str]


class LatencyRowOut(Out):
    project_id: int
    project_name: str
    terminal_id: int | None
    terminal_serial: str
    source: str
    limit_s: float
    total: int
    within: int
    share: float | None
    avg_s: float
    max_s: float


class LatencyOut(Out):
    """Upload latency compliance (captured → received within the limit) per project and per terminal."""

    day_from: str
    day_to: str
    projects: list[LatencyRowOut]
    terminals: list[LatencyRowOut]


class WarningRowOut(Out):
    id: int
    project: int
    project_name: str
    district_name: str
    kind: str
    kind_label: str
    post: str | None
    period: str
    level: str
    level_label: str
    status: str
    status_label: str
    message: str
    opened_on: date
    red_on: date | None
    updated_at: datetime


class WarningsOut(Out):
    total: int
    rows: list[WarningRowOut]


class WarningEventOut(Out):
    id: int
    warning: int
    at: datetime
    actor: int | None
    actor_name: str
    action: str
    action_label: str
    note: str
    level: str
    status: str


class SmsLogOut(Out):
    id: int
    warning: int | None
    project: int | None
    recipient_name: str
    recipient_role: str
    phone_masked: str
    status: str
    provider_id: str | None
    error: str
    at: datetime


class WarningCaseOut(Out):
    """A warning case with its events (the audit trail) and the SMS sent for it."""

    id: int
    key: str
    topic: str
    project: int
    project_name: str
    timezone: str  # the project's zone: times on the case page are shown in it
    district: int
    district_name: str
    kind: str
    kind_label: str
    post: str | None
    person: int | None
    terminal: int | None
    period: str
    level: str
    level_label: str
    status: str
    status_label: str
    message: str
    detail: dict[str, Any]
    opened_on: date
    red_on: date | None
    created_at: datetime
    updated_at: datetime
    events: list[WarningEventOut]
    sms: list[SmsLogOut]


class NotificationOut(Out):
    warning_id: int
    in_site: int  # in-site messages sent
    sms_sent: int
    sms_failed: int
    sms_skipped: int
    notified: bool


class EvaluationOut(Out):
    """What an evaluation run found and did."""

    today: str
    as_of: str
    projects: int
    findings: int
    opened: list[int]
    escalated: list[int]
    rectified: list[int]
    reopened: list[int]
    notifications: list[NotificationOut]


class NotificationsOut(Out):
    notifications: list[NotificationOut]


class RecipientOut(Out):
    id: int
    project: int
    project_name: str
    name: str
    phone_masked: str
    note: str


class NotifySettingOut(Out):
    """A district's notification settings (seed 001 §2.11.2); recipients' phones only masked."""

    district_id: int
    in_site: bool
    sms: bool
    key_people: bool
    to_project_manager: bool
    to_chief_supervising_engineer: bool
    to_safety_officer: bool
    others: bool
    recipients: list[RecipientOut]


class MessageOut(Out):
    id: int
    project: int | None
    warning: int | None
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


class MessagesOut(Out):
    unread: int
    rows: list[MessageOut]


class RollupOut(Out):
    days: int
    rows: int
    seconds: float
    day_list: list[str]


class TodayCountsOut(Out):
    people: int
    late: int
    rejected: int
    punches: int


class MapProjectOut(Out):
    id: int
    name: str
    district: str
    status: str
    status_label: str
    lon: float | None
    lat: float | None
    today: TodayCountsOut
    timezone: str = "Asia/Shanghai"  # the feed shows the project's punches in this zone


class MapTerminalOut(Out):
    id: int
    serial: str
    project: int
    vendor: str
    channel: int
    direction: str
    enabled: bool
    online: bool
    last_seen_at: str | None
    timezone: str
    last_seen_local: str  # in the project's zone; "" when never seen
    state: str
    state_label: str


class PunchEventOut(Out):
    """A committed punch as the live feed publishes it."""

    type: str
    id: int
    project_id: int
    person_id: int | None
    name: str | None
    source: str
    verdict: str
    reasons: list[str]
    flags: list[str]
    message: str
    lon: float | None
    lat: float | None
    captured_at: str
    received_at: str
    latency_s: float
    terminal_id: int | None


class MapFeatureOut(Out):
    """A fence outline (GeoJSON Feature with the fence id as its ``id``; ``properties``: project_id, name …)."""

    type: str
    geometry: dict[str, Any]
    properties: dict[str, Any]
    id: int | None = None


class MapFencesOut(Out):
    type: str
    features: list[MapFeatureOut]


class MapOut(Out):
    """The live map: projects with today's counters, gate terminals, recent punches, fence outlines."""

    day: str
    projects: list[MapProjectOut]
    terminals: list[MapTerminalOut]
    recent: list[PunchEventOut]
    fences: MapFencesOut
    tile_url: str | None


class ProjectRefOut(Out):
    id: int
    name: str
    status_label: str
    district: str


class OnSiteOut(Out):
    person_id: int
    name: str
    team: str
    last_time: str
    first_time: str
    source_label: str


class TodayPunchOut(Out):
    id: int
    person: int | None
    name: str
    source: str
    source_label: str
    direction: str | None
    captured_at: datetime
    time: str
    latency_s: float
    verdict: str
    reasons: str | list[str]  # as stored (JSON text)
    flags: str | list[str]
    labels: list[str]
    terminal: str | None  # serial


class ProjectTodayOut(Out):
    """A project's day (map side panel): people on site, late uploads, rejected punches."""

    project: ProjectRefOut
    day: str
    on_site: list[OnSiteOut]
    attended: int
    late: list[TodayPunchOut]
    rejected: list[TodayPunchOut]
    punches: int
