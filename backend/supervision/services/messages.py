"""In-site messages (站内消息) of a user: list, unread count, mark read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.supervision.tables import InSiteMessage


async def list_messages(user_id: int, *, unread_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    where = InSiteMessage.user == user_id
    if unread_only:
        where &= InSiteMessage.read_at.is_null()
    # ``tz``: the project's zone, so a person reads the message's time as the project's pages show times.
    return await InSiteMessage.select(
        InSiteMessage.id, InSiteMessage.project, InSiteMessage.warning, InSiteMessage.title, InSiteMessage.body,
        InSiteMessage.created_at, InSiteMessage.read_at, InSiteMessage.project.name.as_alias("project_name"),
        InSiteMessage.project.timezone.as_alias("tz"),
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


async def send_message(user_ids: list[int] | set[int], title: str, body: str = "", *,
                       project_id: int | None = None) -> int:
    """Store one 站内消息 per user (duplicates ignored); returns how many were stored."""
    ids = sorted({int(u) for u in user_ids})
    if not ids:
        return 0
    rows = [InSiteMessage(user=u, project=project_id, title=title[:200], body=body) for u in ids]
    await InSiteMessage.insert(*rows)
    return len(rows)
