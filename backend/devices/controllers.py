"""Device management API: vendors register; project staff and vendors see terminals and their state.

Vendor codes (厂家识别码) are credentials (a terminal logs in with the code and its serial alone,
seed 001): the code is in the reply of the call that made it (create, rotate) and nowhere else.
Serials are shown to the project's staff (project staff, enterprise accounts of the project), the
vendor (its own terminals), the district's supervisors and admin — never to foremen or workers."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, patch, post
from litestar.params import JSONBody

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.auth import AuthUser, GatesDep, TerminalChangesDep, roles
from backend.devices import services
from backend.devices.schemas import (
    AlarmOut,
    TerminalIn,
    TerminalOut,
    TerminalPatch,
    TerminalRowOut,
    VendorCodeOut,
    VendorIn,
    VendorOut,
)
from backend.devices.services import SERIAL_ROLES
from backend.errors import Forbidden, NotFound
from backend.schemas import Created, out
from backend.vocabulary import Role

CODE_NOTICE = ("厂家识别码只显示这一次，请立即配置到设备并妥善保管；遗失后只能重新生成",
               "The vendor code is shown only this once: configure it on the devices and keep it safe; "
               "if lost, rotate it")


def require_serial_role(user: CurrentUser) -> None:
    if user.role not in SERIAL_ROLES:
        raise Forbidden("当前角色不能查看考勤设备", "Your role may not see the terminals", code="role_forbidden")


async def terminal_for_change(user: CurrentUser, terminal_id: int) -> dict[str, Any]:
    """The terminal, if this user may change it: its vendor, or staff who may change its project.
    Anyone else gets 404 (its existence is not revealed)."""
    t = await services.get_terminal(terminal_id)
    if user.role == Role.vendor:
        if t["vendor"] != user.vendor_id:
            raise NotFound("设备不存在", "Terminal not found", field="terminal_id")
    else:
        await require_project(user, t["project"], write=True)
    return t


class VendorController(Controller):
    path = "/api/vendors"
    tags = ["devices"]

    @get("/", guards=[roles(Role.supervisor, Role.enterprise, Role.project_staff, Role.vendor)])
    async def list_vendors(self, user: AuthUser) -> list[VendorOut]:
        """Id and name (for binding a device to a project); never the code."""
        return out(list[VendorOut], await services.list_vendors())

    @post("/", guards=[roles()])
    async def create(self, data: JSONBody[VendorIn]) -> VendorCodeOut:
        made = await services.create_vendor(data.name, enterprise_id=data.enterprise_id,
                                            contact_phone=data.contact_phone)
        return VendorCodeOut(id=made.vendor_id, code=made.code, notice=CODE_NOTICE[0], notice_en=CODE_NOTICE[1])

    @post("/{vendor_id:int}/rotate-code", guards=[roles(Role.vendor)], status_code=200)
    async def rotate_code(self, vendor_id: int, user: AuthUser, terminal_changes: TerminalChangesDep,
                          gates: GatesDep) -> VendorCodeOut:
        """A new vendor code (shown once); the old one stops working and the terminals logged in with
        it are disconnected.  The vendor itself or admin."""
        if user.role == Role.vendor and user.vendor_id != vendor_id:
            raise NotFound("设备厂商不存在", "Vendor not found", field="vendor_id")
        made = await services.rotate_vendor_code(vendor_id, changes=terminal_changes)
        dropped = await gates.vendor_code_rotated(vendor_id, peer=f"user {user.id}")
        return VendorCodeOut(id=vendor_id, code=made.code, disconnected=dropped,
                             notice=CODE_NOTICE[0], notice_en=CODE_NOTICE[1])


class TerminalController(Controller):
    path = "/api"
    tags = ["devices"]

    @get("/terminals")
    async def list_all(self, user: AuthUser) -> list[TerminalRowOut]:
        require_serial_role(user)
        if user.role == Role.vendor:
            return out(list[TerminalRowOut], await services.list_terminals(vendor_id=user.vendor_id or -1))
        return out(list[TerminalRowOut], await services.list_terminals(await visible_project_ids(user)))

    @get("/projects/{project_id:int}/terminals")
    async def list_for_project(self, project_id: int, user: AuthUser) -> list[TerminalRowOut]:
        if user.role == Role.vendor:
            return out(list[TerminalRowOut], [t for t in await services.list_terminals(vendor_id=user.vendor_id or -1)
                                              if t["project"] == project_id])
        await require_project(user, project_id)
        require_serial_role(user)
        return out(list[TerminalRowOut], await services.list_terminals({project_id}))

    @post("/projects/{project_id:int}/terminals", guards=[roles(Role.enterprise, Role.project_staff)])
    async def register(self, project_id: int, data: JSONBody[TerminalIn], user: AuthUser,
                       terminal_changes: TerminalChangesDep) -> Created:
        """Project staff bind a vendor's device to their project.  Vendors cannot: a device bound to a
        project downloads its whitelist (names and full ID numbers) over the gate protocol."""
        await require_project(user, project_id, write=True)
        tid = await services.register_terminal(project_id, data.serial, data.vendor_id, data.channel, data.direction,
                                               allowed_networks=data.allowed_networks, protocol=data.protocol,
                                               changes=terminal_changes)
        return Created(id=tid)

    @patch("/terminals/{terminal_id:int}", guards=[roles(Role.enterprise, Role.project_staff, Role.vendor)])
    async def update(self, terminal_id: int, data: JSONBody[TerminalPatch], user: AuthUser,
                     terminal_changes: TerminalChangesDep) -> TerminalOut:
        await terminal_for_change(user, terminal_id)
        changes = {k: v for k, v in (("enabled", data.enabled), ("channel", data.channel),
                                     ("direction", data.direction), ("allowed_networks", data.allowed_networks),
                                     ("protocol", data.protocol))
                   if v is not None}
        await services.update_terminal(terminal_id, changes, terminal_changes=terminal_changes)
        return out(TerminalOut, await services.get_terminal(terminal_id))

    @get("/terminal-alarms")
    async def alarms(self, user: AuthUser) -> list[AlarmOut]:
        """Gate alarms (a serial online from two addresses, logins from outside the terminal's
        networks, too many failed logins): the vendor its own; everyone else of SERIAL_ROLES their
        projects (supervisors: their districts)."""
        require_serial_role(user)
        if user.role == Role.vendor:
            return out(list[AlarmOut], await services.list_alarms(vendor_id=user.vendor_id or -1))
        return out(list[AlarmOut], await services.list_alarms(await visible_project_ids(user)))
