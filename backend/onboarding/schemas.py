"""Requests and responses of the onboarding API (设备厂商注册、业务范围、设备接入申请)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from backend.schemas import Out


class RegisterIn(msgspec.Struct):
    """Loosely typed on purpose: every check (and its Chinese message) is the service's."""

    name: str = ""
    uscc: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    username: str = ""
    password: str = ""


class RegisteredOut(Out):
    """The vendor code (厂家识别码) is in this reply only: never stored in plaintext, never shown again."""

    vendor_id: int
    username: str
    vendor_code: str


class ProfileIn(msgspec.Struct):
    contact_name: str = ""
    contact_phone: str = ""
    address: str = ""
    legal_representative: str = ""
    products: str = ""
    uscc: str = ""  # only for a vendor without a profile (made by an admin)


class ProfileOut(Out):
    vendor: int
    name: str
    uscc: str
    contact_name: str
    contact_phone: str | None
    address: str
    legal_representative: str
    products: str
    state: str
    state_label: str


class ScopeIn(msgspec.Struct):
    scope: str = ""
    district_id: int | str | None = None
    note: str = ""


class DecideScopeIn(msgspec.Struct):
    approve: bool = False
    reason: str = ""


class ScopeOut(Out):
    id: int
    vendor: int
    vendor_name: str
    uscc: str
    district: int
    district_name: str
    scope: str
    scope_label: str
    status: str
    status_label: str
    note: str
    reason: str
    submitted_at: datetime
    decided_at: datetime | None


class ApplicationIn(msgspec.Struct):
    project_id: int | str | None = None
    device_type: str = ""
    serial: str = ""
    model: str = ""
    install_position: str = ""
    capture_method: str = ""
    biometric_mode: str = ""
    channel: int | str | None = 1
    direction: str = "in"
    channels_planned: int | str | None = None
    site_area_m2: float | str | None = None
    install_plan: str = ""


class FiledOut(Out):
    id: int
    channels_required: int
    channels_planned: int
    warning: str  # empty when the plan meets seed 002 §三(一)2


class RemarkIn(msgspec.Struct):
    remark: str = ""


class ReasonIn(msgspec.Struct):
    reason: str = ""


class ReportIn(msgspec.Struct):
    result: str = ""


class ApplicationSummaryOut(Out):
    id: int
    vendor: int
    vendor_name: str
    project: int
    project_name: str
    status: str
    status_label: str
    step: int
    step_label: str
    device_type: str
    device_type_label: str
    serial: str
    model: str
    channels_planned: int
    channels_required: int
    channels_short: int
    round_no: int
    submitted_at: datetime
    updated_at: datetime


class EventOut(Out):
    action: str
    action_label: str
    by_name: str
    at: datetime
    remark: str


class AlarmOut(Out):
    kind: str
    kind_label: str
    detail: str
    at: datetime


class ApplicationOut(ApplicationSummaryOut):
    district: int
    district_name: str
    install_position: str
    capture_method: str
    capture_method_label: str
    biometric_mode: str
    biometric_mode_label: str
    channel: int
    direction: str
    site_area_m2: float | None
    install_plan: str
    hookup_result: str
    access_state: str
    access_state_label: str
    online: bool
    # Only for the applying vendor, while the terminal has test access (None for everyone else).
    test_credential: str | None
    can: dict[str, bool]
    events: list[EventOut]
    alarms: list[AlarmOut]


class PendingOut(Out):
    scopes: int
    applications: int
