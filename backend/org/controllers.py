"""HTTP API of the organisation domain: thin handlers, scope checked on every call."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, get, patch, post
from litestar.params import JSONBody

from backend.accounts.services import require_project, visible_project_ids
from backend.auth import AuthUser, roles
from backend.errors import NotFound
from backend.org import services
from backend.org.schemas import (
    DistrictIn,
    EnterpriseIn,
    ProjectIn,
    ProjectPatch,
    RuleOverridesIn,
    StatusChangeIn,
    TeamIn,
    UnitIn,
)
from backend.rules import rule_names


class DistrictController(Controller):
    path = "/api/districts"
    tags = ["districts"]

    @get("/")
    async def list_districts(self, user: AuthUser) -> list[dict[str, Any]]:
        if user.role == "admin":
            return await services.list_districts(None)
        return await services.list_districts(set(user.district_ids))

    @post("/", guards=[roles("admin")])
    async def create(self, data: JSONBody[DistrictIn]) -> dict[str, int]:
        return {"id": await services.create_district(data.code, data.name, data.rule_overrides)}

    @get("/{district_id:int}/rules")
    async def rules(self, district_id: int, user: AuthUser) -> dict[str, Any]:
        if user.role != "admin" and district_id not in user.district_ids:
            raise NotFound("区县不存在或无权查看", "District not found or not in your scope", field="district_id")
        rules = await services.rules_for_district(district_id)
        return {name: getattr(rules, name) for name in rule_names()}

    @patch("/{district_id:int}/rules", guards=[roles("admin")])
    async def set_rules(self, district_id: int, data: JSONBody[RuleOverridesIn]) -> dict[str, Any]:
        rules = await services.set_rule_overrides(district_id, data.rule_overrides)
        return {name: getattr(rules, name) for name in rule_names()}


class EnterpriseController(Controller):
    path = "/api/enterprises"
    tags = ["enterprises"]

    @get("/", guards=[roles("supervisor", "enterprise", "project_staff", "foreman")])
    async def list_enterprises(self) -> list[dict[str, Any]]:
        return await services.list_enterprises()

    @post("/", guards=[roles("supervisor", "enterprise", "project_staff")])
    async def create(self, data: JSONBody[EnterpriseIn]) -> dict[str, int]:
        return {"id": await services.create_enterprise(
            data.name, data.uscc, short_name=data.short_name, registered_region=data.registered_region,
            legal_representative=data.legal_representative, phone=data.phone,
        )}


class ProjectController(Controller):
    path = "/api/projects"
    tags = ["projects"]

    @get("/")
    async def list_projects(self, user: AuthUser) -> list[dict[str, Any]]:
        return await services.list_projects(await visible_project_ids(user))

    @post("/", guards=[roles("supervisor")])
    async def create(self, data: JSONBody[ProjectIn], user: AuthUser) -> dict[str, int]:
        if user.role == "supervisor" and data.district_id not in user.district_ids:
            raise NotFound("区县不存在或无权查看", "District not found or not in your scope", field="district_id")
        pid = await services.create_project(
            name=data.name, district_id=data.district_id, category=data.category, permit_no=data.permit_no,
            address=data.address, floor_area_m2=data.floor_area_m2, contract_value_yuan=data.contract_value_yuan,
            planned_start=data.planned_start, lon=data.lon, lat=data.lat, status=data.status,
        )
        return {"id": pid}

    @get("/{project_id:int}")
    async def detail(self, project_id: int, user: AuthUser) -> dict[str, Any]:
        await require_project(user, project_id)
        return await services.get_project(project_id)

    @patch("/{project_id:int}", guards=[roles("enterprise", "project_staff")])
    async def update(self, project_id: int, data: JSONBody[ProjectPatch], user: AuthUser) -> dict[str, Any]:
        await require_project(user, project_id, write=True)
        await services.update_project(project_id, data.changes())
        return await services.get_project(project_id)

    @post("/{project_id:int}/status", guards=[roles("supervisor", "enterprise", "project_staff")])
    async def change_status(self, project_id: int, data: JSONBody[StatusChangeIn], user: AuthUser) -> dict[str, Any]:
        await require_project(user, project_id)
        await services.change_status(
            project_id, data.status, effective_on=data.effective_on or date.today(), note=data.note, user_id=user.id
        )
        return await services.get_project(project_id)

    @get("/{project_id:int}/status-history")
    async def history(self, project_id: int, user: AuthUser) -> list[dict[str, Any]]:
        await require_project(user, project_id)
        return await services.status_history(project_id)

    @get("/{project_id:int}/units")
    async def units(self, project_id: int, user: AuthUser) -> list[dict[str, Any]]:
        await require_project(user, project_id)
        return await services.list_units(project_id)

    @post("/{project_id:int}/units", guards=[roles("enterprise", "project_staff")])
    async def add_unit(self, project_id: int, data: JSONBody[UnitIn], user: AuthUser) -> dict[str, int]:
        await require_project(user, project_id, write=True)
        return {"id": await services.add_unit(project_id, data.enterprise_id, data.unit_type, data.entered_on)}

    @get("/{project_id:int}/teams")
    async def teams(self, project_id: int, user: AuthUser) -> list[dict[str, Any]]:
        await require_project(user, project_id)
        return await services.list_teams(project_id)

    @post("/{project_id:int}/teams")
    async def add_team(self, project_id: int, data: JSONBody[TeamIn], user: AuthUser) -> dict[str, int]:
        await require_project(user, project_id, write=True)
        tid = await services.create_team(
            project_id, data.unit_id, data.name, data.kind, data.leader_person_id, data.entered_on
        )
        return {"id": tid}
