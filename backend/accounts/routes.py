"""Routes of the accounts package beyond the JSON API (discovered by backend.routes)."""

from __future__ import annotations

from typing import Any

from backend.accounts.pages import PASSWORD_PAGES

ROUTES: list[Any] = [*PASSWORD_PAGES]
