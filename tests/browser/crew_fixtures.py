"""Browser fixtures of crew registration: a logged-in tablet (1024×768, ≥ 768 px) and the test
material (ID-card photos on disk for the file inputs).  Built on the shared ``server``, ``browser``
and ``camera_file`` fixtures of tests/browser/conftest.py.

Use from a test module::

    from tests.browser.crew_fixtures import card_files, tablet  # noqa: F401
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def card_files() -> Iterator[dict[str, Path]]:
    """The ID card's two sides as JPEG files (the portrait is obama.jpg of the face test photos)."""
    from tests.integration.crew.crewkit import id_card_back, id_card_front, png_document

    tmp = Path(tempfile.mkdtemp(prefix="smz-crew-cards-"))
    files = {"front": tmp / "front.jpg", "back": tmp / "back.jpg", "contract": tmp / "contract.png",
             "not_an_image": tmp / "front.jpg.exe"}
    files["front"].write_bytes(id_card_front("obama.jpg"))
    files["back"].write_bytes(id_card_back())
    files["contract"].write_bytes(png_document())
    files["not_an_image"].write_bytes(b"MZ\x90\x00" + b"\x00" * 4000)
    yield files
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
async def tablet(browser: Any, server: Any) -> AsyncIterator[Any]:
    """A tablet page logged in as the site's admin (who may register and also review)."""
    ctx = await browser.new_context(viewport={"width": 1024, "height": 768}, device_scale_factor=1, has_touch=True,
                                    locale="zh-CN", timezone_id="Asia/Shanghai", permissions=["camera"])
    page = await ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    await page.goto(server.url("/login"))
    await page.fill("input[name=username]", server.site.admin)
    await page.fill("input[name=password]", server.site.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(server.url("/"))
    try:
        yield page
    finally:
        await ctx.close()
