"""Browser tests of the worker phone app in headless Chromium (Debian's ``/usr/bin/chromium``).

- ``server``: the real app in its own process (``tests/browser/server.py``: uvicorn over
  ``backend.app:create_app()``) on a free port, against a fresh SQLite data dir with the migrations
  run and a site created through the services (a fresh PostgreSQL database instead when
  ``SMZ_TEST_DATABASE_URL`` is set, like the rest of the suite).
- ``browser``: Chromium with a fake camera that plays ``camera.y4m``; the tests rewrite that file
  (atomically) before each capture: Chromium reads it afresh whenever the camera opens.
- ``phone``: a 360 px wide phone context with fake geolocation, camera and geolocation allowed,
  logged in as one of the site's workers.

The whole directory is skipped, with the reason, when Chromium or Playwright is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.site import Site

CHROMIUM = os.environ.get("SMZ_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"headless Chromium not found at {CHROMIUM} (apt-get install chromium, or set SMZ_CHROMIUM)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base_url: str
    site: Site
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _pg_database() -> tuple[str | None, Callable[[], None]]:
    """A fresh PostgreSQL database for the server when the suite runs on PostgreSQL."""
    base = os.environ.get("SMZ_TEST_DATABASE_URL")
    if not base:
        return None, lambda: None
    import asyncpg

    name = f"smz_browser_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def in_thread(sql: str) -> None:  # the test loop may already run in this thread
        import threading

        errors: list[BaseException] = []

        def target() -> None:
            try:
                asyncio.run(run(sql))
            except BaseException as e:  # reported below
                errors.append(e)

        t = threading.Thread(target=target)
        t.start()
        t.join()
        if errors:
            raise errors[0]

    in_thread(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        try:
            in_thread(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:  # best effort: a left-over test database is harmless
            pass

    return base.rsplit("/", 1)[0] + "/" + name, drop


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    from tests.fixtures.faces import face_images

    face_images()  # skips (with the reason) when the sdist photos cannot be had
    tmp = Path(tempfile.mkdtemp(prefix="smz-browser-"))
    port = _free_port()
    site_file = tmp / "site.json"
    log_path = tmp / "server.log"
    database_url, drop = _pg_database()
    cmd = [sys.executable, "-m", "tests.browser.server", "--data-dir", str(tmp / "data"), "--port", str(port),
           "--site-file", str(site_file)]
    if database_url:
        cmd += ["--database-url", database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMZ_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if os.environ.get("SMZ_TEST_FACES_DIR"):
        env["SMZ_TEST_FACES_DIR"] = os.environ["SMZ_TEST_FACES_DIR"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://localhost:{port}"  # "localhost" is a secure context: camera and geolocation work
    srv: Server | None = None
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"test server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            if site_file.exists():
                try:
                    with urllib.request.urlopen(base + "/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"test server did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.3)
        srv = Server(base, Site.from_dict(json.loads(site_file.read_text())), proc, log_path)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        drop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
async def app_server(migrated_db: str) -> AsyncIterator[str]:
    """The app served over real sockets on the test's own database (the desk pages' browser tests)."""
    from backend.app import create_app
    from backend.runtime import AppServices
    from tests.integration.supervision.live_server import serve_app
    from tests.shared_services import shared_face_service

    services = AppServices.build(face=shared_face_service())
    try:
        async with serve_app(create_app(services=services)) as base:
            yield base
    finally:
        await services.aclose()


@pytest.fixture(scope="session")
def camera_file() -> Iterator[Path]:
    from tests.browser.actions import still_video
    from tests.browser.y4m import write_y4m

    tmp = Path(tempfile.mkdtemp(prefix="smz-camera-"))
    path = tmp / "camera.y4m"
    write_y4m(path, still_video(1.0))
    yield path
    shutil.rmtree(tmp, ignore_errors=True)


def chromium_args(camera_file: Path) -> list[str]:
    return [
        "--headless=new", "--no-sandbox", "--disable-gpu",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_file}",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    ]


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        yield p


@pytest.fixture(scope="session")
async def browser(playwright: Any, camera_file: Path) -> AsyncIterator[Any]:
    b = await playwright.chromium.launch(executable_path=CHROMIUM, args=chromium_args(camera_file))
    try:
        yield b
    finally:
        await b.close()


async def log_in(page: Any, server: Server, worker: str) -> None:
    await page.goto(server.url("/login"))
    await page.fill("input[name=username]", server.site.usernames[worker])
    await page.fill("input[name=password]", server.site.password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/m/")


Phone = Callable[..., Awaitable[Any]]


@pytest.fixture
async def phone(browser: Any, server: Server) -> AsyncIterator[Phone]:
    """``await phone("enrolled", lon=…, lat=…, accuracy=…)`` → a logged-in page on a 360 px phone."""
    contexts: list[Any] = []

    async def make(worker: str = "enrolled", *, lon: float | None = None, lat: float | None = None,
                   accuracy: float = 12.0, login: bool = True) -> Any:
        lon0, lat0 = server.site.inside
        ctx = await browser.new_context(
            viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True,
            locale="zh-CN", timezone_id="Asia/Shanghai",
            geolocation={"longitude": lon if lon is not None else lon0, "latitude": lat if lat is not None else lat0,
                         "accuracy": accuracy},
            permissions=["geolocation", "camera"],
        )
        contexts.append(ctx)
        page = await ctx.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
        if login:
            await log_in(page, server, worker)
        return page

    yield make
    for ctx in contexts:
        await ctx.close()
