"""The gate TCP server of the app: :func:`start_gate_server` starts it with the product (``smz serve``)
or alone (``smz gate-server``) for one terminal protocol (default ``jiangmen-v1``, seed 001 附件3
"江门市实名设备直连对接标准 V1.0").

The parts it is made of:

- ``backend.devices.terminals`` — terminal lifecycle, protocol-agnostic: login checks (vendor code
  hash, failure limits, source networks, the terminal's protocol), online/offline marks, the terminal
  cache, alarms (docs/security.md §3);
- ``backend.devices.domain`` — the domain calls a terminal may make (whitelist, person, enrolment
  through ``backend.crew.enrolment``, punch through ``attendance.record_punch``), plain values in
  and out;
- ``backend.devices.protocols`` — the registry protocol name → adapter; ``protocols.jiangmen`` is the
  adapter of seed 001, implementing ``device_tcp.backend.GateBackend`` over the two above.

docs/gate.md, "Adding a second terminal protocol", says what another protocol takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from backend.attendance.batching import warm_up
from backend.attendance.live import LiveFeed
from backend.devices import services as devices
from backend.devices.protocols import DEFAULT_PROTOCOL, adapter_for
from backend.devices.protocols.jiangmen import JiangmenAdapter
from backend.face.service import FaceService
from backend.rules import DEFAULT_RULES
from backend.settings import get_settings
from device_tcp.server import GateServer

log = logging.getLogger("smz.gate")

# The app's gate backend for the default protocol (the name the tests and the CLI know).
AppGateBackend = JiangmenAdapter

class GateRegistry:
    """The app's gate backends running now (normally one), for :meth:`vendor_code_rotated`.  One per app
    (``backend.runtime.AppServices.gates``); ``start_gate_server`` adds its backend, closing removes it."""

    def __init__(self) -> None:
        self._backends: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, backend: Any) -> None:
        self._backends.add(backend)

    def discard(self, backend: Any) -> None:
        self._backends.discard(backend)

    def __len__(self) -> int:
        return len(self._backends)

    async def vendor_code_rotated(self, vendor_id: int, *, peer: str = "") -> int:
        """A vendor's code was rotated: the gate servers of this app end the connections of its terminals
        (they logged in with the old code).  Returns how many were ended."""
        dropped = 0
        for backend in list(self._backends):
            dropped += await backend.vendor_code_rotated(vendor_id, peer)
        return dropped


class AppGateServer(GateServer):
    """The gate server of the app: when it stops, every terminal it served is marked offline, also
    those whose connection task did not finish within the close timeout."""

    backend: Any  # an adapter of backend.devices.protocols
    registry: GateRegistry | None = None
    listener: asyncio.Task[None] | None = None  # TerminalChanges.listen: other processes' registration changes

    async def close(self, *, timeout_s: float = 5.0) -> None:
        if self.registry is not None:
            self.registry.discard(self.backend)
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
            self.listener = None
        try:
            await super().close(timeout_s=timeout_s)
        finally:
            await self.backend.all_offline()


async def start_gate_server(port: int | None = None, host: str | None = None, *,
                            reset_online: bool = True, backend: Any | None = None,
                            protocol: str = DEFAULT_PROTOCOL, registry: GateRegistry | None = None,
                            terminal_changes: devices.TerminalChanges | None = None, live_feed: LiveFeed | None = None,
                            face: FaceService | None = None, **server_options: Any) -> AppGateServer:
    """Start the gate TCP server of the app (port 0: any free port; see ``server.port``) for the
    terminals of ``protocol`` (a name of ``backend.devices.protocols.ADAPTERS``).

    ``reset_online``: first mark offline the terminals a previous server left online (one gate server
    per database).  ``backend`` (an adapter) and ``server_options`` (GateServer keywords) override the
    settings' choices (tests, benchmarks).

    The app's services the server works with (``backend.runtime.AppServices``; ``gate_lifespan`` and the
    CLI pass the app's): ``registry`` (vendor code rotations reach this server), ``terminal_changes``
    (registration changes drop the terminal cache at once), ``live_feed`` (punches reach the live map) and
    ``face`` (enrolment templates; without it a terminal's enrolment is refused)."""
    s = get_settings()
    if reset_online:
        n = await devices.reset_online()
        if n:
            log.info("%d terminals were still marked online from a previous run: now offline", n)
    backend = backend or adapter_for(protocol)
    backend.attach(terminal_changes=terminal_changes, live_feed=live_feed, face=face)
    options: dict[str, Any] = {
        "idle_timeout_s": s.gate_idle_timeout_s, "punch_photo_max": DEFAULT_RULES.gate_punch_photo_max_bytes,
        "id_photo_max": DEFAULT_RULES.gate_id_photo_max_bytes, "login_timeout_s": s.gate_login_timeout_s,
        "max_connections": s.gate_max_connections or None, "takeover_silence_s": s.gate_takeover_silence_s,
        **server_options,
    }
    warmed = await warm_up()  # the batch's statements prepared on every open connection before terminals come
    if warmed:
        log.info("gate warm-up: %d database connections ready", warmed)
    server = AppGateServer(backend, host=host or s.gate_host, port=s.gate_port if port is None else port, **options)
    backend.server = server
    server.registry = registry
    await server.start()
    if terminal_changes is not None:
        server.listener = asyncio.get_running_loop().create_task(terminal_changes.listen(), name="terminal-changes")
    if registry is not None:
        registry.add(backend)
    log.info("gate TCP server (%s) listening on %s:%s (at most %d connections)", backend.protocol, server.host,
             server.port, server.max_connections)
    if server.host in ("0.0.0.0", "::", ""):
        log.warning("the gate port listens on every interface; the protocol is cleartext — put it behind the "
                    "site VPN or a TLS-terminating TCP proxy (docs/security.md)")
    return server
