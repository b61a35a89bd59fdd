from __future__ import annotations

from backend.org.schemas import Id, Strict, Text


class VendorIn(Strict):
    """A new vendor; its code (厂家识别码) is made by the server and shown once in the reply."""

    name: Text(200)
    enterprise_id: Id | None = None
    contact_phone: Text(20) | None = None


class TerminalIn(Strict):
    serial: Text(32)
    vendor_id: Id
    channel: int = 1
    direction: str = "in"
    # source networks the terminal may log in from (CIDRs); none = any address
    allowed_networks: list[Text(50)] | None = None


class TerminalPatch(Strict):
    enabled: bool | None = None
    channel: int | None = None
    direction: str | None = None
    allowed_networks: list[Text(50)] | None = None  # [] = any address again
