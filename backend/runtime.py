"""The app's services and the long-running parts started with it (the gate TCP server).

``AppServices`` holds every object with state that lives as long as the app: the login limiter, the face
workers, the upload-parsing workers and running imports, the SMS sender, the live feed and the live map
bridge, the terminal-change counter and the gate servers running now.  One is built per app — in the lifespan of ``backend.app.create_app``
(or handed in by a test), kept on ``app.state.services`` and given to handlers as ``Provide`` dependencies
(``SERVICE_DEPENDENCIES``); the gate server and the CLI get the same object.  Nothing of this lives in a
module global (``tests/unit/test_no_module_state.py``); docs/architecture.md, "Services and their lifetimes".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar.datastructures import State
from litestar.di import Provide

from backend.accounts.principals import PrincipalCache
from backend.accounts.services import LoginLimiter
from backend.accounts.shared_limits import LimiterLink
from backend.attendance.live import LiveFeed
from backend.bounded import PRELOAD, BoundedRunner
from backend.crew.services.imports import ImportTasks
from backend.devices.gate import AppGateServer, GateRegistry, start_gate_server
from backend.devices.services import TerminalChanges
from backend.face.service import FaceService
from backend.platform.uploader import Uploader
from backend.settings import Settings, get_settings
from backend.supervision.live_bridge import LiveBridge
from backend.supervision.services.live import FenceSource
from backend.supervision.sms import SmsSender, sender_from_env
from backend.upkeep.jobs import run_every as run_upkeep_every
from backend.wages.upload import PROVIDERS as UPLOAD_PROVIDERS

log = logging.getLogger("smz.runtime")


def login_limiter_from_settings(s: Settings) -> LoginLimiter:
    return LoginLimiter(s.login_max_failures, s.login_window_s, user_max_failures=s.login_user_max_failures,
                        address_max_failures=s.login_address_max_failures)


def runner_from_settings(s: Settings) -> BoundedRunner:
    return BoundedRunner(memory_bytes=s.parse_worker_memory_mb * 1024 * 1024, max_workers=s.parse_workers,
                         preload=PRELOAD)


@dataclass(frozen=True, slots=True)
class AppServices:
    """The stateful services of one app.  Build with :meth:`build` (any part can be given, e.g. a test's
    ``LoginLimiter`` with its own window); close with :meth:`aclose`.  Creating one starts no process:
    the parse workers start with the first upload, the face workers with the first face job."""

    login_limiter: LoginLimiter
    face: FaceService
    runner: BoundedRunner
    import_tasks: ImportTasks
    sms: SmsSender
    live_feed: LiveFeed
    live_bridge: LiveBridge
    terminal_changes: TerminalChanges
    gates: GateRegistry
    principals: PrincipalCache
    # Shares the login limiter's counts with the other server processes (PostgreSQL NOTIFY; issue 18).
    limiter_link: LimiterLink
    # The live map's fence source; None: ``backend.fences.services.map_features`` (tests give another).
    fence_source: FenceSource | None = None

    @classmethod
    def build(cls, settings: Settings | None = None, **given: Any) -> AppServices:
        """The app's services from the settings; ``given`` parts (by field name) are used as they are."""
        s = settings or get_settings()
        live_feed = given.get("live_feed") or LiveFeed()
        factories: dict[str, Callable[[], Any]] = {
            "login_limiter": lambda: login_limiter_from_settings(s),
            "face": FaceService,
            "runner": lambda: runner_from_settings(s),
            "import_tasks": ImportTasks,
            "sms": sender_from_env,
            "live_feed": lambda: live_feed,
            "live_bridge": lambda: LiveBridge(live_feed),
            "terminal_changes": TerminalChanges,
            "gates": GateRegistry,
            "principals": lambda: PrincipalCache(s.auth_cache_ttl_s),
        }
        parts = {name: given[name] if name in given else make() for name, make in factories.items()}
        parts["limiter_link"] = given.get("limiter_link") or LimiterLink(parts["login_limiter"])
        if "fence_source" in given:
            parts["fence_source"] = given["fence_source"]
        unknown = set(given) - set(parts)
        if unknown:
            raise TypeError(f"AppServices has no {', '.join(sorted(unknown))}")
        return cls(**parts)

    async def aclose(self) -> None:
        """Stop what runs: the live map's tasks, unfinished imports, the parse workers, the face workers.
        Idempotent."""
        try:
            await self.live_bridge.stop()
            await self.principals.aclose()
            await self.limiter_link.aclose()
            await self.import_tasks.cancel_all()
        finally:
            self.runner.close()
            await asyncio.to_thread(self.face.close)  # waits for running face jobs

    async def start_gate_server(self, port: int | None = None, host: str | None = None,
                                **options: Any) -> AppGateServer:
        """The gate TCP server working with these services (see ``backend.devices.gate.start_gate_server``)."""
        return await start_gate_server(port, host, registry=self.gates, terminal_changes=self.terminal_changes,
                                       live_feed=self.live_feed, face=self.face, **options)


def services_of(state: State) -> AppServices:
    """The app's services: built by the lifespan at start-up; an app served without its lifespan (the
    tests' in-process client) builds them on first use — still one per app, on its ``state``."""
    services = state.get("services")
    if not isinstance(services, AppServices):
        services = state["services"] = AppServices.build()
    return services


def _dependency(name: str) -> Provide:
    def provide(state: State) -> Any:
        return getattr(services_of(state), name)

    provide.__name__ = f"provide_{name}"
    return Provide(provide, sync_to_thread=False)


# Handler parameter → service.  A handler receives a service by naming the parameter (``live_map:
# LiveBridge``); nothing reaches for a global.
SERVICE_DEPENDENCIES: dict[str, Provide] = {
    "login_limiter": _dependency("login_limiter"),
    "face": _dependency("face"),
    "runner": _dependency("runner"),
    "import_tasks": _dependency("import_tasks"),
    "sms": _dependency("sms"),
    "live_feed": _dependency("live_feed"),
    "live_map": _dependency("live_bridge"),
    "terminal_changes": _dependency("terminal_changes"),
    "gates": _dependency("gates"),
    "fence_source": _dependency("fence_source"),
}


def gate_lifespan(port: int | None, host: str | None = None,
                  **options: Any) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Lifespan part that runs the gate TCP server (port 0: any free port) while the app runs, with the
    app's services.  The running server is ``app.state.gate_server`` (its ``port`` is the one bound).
    ``options``: ``start_gate_server`` keywords (``smz serve --workers``: ``reuse_port``, ``reset_online``)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        server = await services_of(app.state).start_gate_server(port, host, **options)
        app.state.gate_server = server
        try:
            yield
        finally:
            await server.close()

    return lifespan


def _background_lifespan(what: str, start: Callable[[Any, asyncio.Event], Awaitable[None]]
                         ) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Lifespan part that runs ``start(app, stop)`` as a task while the app runs; at shutdown ``stop`` is set and
    the task gets 10 s to finish before it is cancelled (an error it ends with is logged, never raised)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(start(app, stop))
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                log.exception("%s stopped with an error", what)

    return lifespan


def uploader_lifespan() -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Lifespan part that runs the platform uploader (issue 17) while the app runs (``smz serve``; off with
    SMZ_UPLOADER=0).  Several server processes may run it: one leads at a time (advisory lock / lease)."""

    async def start(app: Any, stop: asyncio.Event) -> None:
        uploader = app.state.uploader = Uploader(providers=UPLOAD_PROVIDERS)
        await uploader.run(stop)

    return _background_lifespan("uploader", start)


def upkeep_lifespan() -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Lifespan part that runs the device upkeep job every minute while the app runs (``smz serve``; issue 20): fault
    detection (seed 002 §五.1 实时诊断自动告警), escalation of repairs overdue at 24 h, late compliance acceptances.
    Several server processes may run it: a ticket opens once per terminal and kind (a UNIQUE key)."""

    async def start(app: Any, stop: asyncio.Event) -> None:
        await run_upkeep_every(stop, sms=services_of(app.state).sms)

    return _background_lifespan("upkeep job", start)
