"""Vendor onboarding (seed 001 供应商操作指引 §2.1–2.4): the vendor's profile and business scopes, device access
applications and their history."""

from __future__ import annotations

from piccolo.columns import DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.devices.tables import Terminal, Vendor
from backend.org.tables import District, Project
from backend.vocabulary import (
    AccessAction,
    AccessStatus,
    BiometricMode,
    BusinessScope,
    CaptureMethod,
    Direction,
    ScopeStatus,
    VendorState,
    width,
)


class VendorProfile(Table, tablename="vendor_profile"):
    """A self-registered vendor (供应商注册 / 供应商信息完善): one per vendor."""

    vendor = ForeignKey(references=Vendor, null=False, unique=True, on_delete=OnDelete.cascade)
    uscc = Varchar(length=18, unique=True)  # 统一社会信用代码, GB 32100 check character
    contact_name = Varchar(length=60)
    contact_phone = Varchar(length=20, null=True, default=None)
    address = Varchar(length=300, default="")
    legal_representative = Varchar(length=60, default="")
    products = Text(default="")  # 主要产品 / 型号
    state = Varchar(length=width(VendorState, 16), default="incomplete")
    registered_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class VendorScope(Table, tablename="vendor_scope"):
    """A business-scope application (选择申请业务范围) to one district's authority; ``approved`` = 正常."""

    vendor = ForeignKey(references=Vendor, null=False, index=True, on_delete=OnDelete.cascade)
    district = ForeignKey(references=District, null=False, index=True, on_delete=OnDelete.restrict)
    scope = Varchar(length=width(BusinessScope, 24))
    status = Varchar(length=width(ScopeStatus, 16), default="pending", index=True)
    note = Text(default="")  # what the vendor offers for this scope (models, certificates)
    reason = Text(default="")  # the last return's reason
    submitted_at = Timestamptz(default=TimestamptzNow())
    decided_by = Integer(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)


class AccessApplication(Table, tablename="access_application"):
    """设备接入申请: one device of one vendor on one project, through the four steps (status: AccessStatus).
    ``terminal`` is registered with the application (access_state applied) and follows its steps."""

    vendor = ForeignKey(references=Vendor, null=False, index=True, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    terminal = ForeignKey(references=Terminal, null=True, default=None, on_delete=OnDelete.set_null)
    status = Varchar(length=width(AccessStatus, 16), default="applied", index=True)
    device_type = Varchar(length=width(BusinessScope, 24))
    serial = Varchar(length=32)
    model = Varchar(length=100, default="")
    install_position = Varchar(length=200, default="")
    capture_method = Varchar(length=width(CaptureMethod, 16))
    biometric_mode = Varchar(length=width(BiometricMode, 16))
    channel = Integer(default=1)  # the channel (通道) this device serves
    direction = Varchar(length=width(Direction, 4), default="in")
    site_area_m2 = DoublePrecision(null=True, default=None)  # 建筑面积 the channel plan is checked against
    channels_planned = Integer(default=1)  # 通道数 of the install plan (安装方案)
    channels_required = Integer(default=1)  # by seed 002 §三(一)2 when filed
    install_plan = Text(default="")  # 安装方案 / 通道平面布置 in words
    hookup_result = Text(default="")  # 联网结果核查申请说明
    round_no = Integer(default=1)
    submitted_by = Integer(null=True, default=None)
    submitted_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class AccessEvent(Table, tablename="access_event"):
    """One step of an access application's history (流转记录): who, when, the remark."""

    application = ForeignKey(references=AccessApplication, null=False, index=True, on_delete=OnDelete.cascade)
    action = Varchar(length=width(AccessAction, 20))
    by_user = Integer(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())
    remark = Text(default="")


TABLES = [VendorProfile, VendorScope, AccessApplication, AccessEvent]
