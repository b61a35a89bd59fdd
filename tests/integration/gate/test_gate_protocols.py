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
    # the names a terminal may be registered for are exactly the registry's (devices.services sits below
    # the adapters and keeps its own list, with the label a person sees)
    assert set(devices.PROTOCOL_LABELS) == set(ADAPTERS)
    adapter = adapter_for(DEFAULT_PROTOCOL, punch_concurrency=None)
    assert isinstance(adapter, GateBackend) and adapter.protocol == DEFAULT_PROTOCOL
    with pytest.raises(ValueError, match="unknown terminal protocol"):
        adapter_for("no-such-protocol")


async def test_a_terminal_speaks_jiangmen_v1_unless_registered_otherwise(world):
    site = await make_site(world)
    serial = await register(world, site.project)
    assert (await terminal_row(serial))["protocol"] == "jiangmen-v1"
    # a protocol no adapter speaks is refused, nothing stored
    for name in ("vendor-x-v2", "Bad Name!"):
        other = unique("GATE-P-")
        with pytest.raises(InvalidInput) as e:
            await devices.register_terminal(site.project, other, world.vendor, protocol=name)
        assert e.value.code == "unknown_protocol" and "jiangmen-v1" in e.value.zh
        assert not await Terminal.exists().where(Terminal.serial == other)
    with pytest.raises(InvalidInput):
        await devices.update_terminal((await terminal_row(serial))["id"], {"protocol": "vendor-x-v2"})
    assert (await terminal_row(serial))["protocol"] == "jiangmen-v1"


async def test_a_terminal_of_another_protocol_is_refused_at_login_843(world, open_terminal, gate_server):
    site = await make_site(world)
    serial = unique("GATE-P-")
    await devices.register_terminal(site.project, serial, world.vendor)
    # registered for a protocol another gate server speaks (a name this build's registry does not hold)
    await Terminal.update({Terminal.protocol: "vendor-x-v2"}).where(Terminal.serial == serial)
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


async def test_the_protocol_is_set_and_changed_through_the_api(client, world):
    from tests.integration.conftest import BearerHeaders

    admin = await BearerHeaders()(world.users["admin"])
    serial = unique("GATE-API-")
    r = await client.post(f"/api/projects/{world.project_a}/terminals", headers=admin,
                          json={"serial": serial, "vendor_id": world.vendor, "protocol": "vendor-x-v2"})
    assert r.status_code == 400 and r.json()["field"] == "protocol", r.text
    assert not await Terminal.exists().where(Terminal.serial == serial)
    r = await client.post(f"/api/projects/{world.project_a}/terminals", headers=admin,
                          json={"serial": serial, "vendor_id": world.vendor, "protocol": "jiangmen-v1"})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    r = await client.patch(f"/api/terminals/{tid}", headers=admin, json={"protocol": "nope"})
    assert r.status_code == 400 and "未知的通信协议" in r.json()["message"], r.text
    r = await client.patch(f"/api/terminals/{tid}", headers=admin, json={"protocol": "jiangmen-v1"})
    assert r.status_code == 200 and r.json()["protocol_label"] == "江门市实名设备直连对接标准 V1.0", r.text
