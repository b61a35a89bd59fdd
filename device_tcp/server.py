"""Asyncio TCP server for gate terminals: reads bytes, feeds the sans-IO decoder and session,
calls the :class:`~device_tcp.backend.GateBackend`, writes replies.

- One request at a time per connection: the next frame is read only after the reply to the
  previous one was written ("同一台设备不能多线程并发").
- A second connection of the same device (from the same address, or after the first went silent)
  replaces the first once it has logged in: the old one is aborted, ``connection_closed`` is not
  called for it.  :meth:`GateServer.drop` ends a device's connection on the application's request
  (vendor code rotated).
- A connection that has not logged in within ``login_timeout_s`` is closed (an unauthenticated
  connection costs a file descriptor and memory; it is not held for the whole idle timeout).
- A login for a serial that is online from another address is refused (flag 1) and reported
  (WARNING log, ``backend.login_conflict`` when the backend has it) — unless the old connection has
  sent nothing for ``takeover_silence_s`` (default: the idle timeout), e.g. a terminal that rebooted
  behind a new address while its old connection is half open.  From the same address the newer
  connection wins (a terminal reconnecting).
- The connection cap (``max_connections``) defaults to the open-file limit minus a reserve for the
  web side and the database (:func:`default_max_connections`); the chosen cap is logged at start.
- No complete frame for ``idle_timeout_s`` (terminals send 65535 heartbeats) → closed. A frame
  that has started must be complete within ``read_timeout_s`` (slow senders); a reply must be
  taken by the peer within ``write_timeout_s`` (half-open connections). TCP keepalive is on.
- Protocol errors: a message-level error (bad checksum, short content, unknown command, photo too
  large, ...) gets a flag-1 reply and the connection stays; a framing error (bad start/end byte,
  LEN over the limit, broken multipart) gets a flag-1 reply where the header could be read, and
  the connection is closed. Garbage is never answered, only closed. Each is logged with the
  device serial on the "device_tcp" logger; nothing reaches other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
from collections.abc import Callable, KeysView
from datetime import UTC, datetime
from typing import Any

from device_tcp.backend import GateBackend, GateRefused
from device_tcp.frames import (
    CONNECTION_CLOSED,
    DEFAULT_MAX_MESSAGE_LEN,
    DEFAULT_MAX_PARTS,
    NEED_DATA,
    Frame,
    FrameDecoder,
    ProtocolError,
    encode_frames,
)
from device_tcp.messages import ID_PHOTO_MAX, PUNCH_PHOTO_MAX
from device_tcp.session import (
    Call,
    EnrolCall,
    GateSession,
    HeartbeatCall,
    LoginCall,
    PersonFeaturesCall,
    PunchCall,
    Reply,
    SessionLimits,
    WhitelistCall,
    failure_text,
)

__all__ = ["GateServer", "default_max_connections"]

log = logging.getLogger("device_tcp")

_READ_CHUNK = 64 * 1024

# File descriptors kept for everything but gate connections when the cap is derived from the open-file
# limit: the web server's sockets, the database pool, log files, the face process pool's pipes.
FD_RESERVE = 1024
MIN_CONNECTIONS = 64
TAKEOVER_REFUSED_TEXT = failure_text("该设备已在其他地址在线，登录被拒绝", "device already online from another address")


def default_max_connections(reserve: int = FD_RESERVE, minimum: int = MIN_CONNECTIONS) -> int:
    """The gate connection cap: the soft open-file limit (RLIMIT_NOFILE) minus ``reserve``, at least
    ``minimum`` — so the cap, not the process's file table, is what refuses connections first."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            soft = 1 << 20
    except (ImportError, OSError, ValueError):  # no resource module (Windows): a conservative figure
        soft = 8192
    return max(minimum, int(soft) - reserve)


class _Conn:
    __slots__ = ("deadline", "expired", "host", "last_activity", "peer", "reader", "replaced", "session", "started",
                 "task", "waiting", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: GateSession,
                 now: float):
        self.reader = reader
        self.writer = writer
        self.session = session
        peer = writer.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.host = str(peer[0])
            self.peer = f"{peer[0]}:{peer[1]}"
        else:
            self.host = self.peer = str(peer)
        self.task: asyncio.Task[Any] | None = None
        self.replaced = False
        self.started = now  # loop time of the connect
        self.last_activity = now  # loop time of the last bytes received
        # What the connection waits for (a read, the backend) and until when (loop time); the server's one
        # deadline sweep (``GateServer._sweep``) cancels a wait past its deadline and marks ``expired``.
        self.waiting = ""
        self.deadline = 0.0
        self.expired = False

    def tag(self) -> str:
        return f"[{self.session.serial or '-'} {self.peer}]"


class GateServer:
    def __init__(
        self,
        backend: GateBackend,
        host: str = "0.0.0.0",
        port: int = 0,
        *,
        idle_timeout_s: float = 180.0,
        max_frame_len: int = 1 << 20,
        max_message_len: int = DEFAULT_MAX_MESSAGE_LEN,
        max_parts: int = DEFAULT_MAX_PARTS,
        read_timeout_s: float = 30.0,
        write_timeout_s: float | None = None,
        backend_timeout_s: float | None = 30.0,
        punch_photo_max: int = PUNCH_PHOTO_MAX,
        id_photo_max: int = ID_PHOTO_MAX,
        face_photo_max: int | None = None,
        max_unauthenticated_frames: int = 8,
        check_session_id: bool = True,
        max_connections: int | None = None,
        reply_part_len: int | None = None,
        clock: Callable[[], datetime] | None = None,
        login_timeout_s: float | None = 10.0,
        takeover_silence_s: float | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.backend = backend
        self.reuse_port = reuse_port  # several processes share the port (smz serve --workers N)
        self.host = host
        self.port = port
        self.idle_timeout_s = idle_timeout_s
        self.read_timeout_s = read_timeout_s
        self.write_timeout_s = read_timeout_s if write_timeout_s is None else write_timeout_s
        self.backend_timeout_s = backend_timeout_s
        self.max_frame_len = max_frame_len
        self.max_message_len = max_message_len
        self.max_parts = max_parts
        self.max_connections = default_max_connections() if not max_connections else max_connections
        self.login_timeout_s = login_timeout_s
        self.takeover_silence_s = idle_timeout_s if takeover_silence_s is None else takeover_silence_s
        self.reply_part_len = reply_part_len
        self.limits = SessionLimits(
            punch_photo_max=punch_photo_max,
            id_photo_max=id_photo_max,
            face_photo_max=punch_photo_max if face_photo_max is None else face_photo_max,
            max_unauthenticated_frames=max_unauthenticated_frames,
            check_session_id=check_session_id,
        )
        self._clock = clock or (lambda: datetime.now(UTC))
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._by_serial: dict[str, _Conn] = {}
        self._sweeper: asyncio.Task[None] | None = None
        # Deadlines are kept by one sweep over the connections instead of a timer per read and per backend call
        # (asyncio.timeout costs a timer handle, a context and a reschedule each time: with a thousand terminals
        # that was a tenth of the server's CPU per punch — issue 18).  A deadline fires at most a tenth of the
        # shortest timeout late (and never more than 0.5 s).
        timeouts = [t for t in (idle_timeout_s, read_timeout_s, backend_timeout_s, login_timeout_s) if t]
        self.sweep_interval_s = min(0.5, max(0.005, min(timeouts, default=5.0) / 10))

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port,
                                                  reuse_port=self.reuse_port or None)
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="gate-deadlines")
        log.info("gate server listening on %s:%s (at most %d connections; login within %s s)", self.host,
                 self.port, self.max_connections, self.login_timeout_s)

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self, *, timeout_s: float = 5.0) -> None:
        server, self._server = self._server, None
        sweeper, self._sweeper = self._sweeper, None
        if server is not None:
            server.close()
        conns = list(self._conns)
        for conn in conns:
            conn.writer.close()
        tasks = [c.task for c in conns if c.task is not None and not c.task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=timeout_s)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout_s)
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    async def _sweep(self) -> None:
        """Every ``sweep_interval_s``: cancel the wait of each connection past its deadline."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            now = loop.time()
            for conn in [c for c in self._conns if c.waiting and c.deadline <= now and not c.expired]:
                if conn.task is not None and not conn.task.done():
                    conn.expired = True
                    conn.task.cancel()

    async def _wait(self, conn: _Conn, what: str, deadline: float, awaitable: Any) -> Any:
        """Await ``awaitable`` until ``deadline`` (loop time): TimeoutError after it, as asyncio.timeout would."""
        conn.waiting, conn.deadline = what, deadline
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not conn.expired:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise TimeoutError(what) from None
        finally:
            conn.waiting, conn.expired = "", False

    async def __aenter__(self) -> GateServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- views -----------------------------------------------------------------------------
    def connected_serials(self) -> KeysView[str]:
        """Serials of the devices logged in right now (a live view)."""
        return self._by_serial.keys()

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    def drop(self, serial: str, why: str = "dropped") -> bool:
        """End the logged-in connection of this device (the application's decision, e.g. its vendor
        code was rotated); the backend hears ``connection_closed`` as usual.  False if not connected."""
        conn = self._by_serial.get(serial)
        if conn is None:
            return False
        log.warning("%s closing: %s", conn.tag(), why)
        conn.writer.transport.abort()
        return True

    # -- one connection --------------------------------------------------------------------
    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(reader, writer, GateSession(self.limits), asyncio.get_running_loop().time())
        conn.task = asyncio.current_task()
        if len(self._conns) >= self.max_connections:
            log.warning("%s refused: %d connections open", conn.tag(), len(self._conns))
            writer.transport.abort()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._conns.add(conn)
        log.info("%s connected", conn.tag())
        try:
            await self._serve(conn)
        except asyncio.CancelledError:
            log.info("%s cancelled", conn.tag())
        except Exception:
            log.exception("%s connection handler failed", conn.tag())
        finally:
            await self._finish(conn)

    async def _finish(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        if not conn.writer.is_closing():
            conn.writer.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(conn.writer.wait_closed(), 1.0)
        conn.writer.transport.abort()
        serial = conn.session.serial
        log.info("%s closed%s", conn.tag(), " (replaced)" if conn.replaced else "")
        if serial is not None and self._by_serial.get(serial) is conn:
            del self._by_serial[serial]
            await self._notify_closed(conn, serial)

    async def _notify_closed(self, conn: _Conn, serial: str) -> None:
        try:
            await asyncio.wait_for(self.backend.connection_closed(serial), self.backend_timeout_s)
        except Exception:
            log.exception("%s backend.connection_closed failed", conn.tag())

    async def _serve(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        decoder = FrameDecoder(
            max_frame_len=self.max_frame_len, max_message_len=self.max_message_len, max_parts=self.max_parts
        )
        last_frame = loop.time()
        frame_started: float | None = None
        while True:
            try:
                event = decoder.next_event()
            except ProtocolError as err:
                await self._fatal(conn, err)
                return
            if event is NEED_DATA:
                now = loop.time()
                if decoder.in_frame:
                    if frame_started is None:
                        frame_started = now
                    deadline, why = frame_started + self.read_timeout_s, "frame not completed in time"
                elif decoder.in_message:
                    frame_started = None
                    deadline, why = last_frame + self.read_timeout_s, "next part not sent in time"
                else:
                    frame_started = None
                    deadline, why = last_frame + self.idle_timeout_s, "idle (no frame, no heartbeat)"
                if self.login_timeout_s is not None and not conn.session.logged_in:
                    login_deadline = conn.started + self.login_timeout_s
                    if login_deadline < deadline:
                        deadline, why = login_deadline, "no login in time"
                try:
                    data = await self._wait(conn, why, deadline, conn.reader.read(_READ_CHUNK))
                except TimeoutError:
                    log.info("%s closing: %s", conn.tag(), why)
                    return
                except (ConnectionError, OSError) as exc:
                    log.info("%s connection lost: %r", conn.tag(), exc)
                    return
                if not data and conn.replaced:
                    return
                if data:
                    conn.last_activity = loop.time()
                try:
                    decoder.receive_data(data)
                except ProtocolError as err:
                    await self._fatal(conn, err)
                    return
                continue
            if event is CONNECTION_CLOSED:
                return
            assert isinstance(event, Frame)
            last_frame = loop.time()
            frame_started = None
            if not await self._on_frame(conn, event):
                return
            last_frame = loop.time()  # the idle clock starts after the reply

    async def _fatal(self, conn: _Conn, err: ProtocolError) -> None:
        if err.code == "truncated_frame":
            log.info("%s %s: %s", conn.tag(), err.code, err.message_en)
            return
        log.warning("%s protocol error, closing: %s: %s", conn.tag(), err.code, err.message_en)
        reply = conn.session.fatal_error(err)
        if reply is not None:
            await self._send(conn, reply, log_error=False)

    async def _on_frame(self, conn: _Conn, frame: Frame) -> bool:
        """Handle one complete request; False → close the connection."""
        received_at = self._clock()
        session = conn.session
        action = session.handle_frame(frame)
        if isinstance(action, Reply):
            return await self._send(conn, action)
        call = action
        serial_before = session.serial
        try:
            if self.backend_timeout_s is None:
                result = await self._dispatch(conn, call, received_at)
            else:
                result = await self._wait(conn, "backend", asyncio.get_running_loop().time() + self.backend_timeout_s,
                                          self._dispatch(conn, call, received_at))
        except GateRefused as refused:
            reply = session.refused(call, refused.message)
            if refused.close:
                reply = dataclasses.replace(reply, close=True)
        except Exception as exc:
            log.exception("%s backend failed on command %d", conn.tag(), frame.command)
            reply = session.failed(call, f"backend error: {exc!r}")
        else:
            reply = session.succeeded(call, result)
            if isinstance(call, LoginCall) and reply.frame.flag == 0:
                self._register(conn)
        if serial_before is not None and session.serial is None:
            # a refused re-login logged this connection out
            if self._by_serial.get(serial_before) is conn:
                del self._by_serial[serial_before]
                await self._notify_closed(conn, serial_before)
        return await self._send(conn, reply)

    def _register(self, conn: _Conn) -> None:
        serial = conn.session.serial
        assert serial is not None
        old = self._by_serial.get(serial)
        if old is not None and old is not conn:
            log.info("%s replaces the connection from %s", conn.tag(), old.peer)
            old.replaced = True
            old.writer.transport.abort()
        self._by_serial[serial] = conn
        log.info("%s logged in", conn.tag())

    async def _dispatch(self, conn: _Conn, call: Call, received_at: datetime) -> object:
        backend = self.backend
        serial = conn.session.serial or ""
        match call:
            case LoginCall(message=msg):
                await self._check_takeover(conn, msg.serial)
                await backend.login(msg.vendor_code, msg.serial, conn.peer)
                await self._check_takeover(conn, msg.serial)  # another connection may have logged in meanwhile
                return None
            case HeartbeatCall():
                await backend.heartbeat(serial)
                return None
            case WhitelistCall():
                return await backend.whitelist(serial)
            case PersonFeaturesCall(message=msg):
                return await backend.person_features(serial, msg.id_number)
            case EnrolCall(message=msg):
                await backend.enrol(serial, msg)
                return None
            case PunchCall(message=msg):
                await backend.punch(serial, msg, received_at)
                return None
        raise TypeError(f"unknown call {call!r}")

    async def _check_takeover(self, conn: _Conn, serial: str) -> None:
        """Refuse a login for a serial online from another address whose connection is not silent."""
        old = self._by_serial.get(serial)
        if old is None or old is conn or old.host == conn.host:
            return
        silent = asyncio.get_running_loop().time() - old.last_activity
        if silent > self.takeover_silence_s:
            log.warning("%s takes over serial %s from %s (silent for %.0f s)", conn.tag(), serial, old.peer, silent)
            return
        log.warning("%s login refused: serial %s is online from %s (active %.0f s ago)", conn.tag(), serial,
                    old.peer, silent)
        hook = getattr(self.backend, "login_conflict", None)
        if hook is not None:
            try:
                await hook(serial, conn.peer, old.peer)
            except Exception:
                log.exception("%s backend.login_conflict failed", conn.tag())
        raise GateRefused(TAKEOVER_REFUSED_TEXT)

    async def _send(self, conn: _Conn, reply: Reply, *, log_error: bool = True) -> bool:
        if log_error and reply.error:
            log.warning("%s command %d refused: %s", conn.tag(), reply.frame.command, reply.error)
        writer = conn.writer
        if writer.is_closing():
            return False
        frame = reply.frame
        if self.reply_part_len is not None and len(frame.content) > self.reply_part_len:
            data = b"".join(
                encode_frames(
                    frame.command,
                    frame.content,
                    max_part_len=self.reply_part_len,
                    session_id=frame.session_id,
                    version=frame.version,
                    flag=frame.flag,
                )
            )
        else:
            data = frame.to_bytes()
        try:
            writer.write(data)
            if writer.transport.get_write_buffer_size():  # the kernel did not take it all: wait, bounded
                async with asyncio.timeout(self.write_timeout_s):
                    await writer.drain()
        except TimeoutError:
            log.info("%s closing: reply not taken in time", conn.tag())
            return False
        except (ConnectionError, OSError) as exc:
            log.info("%s connection lost while writing: %r", conn.tag(), exc)
            return False
        if reply.close:
            log.info("%s closing after reply to command %d", conn.tag(), frame.command)
        return not reply.close
