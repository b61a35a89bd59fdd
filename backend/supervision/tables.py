"""Supervision: daily rollups, warnings with their history, notification settings, in-site messages, SMS log.

Definitions (valid day, construction days, composite on-duty rate …) are in docs/supervision.md.
"""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import User
from backend.devices.tables import Terminal
from backend.org.tables import District, Project
from backend.vocabulary import SmsStatus, WarningAction, WarningKind, WarningLevel, WarningStatus, width
from backend.workforce.tables import Person


class PersonDay(Table, tablename="sup_person_day"):
    """Daily rollup: one row per (project, person, day) with at least one punch.

    Only counts are stored; whether the day is *valid* and whether it *counts* (construction day, manager
    start, roster interval) is decided at read time with the district's current rules and the project's status
    history, so a rule change or a back-dated suspension never leaves stale figures behind."""

    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    person = ForeignKey(references=Person, null=False, index=True, on_delete=OnDelete.restrict)
    day = Varchar(length=10, index=True)  # local capture day, YYYY-MM-DD (same form as Punch.local_date)
    ok = Integer(default=0)  # punches not rejected (accepted + flagged)
    ok_on_time = Integer(default=0)  # … of which without the late_upload flag
    rejected = Integer(default=0)
    first_at = Timestamptz(null=True, default=None)  # first / last accepted capture time (UTC)
    last_at = Timestamptz(null=True, default=None)


class RollupDay(Table, tablename="sup_rollup_day"):
    """Which days are stored in PersonDay, and when they were computed (数据更新时间, seed 001 §2.11.3)."""

    day = Varchar(length=10, unique=True)
    rolled_at = Timestamptz(default=TimestamptzNow())
    rows = Integer(default=0)
    # Highest punch id when the day was rolled up: a later punch of that day (a gate terminal uploading its
    # stored records) makes the day stale, and readers compute it live until the next rollup.
    max_punch_id = Integer(default=0)


class RollupRun(Table, tablename="sup_rollup_run"):
    """One nightly (or on-demand) run: lets the next run find the punches committed since (late uploads)."""

    started_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    days = Integer(default=0)
    rows = Integer(default=0)
    trigger = Varchar(length=16, default="nightly")  # nightly | cli | web
    max_punch_id = Integer(default=0)  # highest punch id when the run started: the next run re-rolls newer days


class WarningCase(Table, tablename="sup_warning"):
    """黄灯/红灯预警 (seed 000 §三, §五; seed 001 §2.11.2).

    ``topic`` names the condition (``kind:project:subject``, plus ``:YYYY-MM`` for the monthly tallies); at most
    one case per topic is not closed, and the nightly detection updates that case.  ``key`` = topic + opening
    day keeps the history of a condition that comes back after its case was closed."""

    key = Varchar(length=140, unique=True)
    topic = Varchar(length=120, index=True)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    district = ForeignKey(references=District, null=False, index=True, on_delete=OnDelete.restrict)
    kind = Varchar(length=width(WarningKind, 24))  # post_missing | no_attendance | manager_valid_days | composite_rate | device_outage
    post = Varchar(length=40, null=True, default=None)
    person = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.restrict)
    terminal = ForeignKey(references=Terminal, null=True, default=None, on_delete=OnDelete.restrict)
    period = Varchar(length=7)  # YYYY-MM
    level = Varchar(length=width(WarningLevel, 8), default="yellow")  # yellow | red
    status = Varchar(length=width(WarningStatus, 12), default="open")  # open | notified | rectified | closed
    message = Text(default="")  # Chinese summary, as sent
    detail = JSON(default="{}")
    opened_on = Date()
    red_on = Date(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class WarningEvent(Table, tablename="sup_warning_event"):
    """Who did what to a warning (system when ``actor`` is null)."""

    warning = ForeignKey(references=WarningCase, null=False, index=True, on_delete=OnDelete.cascade)
    at = Timestamptz(default=TimestamptzNow())
    actor = Integer(null=True, default=None)  # user id
    actor_name = Varchar(length=60, default="系统")
    action = Varchar(length=width(WarningAction, 16))  # opened | escalated | notified | rectified | reopened | closed | updated
    note = Text(default="")
    level = Varchar(length=width(WarningLevel, 8))
    status = Varchar(length=width(WarningStatus, 12))


class NotifySetting(Table, tablename="sup_notify_setting"):
    """Notification settings of a district (seed 001 §2.11.2, 实名管理相关规则)."""

    district = ForeignKey(references=District, null=False, unique=True, on_delete=OnDelete.restrict)
    in_site = Boolean(default=True)  # 站内短消息
    sms = Boolean(default=False)  # 手机短信 (only with in_site)
    key_people = Boolean(default=False)  # 项目负责人 …
    to_project_manager = Boolean(default=False)  # 总承包单位项目经理
    to_chief_supervising_engineer = Boolean(default=False)  # 监理单位总监理工程师
    to_safety_officer = Boolean(default=False)  # 总承包单位安全员
    others = Boolean(default=False)  # 其他相关人员 (NotifyRecipient rows)
    updated_by = Integer(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class NotifyRecipient(Table, tablename="sup_notify_recipient"):
    """其他相关人员: an extra SMS recipient for one project (seed 001 §2.11.2 添加配置)."""

    district = ForeignKey(references=District, null=False, index=True, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=60)
    phone = Varchar(length=20)
    note = Varchar(length=100, default="")


class InSiteMessage(Table, tablename="sup_message"):
    """站内短消息 to one user."""

    user = ForeignKey(references=User, null=False, index=True, on_delete=OnDelete.cascade)
    project = ForeignKey(references=Project, null=True, default=None, on_delete=OnDelete.restrict)
    warning = ForeignKey(references=WarningCase, null=True, default=None, on_delete=OnDelete.set_null)
    title = Varchar(length=200)
    body = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    read_at = Timestamptz(null=True, default=None)


class SmsLog(Table, tablename="sup_sms_log"):
    """Every SMS attempt, sent or not (nothing silently dropped).  Phones are stored masked."""

    warning = ForeignKey(references=WarningCase, null=True, default=None, on_delete=OnDelete.set_null)
    project = ForeignKey(references=Project, null=True, default=None, on_delete=OnDelete.restrict)
    recipient_name = Varchar(length=60, default="")
    recipient_role = Varchar(length=40, default="")
    phone_masked = Varchar(length=20, default="")
    status = Varchar(length=width(SmsStatus, 8))  # sent | failed | skipped
    provider_id = Varchar(length=64, null=True, default=None)
    error = Text(default="")
    at = Timestamptz(default=TimestamptzNow())


TABLES = [PersonDay, RollupDay, RollupRun, WarningCase, WarningEvent, NotifySetting, NotifyRecipient, InSiteMessage, SmsLog]
