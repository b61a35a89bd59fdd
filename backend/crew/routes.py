"""Routes of crew registration (discovered by backend.routes)."""

from __future__ import annotations

from typing import Any

from backend.crew.controllers import (
    IdAccessLogController,
    RegistrationController,
    ReviewController,
    RosterCrewController,
)
from backend.crew.pages import CREW_PAGES

ROUTES: list[Any] = [RegistrationController, RosterCrewController, ReviewController, IdAccessLogController, *CREW_PAGES]
