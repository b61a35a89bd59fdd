"""Routes of the approvals domain (discovered by backend.routes): the JSON API and the pages."""

from __future__ import annotations

from typing import Any

from backend.approvals.controllers import ApplicationController, ProjectAuditController
from backend.approvals.pages import APPROVAL_PAGES

ROUTES: list[Any] = [ApplicationController, ProjectAuditController, *APPROVAL_PAGES]
