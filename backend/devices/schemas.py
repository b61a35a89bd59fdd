from __future__ import annotations

from datetime import datetime

import msgspec

from backend.org.schemas import Id, Strict, Text
from backend.schemas import Out


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
    # the protocol the terminal speaks (a gate server serves only its own protocol's terminals)
    protocol: Text(32) = "jiangmen-v1"


class TerminalPatch(Strict):
    enabled: bool | None = None
    channel: int | None = None
    direction: str | None = None
    allowed_networks: list[Text(50)] | None = None  # [] = any address again
    protocol: Text(32) | None = None


# --- responses ---------------------------------------------------------------------------------------------


class VendorOut(Out):
    """A vendor as others see it: never its code."""

    id: int
    name: str


class VendorCodeOut(Out):
    """The reply that makes a vendor code (create, rotate): the only place the code is shown."""

    id: int
    code: str
    notice: str
    notice_en: str
    disconnected: int | msgspec.UnsetType = msgspec.UNSET  # rotate only: terminals logged out


class TerminalRowOut(Out):
    id: int
    serial: str
    project: int
    project_name: str
    vendor: int
    vendor_name: str
    channel: int
    direction: str
    enabled: bool
    online: bool
    last_seen_at: datetime | None
    last_login_at: datetime | None
    last_offline_at: datetime | None
    created_at: datetime
    timezone: str
    allowed_networks: str | None


class TerminalOut(Out):
    """One terminal (the reply of a change)."""

    id: int
    serial: str
    vendor: int
    project: int
    channel: int
    direction: str
    enabled: bool
    online: bool
    last_seen_at: datetime | None
    last_login_at: datetime | None
    last_offline_at: datetime | None
    last_peer: str | None
    created_at: datetime
    allowed_networks: str | None
    protocol: str
    protocol_label: str
    # how far its access application went (TerminalAccess; backend/onboarding): verified unless applied through it
    access_state: str = "verified"


class AlarmOut(Out):
    id: int
    kind: str
    kind_label: str
    serial: str
    peer: str
    detail: str
    terminal: int | None
    project: int | None
    project_name: str | None
    vendor: int | None
    at: datetime
