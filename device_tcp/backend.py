"""What the gate server asks of the application (the real implementation is the web app's adapter of
this protocol, ``backend/devices/protocols/jiangmen.py``).

The server calls these methods one at a time per connection. ``serial`` is always the device's
unique id from its login (843). Raise :class:`GateRefused` with the text the terminal should show
to refuse a request; any other exception becomes a flag-1 reply "服务器内部错误" and a log line,
and the connection stays open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from device_tcp.messages import Enrolment, PersonFeatures, Punch, Whitelist, WhitelistRecord

__all__ = [
    "Enrolment",
    "GateBackend",
    "GateRefused",
    "PersonFeatures",
    "Punch",
    "Whitelist",
    "WhitelistRecord",
]


class GateRefused(Exception):
    """Refuse a terminal's request; ``message`` (UTF-8, Chinese) is shown on the terminal.
    ``close``: close the connection after the reply (the device must log in again)."""

    def __init__(self, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.close = close


@runtime_checkable
class GateBackend(Protocol):
    async def login(self, vendor_code: str, serial: str, peer: str) -> None:
        """843: accept the device (vendor code known, terminal registered and enabled) or raise
        GateRefused. ``peer`` is "host:port" of the connection."""
        ...

    async def heartbeat(self, serial: str) -> None:
        """65535: the device is alive (update last_seen)."""
        ...

    async def whitelist(self, serial: str) -> Whitelist:
        """849: the roster of the device's project as the terminal should hold it."""
        ...

    async def person_features(self, serial: str, id_number: str) -> PersonFeatures:
        """845: one worker's data and photos; GateRefused if unknown / not on this project."""
        ...

    async def enrol(self, serial: str, enrolment: Enrolment) -> None:
        """852: store an enrolment made at the terminal; GateRefused(reason) to refuse
        (the reason is cut to 30 UTF-8 bytes on the terminal)."""
        ...

    async def punch(self, serial: str, punch: Punch, received_at: datetime) -> None:
        """848: record a punch. Must return only after the punch is committed: the terminal is
        told "recorded" as soon as this returns. Must be idempotent (serial + worker no +
        captured_at): a terminal resends a punch whose ack it did not get. ``received_at`` is the
        server clock (UTC, aware) when the frame was complete; ``punch.captured_at`` is the
        terminal's naive local time."""
        ...

    async def connection_closed(self, serial: str) -> None:
        """The logged-in connection of this device ended (not called when it was replaced by a
        newer connection of the same device)."""
        ...

    # Optional (the server calls it when the backend has it):
    # async def login_conflict(self, serial: str, peer: str, online_peer: str) -> None
    #     a login for ``serial`` from ``peer`` was refused: the device is online from ``online_peer``.
