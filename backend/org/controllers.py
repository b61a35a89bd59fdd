"""HTTP API of the organisation domain: thin handlers, scope checked on every call."""

from __future__ import annotations

from litestar import Controller, Response, get, patch, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from backend.accounts.services import require_project, visible_project_ids
from backend.auth import AuthUser, roles
from backend.errors import NotFound
from backend.org import services
from backend.org.schemas import (
    ChangeRequestIn,
    ChangeRequestOut,
    DecisionIn,
    DistrictIn,
    DistrictOut,
    EnterpriseIn,
    EnterpriseOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    ProjectSummaryOut,
    RuleOverridesIn,
    RuleProfileIn,
    RuleProfileOut,
    RulesOut,
    StatusChangeIn,
    StatusChangeOut,
    TeamIn,
    TeamOut,
    UnitIn,
    UnitOut,
)
from backend.schemas import Created, out
from backend.vocabulary import ChangeKind, Role
from backend.workforce import services as workforce


class DistrictController(Controller):
    path = "/api/districts"
    tags = ["districts"]

    @get("/")
    async def list_districts(self, user: AuthUser) -> list[DistrictOut]:
        if user.role == Role.admin:
            return out(list[DistrictOut], await services.list_districts(None))
        return out(list[DistrictOut], await services.list_districts(set(user.district_ids)))

    @post("/", guards=[roles(Role.admin)])
    async def create(self, data: JSONBody[DistrictIn]) -> Created:
        return Created(id=await services.create_district(data.code, data.name, data.rule_overrides,
                                                         rule_profile=data.rule_profile))

    @get("/rule-profiles")
    async def rule_profiles(self) -> list[RuleProfileOut]:
        """The rule profiles a district may choose (backend/rules.py PROFILES; docs/rules.md)."""
        return out(list[RuleProfileOut], services.rule_profiles())

    @put("/{district_id:int}/rule-profile", guards=[roles(Role.admin)])
    async def set_profile(self, district_id: int, data: JSONBody[RuleProfileIn]) -> RulesOut:
        return out(RulesOut, await services.set_rule_profile(district_id, data.rule_profile))

    @get("/{district_id:int}/rules")
    async def rules(self, district_id: int, user: AuthUser) -> RulesOut:
        if user.role != Role.admin and district_id not in user.district_ids:
            raise NotFound("区县不存在或无权查看", "District not found or not in your scope", field="district_id")
        return out(RulesOut, await services.rules_for_district(district_id))

    @patch("/{district_id:int}/rules", guards=[roles(Role.admin)])
    async def set_rules(self, district_id: int, data: JSONBody[RuleOverridesIn]) -> RulesOut:
        return out(RulesOut, await services.set_rule_overrides(district_id, data.rule_overrides))


# Who may ask for a status or start-date change (the deciders are checked by services.check_decider).
REQUESTER_ROLES = (Role.supervisor, Role.enterprise, Role.project_staff)


class ChangeRequestController(Controller):
    """Decisions on project change requests (二级审批, seed 004 §三(八)–(十))."""

    path = "/api/project-change-requests"
    tags = ["projects"]

    @get("/{request_id:int}")
    async def detail(self, request_id: int, user: AuthUser) -> ChangeRequestOut:
        req = await services.get_change_request(request_id)
        await require_project(user, req["project"])
        return out(ChangeRequestOut, req)

    @post("/{request_id:int}/decisions", guards=[roles(Role.supervisor, Role.enterprise)], status_code=HTTP_200_OK)
    async def decide(self, request_id: int, data: JSONBody[DecisionIn], user: AuthUser) -> ChangeRequestOut:
        req = await services.get_change_request(request_id)
        await require_project(user, req["project"])
        return out(ChangeRequestOut, await services.decide_change(
            request_id, level=data.level, approve=data.approve, user_id=user.id, role=user.role,
            enterprise_id=user.enterprise_id, district_ids=user.district_ids, effective_on=data.effective_on,
            reason=data.reason, note=data.note,
        ))


class EnterpriseController(Controller):
    path = "/api/enterprises"
    tags = ["enterprises"]

    @get("/", guards=[roles(Role.supervisor, Role.enterprise, Role.project_staff, Role.foreman)])
    async def list_enterprises(self) -> list[EnterpriseOut]:
        return out(list[EnterpriseOut], await services.list_enterprises())

    @post("/", guards=[roles(Role.supervisor, Role.enterprise, Role.project_staff)])
    async def create(self, data: JSONBody[EnterpriseIn]) -> Created:
        return Created(id=await services.create_enterprise(
            data.name, data.uscc, short_name=data.short_name, registered_region=data.registered_region,
            legal_representative=data.legal_representative, phone=data.phone,
        ))


class ProjectController(Controller):
    path = "/api/projects"
    tags = ["projects"]

    @get("/")
    async def list_projects(self, user: AuthUser) -> list[ProjectSummaryOut]:
        return out(list[ProjectSummaryOut], await services.list_projects(await visible_project_ids(user)))

    @post("/", guards=[roles(Role.supervisor)])
    async def create(self, data: JSONBody[ProjectIn], user: AuthUser) -> Created:
        if user.role == Role.supervisor and data.district_id not in user.district_ids:
            raise NotFound("区县不存在或无权查看", "District not found or not in your scope", field="district_id")
        pid = await services.create_project(
            name=data.name, district_id=data.district_id, category=data.category, permit_no=data.permit_no,
            address=data.address, floor_area_m2=data.floor_area_m2, contract_value_yuan=data.contract_value_yuan,
            planned_start=data.planned_start, lon=data.lon, lat=data.lat, status=data.status,
        )
        return Created(id=pid)

    @get("/{project_id:int}")
    async def detail(self, project_id: int, user: AuthUser) -> ProjectOut:
        await require_project(user, project_id)
        return out(ProjectOut, await services.get_project(project_id))

    @patch("/{project_id:int}", guards=[roles(Role.enterprise, Role.project_staff)])
    async def update(
        self, project_id: int, data: JSONBody[ProjectPatch], user: AuthUser
    ) -> Response[ProjectOut | ChangeRequestOut]:
        """200 with the project; 202 with the change request when the patch moves the planned start (it takes
        effect only after two-level approval, seed 004 §三(八))."""
        await require_project(user, project_id, write=True)
        request = await services.update_project(project_id, data.changes(), user_id=user.id)
        if request is not None:
            return Response(out(ChangeRequestOut, request), status_code=HTTP_202_ACCEPTED)
        return Response(out(ProjectOut, await services.get_project(project_id)), status_code=HTTP_200_OK)

    @post("/{project_id:int}/status", guards=[roles(*REQUESTER_ROLES)], status_code=HTTP_202_ACCEPTED)
    async def change_status(self, project_id: int, data: JSONBody[StatusChangeIn], user: AuthUser) -> ChangeRequestOut:
        """A status change is a request (停工/复工/完工, seed 004 §三(九)(十)): 202 with the pending request; the
        status changes when the second level approves."""
        await require_project(user, project_id)
        return out(ChangeRequestOut, await services.request_change(
            project_id, ChangeKind.status, data.status, effective_on=data.effective_on, reason=data.note,
            user_id=user.id,
        ))

    @post("/{project_id:int}/change-requests", guards=[roles(*REQUESTER_ROLES)])
    async def request_change(
        self, project_id: int, data: JSONBody[ChangeRequestIn], user: AuthUser
    ) -> ChangeRequestOut:
        await require_project(user, project_id)
        return out(ChangeRequestOut, await services.request_change(
            project_id, data.kind, data.target, effective_on=data.effective_on, reason=data.reason, user_id=user.id,
        ))

    @get("/{project_id:int}/change-requests")
    async def change_requests(self, project_id: int, user: AuthUser) -> list[ChangeRequestOut]:
        await require_project(user, project_id)
        return out(list[ChangeRequestOut], await services.list_change_requests(project_id))

    @get("/{project_id:int}/status-history")
    async def history(self, project_id: int, user: AuthUser) -> list[StatusChangeOut]:
        await require_project(user, project_id)
        return out(list[StatusChangeOut], await services.status_history(project_id))

    @get("/{project_id:int}/units")
    async def units(self, project_id: int, user: AuthUser) -> list[UnitOut]:
        await require_project(user, project_id)
        return out(list[UnitOut], await services.list_units(project_id))

    @post("/{project_id:int}/units", guards=[roles(Role.enterprise, Role.project_staff)])
    async def add_unit(self, project_id: int, data: JSONBody[UnitIn], user: AuthUser) -> Created:
        await require_project(user, project_id, write=True)
        return Created(id=await services.add_unit(project_id, data.enterprise_id, data.unit_type, data.entered_on))

    @get("/{project_id:int}/teams")
    async def teams(self, project_id: int, user: AuthUser) -> list[TeamOut]:
        await require_project(user, project_id)
        return out(list[TeamOut], await services.list_teams(project_id))

    @post("/{project_id:int}/teams")
    async def add_team(self, project_id: int, data: JSONBody[TeamIn], user: AuthUser) -> Created:
        await require_project(user, project_id, write=True)
        tid = await workforce.create_team(  # checks the leader against the roster, then org stores the team
            project_id, data.unit_id, data.name, data.kind, data.leader_person_id, data.entered_on
        )
        return Created(id=tid)
