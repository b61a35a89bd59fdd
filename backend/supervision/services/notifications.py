"""Notifications of warnings (seed 001 §2.11.2 实名管理相关规则): each district's settings and extra
recipients, and sending a case's in-site messages and SMS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.accounts.tables import User, UserProject
from backend.db import write_transaction
from backend.errors import NotFound, invalid
from backend.org.tables import District, Project, ProjectUnit
from backend.rules import Rules
from backend.supervision.services.cases import KIND_ZH, LEVEL_ZH, _event
from backend.supervision.services.common import POST_SHORT, local_today
from backend.supervision.services.projects import district_rules
from backend.supervision.sms import SmsSender, sender_from_env
from backend.supervision.tables import InSiteMessage, NotifyRecipient, NotifySetting, SmsLog, WarningCase
from backend.validators import parse_phone
from backend.vocabulary import Role, SmsStatus, WarningAction, WarningLevel, WarningStatus
from backend.workforce.services import on_roster
from backend.workforce.tables import RosterEntry

SETTING_FIELDS = ("in_site", "sms", "key_people", "to_project_manager", "to_chief_supervising_engineer",
                  "to_safety_officer", "others")
_DEFAULT_SETTING = {"in_site": True, "sms": False, "key_people": False, "to_project_manager": False,
                    "to_chief_supervising_engineer": False, "to_safety_officer": False, "others": False}
_KEY_PEOPLE = (("to_project_manager", "project_manager", "general_contractor", "总承包单位项目经理"),
               ("to_chief_supervising_engineer", "chief_supervising_engineer", "supervision_firm", "监理单位总监理工程师"),
               ("to_safety_officer", "safety_officer", "general_contractor", "总承包单位安全员"))


# --- Settings and recipients ---------------------------------------------------------------------


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else phone[:2] + "****"


async def get_notify_setting(district_id: int) -> dict[str, Any]:
    if not await District.exists().where(District.id == district_id):
        raise NotFound("区县不存在", "District not found", field="district_id")
    row = await NotifySetting.select().where(NotifySetting.district == district_id).first()
    setting = {k: bool(row[k]) for k in SETTING_FIELDS} if row else dict(_DEFAULT_SETTING)
    setting["district_id"] = district_id
    setting["recipients"] = await NotifyRecipient.select(
        NotifyRecipient.id, NotifyRecipient.project, NotifyRecipient.project.name.as_alias("project_name"),
        NotifyRecipient.name, NotifyRecipient.phone, NotifyRecipient.note,
    ).where(NotifyRecipient.district == district_id).order_by(NotifyRecipient.id)
    for r in setting["recipients"]:
        r["phone_masked"] = mask_phone(r.pop("phone"))
    return setting


def check_notify_setting(s: dict[str, bool]) -> None:
    """The dependencies of the settings page: SMS only with in-site messages; the three key people only with
    【项目负责人】 switched on (seed 001 §2.11.2).  Contradictions are refused, not silently dropped."""
    if s["sms"] and not s["in_site"]:
        raise invalid("sms", "仅开启「站内短消息」后才可设置手机短信", "SMS needs in-site messages to be on")
    picked = [k for k in ("to_project_manager", "to_chief_supervising_engineer", "to_safety_officer") if s[k]]
    if picked and not s["key_people"]:
        raise invalid(picked[0], "须先开启「项目负责人」才可勾选接收人", "Switch on key people before picking them")
    if (s["key_people"] or s["others"]) and not s["sms"]:
        raise invalid("sms", "短信接收人须在开启「手机短信」后设置", "SMS recipients need SMS to be on")


async def save_notify_setting(district_id: int, values: dict[str, bool], user_id: int) -> dict[str, Any]:
    await get_notify_setting(district_id)
    s = {k: bool(values[k]) for k in SETTING_FIELDS}
    check_notify_setting(s)
    async with write_transaction():
        await NotifySetting.delete().where(NotifySetting.district == district_id)
        await NotifySetting.insert(NotifySetting(district=district_id, updated_by=user_id,
                                                 updated_at=datetime.now(UTC), **s))
    return await get_notify_setting(district_id)


def _check_recipient(name: str, phone: str, note: str) -> str:
    """The recipient's fields are valid; the normalised phone number."""
    if not name.strip() or len(name.strip()) > 60:
        raise invalid("name", "姓名不能为空且不超过 60 字", "Name must be 1–60 characters")
    if len(note) > 100:
        raise invalid("note", "备注不能超过 100 字", "Note must not exceed 100 characters")
    number = parse_phone(phone)
    if number is None:
        raise invalid("phone", "请填写手机号", "A phone number is required")
    return number


async def add_recipient(district_id: int, project_id: int, name: str, phone: str, note: str = "") -> int:
    number = _check_recipient(name, phone, note)
    project = await Project.select(Project.district).where(Project.id == project_id).first()
    if project is None or project["district"] != district_id:
        raise invalid("project_id", "项目不属于该区县", "The project is not in this district")
    r = NotifyRecipient(district=district_id, project=project_id, name=name.strip(), phone=number, note=note)
    await r.save()
    return r.id


async def remove_recipient(district_id: int, recipient_id: int) -> None:
    n = await NotifyRecipient.delete().where(
        (NotifyRecipient.id == recipient_id) & (NotifyRecipient.district == district_id)).returning(NotifyRecipient.id)
    if not n:
        raise NotFound("接收人不存在", "Recipient not found", field="recipient_id")


# --- Who receives ----------------------------------------------------------------------------------


async def _project_users(project_id: int) -> list[int]:
    """Users of the project side: those granted the project and the enterprise accounts of its active units."""
    ids = {r["user"] for r in await UserProject.select(UserProject.user).where(UserProject.project == project_id)}
    enterprises = [r["enterprise"] for r in await ProjectUnit.select(ProjectUnit.enterprise).where(
        (ProjectUnit.project == project_id) & ProjectUnit.exited_on.is_null())]
    if enterprises:
        ids |= {r["id"] for r in await User.select(User.id).where(
            (User.role == Role.enterprise) & User.enterprise.is_in(enterprises))}
    if not ids:
        return []
    return [r["id"] for r in await User.select(User.id).where(
        User.id.is_in(sorted(ids)) & (User.active == True) & (User.role != Role.worker))]  # noqa: E712


async def _key_people_recipients(project_id: int, s: dict[str, Any], day: date) -> list[tuple[str, str, str | None]]:
    """The picked key people on the roster on ``day`` (a placeholder without phone for an unfilled post)."""
    out: list[tuple[str, str, str | None]] = []
    picked = [(post, unit, label) for flag, post, unit, label in _KEY_PEOPLE if s[flag]]
    if not picked:
        return out
    rows = await RosterEntry.select(
        RosterEntry.post, RosterEntry.unit.unit_type.as_alias("unit_type"),
        RosterEntry.person.name.as_alias("name"), RosterEntry.person.phone.as_alias("phone"),
    ).where(RosterEntry.post.is_in([p for p, _u, _l in picked]) & on_roster(day, project_id))
    for post, unit, label in picked:
        holders = [r for r in rows if r["post"] == post and r["unit_type"] == unit]
        if not holders:
            out.append((f"（未设置{POST_SHORT[post]}）", label, None))
        out += [(r["name"], label, r["phone"]) for r in holders]
    return out


async def _sms_recipients(project_id: int, s: dict[str, Any], day: date) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    if s["key_people"]:
        out += await _key_people_recipients(project_id, s, day)
    if s["others"]:
        out += [(r["name"], "其他相关人员", r["phone"]) for r in await NotifyRecipient.select(
            NotifyRecipient.name, NotifyRecipient.phone).where(NotifyRecipient.project == project_id)]
    return out


# --- Sending ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    in_site: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0


def compose_message(c: dict[str, Any], rules: Rules) -> tuple[str, str]:
    """(title, body) of a case's notification: yellow cases get the deadline, red ones the order to fix now."""
    level = LEVEL_ZH[c["level"]]
    days = rules.warning_red_after_days
    if c["level"] == WarningLevel.red:
        tail = "已转为红灯预警，请立即整改。"
    else:
        by = rules.rectify_by(c["opened_on"])
        tail = f"请于 {days} 日内（{by.year}年{by.month}月{by.day}日 24 时前）整改到位，逾期将转为红灯预警。"
    title = f"【{level}预警】{c['project_name']}：{KIND_ZH.get(c['kind'], c['kind'])}"
    return title, f"{c['message']}。{tail}"


def notify_note(reason: str, attempted: bool, sms: bool, t: _Tally) -> str:
    if not attempted:
        return "通知未开启（站内短消息已关闭）"
    return (f"{'转红灯' if reason == WarningAction.escalated else '新预警'}：站内消息 {t.in_site} 人"
            + (f"；短信 成功 {t.sent} 条，失败 {t.failed} 条，无号码 {t.skipped} 人" if sms else ""))


async def _send_in_site(c: dict[str, Any], title: str, body: str) -> int:
    pid = c["project"]
    users = await _project_users(pid)
    if users:
        await InSiteMessage.insert(*[InSiteMessage(user=u, project=pid, warning=c["id"], title=title,
                                                   body=body, created_at=datetime.now(UTC)) for u in users])
    return len(users)


async def _send_sms(c: dict[str, Any], s: dict[str, Any], body: str, today: date, sender: SmsSender,
                    t: _Tally) -> None:
    """One SMS per recipient, every attempt logged (a recipient without a number is logged as skipped)."""
    pid = c["project"]
    text = f"【实名制{LEVEL_ZH[c['level']]}预警】{body}"
    for name, role, phone in await _sms_recipients(pid, s, today):
        if not phone:
            status, provider_id, error = SmsStatus.skipped, None, "无手机号"
        else:
            result = await sender.send(phone, text)
            status = SmsStatus.sent if result.ok else SmsStatus.failed
            provider_id, error = result.provider_id, result.error or ""
        t.sent += status == SmsStatus.sent
        t.failed += status == SmsStatus.failed
        t.skipped += status == SmsStatus.skipped
        await SmsLog.insert(SmsLog(warning=c["id"], project=pid, recipient_name=name, recipient_role=role,
                                   phone_masked=mask_phone(phone), status=status, provider_id=provider_id,
                                   error=error, at=datetime.now(UTC)))


async def _record_notified(c: dict[str, Any], attempted: bool, note: str) -> None:
    """``open`` → ``notified`` when anything was attempted, and a ``notified`` / ``not_notified`` event."""
    async with write_transaction():
        status = WarningStatus.notified if attempted and c["status"] == WarningStatus.open else c["status"]
        if status != c["status"]:
            await WarningCase.update({WarningCase.status: status, WarningCase.updated_at: datetime.now(UTC)}).where(
                WarningCase.id == c["id"])
        await _event(c["id"], WarningAction.notified if attempted else WarningAction.not_notified, c["level"], status, note=note)


async def notify_cases(case_ids: Sequence[int], *, reason: str = WarningAction.opened,
                       sender: SmsSender | None = None) -> list[dict[str, Any]]:
    """Send the in-site messages and SMS of the districts' settings for these cases; record everything (every
    SMS attempt in SmsLog, a ``notified`` event per case) and move ``open`` cases to ``notified``.
    ``sender``: the app's (``AppServices.sms``); None: the one the environment configures."""
    sender = sender or sender_from_env()
    if not case_ids:
        return []
    cases = await WarningCase.select(
        *WarningCase.all_columns(), WarningCase.project.name.as_alias("project_name"),
    ).where(WarningCase.id.is_in(list(case_ids)))
    settings = {d: await get_notify_setting(d) for d in {c["district"] for c in cases}}
    rules = await district_rules(settings)
    today = local_today()
    out = []
    for c in cases:
        s = settings[c["district"]]
        title, body = compose_message(c, rules[c["district"]])
        t = _Tally()
        if s["in_site"]:
            t.in_site = await _send_in_site(c, title, body)
        if s["in_site"] and s["sms"]:
            await _send_sms(c, s, body, today, sender, t)
        attempted = s["in_site"]
        await _record_notified(c, attempted, notify_note(reason, attempted, s["sms"], t))
        out.append({"warning_id": c["id"], "in_site": t.in_site, "sms_sent": t.sent, "sms_failed": t.failed,
                    "sms_skipped": t.skipped, "notified": attempted})
    return out
