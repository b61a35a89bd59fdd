"""HTTP API of a person's privacy (issue 20 B): consent, the full-ID access log, a person's export, corrections.
Thin: the work is in ``privacy.people``, ``privacy.export`` and ``workforce.id_access``."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.params import JSONBody

from backend.accounts.services import CurrentUser, visible_project_ids
from backend.auth import AuthUser
from backend.errors import Forbidden
from backend.privacy import export, people
from backend.privacy.schemas import (
    ConsentIn,
    ConsentRecordedOut,
    ConsentStateOut,
    CorrectionIn,
    CorrectionOut,
    IdAccessRowOut,
)
from backend.schemas import out
from backend.vocabulary import Role
from backend.workforce import id_access

LOG_READERS = frozenset({Role.supervisor, Role.admin})


async def read_access_log(user: CurrentUser, *, username: str = "", since: date | None = None,
                          until: date | None = None, person_id: int | None = None, kind: str = "",
                          limit: int = 500) -> list[dict[str, Any]]:
    """The district's log (admin: every project's).  Only supervisors and admins read it."""
    if user.role not in LOG_READERS:
        raise Forbidden("仅主管部门和系统管理员可查看身份证号访问记录",
                        "Only supervisors and administrators may read the ID access log", code="role_forbidden")
    return await id_access.read_log(project_ids=await visible_project_ids(user), username=username, first=since,
                                    last=until, person_id=person_id, kind=kind, limit=limit)


def zip_response(name: str, data: bytes) -> Response[bytes]:
    return Response(content=data, media_type="application/zip", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})


class PrivacyController(Controller):
    path = "/api/privacy"
    tags = ["privacy"]

    @get("/people/{person_id:int}/consent")
    async def consent_state(self, person_id: int, user: AuthUser, project_id: int | None = None) -> ConsentStateOut:
        pid = await people.scope(user, person_id, people.WITHDRAW_ROLES | people.EXPORT_ROLES, project_id)
        return out(ConsentStateOut, await people.consent_state(person_id, pid))

    @post("/people/{person_id:int}/consent", status_code=201)
    async def consent(self, person_id: int, data: JSONBody[ConsentIn], user: AuthUser) -> ConsentRecordedOut:
        """Record a consent answer (given / declined / withdrawn).  Withdrawn: the face template and photos are
        deleted at once; the person stays recorded and clocks in by other means."""
        return out(ConsentRecordedOut, await people.record_consent(
            user, person_id, action=data.action, channel=data.channel, version=data.version, note=data.note,
            project_id=data.project_id))

    @get("/people/{person_id:int}/export")
    async def export(self, person_id: int, user: AuthUser, reason: str = "",
                     project_id: int | None = None) -> Response[bytes]:
        """Everything held about the person, one .zip (JSON + .xlsx with Chinese labels, photos, contracts).
        Holds the full ID number: written to the full-ID access log."""
        pid = await people.scope(user, person_id, people.EXPORT_ROLES, project_id)
        name, data = await export.export_person(user, person_id, pid, reason[:200])
        return zip_response(name, data)

    @post("/people/{person_id:int}/corrections", status_code=201)
    async def correct(self, person_id: int, data: JSONBody[CorrectionIn], user: AuthUser) -> CorrectionOut:
        return out(CorrectionOut, await people.correct(user, person_id, field=data.field, value=data.value,
                                                       reason=data.reason, project_id=data.project_id))

    @get("/id-access")
    async def id_access_log(self, user: AuthUser, username: str = "", since: date | None = None,
                            until: date | None = None, person_id: int | None = None, kind: str = "",
                            limit: int = 500) -> list[IdAccessRowOut]:
        """The full-ID access log of the caller's district (admin: all), newest first; filters: the reader's
        username, a date range (inclusive, China time), a person whose number was read, the kind."""
        return out(list[IdAccessRowOut], await read_access_log(
            user, username=username, since=since, until=until, person_id=person_id, kind=kind, limit=limit))
