"""HTTP API of the roster.  ID numbers leave only masked."""

from __future__ import annotations

import msgspec
from litestar import Controller, MediaType, Response, get, post
from litestar.params import JSONBody

from backend.accounts.services import project_not_found, project_scope_sql, require_project, visible_project_ids
from backend.auth import AuthUser
from backend.crew import services as crew
from backend.errors import Forbidden
from backend.org.services import rules_for_project
from backend.schemas import out
from backend.vocabulary import Role
from backend.wages.exits import exit_with_settlement
from backend.workforce import services
from backend.workforce.schemas import (
    ActiveElsewhereOut,
    NoticeOut,
    RosterEnteredOut,
    RosterExitedOut,
    RosterExitIn,
    RosterIn,
    RosterRowOut,
)

if RosterRowOut.__struct_fields__ != services.ROSTER_FIELDS:  # the positional build below depends on it
    raise RuntimeError("workforce.services.ROSTER_FIELDS must list RosterRowOut's fields in their order")


class RosterController(Controller):
    path = "/api/projects/{project_id:int}/roster"
    tags = ["roster"]

    @get("/")
    async def list_roster(self, project_id: int, user: AuthUser,
                          active: bool = False) -> Response[list[RosterRowOut]]:
        if user.role == Role.worker:  # 404 outside their scope (``require_project``), 403 inside
            await require_project(user, project_id)
            raise Forbidden("工人只能查看本人信息", "Workers may only see their own records")
        teams = await services.team_scope(user.role, user.person_id, project_id)
        # the scope check (``require_project``'s) asked in the same statement as the roster's version
        snap = await services.roster_snapshot(project_id, active_only=active, teams=teams,
                                              visible=project_scope_sql(user, project_id))
        if snap is None:
            raise project_not_found()
        if snap.encoded is None:
            # Built positionally from the service's tuples (issue 18: msgspec.convert of a dict per row cost more
            # than building the Structs); ``Out.__post_init__`` refuses a full ID number in ``id_masked`` here,
            # once per roster version: the JSON is kept with the cached rows and sent as it is while the version
            # holds (the response is documented as list[RosterRowOut] all the same).
            snap.encoded = msgspec.json.encode([RosterRowOut(*v) for v in snap.values])
        return Response(snap.encoded, media_type=MediaType.JSON)

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
        # told, never refused: the district's age notice (seed 000 §六 应录尽录) and — the roster API adds no
        # contract — that the gate will not admit them until one is uploaded (seed 001 §五(十一))
        _, gate = await crew.gate_notices(project_id, entry_id, await rules_for_project(project_id))
        notices = await services.person_notices(project_id, person_id) + gate
        return RosterEnteredOut(id=entry_id, person_id=person_id,
                                active_elsewhere=out(list[ActiveElsewhereOut], elsewhere), kept_fields=list(kept),
                                message=services.kept_message(kept), notices=out(list[NoticeOut], notices))

    @post("/{entry_id:int}/exit")
    async def exit(self, project_id: int, entry_id: int, data: JSONBody[RosterExitIn], user: AuthUser) -> RosterExitedOut:
        """退场 through the one exit rule (``crew.services.record_exit`` → ``workforce.services.check_exit``):
        the signed 退场确认书 (uploaded first) and the confirmations of seed 004 §三(五)."""
        await require_project(user, project_id, write=True)
        done = await exit_with_settlement(project_id, entry_id, data.unpaid_reason, lambda: crew.record_exit(
            project_id, entry_id, exited_on=data.exited_on, note=data.note, document_id=data.confirmation_file_id,
            workload_confirmed=data.workload_confirmed, wages_settled=data.wages_settled, user_id=user.id),
            data.exited_on)
        return out(RosterExitedOut, {"status": "exited", **done})
