"""Bounded parsing: run a pure function on an uploaded file in a separate process, with a wall-time cap
and a memory cap, so that a hostile file (a zip bomb, millions of empty rows, 100 k placemarks) costs
neither the event loop nor the server's memory.

* :func:`check_zip` — before anything unpacks a zip (.xlsx, .kmz): the declared unpacked size of every
  member, their total, their count and the compression ratio.  Python's ``zipfile`` never returns more
  than a member's declared size (it stops there and fails the CRC), so checking the declared sizes bounds
  what a later reader can unpack.
* :class:`BoundedRunner` — ``await runner.run(fn, *args, timeout_s=…, what_zh=…, what_en=…)`` runs
  ``fn(*args)`` in a worker process ("spawn" context, like the face pool in ``backend.face.service``).
  The worker sets ``RLIMIT_AS`` (address space) in its initialiser, so a parse that wants more memory gets
  a ``MemoryError`` instead of taking the server's; on timeout the worker is killed (SIGKILL), so its CPU
  and memory really are released, and a fresh one replaces it.  One warm worker is kept between jobs and
  recycled once its peak memory has grown.  Workers die with the server: ``PR_SET_PDEATHSIG`` (Linux) and
  a watchdog thread that notices a new parent pid.  The event loop only awaits.

``fn`` must be importable (module level) and take and return picklable values.  An ``AppError`` (or any
exception) raised by ``fn`` is raised again in the caller; a timeout, the memory cap or a dead worker
become an ``AppError`` with Chinese and English text naming the limit.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
import zipfile
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from backend.children import die_with_parent
from backend.errors import AppError, InvalidInput, PayloadTooLarge

log = logging.getLogger("smz.bounded")

T = TypeVar("T")

# Members smaller than this are not held to the compression ratio (tiny files compress absurdly well).
_RATIO_MIN_BYTES = 1024 * 1024


def _mb(n: int | float) -> str:
    return f"{n / 1024 / 1024:.0f}" if n >= 1024 * 1024 else f"{n / 1024 / 1024:.2f}"


# ============================================================================ zip members


def check_zip(zf: zipfile.ZipFile, *, max_total: int, max_member: int, max_ratio: float, max_members: int,
              what_zh: str, what_en: str) -> None:
    """Refuse an archive whose declared member sizes, count or compression ratio exceed the limits
    (``PayloadTooLarge``, 413, naming the limit).  Reads the central directory only."""
    infos = zf.infolist()
    if len(infos) > max_members:
        raise PayloadTooLarge(f"{what_zh}包含的文件过多（{len(infos)} 个，上限 {max_members} 个）",
                              f"The {what_en} holds too many members ({len(infos)}, limit {max_members})",
                              field="file", code="too_many_members")
    total = 0
    for info in infos:
        if info.file_size > max_member:
            raise PayloadTooLarge(
                f"{what_zh}中的 {info.filename[:80]} 解压后过大（{_mb(info.file_size)} MB，单个上限 {_mb(max_member)} MB）",
                f"{info.filename[:80]} in the {what_en} unpacks to {info.file_size} bytes (limit {max_member})",
                field="file", code="unpacked_too_large")
        if info.file_size > _RATIO_MIN_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise PayloadTooLarge(
                f"{what_zh}中的 {info.filename[:80]} 压缩比异常（{ratio:.0f} 倍，上限 {max_ratio:.0f} 倍），疑似压缩炸弹",
                f"{info.filename[:80]} in the {what_en} has a compression ratio of {ratio:.0f} "
                f"(limit {max_ratio:.0f}): refused as a possible zip bomb",
                field="file", code="compression_ratio")
        total += info.file_size
    if total > max_total:
        raise PayloadTooLarge(f"{what_zh}解压后过大（{_mb(total)} MB，上限 {_mb(max_total)} MB）",
                              f"The {what_en} unpacks to {total} bytes (limit {max_total})",
                              field="file", code="unpacked_too_large")


# ============================================================================ the worker (child side)


def _rss_peak_bytes() -> int:
    """This process image's peak resident memory.

    ``VmHWM`` of /proc/self/status, not ``getrusage().ru_maxrss``: Linux carries ``ru_maxrss`` across the
    fork + exec that starts a spawned worker, so a worker of a large server (face models loaded) would
    report the server's size and be recycled after every job."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:  # pragma: no cover - not Linux
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux
    except (ImportError, OSError):  # pragma: no cover
        return 0


def _portable_error(exc: BaseException) -> tuple[str, Any]:
    """An exception as something that survives pickling: the exception itself when it round-trips,
    else (class, args, attributes) rebuilt without ``__init__`` (AppError takes keyword arguments that
    ``Exception.__reduce__`` loses), else a RuntimeError with the traceback text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return "error", exc
    except Exception:
        pass
    try:
        state = (type(exc), exc.args, dict(vars(exc)))
        pickle.loads(pickle.dumps(state))
        return "rebuild", state
    except Exception:
        text = "".join(traceback.format_exception(exc))
        return "error", RuntimeError(f"{type(exc).__name__} in the worker: {exc}\n{text}")


def _child_main(conn: Connection, memory_bytes: int, parent_pid: int, deathsig: bool,
                preload: Sequence[str]) -> None:
    """Entry point of a worker process: serve jobs from ``conn`` until told to stop or the pipe closes."""
    die_with_parent(parent_pid, sig=signal.SIGKILL, deathsig=deathsig, interval_s=0.25)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which stops us
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # thread pools reserve address space per core
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # pragma: no cover - the job's own import reports it
            pass
    if memory_bytes > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, args = job
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            reply = ("memory", None)
        except BaseException as exc:  # everything goes back to the caller
            reply = _portable_error(exc)
        try:
            conn.send((*reply, _rss_peak_bytes()))
        except MemoryError:
            conn.send(("memory", None, _rss_peak_bytes()))
        except Exception as exc:  # an unpicklable result
            conn.send((*_portable_error(exc), _rss_peak_bytes()))
        del job, fn, args, reply


# ============================================================================ the pool (parent side)


class _Worker:
    def __init__(self, ctx: Any, memory_bytes: int, preload: Sequence[str]) -> None:
        parent, child = ctx.Pipe(duplex=True)
        deathsig = threading.current_thread() is threading.main_thread()  # PDEATHSIG follows the thread
        self.process = ctx.Process(target=_child_main, args=(child, memory_bytes, os.getpid(), deathsig,
                                                              tuple(preload)),
                                   name="smz-bounded-parse", daemon=True)
        self.process.start()
        child.close()
        self.conn: Connection = parent

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        """SIGKILL and reap.  The pipe is left open: a thread may still be polling it (it then sees EOF
        and closes it); closing it here could hand its fd number to an unrelated file."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)

    def stop(self) -> None:
        """Ask an idle worker to exit, then make sure it has."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=2)
        self.kill()
        self.conn.close()


class _Outcome:
    __slots__ = ("kind", "peak", "value")

    def __init__(self, kind: str, value: Any = None, peak: int = 0) -> None:
        self.kind, self.value, self.peak = kind, value, peak


def _exchange(worker: _Worker, fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> _Outcome:
    """Blocking: send one job and wait for its reply, at most ``timeout_s`` (runs in a thread)."""
    try:
        worker.conn.send((fn, args))
    except (OSError, ValueError):
        worker.conn.close()
        return _Outcome("dead_before")
    try:
        if not worker.conn.poll(timeout_s):
            worker.kill()
            worker.conn.close()
            return _Outcome("timeout")
        kind, value, peak = worker.conn.recv()
    except (EOFError, OSError):
        worker.conn.close()
        return _Outcome("dead")
    return _Outcome(kind, value, peak)


class BoundedRunner:
    """A small process pool for parsing untrusted files (see the module docstring).

    ``memory_bytes``: the worker's address-space cap (0 = none).  ``max_workers``: jobs running at once
    (more wait).  ``recycle_bytes``: a worker whose peak RSS passed this is replaced after its job.
    """

    def __init__(self, *, memory_bytes: int, max_workers: int = 2, keep_warm: bool = True,
                 recycle_bytes: int = 256 * 1024 * 1024, preload: Sequence[str] = (),
                 mp_context: str = "spawn") -> None:
        if mp_context == "fork":
            raise ValueError("use 'spawn' or 'forkserver' with asyncio")
        self.memory_bytes = memory_bytes
        self.max_workers = max_workers
        self.keep_warm = keep_warm
        self.recycle_bytes = recycle_bytes
        self.preload = tuple(preload)
        self._ctx = multiprocessing.get_context(mp_context)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy = 0
        self._closed = False

    # -- plumbing

    def _take(self) -> _Worker | None:
        """An idle live worker, a new one, or None when ``max_workers`` are busy."""
        with self._lock:
            if self._closed:
                raise RuntimeError("BoundedRunner is closed")
            if self._busy >= self.max_workers:
                return None
            self._busy += 1
            while self._idle:
                w = self._idle.pop()
                if w.alive():
                    return w
                w.kill()
        try:
            return _Worker(self._ctx, self.memory_bytes, self.preload)
        except BaseException:
            with self._lock:
                self._busy -= 1
            raise

    def _give_back(self, worker: _Worker | None, reusable: bool) -> None:
        with self._lock:
            self._busy -= 1
            keep = (reusable and worker is not None and not self._closed and not self._idle and worker.alive())
            if keep:
                self._idle.append(worker)  # type: ignore[arg-type]
        if worker is not None and not keep:
            worker.kill()
        if not keep and self.keep_warm:
            self.warm_up()

    def warm_up(self) -> None:
        """Start one idle worker now (cheap to call; does nothing when one is idle or all are busy)."""
        with self._lock:
            if self._closed or self._idle or self._busy >= self.max_workers:
                return
        try:
            w = _Worker(self._ctx, self.memory_bytes, self.preload)
        except OSError:  # pragma: no cover - out of processes: the next job tries again
            log.warning("could not start a parse worker", exc_info=True)
            return
        with self._lock:
            if self._closed or self._idle:
                extra: _Worker | None = w
            else:
                self._idle.append(w)
                extra = None
        if extra is not None:
            extra.stop()

    # -- API

    async def run(self, fn: Callable[..., T], *args: Any, timeout_s: float, what_zh: str, what_en: str) -> T:
        """``fn(*args)`` in a worker, at most ``timeout_s`` seconds and ``memory_bytes`` of address space."""
        for attempt in range(2):
            worker = self._take()
            while worker is None:  # every worker busy: wait without holding a thread
                await asyncio.sleep(0.05)
                worker = self._take()
            reusable = False
            try:
                outcome = await asyncio.to_thread(_exchange, worker, fn, args, timeout_s)
                reusable = outcome.kind in ("ok", "error", "rebuild") and outcome.peak < self.recycle_bytes
            finally:
                # cancelled, timed out, crashed or grown: kill it (releases its CPU and memory at once)
                self._give_back(worker, reusable)
            if outcome.kind == "dead_before" and attempt == 0:
                continue  # an idle worker that had died: try once more with a fresh one
            return self._result(outcome, timeout_s, what_zh, what_en)
        raise AssertionError("unreachable")

    def _result(self, outcome: _Outcome, timeout_s: float, what_zh: str, what_en: str) -> Any:
        if outcome.kind == "ok":
            return outcome.value
        if outcome.kind == "error":
            raise outcome.value
        if outcome.kind == "rebuild":
            cls, args, attrs = outcome.value
            exc = cls.__new__(cls)
            exc.args = args
            exc.__dict__.update(attrs)
            raise exc
        if outcome.kind == "timeout":
            raise PayloadTooLarge(
                f"{what_zh}处理超时（上限 {timeout_s:g} 秒）：文件过于复杂，请拆分或简化后重试",
                f"Processing the {what_en} took longer than {timeout_s:g} s: the file is too complex; "
                "split or simplify it", field="file", code="parse_timeout")
        if outcome.kind == "memory":
            raise PayloadTooLarge(
                f"{what_zh}处理所需内存超过上限（{_mb(self.memory_bytes)} MB）：文件过大或过于复杂，请拆分后重试",
                f"Processing the {what_en} needs more memory than the limit ({_mb(self.memory_bytes)} MB); "
                "split the file", field="file", code="parse_memory")
        log.warning("parse worker died while processing a %s", what_en)
        raise InvalidInput(f"无法处理该{what_zh}（处理进程异常退出），请检查文件后重试",
                           f"The {what_en} could not be processed (the worker process died)",
                           field="file", code="parse_failed")

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def busy(self) -> int:
        """Jobs running now."""
        return self._busy

    @property
    def idle_pids(self) -> list[int]:
        """Process ids of the warm workers."""
        with self._lock:
            return [w.process.pid for w in self._idle if w.process.pid is not None]

    def close(self) -> None:
        """Stop the idle workers; busy ones are killed when their job returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for w in idle:
            w.stop()


# What the app's workers (``backend.runtime.AppServices.runner``) import before taking jobs (both parsers: the first import costs ~0.5 s).
PRELOAD: tuple[str, ...] = ("backend.crew.xlsx", "backend.fences.upload")


__all__ = ["PRELOAD", "AppError", "BoundedRunner", "check_zip"]
