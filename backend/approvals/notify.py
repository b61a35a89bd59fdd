"""Notify users of a decision: a 站内消息 each and, when a sender is given, an SMS to those with a phone
(seed 001 §2.11.2 项目申报结果通知 / 预警通知: 站内短消息 + 手机短信).

Callers (this package and the lifecycle pages of change requests) pass user ids; ``users_of`` finds them::

    ids = await users_of(Role.supervisor, district_id=d)           # the district's authority staff
    ids = await users_of(Role.enterprise, project_id=p)            # enterprise staff of the project's units
    ids = await users_of(Role.project_staff, project_id=p)         # project staff granted the project
    await notify(ids, "停工申请待审批", "…", project_id=p, sms=services.sms)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from backend.accounts.tables import User, UserDistrict, UserProject
from backend.org.tables import Project, ProjectUnit
from backend.supervision.services.messages import send_message
from backend.supervision.services.notifications import mask_phone
from backend.supervision.sms import SmsSender
from backend.supervision.tables import SmsLog
from backend.vocabulary import Role, SmsStatus

log = logging.getLogger("smz.approvals.notify")


async def users_of(role: str, *, district_id: int | None = None, project_id: int | None = None,
                   enterprise_id: int | None = None) -> list[int]:
    """Active users of ``role`` within the given scope (all filters given must hold).

    - supervisor: users granted ``district_id`` (or the district of ``project_id``);
    - enterprise: users of ``enterprise_id``, or of any enterprise with a unit on ``project_id``;
    - other roles (project_staff, foreman …): users granted ``project_id`` (UserProject)."""
    where = (User.role == role) & (User.active == True)  # noqa: E712 (Piccolo expression)
    if role == Role.supervisor:
        if district_id is None and project_id is not None:
            row = await Project.select(Project.district).where(Project.id == project_id).first()
            district_id = row["district"] if row else None
            if district_id is None:
                return []
        if district_id is not None:
            ud = await UserDistrict.select(UserDistrict.user).where(UserDistrict.district == district_id)
            where &= User.id.is_in([r["user"] for r in ud] or [-1])
    elif role == Role.enterprise:
        if enterprise_id is not None:
            where &= User.enterprise == enterprise_id
        if project_id is not None:
            units = await ProjectUnit.select(ProjectUnit.enterprise).where(ProjectUnit.project == project_id)
            where &= User.enterprise.is_in([r["enterprise"] for r in units] or [-1])
    else:
        if project_id is not None:
            up = await UserProject.select(UserProject.user).where(UserProject.project == project_id)
            where &= User.id.is_in([r["user"] for r in up] or [-1])
        if enterprise_id is not None:
            where &= User.enterprise == enterprise_id
    rows = await User.select(User.id).where(where).order_by(User.id)
    return [r["id"] for r in rows]


async def notify(user_ids: Iterable[int], title: str, body: str, project_id: int | None = None, *,
                 sms: SmsSender | None = None) -> int:
    """One 站内消息 per user; with ``sms`` also an SMS to each user with a phone, every attempt logged (sent or
    failed, never dropped).  Returns the number of in-site messages stored."""
    ids = sorted({int(u) for u in user_ids})
    if not ids:
        return 0
    stored = await send_message(ids, title, body, project_id=project_id)
    if sms is not None:
        users = await User.select(User.id, User.display_name, User.role, User.phone).where(User.id.is_in(ids))
        for u in users:
            if u["phone"]:
                await send_sms(u["phone"], f"{title}：{body}" if body else title, recipient_name=u["display_name"],
                               recipient_role=u["role"], project_id=project_id, sms=sms)
    return stored


async def send_sms(phone: str, text: str, *, recipient_name: str, recipient_role: str, project_id: int | None,
                   sms: SmsSender) -> bool:
    """One SMS, logged (sent or failed) in the SMS log with the phone masked; True when sent."""
    result = await sms.send(phone, text)
    if not result.ok:
        log.info("SMS to %s not sent: %s", mask_phone(phone), result.error)
    await SmsLog.insert(SmsLog(project=project_id, recipient_name=recipient_name[:60],
                               recipient_role=recipient_role[:40], phone_masked=mask_phone(phone),
                               status=SmsStatus.sent if result.ok else SmsStatus.failed,
                               provider_id=result.provider_id, error=result.error or "", at=datetime.now(UTC)))
    return result.ok
