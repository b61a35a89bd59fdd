"""Device management API: vendors register; project staff and vendors see terminals and their state."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, patch, post
from litestar.params import JSONBody

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.auth import AuthUser, roles
from backend.devices import services
from backend.devices.schemas import TerminalIn, TerminalPatch, VendorIn
from backend.errors import NotFound


async def terminal_for_change(user: CurrentUser, terminal_id: int) -> dict[str, Any]:
    """The terminal, if this user may change it: its vendor, or staff who may change its project.
    Anyone else gets 404 (its existence is not revealed)."""
    t = await services.get_terminal(terminal_id)
    if user.role == "vendor":
        if t["vendor"] != user.vendor_id:
            raise NotFound("设备不存在", "Terminal not found", field="terminal_id")
    else:
        await require_project(user, t["project"], write=True)
    return t


class VendorController(Controller):
    path = "/api/vendors"
    tags = ["devices"]

    @get("/")
    async def list_vendors(self, user: AuthUser) -> list[dict[str, Any]]:
        return await services.list_vendors()

    @post("/", guards=[roles()])
    async def create(self, data: JSONBody[VendorIn]) -> dict[str, int]:
        return {"id": await services.create_vendor(data.name, data.code, enterprise_id=data.enterprise_id,
                                                   contact_phone=data.contact_phone)}


class TerminalController(Controller):
    path = "/api"
    tags = ["devices"]

    @get("/terminals")
    async def list_all(self, user: AuthUser) -> list[dict[str, Any]]:
        if user.role == "vendor":
            return await services.list_terminals(vendor_id=user.vendor_id or -1)
        return await services.list_terminals(await visible_project_ids(user))

    @get("/projects/{project_id:int}/terminals")
    async def list_for_project(self, project_id: int, user: AuthUser) -> list[dict[str, Any]]:
        if user.role == "vendor":
            return [t for t in await services.list_terminals(vendor_id=user.vendor_id or -1)
                    if t["project"] == project_id]
        await require_project(user, project_id)
        return await services.list_terminals({project_id})

    @post("/projects/{project_id:int}/terminals", guards=[roles("enterprise", "project_staff")])
    async def register(self, project_id: int, data: JSONBody[TerminalIn], user: AuthUser) -> dict[str, int]:
        """Project staff bind a vendor's device to their project.  Vendors cannot: a device bound to a
        project downloads its whitelist (names and full ID numbers) over the gate protocol."""
        await require_project(user, project_id, write=True)
        tid = await services.register_terminal(project_id, data.serial, data.vendor_id, data.channel, data.direction)
        return {"id": tid}

    @patch("/terminals/{terminal_id:int}", guards=[roles("enterprise", "project_staff", "vendor")])
    async def update(self, terminal_id: int, data: JSONBody[TerminalPatch], user: AuthUser) -> dict[str, Any]:
        await terminal_for_change(user, terminal_id)
        changes = {k: v for k, v in (("enabled", data.enabled), ("channel", data.channel),
                                     ("direction", data.direction)) if v is not None}
        await services.update_terminal(terminal_id, changes)
        return await services.get_terminal(terminal_id)
