"""The uploader (issue 17): works the outbox (``upload_task``) against the provincial/national worker platform.

One leader at a time (PostgreSQL: an advisory lock held on a connection of its own; SQLite: a lease row with an
expiry, renewed while it runs).  For each due task:

1. **Dependencies** (seed 003 order): a team after its unit is 上传成功, a worker after its team, an entry after
   the worker, attendance after the entry, a contract after the worker.  A parent that is not 上传成功 holds the
   task in ``waiting`` (entity state 等待上级, reason "等待班组「…」上传成功"); a parent that never got a task gets one;
   the parent's success wakes its children.  Tasks of one entity go one at a time.
2. **Add or update**: once the entity was 上传成功 the next change goes up as ``*.Update`` (add-only kinds —
   entry/exit, attendance, contracts — are not sent twice); before that as ``*.Add``.
3. **Crash safety**: the task is marked ``sending`` (committed) before the request goes out.  A task found in
   ``sending`` — after a crash, a timeout, a dropped reply, a 5xx — asks the platform first (``client.lookup``
   with the natural key) and resends only when the platform does not have the entity: nothing is counted twice.
4. **Outcomes**: accepted → ``polling`` the serial code every ``poll_interval_s`` until success / failure, or
   上传失败 "平台长时间未返回处理结果" after ``give_up_s``; rejected → 上传失败 with the platform's reason, no retry
   (a person fixes the data; the edit or 重新上传 makes a new task); retryable → exponential backoff with jitter,
   上传失败 after ``max_attempts``.
5. **Politeness**: per platform (``base_url``) at most ``concurrency`` requests at once and ``rate_per_s``
   requests a second; a **circuit breaker** opens when the platform has failed for ``circuit_after_s`` without
   one good answer (the district sees "省平台不可用 since …"), lets one probe through every ``circuit_probe_s``
   and closes at the first good answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from piccolo.engine.postgres import PostgresEngine

from backend.db import engine, write_transaction
from backend.errors import InvalidInput, NotFound
from backend.outbox import TaskState, enqueue
from backend.platform import adapter, services
from backend.platform.client import PlatformClient
from backend.platform.tables import UploaderLease, UploadTask
from backend.platform.wire import EntityKind, PlatformCredentials, QueryOutcome, SubmitOutcome, WireRequest
from backend.settings import Settings, get_settings
from backend.vocabulary import UploadState

log = logging.getLogger("smz.uploader")

GAVE_UP = "平台长时间未返回处理结果"
# New tasks are started parents first (seed 003 order): a child sent before its parent only waits.
DISPATCH_ORDER: tuple[str, ...] = ("project", "project_unit", "team", "worker", "worker_entry", "contract",
                                   "worker_exit", "payroll", "attendance")
LEASE_NAME = "uploader"
ADVISORY_KEY = 0x534D5A5550  # "SMZUP": the PostgreSQL advisory lock of the uploader leader


@dataclass(frozen=True)
class EntityProvider:
    """A kind whose rows live in a layer above platform (payroll: ``backend.wages.upload``): where its entity
    belongs and what it waits for (``info``), and its row for the adapter (``load``).  The entry layer passes
    them to :class:`Uploader`."""

    info: Callable[[int], Awaitable[services.EntityInfo | None]]
    load: adapter.RowLoader


@dataclass(frozen=True)
class UploaderConfig:
    concurrency: int = 8  # requests at once per platform
    rate_per_s: float = 50.0  # requests a second per platform
    poll_interval_s: float = 5.0  # AsyncHandleResult.Query interval
    give_up_s: float = 6 * 3600.0  # an accepted write without a result after this → 上传失败
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    max_attempts: int = 30  # retryable failures of one task before 上传失败
    wait_recheck_s: float = 120.0  # a waiting task re-checks its parent at least this often
    circuit_after_s: float = 120.0  # failing this long without a good answer → circuit open
    circuit_probe_s: float = 30.0
    timeout_s: float = 15.0  # one HTTP call
    batch: int = 200
    idle_s: float = 1.0
    lease_s: float = 30.0  # SQLite leader lease
    no_credentials_recheck_s: float = 300.0

    @classmethod
    def from_settings(cls, s: Settings | None = None, **overrides: Any) -> UploaderConfig:
        s = s or get_settings()
        return cls(**{**{
            "concurrency": s.upload_concurrency, "rate_per_s": s.upload_rate_per_s,
            "poll_interval_s": s.upload_poll_interval_s, "give_up_s": s.upload_give_up_s,
            "circuit_after_s": s.upload_circuit_after_s, "lease_s": s.upload_lease_s,
            "max_attempts": s.upload_max_attempts, "backoff_base_s": s.upload_backoff_base_s,
            "timeout_s": s.upload_timeout_s,
        }, **overrides})


def backoff_s(attempts: int, config: UploaderConfig, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0.5, 1) × min(max, base × 2^(attempts−1))."""
    cap = min(config.backoff_max_s, config.backoff_base_s * (2 ** max(0, attempts - 1)))
    return cap * (0.5 + 0.5 * (rng or random).random())


# --- Per-platform politeness: concurrency, rate, circuit breaker ---------------------------------------------------


@dataclass
class PlatformGate:
    """The uploader's view of one platform endpoint."""

    base_url: str
    config: UploaderConfig
    sem: asyncio.Semaphore = field(init=False)
    next_slot: float = 0.0
    failing_since: float | None = None  # monotonic: first failure since the last good answer
    failing_since_wall: datetime | None = None
    open: bool = False
    probe_at: float = 0.0
    last_error: str | None = None

    def __post_init__(self) -> None:
        self.sem = asyncio.Semaphore(self.config.concurrency)

    async def slot(self) -> None:
        """Wait for the next request slot (``rate_per_s``)."""
        if self.config.rate_per_s <= 0:
            return
        now = time.monotonic()
        at = max(now, self.next_slot)
        self.next_slot = at + 1.0 / self.config.rate_per_s
        if at > now:
            await asyncio.sleep(at - now)

    def may_send(self) -> float | None:
        """None when a request may go; else the seconds until the next probe."""
        if not self.open:
            return None
        now = time.monotonic()
        if now >= self.probe_at:
            self.probe_at = now + self.config.circuit_probe_s  # one probe per interval
            return None
        return self.probe_at - now

    def good(self) -> bool:
        """A good answer; True when this closed an open circuit."""
        was_open = self.open
        self.failing_since = self.failing_since_wall = None
        self.open = False
        self.last_error = None
        return was_open

    def bad(self, reason: str | None) -> bool:
        """Transport trouble; True when this opened the circuit."""
        now = time.monotonic()
        self.last_error = reason
        if self.failing_since is None:
            self.failing_since, self.failing_since_wall = now, datetime.now(UTC)
            return False
        if not self.open and now - self.failing_since >= self.config.circuit_after_s:
            self.open = True
            self.probe_at = now + self.config.circuit_probe_s
            return True
        return False


# --- Leadership ----------------------------------------------------------------------------------------------------


class Leadership:
    """One uploader leader among processes: a PostgreSQL advisory lock or, on SQLite, a lease row."""

    def __init__(self, lease_s: float, holder: str | None = None) -> None:
        self.lease_s = lease_s
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._pg: Any = None  # the asyncpg connection that holds the advisory lock

    async def acquire(self) -> bool:
        eng = engine()
        if isinstance(eng, PostgresEngine):
            if self._pg is not None and not self._pg.is_closed():
                return True
            import asyncpg

            cfg = eng.config
            conn = await asyncpg.connect(host=cfg.get("host"), port=cfg.get("port"), user=cfg.get("user"),
                                         password=cfg.get("password") or None, database=cfg.get("database"))
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_KEY):
                self._pg = conn
                return True
            await conn.close()
            return False
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.lease_s)
        async with write_transaction():
            row = await UploaderLease.select().where(UploaderLease.name == LEASE_NAME).first()
            if row is None:
                await UploaderLease(name=LEASE_NAME, holder=self.holder, expires_at=until).save()
                return True
            if row["holder"] == self.holder or row["expires_at"] < now:
                await UploaderLease.update({UploaderLease.holder: self.holder, UploaderLease.expires_at: until}
                                           ).where(UploaderLease.name == LEASE_NAME)
                return True
        return False

    async def renew(self) -> bool:
        if self._pg is not None:
            return not self._pg.is_closed()
        return await self.acquire()

    async def release(self) -> None:
        if self._pg is not None:
            with contextlib.suppress(Exception):
                await self._pg.close()  # closing the session releases the advisory lock
            self._pg = None
            return
        with contextlib.suppress(Exception):
            await UploaderLease.delete().where((UploaderLease.name == LEASE_NAME)
                                               & (UploaderLease.holder == self.holder))


# --- The uploader --------------------------------------------------------------------------------------------------


class Uploader:
    """Works the outbox.  ``run(stop)`` as the long-running leader loop; ``run_once()`` for one pass (tests)."""

    def __init__(self, config: UploaderConfig | None = None, *, session: aiohttp.ClientSession | None = None,
                 leadership: Leadership | None = None, providers: dict[str, EntityProvider] | None = None) -> None:
        self.config = config or UploaderConfig.from_settings()
        self.providers = dict(providers or {})
        self._loaders = {k: p.load for k, p in self.providers.items()}
        self._session = session
        self._own_session = session is None
        self.gates: dict[str, PlatformGate] = {}
        self.inflight: set[int] = set()
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._platforms: dict[int, tuple[float, services.ProjectPlatform | None]] = {}
        self.leadership = leadership or Leadership(self.config.lease_s)
        self.processed = 0
        self._db_lock = asyncio.Lock()
        self._writes: list[tuple[Callable[[], Awaitable[None]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._known: set[tuple[str, int]] = set()  # entities the platform has (ever 上传成功): never forgotten
        self._sqlite = not isinstance(engine(), PostgresEngine)

    # -- plumbing --
    @contextlib.asynccontextmanager
    async def tx(self) -> AsyncIterator[None]:
        """A write transaction; on SQLite the uploader's own writers take turns in-process first (dozens of
        coroutines waiting on SQLite's busy handler cost seconds; an asyncio lock costs nothing)."""
        if self._sqlite:
            async with self._db_lock, write_transaction():
                yield
        else:
            async with write_transaction():
                yield

    async def _set(self, task_id: int, **values: Any) -> None:
        async def _write2() -> None:
            await _update(task_id, **values)

        await self.write(_write2)

    async def write(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn`` (database writes) in a write transaction shared with the other writes queued meanwhile; returns
        after the commit.  One commit for many tasks: SQLite's commit (an fsync) is what limits the uploader."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.append((fn, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        while self._writes:
            await asyncio.sleep(0)  # let the tasks that are ready queue their writes too
            batch, self._writes = self._writes[:500], self._writes[500:]
            try:
                async with self.tx():
                    for fn, _ in batch:
                        await fn()
            except Exception:  # one bad write must not take the others with it: one transaction each
                for fn, fut in batch:
                    try:
                        async with self.tx():
                            await fn()
                        fut.set_result(None)
                    except Exception as exc:
                        fut.set_exception(exc)
                continue
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            self._own_session = True
        return self._session

    async def aclose(self) -> None:
        for t in list(self._running):
            t.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._own_session and self._session is not None:
            await self._session.close()
        await self.leadership.release()

    def gate(self, base_url: str) -> PlatformGate:
        g = self.gates.get(base_url)
        if g is None:
            g = self.gates[base_url] = PlatformGate(base_url, self.config)
        return g

    async def platform(self, project_id: int) -> services.ProjectPlatform | None:
        now = time.monotonic()
        cached = self._platforms.get(project_id)
        if cached is not None and now - cached[0] < 30:
            return cached[1]
        found = await services.platform_for_project(project_id)
        self._platforms[project_id] = (now, found)
        return found

    # -- the loop --
    async def run(self, stop: asyncio.Event) -> None:
        """Lead (when the lock/lease is ours) and work the outbox until ``stop`` is set."""
        leader = False
        renew_at = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if not leader or now >= renew_at:
                    try:
                        was = leader
                        leader = await (self.leadership.renew() if leader else self.leadership.acquire())
                    except Exception:  # the database is away: try again later
                        log.exception("uploader leadership check failed")
                        leader = False
                    renew_at = now + max(0.5, self.config.lease_s / 3)
                    if leader and not was:
                        log.info("uploader: leader (%s)", self.leadership.holder)
                        await self.recover()
                if not leader:
                    await _wait(stop, max(0.5, self.config.lease_s / 3))
                    continue
                started = await self.dispatch()
                if not started:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.config.idle_s)
                elif len(self._running) >= self.config.batch:
                    await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self.aclose()

    async def recover(self) -> None:
        """At the start of a leadership: tasks left ``sending`` by a crashed leader are due now (they are
        reconciled through a lookup before anything is resent)."""
        async with self.tx():
            await UploadTask.update({UploadTask.next_attempt_at: datetime.now(UTC)}).where(
                UploadTask.state == TaskState.sending)

    async def dispatch(self) -> int:
        """Start the due tasks that are not running yet; returns how many started.  Tasks under way (polling,
        reconciling) first, then the new ones parents first (``DISPATCH_ORDER``): a backlog of attendance never
        starves the project it depends on."""
        room = self.config.batch * 2 - len(self._running)
        if room <= 0:
            return 0
        now = datetime.now(UTC)
        started = 0
        groups: list[Any] = [UploadTask.state.is_in([TaskState.polling, TaskState.sending])]
        groups += [UploadTask.state.is_in([TaskState.pending, TaskState.waiting]) & (UploadTask.kind == k)
                   for k in DISPATCH_ORDER]
        for where in groups:
            if started >= room:
                break
            rows = await UploadTask.select().where(where & (UploadTask.next_attempt_at <= now)).order_by(
                UploadTask.next_attempt_at).order_by(UploadTask.id).limit(room - started + len(self.inflight))
            for row in rows:
                if row["id"] in self.inflight or started >= room:
                    continue
                self.inflight.add(row["id"])
                task = asyncio.create_task(self._guarded(row))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                started += 1
        return started

    async def _guarded(self, row: dict[str, Any]) -> None:
        try:
            await self.process(row)
            self.processed += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never a task lost in a loop of exceptions: note it, try later
            log.exception("upload task %s (%s#%s) failed unexpectedly", row["id"], row["kind"], row["entity_id"])
            with contextlib.suppress(Exception):
                await self._set(row["id"], next_attempt_at=_later(self.config.backoff_max_s),
                              last_reason=f"内部错误：{type(exc).__name__}")
        finally:
            self.inflight.discard(row["id"])
            self._wake.set()

    async def run_once(self) -> int:
        """One pass over the due tasks, waiting for them (tests, ``smz uploader --once``)."""
        n = await self.dispatch()
        if self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)
        return n

    async def drain(self, timeout_s: float = 60.0, *, until: Any = None) -> None:
        """Work until no task is open (or ``until()`` is true), sleeping to the next due one (tests, the CLI
        ``--drain``).  Raises TimeoutError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if until is not None and await until():
                return
            if until is None and await services.open_task_count() == 0:
                return
            if not await self.run_once():
                await asyncio.sleep(min(0.1, self.config.idle_s))
        raise TimeoutError("upload outbox not drained in time")

    # -- one task --
    async def process(self, row: dict[str, Any]) -> None:
        kind: EntityKind = row["kind"]
        entity_id: int = row["entity_id"]
        if row["state"] == TaskState.polling and row["project_id"] is not None:  # nothing to look up to poll
            info: services.EntityInfo | None = services.EntityInfo(row["project_id"], ())
        elif kind in self.providers:
            info = await self.providers[kind].info(entity_id)
        else:
            info = await services.entity_info(kind, entity_id)
        if info is None:
            await self._set(row["id"], open_key=None, state=TaskState.cancelled, last_reason="该记录已删除，无需上传")
            return
        plat = await self.platform(info.project_id)
        if plat is None:
            await self._set(row["id"], next_attempt_at=_later(self.config.no_credentials_recheck_s),
                          last_reason="未配置省平台账号")
            return
        gate = self.gate(plat.creds.base_url)
        wait = gate.may_send()
        if wait is not None:
            await self._set(row["id"], next_attempt_at=_later(wait), last_reason=f"省平台不可用：{gate.last_error or ''}")
            return
        ctx = _Ctx(row=row, kind=kind, entity_id=entity_id, project_id=info.project_id,
                   district_id=plat.district_id, creds=plat.creds, gate=gate)
        if row["state"] == TaskState.polling:
            await self._poll(ctx)
            return
        if row["state"] in (TaskState.pending, TaskState.waiting):
            if await self._blocked(ctx, info):
                return
        state = await services.get_state(kind, entity_id)
        op = "update" if state and state["ever_succeeded"] else "add"
        if op == "update" and adapter.METHODS[kind][1] is None:
            await self._set(row["id"], open_key=None, state=TaskState.done, last_reason="平台已有该记录（只可新增）")
            await services.set_state(kind, entity_id, UploadState.succeeded, reason=None, project_id=info.project_id,
                                     district_id=plat.district_id)
            return
        try:
            req = await adapter.load_request(kind, entity_id, op, loaders=self._loaders)  # type: ignore[arg-type]
        except NotFound:
            await self._set(row["id"], open_key=None, state=TaskState.cancelled, last_reason="该记录已删除，无需上传")
            return
        except InvalidInput as exc:
            if exc.code == "platform_rejected_punch":
                await self._set(row["id"], open_key=None, state=TaskState.cancelled, last_reason=exc.zh)
                return
            await self._failed(ctx, exc.zh)
            return
        if row["state"] == TaskState.sending and op == "add":
            # the last send got no definite answer: does the platform have it already?
            if not await self._reconcile(ctx, req):
                return
        await self._submit(ctx, req)

    async def _blocked(self, ctx: _Ctx, info: services.EntityInfo) -> bool:
        """Hold the task while a parent is not 上传成功 or another task of the entity is under way."""
        busy = await UploadTask.exists().where(
            (UploadTask.kind == ctx.kind) & (UploadTask.entity_id == ctx.entity_id) & (UploadTask.id != ctx.row["id"])
            & UploadTask.state.is_in([TaskState.sending, TaskState.polling]))
        if busy:
            await self._set(ctx.row["id"], next_attempt_at=_later(self.config.poll_interval_s))
            return True
        for pkind, pid in info.parents:
            if (pkind, pid) in self._known:
                continue
            st = await services.get_state(pkind, pid)
            if st is not None and st["ever_succeeded"]:  # the platform has it (a later failed update aside)
                self._known.add((pkind, pid))
                continue
            if st is None or st["state"] == UploadState.not_uploaded:
                has_task = await UploadTask.exists().where(
                    (UploadTask.kind == pkind) & (UploadTask.entity_id == pid)
                    & UploadTask.state.is_in([TaskState.pending, TaskState.waiting, TaskState.sending,
                                              TaskState.polling]))
                if not has_task:  # data from before the outbox, or a parent never enqueued: send it first
                    async def _write3(pkind: EntityKind = pkind, pid: int = pid) -> None:
                        await enqueue(pkind, pid, "add", project_id=info.project_id)

                    await self.write(_write3)
                    self._wake.set()
            parent_failed = st is not None and st["state"] == UploadState.failed
            row = ctx.row
            if (row["state"] == TaskState.waiting and row["parent_kind"] == pkind and row["parent_id"] == pid
                    and not parent_failed and not (row["last_reason"] or "").endswith("）")):
                await self._set(row["id"], next_attempt_at=_later(self.config.wait_recheck_s))  # still waiting
                return True
            name = (await services.entity_names(pkind, [pid])).get(pid, f"#{pid}")
            why = f"等待{adapter.KIND_ZH[pkind]}「{name}」上传成功"
            if parent_failed:
                why += f"（上级上传失败：{st['reason'] or '—'}）"  # type: ignore[index]

            async def _write4(pkind: str = pkind, pid: int = pid, why: str = why) -> None:
                await _update(ctx.row["id"], state=TaskState.waiting, parent_kind=pkind, parent_id=pid,
                              next_attempt_at=_later(self.config.wait_recheck_s), last_reason=why)
                await services.set_state(ctx.kind, ctx.entity_id, UploadState.waiting_parent, reason=why,
                                         project_id=ctx.project_id, district_id=ctx.district_id)

            await self.write(_write4)
            if (pkind, pid) in self._known:  # the parent succeeded meanwhile (its wake-up came before our write)
                await self._set(ctx.row["id"], next_attempt_at=datetime.now(UTC))
            return True
        return False

    async def _reconcile(self, ctx: _Ctx, req: WireRequest) -> bool:
        """After an uncertain send: True = send (the platform does not have it); False = handled here."""
        client = PlatformClient(ctx.creds, session=await self.session(), timeout_s=self.config.timeout_s)
        async with ctx.gate.sem:
            await ctx.gate.slot()
            found: QueryOutcome = await client.lookup(ctx.kind, adapter.natural_key(ctx.kind, req))
        if found.kind == "retryable":
            ctx.row = {**ctx.row, "attempts": ctx.row["attempts"] + 1}  # a failed lookup counts as an attempt
            await self._transport_trouble(ctx, found.reason)
            return False
        await self._health_good(ctx.gate)
        if found.kind == "success":
            await self._succeeded(ctx, found.platform_id)
            return False
        if found.kind == "processing":
            if self._gave_up(ctx.row):
                await self._failed(ctx, GAVE_UP)
            else:
                await self._set(ctx.row["id"], next_attempt_at=_later(self.config.poll_interval_s),
                              last_reason="平台处理中（按查询结果）")
            return False
        return True  # unknown: not there

    async def _submit(self, ctx: _Ctx, req: WireRequest) -> None:
        now = datetime.now(UTC)
        async def _write5() -> None:
            await _update(ctx.row["id"], state=TaskState.sending, open_key=None, attempts=ctx.row["attempts"] + 1,
                          sent_at=ctx.row["sent_at"] or now, next_attempt_at=_later(self.config.timeout_s * 2 + 5),
                          parent_kind=None, parent_id=None)
            await services.set_state(ctx.kind, ctx.entity_id, UploadState.uploading, reason=None,
                                     project_id=ctx.project_id, district_id=ctx.district_id)

        await self.write(_write5)
        ctx.row = {**ctx.row, "state": TaskState.sending, "attempts": ctx.row["attempts"] + 1,
                   "sent_at": ctx.row["sent_at"] or now}
        client = PlatformClient(ctx.creds, session=await self.session(), timeout_s=self.config.timeout_s)
        async with ctx.gate.sem:
            await ctx.gate.slot()
            out: SubmitOutcome = await client.submit(req)
        if out.kind == "retryable":
            await self._transport_trouble(ctx, out.reason)
            return
        await self._health_good(ctx.gate)
        if out.kind == "rejected":
            await self._failed(ctx, out.reason or "平台拒绝")
            return
        if out.serial is None:
            await self._succeeded(ctx, None)
            return
        async def _write6() -> None:
            await _update(ctx.row["id"], state=TaskState.polling, serial=out.serial,
                          next_attempt_at=_later(self.config.poll_interval_s), last_reason=None)
            await services.set_state(ctx.kind, ctx.entity_id, UploadState.processing, reason=None,
                                     project_id=ctx.project_id, district_id=ctx.district_id)

        await self.write(_write6)

    async def _poll(self, ctx: _Ctx) -> None:
        client = PlatformClient(ctx.creds, session=await self.session(), timeout_s=self.config.timeout_s)
        async with ctx.gate.sem:
            await ctx.gate.slot()
            out = await client.query(ctx.row["serial"])
        if out.kind == "retryable":
            await ctx_bad(self, ctx, out.reason)
            if self._gave_up(ctx.row):
                await self._failed(ctx, GAVE_UP)
            else:
                await self._set(ctx.row["id"], next_attempt_at=_later(self.config.poll_interval_s),
                              last_reason=out.reason)
            return
        await self._health_good(ctx.gate)
        if out.kind == "success":
            await self._succeeded(ctx, out.platform_id)
        elif out.kind == "failure":
            await self._failed(ctx, out.reason or "平台处理失败")
        elif out.kind == "unknown":  # the platform forgot the serial: ask for the entity before resending
            await self._set(ctx.row["id"], state=TaskState.sending, next_attempt_at=datetime.now(UTC),
                          last_reason=out.reason)
        elif self._gave_up(ctx.row):
            await self._failed(ctx, GAVE_UP)
        else:
            await self._set(ctx.row["id"], next_attempt_at=_later(self.config.poll_interval_s))

    def _gave_up(self, row: dict[str, Any]) -> bool:
        sent = row.get("sent_at")
        return sent is not None and (datetime.now(UTC) - sent).total_seconds() > self.config.give_up_s

    async def _transport_trouble(self, ctx: _Ctx, reason: str | None) -> None:
        await ctx_bad(self, ctx, reason)
        attempts = ctx.row["attempts"]
        if attempts >= self.config.max_attempts:
            await self._failed(ctx, f"多次重试仍失败：{reason or '平台无应答'}")
            return
        async def _write7() -> None:
            await _update(ctx.row["id"], state=TaskState.sending, attempts=attempts,
                          next_attempt_at=_later(backoff_s(attempts, self.config)), last_reason=reason)
            await services.set_state(ctx.kind, ctx.entity_id, UploadState.uploading, reason=f"重试中：{reason}",
                                     project_id=ctx.project_id, district_id=ctx.district_id)

        await self.write(_write7)

    async def _health_good(self, gate: PlatformGate) -> None:
        if gate.good():
            log.info("platform %s answers again: circuit closed", gate.base_url)
            async def _write8() -> None:
                await services.record_health(gate.base_url, down_since=None, error=None)

            await self.write(_write8)

    async def _succeeded(self, ctx: _Ctx, platform_id: str | None) -> None:
        async def _write9() -> None:
            await _update(ctx.row["id"], state=TaskState.done, last_reason=None)
            await services.set_state(ctx.kind, ctx.entity_id, UploadState.succeeded, reason=None,
                                     platform_id=platform_id, project_id=ctx.project_id, district_id=ctx.district_id)
            await _wake_children(ctx.kind, ctx.entity_id)

        await self.write(_write9)
        self._known.add((ctx.kind, ctx.entity_id))
        self._wake.set()

    async def _failed(self, ctx: _Ctx, reason: str) -> None:
        async def _write10() -> None:
            await _update(ctx.row["id"], state=TaskState.failed, open_key=None, last_reason=reason)
            await services.set_state(ctx.kind, ctx.entity_id, UploadState.failed, reason=reason,
                                     project_id=ctx.project_id, district_id=ctx.district_id)
            await _wake_children(ctx.kind, ctx.entity_id)  # they show "等待 …（上级上传失败）"

        await self.write(_write10)
        self._wake.set()


async def ctx_bad(uploader: Uploader, ctx: _Ctx, reason: str | None) -> None:
    """Transport trouble with the platform: count it towards the circuit breaker (and show it when it opens)."""
    if ctx.gate.bad(reason):
        log.warning("platform %s unavailable since %s: circuit open (%s)", ctx.gate.base_url,
                    ctx.gate.failing_since_wall, reason)
        async def _write11() -> None:
            await services.record_health(ctx.gate.base_url, down_since=ctx.gate.failing_since_wall, error=reason)

        await uploader.write(_write11)


@dataclass
class _Ctx:
    row: dict[str, Any]
    kind: EntityKind
    entity_id: int
    project_id: int
    district_id: int
    creds: PlatformCredentials
    gate: PlatformGate


def _later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def _update(task_id: int, **values: Any) -> None:
    values["updated_at"] = datetime.now(UTC)
    await UploadTask.update({getattr(UploadTask, k): v for k, v in values.items()}).where(UploadTask.id == task_id)


async def _wake_children(kind: str, entity_id: int) -> None:
    await UploadTask.update({UploadTask.next_attempt_at: datetime.now(UTC)}).where(
        (UploadTask.state == TaskState.waiting) & (UploadTask.parent_kind == kind)
        & (UploadTask.parent_id == entity_id))


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
