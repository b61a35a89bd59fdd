"""Asyncio TCP server for gate terminals: reads bytes, feeds the sans-IO decoder and session,
calls the :class:`~device_tcp.backend.GateBackend`, writes replies.

- One request at a time per connection: the next frame is read only after the reply to the
  previous one was written ("同一台设备不能多线程并发").
- A second connection of the same device replaces the first once it has logged in: the old one
  is aborted, ``connection_closed`` is not called for it.
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
)

__all__ = ["GateServer"]

log = logging.getLogger("device_tcp")

_READ_CHUNK = 64 * 1024


class _Conn:
    __slots__ = ("peer", "reader", "replaced", "session", "task", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: GateSession):
        self.reader = reader
        self.writer = writer
        self.session = session
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
        self.task: asyncio.Task[Any] | None = None
        self.replaced = False

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
        max_connections: int = 20_000,
        reply_part_len: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.backend = backend
        self.host = host
        self.port = port
        self.idle_timeout_s = idle_timeout_s
        self.read_timeout_s = read_timeout_s
        self.write_timeout_s = read_timeout_s if write_timeout_s is None else write_timeout_s
        self.backend_timeout_s = backend_timeout_s
        self.max_frame_len = max_frame_len
        self.max_message_len = max_message_len
        self.max_parts = max_parts
        self.max_connections = max_connections
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

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        log.info("gate server listening on %s:%s", self.host, self.port)

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self, *, timeout_s: float = 5.0) -> None:
        server, self._server = self._server, None
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

    # -- one connection --------------------------------------------------------------------
    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(reader, writer, GateSession(self.limits))
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
                try:
                    async with asyncio.timeout(max(0.0, deadline - now)):
                        data = await conn.reader.read(_READ_CHUNK)
                except TimeoutError:
                    log.info("%s closing: %s", conn.tag(), why)
                    return
                except (ConnectionError, OSError) as exc:
                    log.info("%s connection lost: %r", conn.tag(), exc)
                    return
                if not data and conn.replaced:
                    return
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
                async with asyncio.timeout(self.backend_timeout_s):
                    result = await self._dispatch(conn, call, received_at)
        except GateRefused as refused:
            reply = session.refused(call, refused.message)
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
                await backend.login(msg.vendor_code, msg.serial, conn.peer)
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
