"""Routes of the platform upload domain discovered by the app (issue 17): the pages and the JSON API."""

from __future__ import annotations

from typing import Any

from backend.platform.controllers import PlatformController
from backend.platform.pages import PLATFORM_PAGES

ROUTES: list[Any] = [*PLATFORM_PAGES, PlatformController]
