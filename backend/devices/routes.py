"""Routes of the devices domain discovered by the app: the device management pages.  (The JSON API
controllers of this domain are registered in backend/app.py.)"""

from __future__ import annotations

from typing import Any

from backend.devices.pages import DEVICE_PAGES

ROUTES: list[Any] = [*DEVICE_PAGES]
