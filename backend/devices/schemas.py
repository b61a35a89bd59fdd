from __future__ import annotations

from backend.org.schemas import Strict


class VendorIn(Strict):
    name: str
    code: str
    enterprise_id: int | None = None
    contact_phone: str | None = None


class TerminalIn(Strict):
    serial: str
    vendor_id: int
    channel: int = 1
    direction: str = "in"


class TerminalPatch(Strict):
    enabled: bool | None = None
    channel: int | None = None
    direction: str | None = None
