"""Terminal lifecycle, whatever protocol a terminal speaks: who may log in, who is online, the
terminal cache, the failure limiter and the alarms (docs/security.md §3).  A protocol adapter
(``backend.devices.protocols``) calls :class:`TerminalLifecycle` on login, on every request and when
a connection ends; refusals come back as :class:`TerminalRefused` (Chinese and English text), which
the adapter turns into its protocol's reply.

Rules:

- Login: the serial must be a registered terminal, the vendor code (厂家识别码) the one of the
  terminal's vendor (a credential: compared with its keyed hash in constant time), the peer inside
  the terminal's source networks when it has some, the terminal enabled and registered for the
  protocol of this server (``terminal.protocol``); otherwise refused with the reason.  Failed logins
  (unknown serial, wrong vendor code, outside the networks) are limited per serial and per source
  address (``settings.gate_login_*``): past the limit every attempt is refused until the window
  passes.  A login for a serial online from another address is refused by the server and recorded
  as an alarm (``terminal_alarm``).  A vendor code rotated while its terminals are connected ends
  their connections (:meth:`TerminalLifecycle.vendor_code_rotated`; another process notices within
  ``terminal_ttl_s``).  A successful login marks the terminal online (last login, last peer); the
  end of the connection marks it offline (in batches), and so does the server stopping.  Every
  request, heartbeats included, counts as a sign of life (``last_seen_at``, written at most every
  ``touch_interval_s``: the outage rule counts in days).
- Later requests re-check the terminal (at most ``terminal_ttl_s`` old; at once after a change made
  in this process): one that was deleted or disabled meanwhile is refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from backend.devices import services as devices
from backend.limits import FailureWindow
from backend.settings import get_settings
from backend.vocabulary import TerminalAccess

log = logging.getLogger("smz.gate")


class TerminalRefused(Exception):
    """A terminal's request is refused: ``zh`` / ``en`` say why; ``close``: end the connection (the
    terminal must log in again)."""

    def __init__(self, zh: str, en: str, *, close: bool = False) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.close = close


# Access refusals at login 843 (issue 20 A.2, seed 001 供应商操作指引 §2.4: 测试环境授权 → 正式环境授权 → 联网结果核查).
NOT_VERIFIED_ZH = "未通过联网结果核查，不能在生产环境登录"


def access_refusal(state: str | None, *, test_login: bool) -> TerminalRefused | None:
    """Why a terminal in access ``state`` may not log in to this (production) server, or None.  ``applied``: never;
    ``test``: only with its test credential (``test_login``); ``production`` (正式环境联调) and ``verified``: yes."""
    if state == TerminalAccess.applied:
        return TerminalRefused(f"设备接入申请尚未审核通过，{NOT_VERIFIED_ZH}",
                               "access application not approved yet: not verified for production")
    if state == TerminalAccess.test and not test_login:
        return TerminalRefused(f"仅获测试环境授权，{NOT_VERIFIED_ZH}（测试请用测试凭据）",
                               "test access only: not verified for production (log in with the test credential)")
    return None


class Connections(Protocol):
    """What the lifecycle needs of a protocol's server: the serials connected now, and ending one."""

    def connected_serials(self) -> Collection[str]: ...

    def drop(self, serial: str, why: str = ...) -> bool: ...


def peer_host(peer: str) -> str:
    """The address of "host:port" (IPv6 too: "::1:5000" → "::1")."""
    return peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer


def local_today(t: dict[str, Any]) -> date:
    """Today in the time zone of the terminal's project."""
    return datetime.now(ZoneInfo(t["tz"])).date()


class TerminalLifecycle:
    """Login checks, online/offline state, the terminal cache and the alarms of one gate server.

    ``protocol`` is the name of the protocol the server speaks: a terminal registered for another one
    is refused at login.  ``server`` (set when the server starts) lets the lifecycle see which devices
    are connected right now, so that a connection ending after a newer one of the same device logged
    in does not mark the device offline.  Online-state changes of one device are serialised by a
    lock.  A lifecycle belongs to one event loop (its locks are created with it).
    """

    def __init__(self, protocol: str, *, touch_interval_s: float = 30.0, terminal_ttl_s: float = 5.0,
                 max_failures_per_serial: int | None = None, max_failures_per_address: int | None = None,
                 failure_window_s: float | None = None) -> None:
        s = get_settings()
        self.protocol = protocol
        self.server: Connections | None = None
        # The app's registration counter (``backend.runtime.AppServices.terminal_changes``, set by
        # ``start_gate_server``): a change made through the app drops the terminal cache at once.
        self.changes: devices.TerminalChanges | None = None
        self.max_failures_per_serial = max_failures_per_serial or s.gate_login_max_failures_per_serial
        self.max_failures_per_address = max_failures_per_address or s.gate_login_max_failures_per_address
        self._failures = FailureWindow(failure_window_s or s.gate_login_window_s)
        self._login_hash: dict[str, str] = {}  # serial → hash of the vendor code it logged in with
        self._alarmed: dict[tuple[str, str], float] = {}  # (kind, serial) → monotonic time of the last alarm
        self.touch_interval_s = touch_interval_s
        self.terminal_ttl_s = terminal_ttl_s
        self.listening_ttl_s = 60.0  # a safety net only: changes arrive by NOTIFY
        self._locks: dict[str, asyncio.Lock] = {}
        self._online: set[str] = set()  # serials this server marked online and not yet offline
        self._touched: dict[str, float] = {}  # serial → monotonic time of the last last_seen write
        # serial → (read at, registration generation, row): a logged-in terminal is re-read at most
        # every terminal_ttl_s, and at once after a change made in this process
        self._terminals: dict[str, tuple[float, int, dict[str, Any]]] = {}
        # serial → the refresh in flight that re-reads it: terminals past their TTL are re-read together, in one
        # query, with every other cached terminal past half its TTL (after a mass login a thousand cached rows
        # expire together: one query each swamped the pool and made the acknowledgement tail — issue 18).
        self._refreshing: dict[str, asyncio.Future[dict[str, dict[str, Any]]]] = {}
        # Offline marks are written in batches (a site's network going down drops hundreds of
        # connections at once); logins write under the same lock so that a batch in flight can
        # never overwrite a newer login.
        self._pending_offline: set[str] = set()
        self._state_lock = asyncio.Lock()
        # Sign-of-life writes are grouped too: the serials due wait in ``_touch_due`` and the next write (one
        # UPDATE for all of them) is ``_touch_next``; one write runs at a time (``_touch_lock``).
        self._touch_due: set[str] = set()
        self._touch_next: asyncio.Future[None] | None = None
        self._touch_lock = asyncio.Lock()
        self._touch_tasks: set[asyncio.Task[None]] = set()

    # -- helpers ---------------------------------------------------------------------------
    def _lock(self, serial: str) -> asyncio.Lock:
        lock = self._locks.get(serial)
        if lock is None:
            lock = self._locks[serial] = asyncio.Lock()
        return lock

    async def _touch(self, serial: str, *, wait: bool = True) -> None:
        """Write the terminal's sign of life (last_seen_at), at most every ``touch_interval_s``, together with the
        other terminals' due at the same time.  ``wait``: return after the write (a heartbeat); a punch does not
        wait — its own commit is the better sign of life."""
        now = time.monotonic()
        last = self._touched.get(serial)
        if last is None or now - last >= self.touch_interval_s:
            self._touched[serial] = now
            self._touch_due.add(serial)
            written = self._touch_next
            if written is None:
                written = self._touch_next = asyncio.get_running_loop().create_future()
                written.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "not retrieved"
                task = asyncio.get_running_loop().create_task(self._write_touches())
                self._touch_tasks.add(task)
                task.add_done_callback(self._touch_tasks.discard)
            if wait:
                await asyncio.shield(written)

    async def _write_touches(self) -> None:
        async with self._touch_lock:  # touches due while a write runs go together in the next one
            written, self._touch_next = self._touch_next, None
            serials, self._touch_due = self._touch_due, set()
            if written is None or written.done():
                return
            try:
                await devices.touch_many(serials)
            except Exception as exc:
                log.warning("sign-of-life write for %d terminals failed: %s", len(serials), exc)
                written.set_exception(exc)
            else:
                written.set_result(None)

    def _throttled(self, kind: str, key: str) -> bool:
        """True if an alarm of ``kind`` for ``key`` was recorded less than a minute ago; else note it
        now (an attacker retrying in a loop must not fill the table)."""
        now = time.monotonic()
        if now - self._alarmed.get((kind, key), -1e9) < 60:
            return True
        if len(self._alarmed) > 10_000:  # forget the expired marks only: live ones keep throttling
            self._alarmed = {k: at for k, at in self._alarmed.items() if now - at < 60}
        self._alarmed[(kind, key)] = now
        return False

    async def _alarm(self, kind: str, serial: str, peer: str, detail: str, terminal: dict[str, Any] | None) -> None:
        """Record an alarm — at most one per kind and serial a minute."""
        if not self._throttled(kind, serial):
            await self._store_alarm(kind, serial, peer, detail, terminal)

    async def _store_alarm(self, kind: str, serial: str, peer: str, detail: str,
                           terminal: dict[str, Any] | None) -> None:
        try:
            await devices.record_alarm(kind, serial, peer, detail, terminal=terminal)
        except Exception:
            log.exception("gate alarm %s for %s could not be stored", kind, serial)

    def _refuse_login(self, serial: str, host: str, zh: str, en: str) -> TerminalRefused:
        self._failures.failed(f"serial:{serial}", f"addr:{host}")
        return TerminalRefused(zh, en)

    # -- lifecycle ---------------------------------------------------------------------------
    async def login(self, vendor_code: str, serial: str, peer: str) -> dict[str, Any]:
        """Accept a terminal's login (returns its row) or raise TerminalRefused."""
        host = peer_host(peer)
        addr_wait = self._failures.retry_after(f"addr:{host}", self.max_failures_per_address)
        wait = max(addr_wait, self._failures.retry_after(f"serial:{serial}", self.max_failures_per_serial))
        if wait:
            # one alarm (and one log line) a minute per limited address, else per serial: an address
            # spraying serials must not write a row, nor read a terminal, per attempt
            if not self._throttled("login_rate_limited", f"addr:{host}" if addr_wait else serial):
                log.warning("gate login refused: too many failed logins (serial %r, from %s), retry in %d s",
                            serial, peer, wait)
                await self._store_alarm("login_rate_limited", serial, peer, f"retry in {wait} s",
                                        await devices.gate_terminal(serial))
            raise TerminalRefused(f"登录失败次数过多，请 {wait} 秒后再试", f"too many failed logins, retry in {wait} s")
        t = await devices.gate_terminal(serial)  # always read afresh at login
        self._terminals.pop(serial, None)
        if t is None:
            log.warning("gate login refused: unknown serial %r from %s", serial, peer)
            raise self._refuse_login(serial, host, "设备未登记，请联系项目管理员", "device not registered")
        # A terminal with test access (测试环境授权, backend/onboarding) logs in with its test credential
        test_login = t.get("access_state") == TerminalAccess.test and devices.terminal_test_code_matches(vendor_code, t)
        if not test_login and not devices.vendor_code_matches(vendor_code, t["vendor_code_hash"]):
            log.warning("gate login refused: serial %s with a wrong vendor code from %s", serial, peer)
            raise self._refuse_login(serial, host, "厂家识别码与登记不符", "vendor code does not match the registration")
        if not devices.address_allowed(host, t["allowed_networks"]):
            log.warning("gate login refused: serial %s from %s, outside its networks %s", serial, peer,
                        t["allowed_networks"])
            await self._alarm("network_refused", serial, peer, f"allowed: {t['allowed_networks']}", t)
            raise self._refuse_login(serial, host, "登录来源地址不在设备允许的网段内", "source address not allowed")
        if not t["enabled"]:
            log.warning("gate login refused: serial %s is disabled (from %s)", serial, peer)
            raise TerminalRefused("设备已停用，请联系项目管理员", "device disabled")
        if t["protocol"] != self.protocol:
            log.warning("gate login refused: serial %s is registered for protocol %s, this server speaks %s",
                        serial, t["protocol"], self.protocol)
            raise TerminalRefused("设备登记的通信协议与本服务不符", f"terminal registered for protocol {t['protocol']}")
        refusal = access_refusal(t.get("access_state"), test_login=test_login)
        if refusal is not None:
            log.warning("gate login refused: serial %s has access state %s (from %s)", serial, t.get("access_state"),
                        peer)
            await self._alarm("access_refused", serial, peer, refusal.zh, t)
            raise refusal
        if test_login:
            await self._alarm("test_login", serial, peer, "测试凭据登录成功；其后的请求不被接收", t)
        self._failures.clear(f"serial:{serial}")
        async with self._lock(serial):
            self._pending_offline.discard(serial)
            async with self._state_lock:
                await devices.mark_online(serial, True, peer)
            self._online.add(serial)
            self._touched[serial] = time.monotonic()
            self._login_hash[serial] = t["vendor_code_hash"]
            self._terminals[serial] = (time.monotonic(), self._generation(), t)
        log.info("gate %s logged in from %s (project %s)", serial, peer, t["project"])
        return t

    def _generation(self) -> int:
        return self.changes.generation if self.changes is not None else 0

    def _ttl(self) -> float:
        """How long a terminal's cached row holds: ``listening_ttl_s`` while every process's changes reach this one
        (PostgreSQL NOTIFY, ``TerminalChanges.listen``), else ``terminal_ttl_s``.  Re-reading a thousand rows every
        2.5 s was the gate's ack tail at 1,000 terminals (issue 18: steady p99 65–86 ms, 42 ms with a 60 s TTL)."""
        if self.changes is not None and self.changes.listening:
            return self.listening_ttl_s
        return self.terminal_ttl_s

    async def terminal(self, serial: str, *, touch: bool = True, wait_touch: bool = True) -> dict[str, Any]:
        """The terminal of a logged-in connection — re-read when the cached row is older than
        ``terminal_ttl_s`` or a registration changed in this process (a terminal deleted or disabled
        since its login is refused) — with a throttled sign-of-life write."""
        now = time.monotonic()
        generation = self._generation()
        cached = self._terminals.get(serial)
        if cached is not None and cached[1] == generation and now - cached[0] < self._ttl():
            t: dict[str, Any] | None = cached[2]
        else:
            t = await self._reread(serial, now, generation)
        if t is None:
            raise TerminalRefused("设备未登记，请联系项目管理员", "device not registered")
        if not t["enabled"]:
            raise TerminalRefused("设备已停用，请联系项目管理员", "device disabled")
        if t.get("access_state") in (TerminalAccess.applied, TerminalAccess.test):
            # test access proves the login only: nothing a test terminal sends is taken (docs/rules.md)
            raise TerminalRefused("测试环境授权：登录已验证，不接收考勤等数据", "test access: no data is accepted",
                                  close=True)
        login_hash = self._login_hash.get(serial)  # None only outside a gate connection (direct calls)
        if login_hash is not None and login_hash != t["vendor_code_hash"]:
            # the vendor code was rotated since this connection logged in (by another process, or
            # this connection slipped past vendor_code_rotated): it must log in with the new code
            raise TerminalRefused("厂家识别码已更换，请重新登录", "vendor code changed, log in again", close=True)
        if touch:
            await self._touch(serial, wait=wait_touch)
        return t

    async def _reread(self, serial: str, now: float, generation: int) -> dict[str, Any] | None:
        """The terminal's row, fresh: joins a refresh in flight that covers it, or starts one for it and for
        every cached terminal past half its TTL (one query for all; see ``_refreshing``)."""
        pending = self._refreshing.get(serial)
        if pending is None:
            half = self._ttl() / 2
            wanted = {serial} | {s for s, (at, gen, _) in self._terminals.items()
                                 if (gen != generation or now - at >= half) and s not in self._refreshing}
            pending = asyncio.get_running_loop().create_future()
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "not retrieved"
            for s in wanted:
                self._refreshing[s] = pending
            try:
                rows = await devices.gate_terminals(wanted)
            except BaseException as exc:
                pending.set_exception(exc)
                raise
            finally:
                for s in wanted:
                    if self._refreshing.get(s) is pending:
                        del self._refreshing[s]
            for s in wanted:
                row = rows.get(s)
                if row is None:
                    self._terminals.pop(s, None)
                elif s == serial or s in self._terminals:  # not one that logged out meanwhile
                    self._terminals[s] = (now, generation, row)
            pending.set_result(rows)
            return rows.get(serial)
        return (await asyncio.shield(pending)).get(serial)

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

    async def connection_closed(self, serial: str) -> None:
        async with self._lock(serial):
            server = self.server
            if server is not None and serial in server.connected_serials():
                # a newer connection of the same device has logged in meanwhile: it is online
                return
            self._online.discard(serial)
            # forget the serial's per-connection state (its lock stays: a waiter may hold it; one per
            # registered terminal)
            self._login_hash.pop(serial, None)
            self._terminals.pop(serial, None)
            self._touched.pop(serial, None)
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
