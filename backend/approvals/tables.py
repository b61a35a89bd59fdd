"""Project applications (项目申报, seed 001 §2.1) and the rounds of their review."""

from __future__ import annotations

from piccolo.columns import JSON, Date, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import User
from backend.org.tables import District, Enterprise, Project
from backend.vocabulary import ApplicationAction, ApplicationStatus, ProjectCategory, width


class ProjectApplication(Table, tablename="project_application"):
    """What an enterprise applies for; on 审核通过 the project is created from it (``project``) and a project-staff
    account is issued (``staff_user``; its one-time password is never stored)."""

    applicant = ForeignKey(references=User, null=False, index=True, on_delete=OnDelete.restrict)
    enterprise = ForeignKey(references=Enterprise, null=True, default=None, on_delete=OnDelete.restrict)
    district = ForeignKey(references=District, null=False, index=True, on_delete=OnDelete.restrict)
    status = Varchar(length=width(ApplicationStatus, 16), default="pending", index=True)
    name = Varchar(length=200)
    permit_no = Varchar(length=40, null=True, default=None)  # 施工许可证 / 报建编号
    category = Varchar(length=width(ProjectCategory, 16))
    address = Varchar(length=300, null=True, default=None)
    lon = DoublePrecision(null=True, default=None)  # WGS-84
    lat = DoublePrecision(null=True, default=None)
    planned_start = Date()
    planned_finish = Date()
    floor_area_m2 = DoublePrecision(null=True, default=None)
    contract_value_yuan = DoublePrecision(null=True, default=None)
    applicant_name = Varchar(length=60)
    applicant_phone = Varchar(length=20, null=True, default=None)
    units = JSON(default="[]")  # [{"name", "uscc", "unit_type"}]
    round_no = Integer(default=1)
    submitted_at = Timestamptz(default=TimestamptzNow())
    decided_by = Integer(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    reason = Text(default="")  # the last return's reason
    project = ForeignKey(references=Project, null=True, default=None, on_delete=OnDelete.restrict)
    staff_user = Integer(null=True, default=None)  # the issued project-staff account (user id)


class ProjectApplicationRound(Table, tablename="project_application_round"):
    """One event of an application's history: submitted, returned (reason), resubmitted, passed — by whom, when."""

    application = ForeignKey(references=ProjectApplication, null=False, index=True, on_delete=OnDelete.cascade)
    round_no = Integer(default=1)
    action = Varchar(length=width(ApplicationAction, 16))
    by_user = Integer(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())
    reason = Text(default="")


TABLES = [ProjectApplication, ProjectApplicationRound]
