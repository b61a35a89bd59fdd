"""Routes of the fence store (discovered by backend.routes): the JSON API and the editing page."""

from __future__ import annotations

from typing import Any

from backend.fences.controllers import FenceController
from backend.fences.pages import FENCE_PAGES

ROUTES: list[Any] = [FenceController, *FENCE_PAGES]
