"""Route discovery: every domain package may have a ``routes.py`` exposing ``ROUTES`` (controllers and
page handlers).  New domains plug in without touching the app factory."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


def discover_routes() -> list[Any]:
    root = Path(__file__).resolve().parent
    handlers: list[Any] = []
    for path in sorted(root.glob("*/routes.py")):
        module = importlib.import_module(f"backend.{path.parent.name}.routes")
        handlers.extend(module.ROUTES)
    return handlers
