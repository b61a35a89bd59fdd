"""HTTP API of vendor onboarding: thin handlers, every scope check in the services."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from backend.auth import AuthUser, LoginLimiterDep, TerminalChangesDep, check_same_origin, client_address
from backend.onboarding import services
from backend.onboarding.schemas import (
    AlarmOut,
    ApplicationIn,
    ApplicationOut,
    ApplicationSummaryOut,
    DecideScopeIn,
    EventOut,
    FiledOut,
    PendingOut,
    ProfileIn,
    ProfileOut,
    ReasonIn,
    RegisteredOut,
    RegisterIn,
    RemarkIn,
    ReportIn,
    ScopeIn,
    ScopeOut,
)
from backend.schemas import Created, out


def pick(typ: type[msgspec.Struct], row: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``row`` that ``typ`` declares (service rows carry more)."""
    return {k: row[k] for k in typ.__struct_fields__ if k in row}


def application_out(row: dict[str, Any]) -> ApplicationOut:
    data = pick(ApplicationOut, row)
    data["events"] = [pick(EventOut, e) for e in row["events"]]
    data["alarms"] = [pick(AlarmOut, a) for a in row["alarms"]]
    return out(ApplicationOut, data)


def filed_warning(planned: int, required: int) -> str:
    if planned >= required:
        return ""
    return (f"安装方案 {planned} 条考勤通道，少于按建筑面积参考设置的 {required} 条（常德 §三(一)2：每 3 万平方米一条），"
            "请核实")


class RegisterController(Controller):
    """供应商注册: public (no login)."""

    path = "/api/onboarding/register"
    tags = ["onboarding"]

    @post("/", exclude_from_auth=True, status_code=201)
    async def register(self, request: Request[Any, Any, Any], data: JSONBody[RegisterIn],
                       login_limiter: LoginLimiterDep) -> Response[RegisteredOut]:
        """The reply holds the vendor code (厂家识别码) — its only showing: not cached."""
        check_same_origin(request)
        made = await services.register_vendor(msgspec.to_builtins(data), limiter=login_limiter,
                                              address=client_address(request))
        body = out(RegisteredOut, {"vendor_id": made.vendor_id, "username": made.username,
                                   "vendor_code": made.vendor_code})
        return Response(body, status_code=201, headers={"Cache-Control": "no-store"})


class OnboardingController(Controller):
    path = "/api/onboarding"
    tags = ["onboarding"]

    @get("/profile")
    async def profile(self, user: AuthUser) -> ProfileOut:
        return out(ProfileOut, pick(ProfileOut, await services.my_profile(user)))

    @put("/profile")
    async def update_profile(self, user: AuthUser, data: JSONBody[ProfileIn]) -> ProfileOut:
        return out(ProfileOut, pick(ProfileOut, await services.update_profile(user, msgspec.to_builtins(data))))

    @get("/scopes")
    async def scopes(self, user: AuthUser, status: str | None = None) -> list[ScopeOut]:
        return out(list[ScopeOut], [pick(ScopeOut, r) for r in await services.list_scopes(user, status=status)])

    @post("/scopes")
    async def apply_scope(self, user: AuthUser, data: JSONBody[ScopeIn]) -> Created:
        return Created(id=await services.apply_scope(user, msgspec.to_builtins(data)))

    @post("/scopes/{scope_id:int}/decide", status_code=HTTP_200_OK)
    async def decide_scope(self, user: AuthUser, scope_id: int, data: JSONBody[DecideScopeIn]) -> list[ScopeOut]:
        await services.decide_scope(user, scope_id, approve=data.approve, reason=data.reason)
        return out(list[ScopeOut], [pick(ScopeOut, r) for r in await services.list_scopes(user)])

    @get("/pending")
    async def pending(self, user: AuthUser) -> PendingOut:
        return out(PendingOut, await services.pending_counts(user))

    @get("/applications")
    async def applications(self, user: AuthUser, status: str | None = None) -> list[ApplicationSummaryOut]:
        rows = await services.list_applications(user, status=status)
        return out(list[ApplicationSummaryOut], [pick(ApplicationSummaryOut, r) for r in rows])

    @post("/applications")
    async def file(self, user: AuthUser, data: JSONBody[ApplicationIn], terminal_changes: TerminalChangesDep) -> FiledOut:
        app_id = await services.file_application(user, msgspec.to_builtins(data), changes=terminal_changes)
        app = await services.get_application(user, app_id)
        return FiledOut(id=app_id, channels_required=app["channels_required"], channels_planned=app["channels_planned"],
                        warning=filed_warning(app["channels_planned"], app["channels_required"]))

    @get("/applications/{application_id:int}")
    async def application(self, user: AuthUser, application_id: int) -> Response[ApplicationOut]:
        body = application_out(await services.get_application(user, application_id))
        return Response(body, headers={"Cache-Control": "no-store"})  # may hold the vendor's test credential

    @put("/applications/{application_id:int}")
    async def resubmit(self, user: AuthUser, application_id: int, data: JSONBody[ApplicationIn],
                       terminal_changes: TerminalChangesDep) -> ApplicationOut:
        await services.resubmit(user, application_id, msgspec.to_builtins(data), changes=terminal_changes)
        return application_out(await services.get_application(user, application_id))

    @post("/applications/{application_id:int}/test", status_code=HTTP_200_OK)
    async def grant_test(self, user: AuthUser, application_id: int, data: JSONBody[RemarkIn],
                         terminal_changes: TerminalChangesDep) -> ApplicationOut:
        await services.grant_test(user, application_id, data.remark, changes=terminal_changes)
        return application_out(await services.get_application(user, application_id))

    @post("/applications/{application_id:int}/production", status_code=HTTP_200_OK)
    async def grant_production(self, user: AuthUser, application_id: int, data: JSONBody[RemarkIn],
                               terminal_changes: TerminalChangesDep) -> ApplicationOut:
        await services.grant_production(user, application_id, data.remark, changes=terminal_changes)
        return application_out(await services.get_application(user, application_id))

    @post("/applications/{application_id:int}/report", status_code=HTTP_200_OK)
    async def report(self, user: AuthUser, application_id: int, data: JSONBody[ReportIn],
                     terminal_changes: TerminalChangesDep) -> ApplicationOut:
        await services.report_hookup(user, application_id, data.result, changes=terminal_changes)
        return application_out(await services.get_application(user, application_id))

    @post("/applications/{application_id:int}/verify", status_code=HTTP_200_OK)
    async def verify(self, user: AuthUser, application_id: int, data: JSONBody[RemarkIn],
                     terminal_changes: TerminalChangesDep) -> ApplicationOut:
        await services.verify(user, application_id, data.remark, changes=terminal_changes)
        return application_out(await services.get_application(user, application_id))

    @post("/applications/{application_id:int}/return", status_code=HTTP_200_OK)
    async def return_application(self, user: AuthUser, application_id: int, data: JSONBody[ReasonIn],
                                 terminal_changes: TerminalChangesDep) -> ApplicationOut:
        await services.return_application(user, application_id, data.reason, changes=terminal_changes)
        return application_out(await services.get_application(user, application_id))
