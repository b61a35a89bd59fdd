"""Who is asking, without three queries per request: a short-lived cache of token → account.

Every authenticated request used to cost three queries (the token, the user, its districts).  The cache keeps
the answer for ``Settings.auth_cache_ttl_s`` and is never stale across a change that matters:

- **in this process** — the account services (``revoke_token``, ``revoke_sessions``, ``reset_password``,
  ``change_password``, ``set_user_active``) call :func:`invalidate_user` / :func:`invalidate_token`, which
  reach every cache of the process at once;
- **across processes (PostgreSQL)** — the same services send ``NOTIFY smz_auth`` in their transaction, so it is
  delivered when the change commits; each cache LISTENs on its own connection and trusts itself only while
  that connection is up (before LISTEN works, and after it drops, every request goes to the database);
- **SQLite** (one server process; a CLI command may still change an account from outside) — the TTL bounds
  how long another process's change can go unseen (``auth_cache_ttl_s``, 10 s by default; 0 turns the cache
  off).

A request that read the database while a change happened does not store its (possibly old) answer: every
invalidation bumps the cache's generation, and :meth:`PrincipalCache.put` refuses an answer read under an older
one.  Token expiry is checked on every hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from piccolo.engine.postgres import PostgresEngine

from backend.accounts.tables import User
from backend.db import engine, listen_forever

if TYPE_CHECKING:
    from backend.accounts.services import CurrentUser

log = logging.getLogger("smz.accounts.principals")

AUTH_CHANNEL = "smz_auth"
MAX_ENTRIES = 20_000  # ~1 KB each: a few MB at most

_CACHES: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()  # every cache of this process (for invalidation)


@dataclass(frozen=True, slots=True)
class _Entry:
    user: CurrentUser
    token_expires: datetime
    stored: float  # monotonic


class PrincipalCache:
    """token hash → (account, token expiry), for at most ``ttl_s``.  One per app (``AppServices.principals``)."""

    def __init__(self, ttl_s: float, *, max_entries: int = MAX_ENTRIES, listen: bool = True) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._listen = listen
        self._listening = False
        self._task: asyncio.Task[None] | None = None
        self.hits = 0
        self.misses = 0
        _CACHES.add(self)

    # --- reading and filling ------------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        if self.ttl_s <= 0:
            return False
        if self._listen and _is_postgres():
            self._ensure_listener()
            return self._listening  # across processes only while NOTIFY reaches us
        return True

    def get(self, token_hash: str) -> CurrentUser | None:
        """The cached account for the token, or None (not cached, too old, token expired, cache not trusted)."""
        if not self.enabled:
            return None
        entry = self._entries.get(token_hash)
        if entry is None or time.monotonic() - entry.stored > self.ttl_s or entry.token_expires <= datetime.now(UTC):
            if entry is not None:
                self._entries.pop(token_hash, None)
            self.misses += 1
            return None
        self.hits += 1
        return entry.user

    def put(self, token_hash: str, user: CurrentUser, token_expires: datetime, generation: int) -> None:
        """Store an answer read from the database under ``generation`` (taken before the read)."""
        if generation != self.generation or not self.enabled:
            return  # something changed while the request read: its answer may be old
        self._entries[token_hash] = _Entry(user, token_expires, time.monotonic())
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    # --- invalidation -------------------------------------------------------------------------------------------

    def drop_user(self, user_id: int) -> None:
        self.generation += 1
        for key in [k for k, e in self._entries.items() if e.user.id == user_id]:
            self._entries.pop(key, None)

    def drop_token(self, token_hash: str) -> None:
        self.generation += 1
        self._entries.pop(token_hash, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    # --- LISTEN (PostgreSQL) ------------------------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._listening = False
            self._task = loop.create_task(self._listener(), name="smz-auth-listen")

    async def _listener(self) -> None:
        def on_payload(payload: str) -> None:
            kind, _, value = payload.partition(":")
            if kind == "user" and value.isdigit():
                self.drop_user(int(value))
            elif kind == "token" and value:
                self.drop_token(value)
            else:
                self.clear()

        def up() -> None:
            self.clear()  # whatever happened while nobody listened
            self._listening = True

        def down() -> None:
            self._listening = False  # the cache is off until LISTEN is back
            self.clear()

        await listen_forever(AUTH_CHANNEL, on_payload, on_up=up, on_down=down, what="who-is-asking cache")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        self._listening = False
        self.clear()
        if task is not None and not task.done():
            try:
                current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                current = None
            if task.get_loop() is current:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def _is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


async def _notify(payload: str) -> None:
    """Tell the other processes (PostgreSQL NOTIFY, delivered at commit of the caller's transaction)."""
    if not _is_postgres():
        return
    await User.raw("SELECT pg_notify({}, {})", AUTH_CHANNEL, payload)


async def invalidate_user(user_id: int) -> None:
    """The account changed (password, sessions, active, role, districts): forget it in every cache."""
    for cache in list(_CACHES):
        cache.drop_user(user_id)
    await _notify(f"user:{user_id}")


async def invalidate_token(token_hash: str) -> None:
    for cache in list(_CACHES):
        cache.drop_token(token_hash)
    await _notify(f"token:{token_hash}")
