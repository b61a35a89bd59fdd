"""Failures per key in a sliding window, in process memory (one server process per database): the
web login limiter (``backend.accounts.services.LoginLimiter``) and the gate login limiter
(``backend.devices.terminals``) count with it."""

from __future__ import annotations

import time
from collections import deque

__all__ = ["FailureWindow"]


class FailureWindow:
    """Failure times per key within the last ``window_s`` seconds.  Bounded: above ``MAX_KEYS`` keys,
    those with no failure inside the window are swept, then the oldest keys are forgotten."""

    MAX_KEYS = 100_000

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        q = self._fails.get(key)
        if q is None:
            return None
        while q and now - q[0] > self.window_s:
            q.popleft()
        if not q:
            del self._fails[key]
            return None
        return q

    def retry_after(self, key: str, limit: int) -> int:
        """Seconds until ``key`` is below ``limit`` failures again (0: it is now)."""
        now = time.monotonic()
        q = self._recent(key, now)
        if q is None or len(q) < limit:
            return 0
        return int(self.window_s - (now - q[-limit])) + 1

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            q = self._recent(key, now)
            if q is None:
                if len(self._fails) >= self.MAX_KEYS:
                    self._make_room(now)
                q = self._fails[key] = deque()
            q.append(now)

    def clear(self, *keys: str) -> None:
        for key in keys:
            self._fails.pop(key, None)

    def _make_room(self, now: float) -> None:
        for key in [k for k, q in self._fails.items() if not q or now - q[-1] > self.window_s]:
            del self._fails[key]
        if len(self._fails) >= self.MAX_KEYS:
            for key in list(self._fails)[: max(1, self.MAX_KEYS // 10)]:
                del self._fails[key]
