"""Routes of the supervision domain (discovered by backend/routes.py)."""

from __future__ import annotations

from typing import Any

from backend.supervision.controllers import SupervisionController
from backend.supervision.pages import PAGES

ROUTES: list[Any] = [SupervisionController, *PAGES]
