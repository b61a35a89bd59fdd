"""The terminal-protocol seam (issue 12, item 6): a terminal records the protocol it speaks
(``terminal.protocol``, default ``jiangmen-v1``), a gate server serves only the terminals of its
protocol, and the registry maps protocol names to adapters."""

from __future__ import annotations

import pytest

from backend.devices import services as devices
from backend.devices.protocols import ADAPTERS, DEFAULT_PROTOCOL, adapter_for
from backend.devices.protocols.jiangmen import JiangmenAdapter
from backend.devices.tables import Terminal
from backend.errors import InvalidInput
from device_tcp.backend import GateBackend
from tests.integration.conftest import unique
from tests.integration.gate.gate_site import make_site, register, terminal_row

pytestmark = pytest.mark.integration


def test_the_registry_maps_the_default_protocol_to_the_seed_001_adapter():
    assert DEFAULT_PROTOCOL == "jiangmen-v1" == devices.DEFAULT_PROTOCOL == Terminal.protocol.default
    assert ADAPTERS[DEFAULT_PROTOCOL] is JiangmenAdapter
    adapter = adapter_for(DEFAULT_PROTOCOL, punch_concurrency=None)
    assert isinstance(adapter, GateBackend) and adapter.protocol == DEFAULT_PROTOCOL
    with pytest.raises(ValueError, match="unknown terminal protocol"):
        adapter_for("no-such-protocol")


async def test_a_terminal_speaks_jiangmen_v1_unless_registered_otherwise(world):
    site = await make_site(world)
    serial = await register(world, site.project)
    assert (await terminal_row(serial))["protocol"] == "jiangmen-v1"
    other = unique("GATE-P-")
    await devices.register_terminal(site.project, other, world.vendor, protocol="vendor-x-v2")
    assert (await terminal_row(other))["protocol"] == "vendor-x-v2"
    with pytest.raises(InvalidInput):
        await devices.register_terminal(site.project, unique("GATE-P-"), world.vendor, protocol="Bad Name!")


async def test_a_terminal_of_another_protocol_is_refused_at_login_843(world, open_terminal, gate_server):
    site = await make_site(world)
    serial = unique("GATE-P-")
    await devices.register_terminal(site.project, serial, world.vendor, protocol="vendor-x-v2")
    t = await open_terminal(serial, login=False)
    r = await t.login()
    assert not r.ok and r.message.startswith("设备登记的通信协议与本服务不符")
    assert "vendor-x-v2" in r.message
    row = await terminal_row(serial)
    assert not row["online"] and row["last_login_at"] is None
    # the same terminal, moved to this server's protocol, logs in
    await devices.update_terminal(row["id"], {"protocol": "jiangmen-v1"})
    t2 = await open_terminal(serial, login=False)
    assert (await t2.login()).ok
