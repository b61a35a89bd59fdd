"""Organisation: districts (authorities), enterprises, projects, participant units, teams."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
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

from backend.vocabulary import ProjectCategory, ProjectStatus, TeamKind, UnitType, width


class District(Table, tablename="district"):
    """A county/city district and its housing authority (住建主管部门)."""

    code = Varchar(length=12, unique=True)  # GB/T 2260 administrative code, e.g. 440703
    name = Varchar(length=64)
    rule_overrides = JSON(default="{}")  # see backend/rules.py
    timezone = Varchar(length=40, default="Asia/Shanghai")


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


class ProjectStatusChange(Table, tablename="project_status_change"):
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.restrict)
    from_status = Varchar(length=width(ProjectStatus, 24), null=True, default=None)
    to_status = Varchar(length=width(ProjectStatus, 24))
    effective_on = Date()
    note = Text(default="")
    changed_by = Integer(null=True, default=None)  # user id (no FK: accounts depend on org, not the reverse)
    changed_at = Timestamptz(default=TimestamptzNow())


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
