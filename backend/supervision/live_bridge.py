"""Live punches for the map, across processes.

Sources of events (committed punches):
- this process: the app's ``backend.attendance.live.LiveFeed`` (in-process fan-out by ``record_punch``);
- other processes (PostgreSQL only): ``LISTEN smz_live``.  The publishing side is
  ``backend.attendance.live.notify_committed(event)``, called by ``record_punch`` after commit (next to
  ``live.publish``); attendance never imports supervision (docs/architecture.md).

Both feed one hub (``LiveBridge.hub``, one bridge per app) that fans out to the SSE connections of this
process.  An event can arrive twice (locally and through NOTIFY from this very process): the hub drops repeats
by punch id.  The bridge starts lazily with the first SSE subscriber and restarts itself if the event loop
changed (tests) or the LISTEN connection drops; the app's shutdown stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from backend.attendance import live
from backend.db import engine, listen_forever
from backend.supervision.services import LIVE_CHANNEL, punch_event

log = logging.getLogger("smz.supervision.live")

QUEUE_SIZE = 500
RECENT_IDS = 4096


class Hub(live.LiveFeed):
    """The live map's fan-out: a ``LiveFeed`` that drops an event it has already sent (the same punch from the
    in-process feed and from LISTEN) and starts the bridge with its first subscriber.  A slow browser never
    blocks anybody: it loses its oldest events."""

    def __init__(self, bridge: LiveBridge | None = None) -> None:
        super().__init__(QUEUE_SIZE)
        self._bridge = bridge
        self._recent: OrderedDict[tuple[str, Any], None] = OrderedDict()

    def fanout(self, event: dict[str, Any]) -> bool:
        key = (str(event.get("type")), event.get("id"))
        if event.get("id") is not None:
            if key in self._recent:
                return False
            self._recent[key] = None
            while len(self._recent) > RECENT_IDS:
                self._recent.popitem(last=False)
        self.publish(event)
        return True

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        if self._bridge is not None:
            await self._bridge.ensure_started()
        async with super().subscribe() as q:
            yield q


class LiveBridge:
    """The app's live map feed (one per app: ``backend.runtime.AppServices.live_bridge``): a hub fed by
    the app's in-process ``LiveFeed`` and, on PostgreSQL, by ``LISTEN smz_live``.  Its tasks start with the
    first SSE subscriber (``hub.subscribe()``) and end with :meth:`stop` (the app's shutdown)."""

    def __init__(self, feed: live.LiveFeed) -> None:
        self.feed = feed
        self.hub = Hub(self)
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = asyncio.Event()

    def subscribe(self) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]:
        return self.hub.subscribe()

    async def ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and all(not t.done() for t in self._tasks):
            return
        await self.stop()
        self._loop = loop
        self._listening = asyncio.Event()
        self._tasks.append(loop.create_task(self._local_consumer(), name="smz-live-local"))
        if _is_postgres():
            self._tasks.append(loop.create_task(self._pg_listener(), name="smz-live-listen"))
            # Wait briefly for LISTEN so an event committed right after the first subscription is not missed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), timeout=5)

    async def stop(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        self._tasks.clear()
        self._listening.clear()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for t in tasks:
            if t.get_loop() is current:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        self._loop = None

    async def _local_consumer(self) -> None:
        async with self.feed.subscribe() as q:
            while True:
                self.hub.fanout(await q.get())

    async def _pg_listener(self) -> None:
        def on_payload(payload: str) -> None:
            try:
                event = json.loads(payload)
            except ValueError:
                log.warning("ignored malformed live payload: %.80s", payload)
                return
            if event.get("ref"):  # too large for NOTIFY: load it
                asyncio.get_running_loop().create_task(self._fetch_and_fanout(punch_event, event.get("id")))
            else:
                self.hub.fanout(event)

        await listen_forever(LIVE_CHANNEL, on_payload, on_up=self._listening.set, on_down=self._listening.clear,
                             what="live map")

    async def _fetch_and_fanout(self, loader: Any, punch_id: Any) -> None:
        try:
            event = await loader(int(punch_id))
        except Exception as exc:
            log.warning("could not load punch %s for the live feed: %s", punch_id, exc)
            return
        if event:
            self.hub.fanout(event)


def _is_postgres() -> bool:
    from piccolo.engine.postgres import PostgresEngine

    return isinstance(engine(), PostgresEngine)


# The publishing side lives below, in attendance (record_punch calls it after commit).
notify_committed = live.notify_committed
