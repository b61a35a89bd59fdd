"""Long-running parts started with the web app (the gate TCP server)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from backend.devices.gate import start_gate_server

log = logging.getLogger("smz.runtime")


def gate_lifespan(port: int | None, host: str | None = None) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Lifespan part that runs the gate TCP server (port 0: any free port) while the app runs.  The
    running server is ``app.state.gate_server`` (its ``port`` is the one bound)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        server = await start_gate_server(port, host)
        state = getattr(app, "state", None)
        if state is not None:
            state.gate_server = server
        try:
            yield
        finally:
            await server.close()

    return lifespan
