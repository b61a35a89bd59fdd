"""One login limiter across server processes (issue 18: ``smz serve --workers N`` and several nodes over one
PostgreSQL).  Each process keeps its sliding windows in memory (``LoginLimiter``); every failure and every
success is told to the others with ``NOTIFY smz_login`` and applied there, so five failures spread over two
processes lock the username as five in one would.  The message carries the limiter keys (username and client
address), never a password; a process ignores its own messages.  On SQLite (one process) nothing is sent.

Delivery is asynchronous (a few milliseconds): attempts racing through different processes inside that moment
can each pass — at most one per process beyond the limit, which the per-address and per-user ceilings bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from backend.accounts.tables import User
from backend.db import engine, listen_forever
from backend.settings import get_settings

LOGIN_CHANNEL = "smz_login"
log = logging.getLogger("smz.auth")


class LimiterLink:
    """Ties one process's ``LoginLimiter`` to the others'.  ``start()`` in the app's loop (the lifespan does it;
    idempotent); ``aclose()`` at shutdown."""

    def __init__(self, limiter: Any, *, shared: bool | None = None) -> None:
        self.limiter = limiter
        self.shared = get_settings().login_limits_shared if shared is None else shared
        self.me = f"{os.getpid()}-{id(self):x}"
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self.listening = False
        self._up = asyncio.Event()
        limiter.share = self.publish

    def enabled(self) -> bool:
        return self.shared and isinstance(engine(), PostgresEngine)

    def start(self) -> None:
        if not self.enabled() or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._listen(), name="smz-login-listen")

    def publish(self, op: str, keys: tuple[str, ...]) -> None:
        if not self.enabled():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.start()
        payload = json.dumps({"from": self.me, "op": op, "keys": list(keys)}, ensure_ascii=False)
        task = loop.create_task(self._send(payload))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, payload: str) -> None:
        try:
            await User.raw("SELECT pg_notify({}, {})", LOGIN_CHANNEL, payload)
        except Exception:  # the local count still holds; the others miss one failure
            log.warning("could not share a login failure with the other processes", exc_info=True)

    def _heard(self, payload: str) -> None:
        try:
            msg = json.loads(payload)
            if msg.get("from") == self.me:
                return
            keys = tuple(str(k) for k in msg.get("keys", ()))[:3]
            self.limiter.heard(str(msg.get("op")), keys)
        except (ValueError, TypeError, AttributeError):
            log.warning("ignored a malformed %s message", LOGIN_CHANNEL)

    async def _listen(self) -> None:
        def up() -> None:
            self.listening = True
            self._up.set()

        def down() -> None:
            self.listening = False
            self._up.clear()

        await listen_forever(LOGIN_CHANNEL, self._heard, on_up=up, on_down=down, what="login limiter")

    async def wait_listening(self, timeout_s: float = 5.0) -> bool:
        """For tests and start-up: until LISTEN is up (False on timeout or on SQLite)."""
        if not self.enabled():
            return False
        self.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout_s)
        return self.listening

    async def aclose(self) -> None:
        task, self._task = self._task, None
        for t in list(self._sends):
            with contextlib.suppress(Exception):
                await t
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.listening = False
