"""Terminals and vendors: registration, online state, outages.  All SQL of the domain."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from backend.devices.tables import Terminal, Vendor
from backend.errors import Conflict, NotFound, invalid
from backend.org.tables import Project

_CODE = re.compile(r"[\x21-\x7e]{1,32}")  # printable ASCII, as sent in the 32-byte fields of login 843


async def create_vendor(name: str, code: str, *, enterprise_id: int | None = None,
                        contact_phone: str | None = None) -> int:
    if not name.strip():
        raise invalid("name", "厂商名称不能为空", "Vendor name is required")
    if not _CODE.fullmatch(code):
        raise invalid("code", "厂家识别码应为 1–32 个可见 ASCII 字符", "Vendor code must be 1–32 printable ASCII")
    if await Vendor.exists().where(Vendor.code == code):
        raise Conflict("厂家识别码已存在", "Vendor code already exists", field="code")
    v = Vendor(name=name.strip(), code=code, enterprise=enterprise_id, contact_phone=contact_phone)
    await v.save()
    return v.id


async def list_vendors() -> list[dict[str, Any]]:
    return await Vendor.select(Vendor.id, Vendor.name, Vendor.code).order_by(Vendor.id)


async def register_terminal(project_id: int, serial: str, vendor_id: int, channel: int = 1,
                            direction: str = "in") -> int:
    if not _CODE.fullmatch(serial):
        raise invalid("serial", "设备序列号应为 1–32 个可见 ASCII 字符", "Serial must be 1–32 printable ASCII")
    if direction not in ("in", "out"):
        raise invalid("direction", "方向应为 in（进）或 out（出）", "Direction must be in or out")
    if not 1 <= channel <= 999:
        raise invalid("channel", "通道号应在 1–999 之间", "Channel must be 1–999")
    if not await Vendor.exists().where(Vendor.id == vendor_id):
        raise invalid("vendor_id", "设备厂商不存在", "Vendor does not exist")
    if not await Project.exists().where(Project.id == project_id):
        raise NotFound("项目不存在", "Project not found", field="project_id")
    if await Terminal.exists().where(Terminal.serial == serial):
        raise Conflict("该设备序列号已登记", "This serial is already registered", field="serial")
    t = Terminal(serial=serial, vendor=vendor_id, project=project_id, channel=channel, direction=direction)
    await t.save()
    return t.id


async def list_terminals(project_ids: set[int] | None = None, vendor_id: int | None = None) -> list[dict[str, Any]]:
    q = Terminal.select(
        Terminal.id, Terminal.serial, Terminal.project, Terminal.project.name.as_alias("project_name"),
        Terminal.vendor, Terminal.vendor.name.as_alias("vendor_name"), Terminal.channel, Terminal.direction,
        Terminal.enabled, Terminal.online, Terminal.last_seen_at, Terminal.last_login_at, Terminal.last_offline_at,
    ).order_by(Terminal.id)
    if project_ids is not None:
        if not project_ids:
            return []
        q = q.where(Terminal.project.is_in(sorted(project_ids)))
    if vendor_id is not None:
        q = q.where(Terminal.vendor == vendor_id)
    return await q


async def get_terminal(terminal_id: int) -> dict[str, Any]:
    row = await Terminal.select().where(Terminal.id == terminal_id).first()
    if row is None:
        raise NotFound("设备不存在", "Terminal not found", field="terminal_id")
    return row


async def update_terminal(terminal_id: int, changes: dict[str, Any]) -> None:
    if "direction" in changes and changes["direction"] not in ("in", "out"):
        raise invalid("direction", "方向应为 in（进）或 out（出）", "Direction must be in or out")
    if changes:
        await Terminal.update({getattr(Terminal, k): v for k, v in changes.items()}).where(Terminal.id == terminal_id)


async def mark_online(serial: str, online: bool, peer: str | None = None) -> None:
    now = datetime.now(UTC)
    changes: dict[Any, Any] = {Terminal.online: online, Terminal.last_seen_at: now}
    if online:
        changes[Terminal.last_login_at] = now
        changes[Terminal.last_peer] = peer
    else:
        changes[Terminal.last_offline_at] = now
    await Terminal.update(changes).where(Terminal.serial == serial)


async def touch(serial: str) -> None:
    await Terminal.update({Terminal.last_seen_at: datetime.now(UTC)}).where(Terminal.serial == serial)
