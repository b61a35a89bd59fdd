"""Routes of the privacy package (discovered by backend.routes)."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.response import Template

from backend.accounts.roles import ROLES
from backend.accounts.services import visible_project_ids
from backend.auth import AuthUser
from backend.errors import Forbidden
from backend.privacy import retention
from backend.privacy.controllers import PrivacyController
from backend.privacy.pages import PRIVACY_PAGES
from backend.vocabulary import Role, local_time

# --- The retention log page (``/privacy/retention``; issue 20 B.2): what ``smz retention`` deleted or masked, per
# project and run, for the district's supervisors (their districts' projects) and admins.

RETENTION_READERS = frozenset({Role.supervisor, Role.admin})
RETENTION_STATUS_ZH = {"running": "进行中（未完成，下次运行继续）", "done": "已完成"}


@get("/privacy/retention", include_in_schema=False)
async def retention_log_page(user: AuthUser) -> Template:
    if user.role not in RETENTION_READERS:
        raise Forbidden("仅主管部门和系统管理员可查看个人信息清理记录",
                        "Only supervisors and administrators may read the retention log", code="role_forbidden")
    rows: list[dict[str, Any]] = []
    for r in await retention.list_runs(await visible_project_ids(user)):
        rows.append({**r, "started_local": local_time(r["started_at"], r["timezone"]),
                     "finished_local": local_time(r["finished_at"], r["timezone"]),
                     "status_label": RETENTION_STATUS_ZH.get(r["status"], r["status"])})
    return Template("retention/runs.html", context={"user": user, "role_label": ROLES[user.role], "rows": rows,
                                                    "labels": retention.COUNT_LABELS})


ROUTES: list[Any] = [PrivacyController, *PRIVACY_PAGES, retention_log_page]
