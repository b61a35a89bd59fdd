"""Long-running parts started with the web app (the gate TCP server, once it exists)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

log = logging.getLogger("smz.runtime")


def gate_lifespan(port: int | None) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        try:
            from backend.devices.gate import start_gate_server  # built by the gate issue
        except ImportError:
            log.info("gate TCP server not available in this build")
            yield
            return
        server = await start_gate_server(port)
        try:
            yield
        finally:
            await server.close()

    return lifespan
