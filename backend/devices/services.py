"""Terminals and vendors: registration, online state, outages, and what the gate protocol reads
(terminal look-up at login, the whitelist, a person's data).  All SQL of the domain."""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.query.functions.string import Length

from backend.crypto import decrypt_text, keyed_hash, keyed_hashes, lookup_hashes
from backend.db import engine, fetch, in_list, listen_forever, write_transaction
from backend.devices.tables import Terminal, TerminalAlarm, Vendor
from backend.errors import Conflict, NotFound, invalid
from backend.org.dictionaries import PROJECT_STATUS
from backend.org.services import ensure_project_writable, rules_for_district
from backend.org.tables import Enterprise, Project
from backend.validators import parse_phone
from backend.vocabulary import ALARM_KIND_ZH, TERMINAL_ACCESS_ZH, Direction, ProjectStatus, Role, TerminalAccess
from backend.workforce.services import on_roster
from backend.workforce.tables import Enrolment, Person, RosterEntry

_SERIAL = re.compile(r"[\x21-\x7e]{1,32}")  # printable ASCII, as sent in the 32-byte field of login 843



# Roles that may see terminals (their serials) within their scope.  A serial is half of a terminal's login
# (seed 001 843: vendor code + serial), so everyone else sees it masked (docs/security.md §2).
SERIAL_ROLES = frozenset({Role.admin, Role.supervisor, Role.enterprise, Role.project_staff, Role.vendor})


def mask_serial(serial: str) -> str:
    """``DEMO-GATE-01-IN`` → ``***********1-IN``: the last four characters tell a site's terminals apart."""
    return "*" * max(0, len(serial) - 4) + serial[-4:] if len(serial) > 4 else "*" * len(serial)

TERMINALS_CHANNEL = "smz_terminals"  # NOTIFY on every registration change (PostgreSQL): other processes drop caches


class TerminalChanges:
    """A counter bumped on every change of a terminal's registration, so that a gate server drops what it cached
    about terminals at once: by this process's changes (when the caller hands it in) and, on PostgreSQL, by every
    process's (``listen``: NOTIFY ``smz_terminals``).  ``listening`` is true while that LISTEN is up — only then may
    a gate server keep terminal rows long (``TerminalLifecycle``); otherwise it re-reads them every few seconds.
    One per app: ``backend.runtime.AppServices.terminal_changes``."""

    def __init__(self) -> None:
        self.generation = 0
        self.listening = False

    def changed(self) -> None:
        self.generation += 1

    async def listen(self) -> None:
        """Follow the other processes' changes for as long as the task runs (PostgreSQL; returns at once on SQLite,
        whose single process has no one else)."""
        if not isinstance(engine(), PostgresEngine):
            return
        await listen_forever(TERMINALS_CHANNEL, lambda _payload: self.changed(), on_up=self._up, on_down=self._down,
                             what="terminal changes")

    def _up(self) -> None:
        self.listening = True
        self.changed()  # whatever changed while nobody listened

    def _down(self) -> None:
        self.listening = False
        self.changed()


async def _terminals_changed(changes: TerminalChanges | None) -> None:
    if changes is not None:
        changes.changed()
    if isinstance(engine(), PostgresEngine):  # every process's gate servers, this one's included (delivered at commit)
        await Terminal.raw("SELECT pg_notify({}, '')", TERMINALS_CHANNEL)


# --- Vendor codes (厂家识别码): credentials -------------------------------------------------------
#
# Seed 001 authenticates a terminal at login 843 by the vendor code and its serial alone, so the code
# is a secret: made here (32 characters, ``secrets``), shown once to whoever created or rotated it,
# stored only as a keyed hash (HMAC-SHA256 under a key derived from SMZ_SECRET_KEY) and compared in
# constant time.  Never returned by a list or page.

VENDOR_CODE_PURPOSE = "vendor-code"
# 32 characters fill the 32-byte field of login 843.  Alphabet without look-alikes (0/O, 1/I/l) so a
# code read off a screen and typed into a terminal's set-up menu comes out right: 31 symbols, 5 bits
# each → 158 bits of entropy.
VENDOR_CODE_LENGTH = 32
VENDOR_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class NewVendorCode:
    """A vendor (id) and its fresh code: the only time the code is ever shown."""

    vendor_id: int
    code: str


def new_vendor_code() -> str:
    return "".join(secrets.choice(VENDOR_CODE_ALPHABET) for _ in range(VENDOR_CODE_LENGTH))


def vendor_code_hash(code: str) -> str:
    return keyed_hash(code, VENDOR_CODE_PURPOSE)


def vendor_code_matches(code: str, stored_hash: str | None) -> bool:
    """Constant-time check of a code a terminal sent against the stored hash."""
    if not stored_hash:
        return False
    # any key of the ring: a code hashed before a key rotation matches while its key is listed (docs/security.md)
    return any([hmac.compare_digest(h, stored_hash) for h in keyed_hashes(code, VENDOR_CODE_PURPOSE)])


def _code_placeholder() -> str:
    # vendor.code is NOT NULL UNIQUE from the days it held the plaintext: a random, non-secret
    # value (never a valid code: the alphabet has no "-")
    return "-" + secrets.token_hex(15)


async def create_vendor(name: str, *, enterprise_id: int | None = None,
                        contact_phone: str | None = None) -> NewVendorCode:
    """Create a vendor with a fresh vendor code; the caller shows the code once (API reply, CLI)."""
    if not name.strip():
        raise invalid("name", "厂商名称不能为空", "Vendor name is required")
    if enterprise_id is not None and not await Enterprise.exists().where(Enterprise.id == enterprise_id):
        raise invalid("enterprise_id", "企业不存在", "Enterprise does not exist")
    contact_phone = parse_phone(contact_phone, "contact_phone")
    code = new_vendor_code()
    v = Vendor(name=name.strip(), code=_code_placeholder(), code_hash=vendor_code_hash(code),
               enterprise=enterprise_id, contact_phone=contact_phone)
    await v.save()
    return NewVendorCode(v.id, code)


async def rotate_vendor_code(vendor_id: int, *, changes: TerminalChanges | None = None) -> NewVendorCode:
    """A new code for the vendor; the old one stops working at once (terminals logged in with it are
    disconnected by the gate servers: ``backend.devices.gate.GateRegistry.vendor_code_rotated``)."""
    if not await Vendor.exists().where(Vendor.id == vendor_id):
        raise NotFound("设备厂商不存在", "Vendor not found", field="vendor_id")
    code = new_vendor_code()
    await Vendor.update({Vendor.code_hash: vendor_code_hash(code), Vendor.code_rotated_at: datetime.now(UTC)}).where(
        Vendor.id == vendor_id)
    await _terminals_changed(changes)
    return NewVendorCode(vendor_id, code)


async def list_vendors() -> list[dict[str, Any]]:
    """Vendors as others see them: id and name (never the code, nor its hash)."""
    return await Vendor.select(Vendor.id, Vendor.name).order_by(Vendor.id)


async def vendor_serials(vendor_id: int) -> set[str]:
    rows = await Terminal.select(Terminal.serial).where(Terminal.vendor == vendor_id)
    return {r["serial"] for r in rows}


# --- Terminals ---------------------------------------------------------------------------------

# Enough for a site's VPN ranges; a longer list is a configuration mistake.
MAX_ALLOWED_NETWORKS = 16


def parse_networks(value: str | Iterable[str] | None) -> str | None:
    """A terminal's source networks as stored: CIDRs (or single addresses) separated by spaces,
    normalised; None or empty = any address."""
    if value is None:
        return None
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v).strip() for v in value]
    items = [i for i in items if i]
    if not items:
        return None
    if len(items) > MAX_ALLOWED_NETWORKS:
        raise invalid("allowed_networks", f"来源网段最多 {MAX_ALLOWED_NETWORKS} 个",
                      f"At most {MAX_ALLOWED_NETWORKS} source networks")
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise invalid("allowed_networks", f"来源网段 {item[:50]} 无效，应为 CIDR（如 10.8.0.0/16）",
                          f"Invalid source network {item[:50]}: use CIDR such as 10.8.0.0/16") from None
    return " ".join(out)


def address_allowed(host: str, networks: str | None) -> bool:
    """Whether a peer address is inside a terminal's source networks (None: any address)."""
    if not networks:
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in ipaddress.ip_network(n, strict=False) for n in networks.split())


# The protocol a terminal speaks unless registered otherwise, and every protocol a terminal may be registered
# for: the names of backend.devices.protocols.ADAPTERS (a unit test keeps the two equal; this module sits
# below the adapters and cannot import them), with the label a person sees.
DEFAULT_PROTOCOL = "jiangmen-v1"
PROTOCOL_LABELS: dict[str, str] = {"jiangmen-v1": "江门市实名设备直连对接标准 V1.0"}


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOL_LABELS:
        known = "、".join(sorted(PROTOCOL_LABELS))
        raise invalid("protocol", f"未知的通信协议：{protocol}（可选：{known}）",
                      f"Unknown terminal protocol: {protocol} (known: {', '.join(sorted(PROTOCOL_LABELS))})",
                      code="unknown_protocol")
    return protocol


async def register_terminal(project_id: int, serial: str, vendor_id: int, channel: int = 1,
                            direction: str = Direction.in_, allowed_networks: str | Iterable[str] | None = None,
                            protocol: str = DEFAULT_PROTOCOL, *, changes: TerminalChanges | None = None,
                            access_state: str = TerminalAccess.verified) -> int:
    """Register a terminal; ``access_state`` (TerminalAccess) is ``verified`` unless its access application says
    otherwise (backend/onboarding registers it ``applied``)."""
    if access_state not in TERMINAL_ACCESS_ZH:
        raise invalid("access_state", "未知的设备接入状态", "Unknown access state")
    if not _SERIAL.fullmatch(serial):
        raise invalid("serial", "设备序列号应为 1–32 个可见 ASCII 字符", "Serial must be 1–32 printable ASCII")
    check_protocol(protocol)
    if direction not in (Direction.in_, Direction.out):
        raise invalid("direction", "方向应为 in（进）或 out（出）", "Direction must be in or out")
    if not 1 <= channel <= 999:
        raise invalid("channel", "通道号应在 1–999 之间", "Channel must be 1–999")
    if not await Vendor.exists().where(Vendor.id == vendor_id):
        raise invalid("vendor_id", "设备厂商不存在", "Vendor does not exist")
    if not await Project.exists().where(Project.id == project_id):
        raise NotFound("项目不存在", "Project not found", field="project_id")
    await ensure_project_writable(project_id, "登记考勤设备")
    if await Terminal.exists().where(Terminal.serial == serial):
        raise Conflict("该设备序列号已登记", "This serial is already registered", field="serial")
    t = Terminal(serial=serial, vendor=vendor_id, project=project_id, channel=channel, direction=direction,
                 allowed_networks=parse_networks(allowed_networks), protocol=protocol, access_state=access_state)
    await t.save()
    await _terminals_changed(changes)
    return t.id


# --- Device access (backend/onboarding, issue 20 A.2; seed 001 供应商操作指引 §2.4) -------------------------------

TEST_ACCESS_PURPOSE = "terminal-test-access"


async def set_access_state(terminal_id: int, state: str, *, changes: TerminalChanges | None = None) -> None:
    """The access application moved on: the terminal's ``access_state`` (a gate re-reads it at once in this
    process, within ``terminal_ttl_s`` in another)."""
    if state not in TERMINAL_ACCESS_ZH:
        raise invalid("access_state", "未知的设备接入状态", "Unknown access state")
    await Terminal.update({Terminal.access_state: state}).where(Terminal.id == terminal_id)
    await _terminals_changed(changes)


def terminal_test_code(terminal_id: int, serial: str, vendor_code_hash: str | None) -> str:
    """The test credential (测试环境授权) of a terminal: sent in the vendor-code field of login 843 while the
    terminal has test access.  Derived (HMAC under SMZ_SECRET_KEY) from the terminal and its vendor's code
    hash, never stored; a new vendor code makes a new one.  32 characters of the vendor-code alphabet."""
    digest = bytes.fromhex(keyed_hash(f"{terminal_id}:{serial}:{vendor_code_hash or ''}", TEST_ACCESS_PURPOSE))
    return "".join(VENDOR_CODE_ALPHABET[b % len(VENDOR_CODE_ALPHABET)] for b in digest[:VENDOR_CODE_LENGTH])


def terminal_test_code_matches(code: str, terminal: dict[str, Any]) -> bool:
    """Constant-time check of a login's code against the test credential of a ``gate_terminal`` row."""
    expected = terminal_test_code(terminal["id"], terminal["serial"], terminal.get("vendor_code_hash"))
    return hmac.compare_digest(code.encode(), expected.encode())


async def list_terminals(project_ids: set[int] | None = None, vendor_id: int | None = None) -> list[dict[str, Any]]:
    q = Terminal.select(
        Terminal.id, Terminal.serial, Terminal.project, Terminal.project.name.as_alias("project_name"),
        Terminal.vendor, Terminal.vendor.name.as_alias("vendor_name"), Terminal.channel, Terminal.direction,
        Terminal.enabled, Terminal.online, Terminal.last_seen_at, Terminal.last_login_at, Terminal.last_offline_at,
        Terminal.created_at, Terminal.project.timezone.as_alias("timezone"), Terminal.allowed_networks,
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
    row["protocol_label"] = PROTOCOL_LABELS.get(row["protocol"], row["protocol"])
    return row


async def update_terminal(terminal_id: int, changes: dict[str, Any], *,
                          terminal_changes: TerminalChanges | None = None) -> None:
    if "direction" in changes and changes["direction"] not in (Direction.in_, Direction.out):
        raise invalid("direction", "方向应为 in（进）或 out（出）", "Direction must be in or out")
    if "channel" in changes and not 1 <= changes["channel"] <= 999:
        raise invalid("channel", "通道号应在 1–999 之间", "Channel must be 1–999")
    if "allowed_networks" in changes:
        changes = {**changes, "allowed_networks": parse_networks(changes["allowed_networks"])}
    if "protocol" in changes:
        check_protocol(changes["protocol"])
    if changes:
        await Terminal.update({getattr(Terminal, k): v for k, v in changes.items()}).where(Terminal.id == terminal_id)
        await _terminals_changed(terminal_changes)


async def mark_online(serial: str, online: bool, peer: str | None = None, *, now: datetime | None = None) -> None:
    """A terminal's connection state: on login ``online`` with the peer address, on disconnect offline.
    Both count as "seen" (the connection was alive then)."""
    now = now or datetime.now(UTC)
    if online:
        await fetch("UPDATE terminal SET online = {}, last_seen_at = {}, last_login_at = {}, last_peer = {} "
                    "WHERE serial = {}", True, now, now, peer, serial)
    else:
        await fetch("UPDATE terminal SET online = {}, last_seen_at = {}, last_offline_at = {} WHERE serial = {}",
                    False, now, now, serial)


async def touch_many(serials: Iterable[str], *, now: datetime | None = None) -> None:
    """The terminals sent something (heartbeat, punch …): they are alive now.  One statement per 500 (the gate
    groups its sign-of-life writes)."""
    wanted = sorted(set(serials))
    at = now or datetime.now(UTC)
    for i in range(0, len(wanted), 500):
        serials_in, args = in_list("serial", wanted[i:i + 500], "text")
        await fetch(f"UPDATE terminal SET last_seen_at = {{}} WHERE {serials_in}", at, *args)


async def mark_offline(serials: Iterable[str], *, now: datetime | None = None) -> int:
    """Several terminals went offline at once (the gate server stops).  Returns how many changed."""
    wanted = sorted(set(serials))
    if not wanted:
        return 0
    now = now or datetime.now(UTC)
    changed = 0
    async with write_transaction():
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            rows = await Terminal.select(Terminal.id).where(Terminal.serial.is_in(chunk) & (Terminal.online == True))  # noqa: E712
            if rows:
                await Terminal.update({Terminal.online: False, Terminal.last_seen_at: now,
                                       Terminal.last_offline_at: now}).where(Terminal.id.is_in([r["id"] for r in rows]))
                changed += len(rows)
    return changed


async def reset_online(*, now: datetime | None = None) -> int:
    """At gate server start-up: no terminal can be connected yet, so any still marked online is a
    leftover of a server that did not stop cleanly (killed, power cut).  Each is marked offline as of
    the last moment it was seen — the best estimate of when its connection ended.  Assumes one gate
    server per database.  Returns how many were reset."""
    now = now or datetime.now(UTC)
    rows = await Terminal.select(Terminal.id, Terminal.last_seen_at).where(Terminal.online == True)  # noqa: E712
    if not rows:
        return 0
    async with write_transaction():
        for r in rows:
            await Terminal.update({Terminal.online: False, Terminal.last_offline_at: r["last_seen_at"] or now}).where(
                Terminal.id == r["id"]
            )
    return len(rows)


# --- What the gate protocol reads -------------------------------------------------------------


# The gate's read of a terminal, as one fixed SQL text (issue 18): it runs at every login and, for every cached
# terminal at once, every few seconds — Piccolo would rebuild and recompile the joined select each time (≈ 2 ms of
# CPU per call, measured in benchmarks/gate.py's profile), the driver prepares this once per connection.
_GATE_TERMINAL_SQL = (
    "SELECT t.id, t.serial, t.project, t.channel, t.direction, t.enabled, t.vendor, v.code_hash AS vendor_code_hash, "
    "t.allowed_networks, t.protocol, t.access_state, p.district AS district, p.timezone AS tz, "
    "p.name AS project_name, p.status AS project_status "
    "FROM terminal t JOIN vendor v ON v.id = t.vendor JOIN project p ON p.id = t.project WHERE "
)


async def gate_terminal(serial: str) -> dict[str, Any] | None:
    """The registered terminal with this serial, with what a gate connection needs: its vendor (id and
    the hash of its code), its source networks, the protocol it speaks, its project (id, name, time zone,
    status), channel and direction.  None when not registered."""
    rows = await fetch(_GATE_TERMINAL_SQL + "t.serial = {}", serial)
    return _gate_row(rows[0]) if rows else None


async def gate_terminals(serials: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``gate_terminal`` for many serials in one query (the gate's cache refresh); absent ones are missing."""
    wanted = sorted(set(serials))
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(wanted), 500):
        serials_in, args = in_list("t.serial", wanted[i:i + 500], "text")
        for row in await fetch(_GATE_TERMINAL_SQL + serials_in, *args):
            out[row["serial"]] = _gate_row(row)
    return out


def _gate_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row.items())
    out["enabled"] = bool(out["enabled"])  # SQLite hands a raw query's booleans back as 0/1
    return out


def _on_roster(project_id: int, day: date) -> Any:
    """Roster entries of the project that hold on ``day``: entered on or before it, not exited before
    it — the one roster predicate, backend.workforce.services.on_roster."""
    return on_roster(day, project_id)


async def whitelist_entries(project_id: int, day: date, *, admitted: Any) -> list[dict[str, Any]]:
    """849: the people a terminal of this project should recognise on ``day`` — on the roster
    (entered, not exited), admitted to the site (``admitted``: a WHERE expression on ``RosterEntry`` given
    by the caller — crew's contract rule, seed 001 §五(十一): no labour contract, no entry) and enrolled (a
    face template) — with their full ID numbers (the protocol needs them) and the length of their enrolment
    photo.  Ordered by person id (the worker no).  One roster query (the contract rule is a sub-select in
    it), then the enrolments in chunks."""
    rows = await RosterEntry.select(
        RosterEntry.person, RosterEntry.person.name.as_alias("name"), RosterEntry.person.id_cipher.as_alias("cipher"),
    ).where(_on_roster(project_id, day) & admitted).order_by(RosterEntry.person)
    people: dict[int, dict[str, Any]] = {}
    for r in rows:
        people.setdefault(r["person"], r)
    ids = list(people)
    enrolled: dict[int, int] = {}
    for i in range(0, len(ids), 500):
        found = await Enrolment.select(
            Enrolment.person, Length(Enrolment.face_photo, alias="photo_length"),
        ).where(Enrolment.person.is_in(ids[i:i + 500]) & Enrolment.face_template.is_not_null())
        enrolled.update({f["person"]: int(f["photo_length"] or 0) for f in found})
    return [
        {"person": pid, "name": r["name"], "id_number": decrypt_text(r["cipher"]), "photo_length": enrolled[pid]}
        for pid, r in people.items() if pid in enrolled
    ]


async def gate_person(project_id: int, id_number: str, day: date, *, admitted: Any) -> dict[str, Any] | None:
    """845: a person on the project's roster on ``day`` (by ID number) and admitted to the site (``admitted``,
    as for ``whitelist_entries``) with the enrolment photos; None when unknown, not on this project (a terminal
    never learns about people of other projects) or not admitted."""
    person = await Person.select().where(Person.id_hash.is_in(lookup_hashes(id_number))).first()
    if person is None:
        return None
    if not await RosterEntry.exists().where(
            _on_roster(project_id, day) & admitted & (RosterEntry.person == person["id"])):
        return None
    enrol = await Enrolment.select(Enrolment.face_photo, Enrolment.id_photo).where(
        Enrolment.person == person["id"]).first() or {}
    person["face_photo"] = enrol.get("face_photo") or b""
    person["id_photo"] = enrol.get("id_photo") or b""
    person["id_number"] = decrypt_text(person.pop("id_cipher"))
    return person


# --- Outages (seed 001 §六(十八)) --------------------------------------------------------------

# Our choice: a terminal recorded online whose last sign of life is older than this is treated as
# offline since then (the gate server died without marking it; a live connection shows a sign at
# least every idle timeout, 180 s by default).
STALE_ONLINE = timedelta(hours=1)
# Projects where a terminal outage matters: attendance is expected there (suspended projects still
# record the few people working, seed 001 §五(十三)).
OUTAGE_PROJECT_STATUSES = (ProjectStatus.under_construction, ProjectStatus.suspended)


@dataclass(frozen=True, slots=True)
class Outage:
    terminal_id: int
    serial: str
    project_id: int
    project_name: str
    project_status: str
    vendor_name: str
    channel: int
    direction: str
    since: datetime  # when it was last online (or registered, if it never was)
    duration: timedelta
    limit_days: int  # the district's rules.device_outage_max_days
    never_seen: bool
    timezone: str

    @property
    def days(self) -> float:
        return self.duration.total_seconds() / 86400

    @property
    def status_label(self) -> str:
        return PROJECT_STATUS.get(self.project_status, self.project_status)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def offline_since(row: dict[str, Any], now: datetime) -> tuple[datetime, bool] | None:
    """When a terminal's current outage began, and whether it was never seen at all; None when it is
    online (connected and showing signs of life)."""
    seen = _aware(row["last_seen_at"]) if row.get("last_seen_at") else None
    if row.get("online"):
        if seen is not None and now - seen <= STALE_ONLINE:
            return None
        if seen is not None:
            return seen, False
    if seen is None and not row.get("last_offline_at"):
        return _aware(row["created_at"]), True
    ends = [_aware(x) for x in (row.get("last_offline_at"), seen) if x]
    return max(ends), False


async def outages(now: datetime | None = None, *, project_ids: set[int] | None = None,
                  vendor_id: int | None = None) -> list[Outage]:
    """Enabled terminals of active projects that are offline — or were never seen since they were
    registered — for longer than their district allows (seed 001 §六(十八): 因设备故障导致考勤中止的
    时间不得超过 2 天, ``rules.device_outage_max_days``).  Longest first.  Disabled terminals are left
    out (taken out of service on purpose)."""
    now = _aware(now or datetime.now(UTC))
    q = Terminal.select(
        Terminal.id, Terminal.serial, Terminal.project, Terminal.project.name.as_alias("project_name"),
        Terminal.project.status.as_alias("project_status"), Terminal.project.district.as_alias("district"),
        Terminal.project.timezone.as_alias("timezone"), Terminal.vendor.name.as_alias("vendor_name"),
        Terminal.channel, Terminal.direction, Terminal.online, Terminal.last_seen_at, Terminal.last_offline_at,
        Terminal.created_at,
    ).where((Terminal.enabled == True) & Terminal.project.status.is_in(list(OUTAGE_PROJECT_STATUSES)))  # noqa: E712
    if project_ids is not None:
        if not project_ids:
            return []
        q = q.where(Terminal.project.is_in(sorted(project_ids)))
    if vendor_id is not None:
        q = q.where(Terminal.vendor == vendor_id)
    limits: dict[int, int] = {}
    out: list[Outage] = []
    for r in await q:
        began = offline_since(r, now)
        if began is None:
            continue
        since, never = began
        if r["district"] not in limits:
            limits[r["district"]] = (await rules_for_district(r["district"])).device_outage_max_days
        limit = limits[r["district"]]
        duration = now - since
        if duration <= timedelta(days=limit):
            continue
        out.append(Outage(
            terminal_id=r["id"], serial=r["serial"], project_id=r["project"], project_name=r["project_name"],
            project_status=r["project_status"], vendor_name=r["vendor_name"], channel=r["channel"],
            direction=r["direction"], since=since, duration=duration, limit_days=limit, never_seen=never,
            timezone=r["timezone"],
        ))
    out.sort(key=lambda o: o.duration, reverse=True)
    return out


async def vendor_id_by_code(code: str) -> int | None:
    row = await Vendor.select(Vendor.id).where(Vendor.code_hash.is_in(keyed_hashes(code, VENDOR_CODE_PURPOSE))).first()
    return row["id"] if row else None


async def ensure_terminals(project_id: int, vendor_code: str, serials: Iterable[str], direction: str = Direction.in_) -> int:
    """Register the serials not registered yet to the project (simulations and benchmarks).  Returns
    how many were added; refuses serials registered to another vendor or project."""
    vendor_id = await vendor_id_by_code(vendor_code)
    if vendor_id is None:
        raise NotFound("厂家识别码未登记", "The vendor code is not registered", field="vendor")
    added = 0
    for serial in serials:
        row = await Terminal.select(Terminal.project, Terminal.vendor).where(Terminal.serial == serial).first()
        if row is None:
            await register_terminal(project_id, serial, vendor_id, direction=direction)
            added += 1
        elif (row["project"], row["vendor"]) != (project_id, vendor_id):
            raise Conflict(f"设备 {serial} 已登记到其他项目或厂商", f"Terminal {serial} belongs to another project or vendor",
                           field="serial")
    return added


# --- Alarms ----------------------------------------------------------------------------------------

ALARM_KINDS = ALARM_KIND_ZH  # backend/vocabulary.py


async def record_alarm(kind: str, serial: str, peer: str, detail: str = "", *,
                       terminal: dict[str, Any] | None = None) -> None:
    """Store a gate alarm; ``terminal`` (a gate_terminal row) ties it to the project and vendor so that
    the district's supervisors, the vendor and the project's staff see it."""
    await TerminalAlarm(
        kind=kind, serial=serial[:32], peer=peer[:64], detail=detail[:500],
        terminal=terminal["id"] if terminal else None, project=terminal["project"] if terminal else None,
        vendor=terminal["vendor"] if terminal else None,
    ).save()


async def list_alarms(project_ids: set[int] | None = None, vendor_id: int | None = None,
                      limit: int = 200) -> list[dict[str, Any]]:
    """Newest first; ``project_ids`` None = every project (admin)."""
    q = TerminalAlarm.select(
        TerminalAlarm.id, TerminalAlarm.kind, TerminalAlarm.serial, TerminalAlarm.peer, TerminalAlarm.detail,
        TerminalAlarm.terminal, TerminalAlarm.project, TerminalAlarm.project.name.as_alias("project_name"),
        TerminalAlarm.vendor, TerminalAlarm.at,
    ).order_by(TerminalAlarm.id, ascending=False).limit(limit)
    if vendor_id is not None:
        q = q.where(TerminalAlarm.vendor == vendor_id)
    elif project_ids is not None:
        if not project_ids:
            return []
        q = q.where(TerminalAlarm.project.is_in(sorted(project_ids)))
    rows = await q
    for r in rows:
        r["kind_label"] = ALARM_KINDS.get(r["kind"], r["kind"])
    return rows
