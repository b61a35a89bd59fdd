"""Routes of the upkeep domain (discovered by backend.routes): the JSON API and the pages."""

from __future__ import annotations

from typing import Any

from backend.upkeep.controllers import UpkeepController
from backend.upkeep.pages import UPKEEP_PAGES

ROUTES: list[Any] = [UpkeepController, *UPKEEP_PAGES]
