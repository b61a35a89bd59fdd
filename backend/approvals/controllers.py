"""HTTP API of project applications (项目申报) and the project audit trail: thin handlers, scope in the services."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from backend.accounts.services import require_project
from backend.approvals import audit, services
from backend.approvals.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationPageOut,
    ApplicationSummaryOut,
    AuditEntryOut,
    PassedOut,
    ReturnIn,
    RoundOut,
    UnitOut,
)
from backend.auth import AuthUser, SmsDep
from backend.errors import invalid
from backend.schemas import Created, out


def pick(typ: type[msgspec.Struct], row: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``row`` that ``typ`` declares (service rows carry more: ids, time zone …)."""
    return {k: row[k] for k in typ.__struct_fields__ if k in row}


def application_out(row: dict[str, Any]) -> ApplicationOut:
    data = pick(ApplicationOut, row)
    data["units"] = [pick(UnitOut, u) for u in row.get("units") or []]
    data["rounds"] = [pick(RoundOut, r) for r in row.get("rounds") or []]
    return out(ApplicationOut, data)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, "日期格式应为 YYYY-MM-DD", "Date must be YYYY-MM-DD") from None


# ``sms`` is the app's SMS sender (backend.runtime.SERVICE_DEPENDENCIES, matched by name).  Typed ``Any``, not
# ``SmsDep``: SmsSender is a non-runtime-checkable Protocol and Litestar's isinstance check on it fails (500).


class ApplicationController(Controller):
    path = "/api/approvals/applications"
    tags = ["approvals"]

    @get("/")
    async def list_applications(self, user: AuthUser, status: str | None = None, date_from: str | None = None,
                                date_to: str | None = None, page: int = 1) -> ApplicationPageOut:
        rows, total = await services.list_applications(
            user, status=status or None, date_from=_day(date_from, "date_from"), date_to=_day(date_to, "date_to"),
            page=page)
        return out(ApplicationPageOut, {"items": [pick(ApplicationSummaryOut, r) for r in rows], "total": total,
                                        "page": max(1, page), "page_size": services.PAGE_SIZE})

    @post("/")
    async def submit(self, user: AuthUser, data: JSONBody[ApplicationIn]) -> Created:
        return Created(id=await services.submit_application(user, msgspec.to_builtins(data)))

    @get("/{application_id:int}")
    async def get_application(self, user: AuthUser, application_id: int) -> ApplicationOut:
        return application_out(await services.get_application(user, application_id))

    @put("/{application_id:int}")
    async def resubmit(self, user: AuthUser, application_id: int, data: JSONBody[ApplicationIn]) -> ApplicationOut:
        await services.resubmit_application(user, application_id, msgspec.to_builtins(data))
        return application_out(await services.get_application(user, application_id))

    @post("/{application_id:int}/return", status_code=HTTP_200_OK)
    async def return_application(self, user: AuthUser, application_id: int, data: JSONBody[ReturnIn],
                                 sms: SmsDep) -> ApplicationOut:
        await services.return_application(user, application_id, data.reason, sms=sms)
        return application_out(await services.get_application(user, application_id))

    @post("/{application_id:int}/pass", status_code=HTTP_200_OK)
    async def pass_application(self, user: AuthUser, application_id: int, sms: SmsDep) -> Response[PassedOut]:
        """The response holds the issued account's one-time password: shown once, never stored (nor cached)."""
        issued = out(PassedOut, await services.pass_application(user, application_id, sms=sms))
        return Response(issued, headers={"Cache-Control": "no-store"})


class ProjectAuditController(Controller):
    path = "/api/projects"
    tags = ["approvals"]

    @get("/{project_id:int}/audit")
    async def project_audit(self, user: AuthUser, project_id: int) -> list[AuditEntryOut]:
        await require_project(user, project_id)
        return out(list[AuditEntryOut], [msgspec.structs.asdict(e) for e in await audit.project_audit(project_id)])
