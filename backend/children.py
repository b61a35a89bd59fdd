"""Child processes that end with their parent.

The face pool and the upload parsers run in spawned processes.  A ``kill -9`` of the server runs no
clean-up, so a pool never shuts its workers down: each would stay behind (160–180 MB for a face worker).
:func:`die_with_parent`, called first in a child, prevents that."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_WATCH_INTERVAL_S = 1.0  # how soon a child notices its parent is gone where the kernel does not tell it


def _exit_now() -> None:
    os._exit(0)  # no clean-up: whatever this child served is gone with its parent


def _watch_parent(parent_pid: int, interval_s: float) -> None:
    while True:
        time.sleep(interval_s)
        if os.getppid() != parent_pid:
            _exit_now()


def die_with_parent(parent_pid: int | None, *, sig: int = signal.SIGTERM, deathsig: bool = True,
                    interval_s: float = PARENT_WATCH_INTERVAL_S) -> None:
    """Make this process exit when the process that started it dies, even by ``kill -9``.

    On Linux the kernel sends ``sig`` when the parent dies (``prctl(PR_SET_PDEATHSIG)``; strictly, when the
    parent's *thread* that started the child ends — callers start children from threads that live as long as
    the server, or pass ``deathsig=False``).  Everywhere, and for the race where the parent died before
    ``prctl`` ran, a daemon thread exits when ``os.getppid()`` changes (an orphan is re-parented to init or a
    subreaper).  ``parent_pid``: the owner's pid, passed from it (``None``: the current parent)."""
    if parent_pid is None:
        parent_pid = os.getppid()
    if deathsig and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl: the thread still watches
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        _exit_now()
    threading.Thread(target=_watch_parent, args=(parent_pid, interval_s), name="parent-watch", daemon=True).start()
