"""The web app's side of the gate protocol (seed 001 附件3 "江门市实名设备直连对接标准 V1.0"):
``AppGateBackend`` implements :class:`device_tcp.backend.GateBackend` over the domain services, and
:func:`start_gate_server` starts the TCP server with the product (``smz serve``) or alone
(``smz gate-server``).

Per-connection rules:

- 843 login: the device serial must be a registered terminal, the vendor code (厂家识别码) the one of
  the terminal's vendor (a credential: compared with its keyed hash in constant time), the terminal
  enabled, and the peer inside the terminal's source networks when it has some; otherwise flag 1
  with the reason.  Failed logins are limited per serial and per source address
  (``settings.gate_login_*``): past the limit every attempt is refused until the window passes.  A
  login for a serial online from another address is refused by the server and recorded as an alarm
  (``terminal_alarm``).  A vendor code rotated while its terminals are connected ends their
  connections (:func:`vendor_code_rotated`; another process notices within ``terminal_ttl_s``).  A successful
  login marks the terminal online (last login, last peer); the end of the connection marks it
  offline (in batches), and so does the server stopping.  Every request, heartbeats included, counts
  as a sign of life (``last_seen_at``, written at most every ``touch_interval_s``: the outage rule
  counts in days).
- Later requests re-check the terminal (at most ``terminal_ttl_s`` old; at once after a change made
  in this process): one that was deleted or disabled meanwhile is refused.
- 849 whitelist: the project's roster on the project's local day — entered, not exited, enrolled.
- 845: one person of that roster, with the enrolment photos; people of other projects are unknown.
- 852: only for a person with an active entry on the terminal's project's roster (a terminal never
  creates people nor touches people of other projects).  The ID number, birth date, gender, age
  (the district's limits), ID validity and name are checked before the face template is computed in
  the face service's process pool.  A person without a face template is enrolled (their ID data
  updated as far as ``workforce.save_person`` lets this project); a person who already has one gets
  a crew registration pending review instead (``crew.services.submit_gate_enrolment``, with the 1:N
  search's match for the reviewer): nothing of the person or their enrolment changes until a
  supervisor approves and the project's staff complete it.  Refusals carry a reason of at most 30
  bytes (what the 852 reply holds).
- 848: through the one attendance service (source ``gate``).  The BCD time is the capture time in the
  project's time zone.  Idempotency key = serial + worker no + capture time, so a re-sent punch is
  acknowledged and stored once.  The reply (flag 0) is written only after ``record_punch`` returned,
  i.e. after the commit: a punch we acknowledged is never lost.  Late uploads (received − captured >
  ``rules.gate_max_latency_s``) are kept and flagged by the attendance service, never refused.
  Unknown worker numbers get flag 1.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from collections import deque
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.attendance.services import PunchIn, record_punch
from backend.db import write_transaction
from backend.devices import services as devices
from backend.errors import AppError, invalid
from backend.face.service import get_face_service
from backend.org.services import rules_for_project
from backend.rules import DEFAULT_RULES, Rules
from backend.settings import get_settings
from backend.validators import cross_check_id, mask_id, parse_id_number
from backend.workforce import services as workforce
from backend.workforce.tables import Enrolment
from device_tcp.backend import GateRefused
from device_tcp.messages import MODE_FACE, PersonFeatures, Whitelist, WhitelistRecord
from device_tcp.messages import Enrolment as EnrolmentMsg
from device_tcp.messages import Punch as PunchMsg
from device_tcp.server import GateServer
from device_tcp.session import failure_text

log = logging.getLogger("smz.gate")

# 852 refusal reasons: the reply holds 30 UTF-8 bytes (10 Chinese characters), so the long texts of
# the validators and the face service are replaced by short ones; the full text goes to the log.
SHORT_REASONS: dict[str, str] = {
    "id_format": "身份证号码格式错误",
    "id_region": "身份证号码地区码无效",
    "id_birth_date": "身份证出生日期无效",
    "id_check_digit": "身份证号码校验位错误",
    "id_birth_mismatch": "出生日期与身份证不符",
    "id_gender_mismatch": "性别与身份证号不符",
    "id_expired": "身份证已过期",
    "ethnicity": "民族代码无效",
    "name_mismatch": "姓名与已登记的不一致",
    "no_face": "未检测到人脸",
    "multiple_faces": "照片中有多张人脸",
    "face_too_small": "人脸太小",
    "face_at_border": "人脸太靠近照片边缘",
    "face_tilted": "头部倾斜过大",
    "face_turned": "未正对镜头",
    "too_dark": "光线太暗",
    "backlit": "逆光，脸部太暗",
    "blurred": "照片模糊",
    "invalid_image": "采集照片无法识别",
    "unsupported_format": "采集照片格式不支持",
    "image_too_large": "采集照片过大",
    "payload_too_large": "采集照片过大",
    "image_unprocessable": "采集照片无法处理",
    "registration_open": "已有待处理的登记",
}
# 852 replies of the tenant and review rules (≤ 30 UTF-8 bytes each)
NOT_ON_ROSTER = "人员不在本项目花名册"
PENDING_REVIEW = "人脸待审核，暂未生效"


# Punches recorded at once on SQLite (our measurement, benchmarks/gate.py: 2 keeps p99 near p50 with
# 20 terminals at full speed; more raise the tail without raising the rate).
SQLITE_PUNCH_CONCURRENCY = 2


def short_reason(exc: AppError, rules: Rules = DEFAULT_RULES, gender: str | None = None) -> str:
    """The 852 failure reason (≤ 30 UTF-8 bytes) for an AppError; ``rules`` and ``gender`` (M / F)
    name the age limit that applied."""
    if exc.code == "too_young":
        return f"未满{rules.worker_min_age}周岁，不得采集"
    if exc.code == "too_old":
        limit = rules.worker_max_age_male if gender == "M" else rules.worker_max_age_female
        return f"超过{limit}岁年龄上限"
    if exc.code in SHORT_REASONS:
        return SHORT_REASONS[exc.code]
    if exc.field == "name":
        return "姓名无效"
    return exc.zh


def _validity_end(text: str) -> date | None:
    """ID card validity as printed, e.g. "2015.01.01-2035.01.01" or "20150101-长期" → the end date
    (None for 长期 or when it cannot be read)."""
    dates = re.findall(r"(\d{4})[.\-/年]?(\d{2})[.\-/月]?(\d{2})", text or "")
    if len(dates) < 2:
        return None
    try:
        return date(*(int(x) for x in dates[-1]))
    except ValueError:
        return None


def _refuse(zh: str, en: str, *, close: bool = False) -> GateRefused:
    return GateRefused(failure_text(zh, en), close=close)


def peer_host(peer: str) -> str:
    """The address of "host:port" (IPv6 too: "::1:5000" → "::1")."""
    return peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer


class FailureLimiter:
    """Failed gate logins per key (serial, source address) in a sliding window; in process memory
    (one gate server per database).  Bounded: past ``max_keys`` keys the oldest are forgotten."""

    def __init__(self, window_s: float, max_keys: int = 100_000) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        q = self._fails.get(key)
        if q is None:
            return None
        while q and now - q[0] > self.window_s:
            q.popleft()
        if not q:
            del self._fails[key]
            return None
        return q

    def retry_after(self, key: str, limit: int) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        now = time.monotonic()
        q = self._recent(key, now)
        if q is None or len(q) < limit:
            return 0
        return int(self.window_s - (now - q[-limit])) + 1

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            q = self._recent(key, now)
            if q is None:
                if len(self._fails) >= self.max_keys:
                    for old in list(self._fails)[: self.max_keys // 10]:
                        del self._fails[old]
                q = self._fails[key] = deque()
            q.append(now)

    def clear(self, key: str) -> None:
        self._fails.pop(key, None)


# The app's gate backends running in this process (normally one), for :func:`vendor_code_rotated`.
_BACKENDS: weakref.WeakSet[AppGateBackend] = weakref.WeakSet()


class AppGateBackend:
    """Implements device_tcp.backend.GateBackend over the real database.

    ``server`` (set by :func:`start_gate_server`) lets the backend see which devices are connected
    right now, so that a connection ending after a newer one of the same device logged in does not
    mark the device offline.  Online-state changes of one device are serialised by a lock.  A backend
    belongs to one event loop (its locks and semaphore are created with it).
    """

    def __init__(self, *, touch_interval_s: float = 30.0, terminal_ttl_s: float = 5.0,
                 punch_concurrency: int | None = -1, max_failures_per_serial: int | None = None,
                 max_failures_per_address: int | None = None, failure_window_s: float | None = None) -> None:
        s = get_settings()
        self.server: GateServer | None = None
        self.max_failures_per_serial = max_failures_per_serial or s.gate_login_max_failures_per_serial
        self.max_failures_per_address = max_failures_per_address or s.gate_login_max_failures_per_address
        self._failures = FailureLimiter(failure_window_s or s.gate_login_window_s)
        self._login_hash: dict[str, str] = {}  # serial → hash of the vendor code it logged in with
        self._alarmed: dict[tuple[str, str], float] = {}  # (kind, serial) → monotonic time of the last alarm
        self.touch_interval_s = touch_interval_s
        self.terminal_ttl_s = terminal_ttl_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._online: set[str] = set()  # serials this server marked online and not yet offline
        self._touched: dict[str, float] = {}  # serial → monotonic time of the last last_seen write
        # serial → (read at, registration generation, row): a logged-in terminal is re-read at most
        # every terminal_ttl_s, and at once after a change made in this process
        self._terminals: dict[str, tuple[float, int, dict[str, Any]]] = {}
        self._people: set[int] = set()  # worker numbers known to exist (people are never deleted)
        # Offline marks are written in batches (a site's network going down drops hundreds of
        # connections at once); logins write under the same lock so that a batch in flight can
        # never overwrite a newer login.
        self._pending_offline: set[str] = set()
        self._state_lock = asyncio.Lock()
        if punch_concurrency == -1:
            punch_concurrency = None if get_settings().is_postgres else SQLITE_PUNCH_CONCURRENCY
        # SQLite has one writer at a time: punches of many terminals queue here in arrival order
        # instead of racing for the write lock in SQLite's busy handler, whose growing sleeps make
        # the tail latency a lottery (benchmarks/gate.py); PostgreSQL takes them all at once.
        self._punch_slots = asyncio.Semaphore(punch_concurrency) if punch_concurrency else None

    # -- helpers ---------------------------------------------------------------------------
    def _lock(self, serial: str) -> asyncio.Lock:
        lock = self._locks.get(serial)
        if lock is None:
            lock = self._locks[serial] = asyncio.Lock()
        return lock

    async def _terminal(self, serial: str, *, touch: bool = True) -> dict[str, Any]:
        """The terminal of a logged-in connection — re-read when the cached row is older than
        ``terminal_ttl_s`` or a registration changed in this process (a terminal deleted or disabled
        since its login is refused) — with a throttled sign-of-life write."""
        now = time.monotonic()
        generation = devices.terminals_generation()
        cached = self._terminals.get(serial)
        if cached is not None and cached[1] == generation and now - cached[0] < self.terminal_ttl_s:
            t: dict[str, Any] | None = cached[2]
        else:
            t = await devices.gate_terminal(serial)
            if t is None:
                self._terminals.pop(serial, None)
            else:
                self._terminals[serial] = (now, generation, t)
        if t is None:
            raise _refuse("设备未登记，请联系项目管理员", "device not registered")
        if not t["enabled"]:
            raise _refuse("设备已停用，请联系项目管理员", "device disabled")
        login_hash = self._login_hash.get(serial)  # None only outside a gate connection (direct calls)
        if login_hash is not None and login_hash != t["vendor_code_hash"]:
            # the vendor code was rotated since this connection logged in (by another process, or
            # this connection slipped past vendor_code_rotated): it must log in with the new code
            raise _refuse("厂家识别码已更换，请重新登录", "vendor code changed, log in again", close=True)
        if touch:
            await self._touch(serial)
        return t

    async def _person_exists(self, worker_no: int) -> bool:
        if worker_no in self._people:
            return True
        if not await devices.person_exists(worker_no):
            return False
        if len(self._people) >= 500_000:
            self._people.clear()
        self._people.add(worker_no)
        return True

    async def _touch(self, serial: str) -> None:
        now = time.monotonic()
        last = self._touched.get(serial)
        if last is None or now - last >= self.touch_interval_s:
            self._touched[serial] = now
            await devices.touch(serial)

    @staticmethod
    def _today(t: dict[str, Any]) -> date:
        return datetime.now(ZoneInfo(t["tz"])).date()

    # -- GateBackend -----------------------------------------------------------------------
    async def _alarm(self, kind: str, serial: str, peer: str, detail: str, terminal: dict[str, Any] | None) -> None:
        """Record an alarm — at most one per kind and serial a minute (an attacker retrying in a loop
        must not fill the table)."""
        now = time.monotonic()
        key = (kind, serial)
        if now - self._alarmed.get(key, -1e9) < 60:
            return
        if len(self._alarmed) > 10_000:
            self._alarmed.clear()
        self._alarmed[key] = now
        try:
            await devices.record_alarm(kind, serial, peer, detail, terminal=terminal)
        except Exception:
            log.exception("gate alarm %s for %s could not be stored", kind, serial)

    def _refuse_login(self, serial: str, host: str, zh: str, en: str) -> GateRefused:
        self._failures.failed(f"serial:{serial}", f"addr:{host}")
        return _refuse(zh, en)

    async def login(self, vendor_code: str, serial: str, peer: str) -> None:
        host = peer_host(peer)
        wait = max(self._failures.retry_after(f"serial:{serial}", self.max_failures_per_serial),
                   self._failures.retry_after(f"addr:{host}", self.max_failures_per_address))
        if wait:
            log.warning("gate login refused: too many failed logins (serial %r, from %s), retry in %d s",
                        serial, peer, wait)
            await self._alarm("login_rate_limited", serial, peer, f"retry in {wait} s",
                              await devices.gate_terminal(serial))
            raise _refuse(f"登录失败次数过多，请 {wait} 秒后再试", f"too many failed logins, retry in {wait} s")
        t = await devices.gate_terminal(serial)  # always read afresh at login
        self._terminals.pop(serial, None)
        if t is None:
            log.warning("gate login refused: unknown serial %r from %s", serial, peer)
            raise self._refuse_login(serial, host, "设备未登记，请联系项目管理员", "device not registered")
        if not devices.vendor_code_matches(vendor_code, t["vendor_code_hash"]):
            log.warning("gate login refused: serial %s with a wrong vendor code from %s", serial, peer)
            raise self._refuse_login(serial, host, "厂家识别码与登记不符", "vendor code does not match the registration")
        if not devices.address_allowed(host, t["allowed_networks"]):
            log.warning("gate login refused: serial %s from %s, outside its networks %s", serial, peer,
                        t["allowed_networks"])
            await self._alarm("network_refused", serial, peer, f"allowed: {t['allowed_networks']}", t)
            raise self._refuse_login(serial, host, "登录来源地址不在设备允许的网段内", "source address not allowed")
        if not t["enabled"]:
            log.warning("gate login refused: serial %s is disabled (from %s)", serial, peer)
            raise _refuse("设备已停用，请联系项目管理员", "device disabled")
        self._failures.clear(f"serial:{serial}")
        async with self._lock(serial):
            self._pending_offline.discard(serial)
            async with self._state_lock:
                await devices.mark_online(serial, True, peer)
            self._online.add(serial)
            self._touched[serial] = time.monotonic()
            self._login_hash[serial] = t["vendor_code_hash"]
            self._terminals[serial] = (time.monotonic(), devices.terminals_generation(), t)
        log.info("gate %s logged in from %s (project %s)", serial, peer, t["project"])

    async def login_conflict(self, serial: str, peer: str, online_peer: str) -> None:
        """The server refused a login: ``serial`` is online from ``online_peer`` (a copied identity,
        or a terminal moved without its old connection ending)."""
        t = await devices.gate_terminal(serial)
        await self._alarm("login_conflict", serial, peer, f"online from {online_peer}", t)

    async def vendor_code_rotated(self, vendor_id: int, by: str = "") -> int:
        """Drop this server's connections of the vendor's terminals (logged in with the old code)."""
        server = self.server
        if server is None:
            return 0
        serials = await devices.vendor_serials(vendor_id)
        dropped = 0
        for serial in [s for s in server.connected_serials() if s in serials]:
            self._terminals.pop(serial, None)
            if server.drop(serial, "vendor code rotated"):
                dropped += 1
        if dropped:
            log.warning("vendor %s code rotated (%s): %d connected terminals dropped", vendor_id, by, dropped)
            await self._alarm("vendor_code_rotated", f"vendor {vendor_id}", by, f"{dropped} connections ended", None)
        return dropped

    async def heartbeat(self, serial: str) -> None:
        await self._terminal(serial)

    async def whitelist(self, serial: str) -> Whitelist:
        """The project's current roster: entered, not exited, enrolled."""
        t = await self._terminal(serial)
        rows = await devices.whitelist_entries(t["project"], self._today(t))
        records = tuple(
            WhitelistRecord(worker_no=r["person"], name=r["name"], id_number=r["id_number"],
                            photo_length=r["photo_length"])
            for r in rows
        )
        log.info("gate %s whitelist: %d people", serial, len(records))
        return Whitelist(project_no=t["project"], project_name=t["project_name"], records=records)

    async def person_features(self, serial: str, id_number: str) -> PersonFeatures:
        t = await self._terminal(serial)
        try:
            info = parse_id_number(id_number)
        except AppError:
            raise _refuse("身份证号码无效", "invalid ID number") from None
        person = await devices.gate_person(t["project"], info.number, self._today(t))
        if person is None:
            raise _refuse("人员不在本项目花名册中", "not on this project's roster")
        valid = person["id_valid_until"]
        return PersonFeatures(
            worker_no=person["id"], name=person["name"], id_number=person["id_number"],
            ethnicity=person["ethnicity"] or "01", gender="1" if person["gender"] == "M" else "0",
            address=person["address"] or "", birth_date=person["birth_date"].strftime("%Y%m%d"),
            issuing_authority=person["id_issuer"] or "", validity=f"{valid:%Y.%m.%d}" if valid else "",
            face_photo=person["face_photo"], id_photo=person["id_photo"],
        )

    async def enrol(self, serial: str, enrolment: EnrolmentMsg) -> None:
        """852: enrol a person of this project's roster.  Cheap checks first (ID data, the roster);
        then the face template, computed in the face service's process pool;
        then either one write transaction or a registration pending review."""
        from backend.crew import services as crew  # crew imports this module

        t = await self._terminal(serial)
        masked = mask_id(enrolment.id_number) if len(enrolment.id_number) == 18 else "?"
        rules = await rules_for_project(t["project"])
        info_gender: str | None = None
        try:
            info = parse_id_number(enrolment.id_number)
            info_gender = info.gender
            birth = enrolment.birth or info.birth_date
            gender = {"1": "M", "0": "F"}.get(enrolment.gender)
            cross_check_id(info, birth_date=birth, gender=gender)
            workforce.check_age(rules, info.birth_date, info.gender, self._today(t))
            valid_until = _validity_end(enrolment.validity)
            if valid_until is not None and valid_until < self._today(t):
                raise invalid("id_valid_until", "身份证已过期", "The ID card has expired", code="id_expired")
            target = await devices.enrolment_target(t["project"], info.number)
            if target is None:
                log.warning("gate %s enrolment of %s refused: not on the roster of project %s", serial, masked,
                            t["project"])
                raise GateRefused(NOT_ON_ROSTER)
            if target["name"] != (enrolment.name or "").strip():
                raise invalid("name", "姓名与已登记的不一致", "Name differs from the registered one", code="name_mismatch")
            if not enrolment.face_photo:
                raise GateRefused("缺少采集照片")
            face = await get_face_service().encode(
                enrolment.face_photo, purpose="enrol", field="face_photo", rules=rules,
                max_bytes=rules.gate_punch_photo_max_bytes,
            )
            person_id = target["person"]
            if target["enrolled"]:
                # the 1:N search names a matching other person for the reviewer (duplicate_face)
                hits = (await crew.face_index()).search_within(face.encoding, rules.face_duplicate_tolerance,
                                                               exclude=person_id)
                dup_person, dup_distance = hits[0] if hits else (None, None)
                rid = await crew.submit_gate_enrolment(
                    t["project"], person_id, target["entry"], face_template=face.encoding,
                    face_photo=enrolment.face_photo, id_photo=enrolment.id_photo or None,
                    duplicate_person=dup_person, duplicate_distance=dup_distance, serial=serial,
                )
                log.warning("gate %s enrolment of %s (person %s) goes to review as registration %s (%s)", serial,
                            masked, person_id, rid, f"same face as person {dup_person}" if hits else "re-enrolment")
                raise GateRefused(PENDING_REVIEW)
            async with write_transaction():
                await workforce.upsert_person(
                    id_number=info.number, name=target["name"], ethnicity=enrolment.ethnicity, birth_date=birth,
                    gender=gender, address=enrolment.address or None, id_issuer=enrolment.issuing_authority or None,
                    id_valid_until=valid_until, project_id=t["project"],
                )
                await save_enrolment(person_id, face.encoding, enrolment.face_photo, enrolment.id_photo or None,
                                     source="gate")
        except AppError as exc:
            reason = short_reason(exc, rules, info_gender)
            log.info("gate %s enrolment of %s refused: %s (%s)", serial, masked, exc.zh, exc.code)
            raise GateRefused(reason) from None
        log.info("gate %s enrolled %s as person %s (project %s)", serial, masked, person_id, t["project"])

    async def punch(self, serial: str, punch: PunchMsg, received_at: datetime) -> None:
        t = await self._terminal(serial)
        if not await self._person_exists(punch.worker_no):
            log.info("gate %s punch for unknown worker no %s", serial, punch.worker_no)
            raise _refuse(f"工人编号 {punch.worker_no} 不存在", f"unknown worker no {punch.worker_no}")
        captured = punch.captured_at.replace(tzinfo=ZoneInfo(t["tz"])).astimezone(UTC)
        key = f"g:{serial}:{punch.worker_no}:{punch.captured_at:%Y%m%d%H%M%S}"
        p = PunchIn(
            source="gate", project_id=t["project"], person_id=punch.worker_no, idempotency_key=key,
            captured_at=captured, received_at=received_at, terminal_id=t["id"], direction=t["direction"],
            photo=punch.photo or None, flags=() if punch.mode == MODE_FACE else ("non_face_mode",),
        )
        try:
            if self._punch_slots is None:
                v = await record_punch(p)
            else:
                async with self._punch_slots:
                    v = await record_punch(p)
        except AppError as exc:
            raise _refuse(exc.zh, exc.en) from None
        if v.duplicate:
            log.info("gate %s re-sent punch %s (stored once)", serial, v.punch_id)

    async def connection_closed(self, serial: str) -> None:
        async with self._lock(serial):
            server = self.server
            if server is not None and serial in server.connected_serials():
                # a newer connection of the same device has logged in meanwhile: it is online
                return
            self._online.discard(serial)
            self._login_hash.pop(serial, None)
            self._pending_offline.add(serial)
        await self._flush_offline()
        log.info("gate %s disconnected", serial)

    async def _flush_offline(self) -> None:
        """Write every pending offline mark in one transaction; callers that queue behind a flush in
        progress find their serial already written (or write what is left)."""
        async with self._state_lock:
            batch, self._pending_offline = self._pending_offline, set()
            server = self.server
            if server is not None:
                connected = server.connected_serials()
                batch = {s for s in batch if s not in connected}
            if batch:
                await devices.mark_offline(batch)

    async def all_offline(self) -> int:
        """The server stopped: every device it had marked online goes offline."""
        async with self._state_lock:
            serials = self._online | self._pending_offline
            self._online, self._pending_offline = set(), set()
            n = await devices.mark_offline(serials)
        if serials:
            log.info("gate server stopped: %d terminals marked offline", n)
        return n


class AppGateServer(GateServer):
    """The gate server of the app: when it stops, every terminal it served is marked offline, also
    those whose connection task did not finish within the close timeout."""

    backend: AppGateBackend

    async def close(self, *, timeout_s: float = 5.0) -> None:
        _BACKENDS.discard(self.backend)
        try:
            await super().close(timeout_s=timeout_s)
        finally:
            await self.backend.all_offline()


async def save_enrolment(person_id: int, template: bytes, face_photo: bytes | None, id_photo: bytes | None,
                         source: str) -> None:
    """Create or replace a person's enrolment (one template per person)."""
    now = datetime.now(UTC)
    existing = await Enrolment.select(Enrolment.id, Enrolment.face_version).where(Enrolment.person == person_id).first()
    if existing:
        changes: dict[Any, Any] = {Enrolment.face_template: template, Enrolment.updated_at: now,
                                   Enrolment.source: source, Enrolment.face_version: existing["face_version"] + 1}
        if face_photo:
            changes[Enrolment.face_photo] = face_photo
        if id_photo:
            changes[Enrolment.id_photo] = id_photo
        await Enrolment.update(changes).where(Enrolment.id == existing["id"])
    else:
        await Enrolment(person=person_id, face_template=template, face_photo=face_photo, id_photo=id_photo,
                        source=source, enrolled_at=now, updated_at=now).save()
    # Every process's 1:N duplicate-face matrix reloads (backend/crew/faceindex.py).
    from backend.crew.services import bump_face_version

    await bump_face_version()


async def start_gate_server(port: int | None = None, host: str | None = None, *,
                            reset_online: bool = True, backend: AppGateBackend | None = None,
                            **server_options: Any) -> AppGateServer:
    """Start the gate TCP server of the app (port 0: any free port; see ``server.port``).

    ``reset_online``: first mark offline the terminals a previous server left online (one gate server
    per database).  ``backend`` and ``server_options`` (GateServer keywords) override the settings'
    choices (tests, benchmarks)."""
    s = get_settings()
    if reset_online:
        n = await devices.reset_online()
        if n:
            log.info("%d terminals were still marked online from a previous run: now offline", n)
    backend = backend or AppGateBackend()
    options: dict[str, Any] = {
        "idle_timeout_s": s.gate_idle_timeout_s, "punch_photo_max": DEFAULT_RULES.gate_punch_photo_max_bytes,
        "id_photo_max": DEFAULT_RULES.gate_id_photo_max_bytes, "login_timeout_s": s.gate_login_timeout_s,
        "max_connections": s.gate_max_connections or None, "takeover_silence_s": s.gate_takeover_silence_s,
        **server_options,
    }
    server = AppGateServer(backend, host=host or s.gate_host, port=s.gate_port if port is None else port, **options)
    backend.server = server
    await server.start()
    _BACKENDS.add(backend)
    log.info("gate TCP server listening on %s:%s (at most %d connections)", server.host, server.port,
             server.max_connections)
    if server.host in ("0.0.0.0", "::", ""):
        log.warning("the gate port listens on every interface; the protocol is cleartext — put it behind the "
                    "site VPN or a TLS-terminating TCP proxy (docs/security.md)")
    return server


async def vendor_code_rotated(vendor_id: int, *, peer: str = "") -> int:
    """A vendor's code was rotated: the gate servers of this process end the connections of its
    terminals (they logged in with the old code).  Returns how many were ended."""
    dropped = 0
    for backend in list(_BACKENDS):
        dropped += await backend.vendor_code_rotated(vendor_id, peer)
    return dropped
