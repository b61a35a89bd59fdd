"""Routes of wages (discovered by backend.routes)."""

from __future__ import annotations

from typing import Any

from backend.wages.controllers import WageController, WageDistrictController
from backend.wages.pages import WAGE_PAGES

ROUTES: list[Any] = [WageController, WageDistrictController, *WAGE_PAGES]
