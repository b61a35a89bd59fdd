"""Routes of the organisation pages (discovered by backend/routes.py): a project's change requests and the
two-level queue, units and teams; and the authority's make-up queue (``backend.supervision.makeup_pages``,
registered here: the supervision package's own routes list its own pages)."""

from __future__ import annotations

from typing import Any

from backend.org.pages import ORG_PAGES
from backend.supervision.makeup_pages import MAKEUP_PAGES

ROUTES: list[Any] = [*ORG_PAGES, *MAKEUP_PAGES]
