"""In-site messages (站内消息) of a user: list, unread count, mark read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.supervision.tables import InSiteMessage


async def list_messages(user_id: int, *, unread_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    where = InSiteMessage.user == user_id
    if unread_only:
        where &= InSiteMessage.read_at.is_null()
    return await InSiteMessage.select(
        InSiteMessage.id, InSiteMessage.project, InSiteMessage.warning, InSiteMessage.title, InSiteMessage.body,
        InSiteMessage.created_at, InSiteMessage.read_at,
    ).where(where).order_by(InSiteMessage.id, ascending=False).limit(max(1, min(limit, 500)))


async def unread_count(user_id: int) -> int:
    return await InSiteMessage.count().where((InSiteMessage.user == user_id) & InSiteMessage.read_at.is_null())


async def mark_read(user_id: int, message_id: int | None = None) -> int:
    where = (InSiteMessage.user == user_id) & InSiteMessage.read_at.is_null()
    if message_id is not None:
        where &= InSiteMessage.id == message_id
    rows = await InSiteMessage.update({InSiteMessage.read_at: datetime.now(UTC)}).where(where).returning(
        InSiteMessage.id)
    return len(rows)
