from __future__ import annotations

from backend.org.schemas import Id, Strict, Text


class VendorIn(Strict):
    name: Text(200)
    code: Text(32)
    enterprise_id: Id | None = None
    contact_phone: Text(20) | None = None


class TerminalIn(Strict):
    serial: Text(32)
    vendor_id: Id
    channel: int = 1
    direction: str = "in"


class TerminalPatch(Strict):
    enabled: bool | None = None
    channel: int | None = None
    direction: str | None = None
