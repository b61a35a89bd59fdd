"""HTTP API of the roster.  ID numbers leave only masked."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from backend.accounts.services import require_project, visible_project_ids
from backend.auth import AuthUser
from backend.errors import Forbidden
from backend.schemas import StatusOut, out
from backend.vocabulary import Role
from backend.workforce import services
from backend.workforce.schemas import ActiveElsewhereOut, RosterEnteredOut, RosterExitIn, RosterIn, RosterRowOut


class RosterController(Controller):
    path = "/api/projects/{project_id:int}/roster"
    tags = ["roster"]

    @get("/")
    async def list_roster(self, project_id: int, user: AuthUser, active: bool = False) -> list[RosterRowOut]:
        await require_project(user, project_id)
        if user.role == Role.worker:
            raise Forbidden("工人只能查看本人信息", "Workers may only see their own records")
        teams = await services.team_scope(user.role, user.person_id, project_id)
        return out(list[RosterRowOut], await services.list_roster(project_id, active_only=active, teams=teams))

    @post("/")
    async def enter(self, project_id: int, data: JSONBody[RosterIn], user: AuthUser) -> RosterEnteredOut:
        await require_project(user, project_id, write=True)
        person_id, entry_id, kept = await services.register_and_enter(
            project_id=project_id, id_number=data.id_number, name=data.name, phone=data.phone,
            ethnicity=data.ethnicity, birth_date=data.birth_date, gender=data.gender, unit_id=data.unit_id,
            team_id=data.team_id, work_role=data.work_role, post=data.post, work_type=data.work_type,
            entered_on=data.entered_on,
        )
        elsewhere = await services.active_elsewhere(person_id, project_id, await visible_project_ids(user))
        return RosterEnteredOut(id=entry_id, person_id=person_id,
                                active_elsewhere=out(list[ActiveElsewhereOut], elsewhere), kept_fields=list(kept),
                                message=services.kept_message(kept))

    @post("/{entry_id:int}/exit")
    async def exit(self, project_id: int, entry_id: int, data: JSONBody[RosterExitIn], user: AuthUser) -> StatusOut:
        await require_project(user, project_id, write=True)
        await services.exit_roster(project_id, entry_id, data.exited_on, data.note)
        return StatusOut(status="exited")
