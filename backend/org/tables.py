"""Organisation: districts (authorities), enterprises, projects, participant units, teams."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Bytea,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.vocabulary import (
    ChangeKind,
    ChangeRequestStatus,
    Level1Holder,
    ProjectCategory,
    ProjectStatus,
    TeamKind,
    UnitType,
    width,
)


class District(Table, tablename="district"):
    """A county/city district and its housing authority (住建主管部门)."""

    code = Varchar(length=12, unique=True)  # GB/T 2260 administrative code, e.g. 440703
    name = Varchar(length=64)
    rule_profile = Varchar(length=32, default="baseline")  # a key of backend.rules.PROFILES
    rule_overrides = JSON(default="{}")  # see backend/rules.py
    timezone = Varchar(length=40, default="Asia/Shanghai")
    # Who decides level 1 of change requests (二级审批): the project's owner / supervision firm, or the authority
    change_level1 = Varchar(length=width(Level1Holder, 16), default="units")


class Enterprise(Table, tablename="enterprise"):
    name = Varchar(length=200)
    short_name = Varchar(length=60, null=True, default=None)
    uscc = Varchar(length=18, unique=True)  # GB 32100, validated
    registered_region = Varchar(length=100, null=True, default=None)
    legal_representative = Varchar(length=60, null=True, default=None)
    phone = Varchar(length=20, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Project(Table, tablename="project"):
    name = Varchar(length=200)
    permit_no = Varchar(length=40, null=True, default=None)  # 施工许可证编号
    district = ForeignKey(references=District, null=False, on_delete=OnDelete.restrict)
    address = Varchar(length=300, null=True, default=None)
    category = Varchar(length=width(ProjectCategory, 16))  # building | municipal
    floor_area_m2 = DoublePrecision(null=True, default=None)
    contract_value_yuan = DoublePrecision(null=True, default=None)
    planned_start = Date(null=True, default=None)
    actual_start = Date(null=True, default=None)
    completed_on = Date(null=True, default=None)
    status = Varchar(length=width(ProjectStatus, 24), default="preparing")
    lon = DoublePrecision(null=True, default=None)  # WGS-84
    lat = DoublePrecision(null=True, default=None)
    timezone = Varchar(length=40, default="Asia/Shanghai")
    created_at = Timestamptz(default=TimestamptzNow())


class ProjectChangeRequest(Table, tablename="project_change_request"):
    """A request to change a project's status or start dates (停工/复工/完工, 变更开工日期): nothing changes until
    the second level approves (二级审批, seed 004 §三(八)–(十)); then the owning service applies it."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    kind = Varchar(length=width(ChangeKind, 16))  # status | planned_start | actual_start
    target = Varchar(length=24)  # a ProjectStatus code, or an ISO date for the date kinds
    from_value = Varchar(length=24, null=True, default=None)  # the value when requested (display only)
    requested_by = Integer(null=True, default=None)  # user id (no FK: accounts depend on org)
    requested_at = Timestamptz(default=TimestamptzNow())
    requested_on = Date()  # the request's local date (project time zone): the earliest day it may count from
    requested_effective_on = Date()
    reason = Text(default="")
    status = Varchar(length=width(ChangeRequestStatus, 16), default="pending")
    level1_by = Integer(null=True, default=None)
    level1_at = Timestamptz(null=True, default=None)
    level1_note = Text(default="")
    level2_by = Integer(null=True, default=None)
    level2_at = Timestamptz(null=True, default=None)
    level2_note = Text(default="")
    approved_effective_on = Date(null=True, default=None)
    backdated_reason = Text(default="")  # set by the level-2 approver when approved_effective_on < requested_on
    applied_at = Timestamptz(null=True, default=None)


class ProjectChangeEvidence(Table, tablename="project_change_evidence"):
    """The evidence file of a change request (证明材料: a JPG, PNG or PDF; ``content_type`` is sniffed from the
    bytes).  Kept apart from the request row so that lists of requests never read the bytes."""

    request = ForeignKey(references=ProjectChangeRequest, null=False, unique=True, on_delete=OnDelete.restrict)
    filename = Varchar(length=200, default="")
    content_type = Varchar(length=40)  # image/jpeg | image/png | application/pdf
    size = Integer()
    data = Bytea()
    uploaded_at = Timestamptz(default=TimestamptzNow())


class ProjectStatusChange(Table, tablename="project_status_change"):
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.restrict)
    from_status = Varchar(length=width(ProjectStatus, 24), null=True, default=None)
    to_status = Varchar(length=width(ProjectStatus, 24))
    effective_on = Date()
    note = Text(default="")
    changed_by = Integer(null=True, default=None)  # user id (no FK: accounts depend on org, not the reverse)
    changed_at = Timestamptz(default=TimestamptzNow())
    # The approved request this change applies (None: registration, demo data, migrations).  A change counts for
    # warnings only from the request's date (see backend.org.services.approved_status_periods).
    request = ForeignKey(references=ProjectChangeRequest, null=True, default=None, on_delete=OnDelete.restrict)


class ProjectUnit(Table, tablename="project_unit"):
    """参建单位: an enterprise's role on one project."""

    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.restrict)
    enterprise = ForeignKey(references=Enterprise, null=False, on_delete=OnDelete.restrict)
    unit_type = Varchar(length=width(UnitType, 32))  # owner | general_contractor | supervision_firm | ..._subcontractor
    entered_on = Date(null=True, default=None)
    exited_on = Date(null=True, default=None)


class Team(Table, tablename="team"):
    """班组.  kind: management (made automatically per unit) | worker | other."""

    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.restrict)
    unit = ForeignKey(references=ProjectUnit, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=100)
    kind = Varchar(length=width(TeamKind, 16), default="worker")
    leader = Integer(null=True, default=None)  # person id of the team leader (班组长)
    entered_on = Date(null=True, default=None)
    exited_on = Date(null=True, default=None)
    is_auto = Boolean(default=False)
