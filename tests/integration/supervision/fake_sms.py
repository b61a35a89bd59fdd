"""A local fake SMS gateway: a real aiohttp server on 127.0.0.1 speaking the JSON API of
backend/supervision/sms.py.  Numbers in ``fail`` get HTTP 500; a wrong bearer token gets 401."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeSmsGateway:
    token: str = "test-sms-token"
    fail: set[str] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    async def _send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        if body.get("to") in self.fail:
            return web.json_response({"error": "carrier rejected"}, status=500)
        msg_id = f"fake-{next(self._ids)}"
        self.received.append({**body, "id": msg_id})
        return web.json_response({"id": msg_id, "status": "queued"})

    async def start(self) -> FakeSmsGateway:
        app = web.Application()
        app.router.add_post("/sms", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/sms"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
