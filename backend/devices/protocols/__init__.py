"""Terminal protocols: the registry of protocol name → adapter.

A terminal records the protocol it speaks (``terminal.protocol``, default ``jiangmen-v1``); a gate
server speaks one protocol and serves only the terminals registered for it (others are refused at
login).  An adapter implements ``device_tcp.backend.GateBackend`` (or its own codec's backend
Protocol) over the terminal lifecycle (``backend.devices.terminals``) and the domain calls
(``backend.devices.domain``) only — docs/gate.md, "Adding a second terminal protocol".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.devices.protocols.jiangmen import PROTOCOL as JIANGMEN_V1
from backend.devices.protocols.jiangmen import JiangmenAdapter

DEFAULT_PROTOCOL = JIANGMEN_V1

# name → adapter factory (keywords: the lifecycle's and the domain's options, see JiangmenAdapter)
ADAPTERS: dict[str, Callable[..., Any]] = {
    JIANGMEN_V1: JiangmenAdapter,
}


def adapter_for(protocol: str, **options: Any) -> Any:
    """A new adapter for ``protocol``; ValueError for a name nobody registered."""
    try:
        factory = ADAPTERS[protocol]
    except KeyError:
        raise ValueError(f"unknown terminal protocol {protocol!r} (known: {', '.join(sorted(ADAPTERS))})") from None
    return factory(**options)
