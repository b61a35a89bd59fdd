"""The demo's platform (issue 17): ``smz demo`` starts the platform simulator in its server process and points every
district at it, so a new user sees uploads progress (上传中 → 处理中 → 上传成功) and a few 上传失败 with the platform's
reason on the lists and on 上传省厅结果查询."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from backend.org.tables import District
from backend.platform.services import set_credentials
from backend.platform.simulator import start_simulator

log = logging.getLogger("smz.demo")

DEMO_APPID = "demo-appid"
DEMO_APPSECRET = "demo-appsecret-not-for-production"
DEMO_PLATFORM_PORT = 9850
DEMO_FAIL_RATE = 0.02  # a few refused records, so the demo shows 上传失败 with a reason and 重新上传


async def demo_uploads(url: str, *, appid: str = DEMO_APPID, appsecret: str = DEMO_APPSECRET) -> int:
    """Point every district's platform account at ``url`` (the simulator); returns how many districts."""
    districts = await District.select(District.id)
    for d in districts:
        await set_credentials(d["id"], url, appid, appsecret)
    return len(districts)


def demo_platform_lifespan(port: int = DEMO_PLATFORM_PORT) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Lifespan part of ``smz demo``: the simulator on ``port`` (0 = any free port) while the app runs."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        options: dict[str, Any] = {"appid": DEMO_APPID, "appsecret": DEMO_APPSECRET, "delay": 2.0,
                                   "fail_rate": DEMO_FAIL_RATE}
        try:
            handle = await start_simulator(port=port, **options)
        except OSError:  # the port is taken (another demo, a simulator already running): any free port
            handle = await start_simulator(port=0, **options)
        log.info("demo platform simulator: %s", handle.url)
        await demo_uploads(handle.url)
        app.state.platform_simulator = handle
        try:
            yield
        finally:
            await handle.stop()

    return lifespan
