"""Live feed of committed punches: in-process fan-out to subscribers (server-sent events).

Published only after commit.  A slow subscriber never blocks the punch path: its queue is bounded and
the oldest events are dropped for that subscriber alone (it can reload the page to catch up).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

_subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
QUEUE_SIZE = 500


def publish(event: dict[str, Any]) -> None:
    for q in list(_subscribers):
        if q.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                q.get_nowait()
        q.put_nowait(event)


@contextlib.asynccontextmanager
async def subscribe() -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_SIZE)
    _subscribers.add(q)
    try:
        yield q
    finally:
        _subscribers.discard(q)


def subscriber_count() -> int:
    return len(_subscribers)
