"""Live feed of committed punches: in-process fan-out to subscribers (server-sent events).

Published only after commit, to the app's ``LiveFeed`` (one per app, made with the app's services).  A slow subscriber never blocks the punch path: its queue is bounded and
the oldest events are dropped for that subscriber alone (it can reload the page to catch up).

Other server processes get the event through PostgreSQL NOTIFY on ``LIVE_CHANNEL`` (``notify_committed``);
the listening side is backend/supervision/live_bridge.py (supervision sits above attendance: it subscribes,
attendance never calls up into it — docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from backend.attendance.tables import Punch
from backend.db import engine

log = logging.getLogger("smz.attendance.live")

QUEUE_SIZE = 500
LIVE_CHANNEL = "smz_live"
NOTIFY_MAX_BYTES = 7900  # PostgreSQL's NOTIFY payload limit is 8000 bytes


class LiveFeed:
    """The in-process fan-out of committed punches.  One per app (``backend.runtime.AppServices.live_feed``),
    handed to ``record_punch`` by whoever records a punch (HTTP handlers, the gate server)."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def publish(self, event: dict[str, Any]) -> None:
        for q in list(self._subscribers):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
            q.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=self.queue_size)
        self._subscribers.add(q)
        try:
            yield q
        finally:
            self._subscribers.discard(q)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


async def pg_notify(event: dict[str, Any]) -> None:
    """Publish a committed event to every process (PostgreSQL NOTIFY; nothing to do on SQLite, whose
    deployment is a single process).  Events too large for a payload travel as a reference."""
    if not isinstance(engine(), PostgresEngine):
        return
    payload = json.dumps(event, ensure_ascii=False, default=str)
    if len(payload.encode()) > NOTIFY_MAX_BYTES:
        payload = json.dumps({"type": event.get("type"), "id": event.get("id"),
                              "project_id": event.get("project_id"), "ref": True})
    await Punch.raw("SELECT pg_notify({}, {})", LIVE_CHANNEL, payload)


async def notify_committed(event: dict[str, Any]) -> None:
    """Publish hook for ``record_punch`` (after commit, after ``publish``): other processes' maps get the
    punch through PostgreSQL NOTIFY.  Never raises — the punch is already stored and acknowledged."""
    try:
        await pg_notify(event)
    except Exception as exc:
        log.warning("live NOTIFY failed for %s %s: %s", event.get("type"), event.get("id"), exc)
