"""Pages of project applications (项目申报): the queue / my applications, the form, one application (history,
decision, correction), and the project page's audit-trail fragment.  Thin: pwa/static/js/approvals.js talks to the
JSON API (backend/approvals/controllers.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import get
from litestar.response import Template

from backend.accounts.roles import ROLES
from backend.accounts.services import require_project
from backend.approvals import audit, services
from backend.auth import AuthUser
from backend.errors import Forbidden, invalid
from backend.settings import get_settings
from backend.vocabulary import APPLICATION_STATUS_ZH, PROJECT_CATEGORY_ZH, UNIT_TYPE_ZH, Role, local_today


def _base(user: AuthUser) -> dict[str, Any]:
    return {"user": user, "role_label": ROLES[user.role]}


async def _form_config(app: dict[str, Any] | None = None) -> dict[str, Any]:
    """What approvals.js needs: the messages (the server's, word for word), the choices, the application."""
    cfg: dict[str, Any] = {
        "messages": services.MESSAGES, "maxUnits": services.MAX_UNITS, "tileUrl": get_settings().tile_url,
        "chinaLon": services.CHINA_LON, "chinaLat": services.CHINA_LAT,
        "unitTypes": UNIT_TYPE_ZH, "categories": PROJECT_CATEGORY_ZH,
    }
    if app is not None:
        keep = ("id", "name", "permit_no", "category", "district", "address", "lon", "lat", "floor_area_m2",
                "contract_value_yuan", "applicant_name", "applicant_phone", "units")
        cfg["application"] = {k: app.get(k) for k in keep}
        cfg["application"]["planned_start"] = app["planned_start"].isoformat()
        cfg["application"]["planned_finish"] = app["planned_finish"].isoformat()
    return cfg


def _page_day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, "日期格式应为 YYYY-MM-DD", "Date must be YYYY-MM-DD") from None


@get("/approvals", include_in_schema=False)
async def applications_page(user: AuthUser, status: str | None = None, date_from: str | None = None,
                            date_to: str | None = None, page: int = 1) -> Template:
    rows, total = await services.list_applications(
        user, status=status or None, date_from=_page_day(date_from, "date_from"),
        date_to=_page_day(date_to, "date_to"), page=page)
    pages = max(1, -(-total // services.PAGE_SIZE))
    return Template("approvals/list.html", context={
        **_base(user), "rows": rows, "total": total, "page": max(1, page), "pages": pages,
        "filters": {"status": status or "", "date_from": date_from or "", "date_to": date_to or ""},
        "statuses": APPLICATION_STATUS_ZH, "can_apply": user.role == Role.enterprise,
    })


@get("/approvals/new", include_in_schema=False)
async def new_application_page(user: AuthUser) -> Template:
    if user.role != Role.enterprise:
        raise Forbidden("只有企业账号可以申报项目", "Only enterprise accounts may apply for projects")
    return Template("approvals/form.html", context={
        **_base(user), "app": None, "config": await _form_config(), "districts": await services.districts_for_form(),
        "today": local_today().isoformat(),
    })


@get("/approvals/{application_id:int}", include_in_schema=False)
async def application_page(user: AuthUser, application_id: int) -> Template:
    app = await services.get_application(user, application_id)
    return Template("approvals/detail.html", context={
        **_base(user), "app": app, "config": await _form_config(app),
        "districts": await services.districts_for_form() if app["can_resubmit"] else [],
        "today": local_today().isoformat(),
    })


@get("/approvals/projects/{project_id:int}/audit", include_in_schema=False)
async def project_audit_fragment(user: AuthUser, project_id: int) -> Template:
    await require_project(user, project_id)
    return Template("approvals/_audit_rows.html", context={"entries": await audit.project_audit(project_id)})


APPROVAL_PAGES = [applications_page, new_application_page, application_page, project_audit_fragment]
