"""Sans-IO framing of the gate-terminal protocol (seed 001, 江门市实名设备直连对接标准 V1.0, §1.1).

Frame layout, all numbers little-endian ("所有命令的数字类型都为低位在前")::

    0x01 | LEN u32 | PartIndex u32 | PartCount u32 | Version u8 | Command u16 | SessionID 16
         | Content[LEN] | Flag u8 | 0x01

Usage, h11 style::

    decoder = FrameDecoder()
    decoder.receive_data(chunk)          # b"" signals end of stream
    while (event := decoder.next_event()) is not NEED_DATA:
        ...                              # a Frame, or CONNECTION_CLOSED

``ProtocolError`` is the only exception the decoder raises, for any input. After it has raised,
the stream is unusable (the frame boundaries are lost) and every later call raises the same error.

Multipart messages (PartCount >= 2) are reassembled: the parts' contents are concatenated in
PartIndex order and handed out as one Frame. The first part may be numbered 0 or 1 (the text
does not say); the following parts must be consecutive. A single-part heartbeat (65535) may be
interleaved with the parts of a multipart message; anything else interleaved is an error.
No sockets, no asyncio, no clocks here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final, NoReturn

__all__ = [
    "CMD_ENROL",
    "CMD_HEARTBEAT",
    "CMD_LOGIN",
    "CMD_PERSON_FEATURES",
    "CMD_PUNCH",
    "CMD_WHITELIST",
    "CONNECTION_CLOSED",
    "DEFAULT_MAX_FRAME_LEN",
    "DEFAULT_MAX_MESSAGE_LEN",
    "DEFAULT_MAX_PARTS",
    "FRAME_OVERHEAD",
    "HEADER",
    "HEADER_LEN",
    "KNOWN_COMMANDS",
    "NEED_DATA",
    "SESSION_ID_LEN",
    "TAIL",
    "ZERO_SESSION",
    "Frame",
    "FrameDecoder",
    "ProtocolError",
    "encode_frame",
    "encode_frames",
]

HEADER: Final = 0x01
TAIL: Final = 0x01
SESSION_ID_LEN: Final = 16
ZERO_SESSION: Final = bytes(SESSION_ID_LEN)

# header byte, LEN, PartIndex, PartCount, Version, Command, SessionID
_HEAD = struct.Struct("<BIIIBH16s")
HEADER_LEN: Final = _HEAD.size  # 32
_TRAILER_LEN: Final = 2  # Flag + tail byte
FRAME_OVERHEAD: Final = HEADER_LEN + _TRAILER_LEN  # 34

CMD_LOGIN: Final = 843
CMD_PERSON_FEATURES: Final = 845
CMD_PUNCH: Final = 848
CMD_WHITELIST: Final = 849
CMD_ENROL: Final = 852
CMD_HEARTBEAT: Final = 65535
KNOWN_COMMANDS: Final = frozenset({CMD_LOGIN, CMD_PERSON_FEATURES, CMD_PUNCH, CMD_WHITELIST, CMD_ENROL, CMD_HEARTBEAT})

DEFAULT_MAX_FRAME_LEN: Final = 1 << 20  # LEN of one frame
DEFAULT_MAX_MESSAGE_LEN: Final = 4 << 20  # reassembled content of a multipart message
DEFAULT_MAX_PARTS: Final = 256


class ProtocolError(Exception):
    """A violation of the protocol.

    ``code`` is machine-readable; ``message_zh`` is what a terminal shows; ``message_en`` is for
    logs. ``fatal`` says the byte stream can no longer be framed (decoder errors): the connection
    must be closed, possibly after one error reply. Message-level errors (bad checksum, short
    content, ...) are not fatal. When the frame header was read, ``command``, ``version`` and
    ``session_id`` let the caller address an error reply.
    """

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        fatal: bool = False,
        command: int | None = None,
        version: int | None = None,
        session_id: bytes | None = None,
    ) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.fatal = fatal
        self.command = command
        self.version = version
        self.session_id = session_id

    @property
    def text(self) -> str:
        """The text sent to a terminal in a failure reply: ``"中文 / english"``."""
        return f"{self.message_zh} / {self.message_en}"

    @property
    def can_reply(self) -> bool:
        return self.command is not None


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
CONNECTION_CLOSED: Final = _Sentinel("CONNECTION_CLOSED")


@dataclass(frozen=True, slots=True)
class Frame:
    """One protocol message. ``parts`` is how many frames it was reassembled from (1 = single)."""

    command: int
    content: bytes = b""
    session_id: bytes = ZERO_SESSION
    version: int = 1
    flag: int = 0
    part_index: int = 0
    part_count: int = 0
    parts: int = field(default=1, compare=False)

    def __post_init__(self) -> None:
        if len(self.session_id) != SESSION_ID_LEN:
            raise ValueError(f"session id must be {SESSION_ID_LEN} bytes")
        if not 0 <= self.command <= 0xFFFF:
            raise ValueError("command must fit in u16")
        if not 0 <= self.version <= 0xFF or not 0 <= self.flag <= 0xFF:
            raise ValueError("version and flag must fit in u8")

    @property
    def ok(self) -> bool:
        return self.flag == 0

    def to_bytes(self) -> bytes:
        return encode_frame(
            self.command,
            self.content,
            session_id=self.session_id,
            version=self.version,
            flag=self.flag,
            part_index=self.part_index,
            part_count=self.part_count,
        )

    def reply(self, content: bytes = b"", *, flag: int = 0, session_id: bytes | None = None) -> Frame:
        """A reply echoing this frame's command, version and session id."""
        return Frame(
            command=self.command,
            content=content,
            session_id=self.session_id if session_id is None else session_id,
            version=self.version,
            flag=flag,
        )


def encode_frame(
    command: int,
    content: bytes = b"",
    *,
    session_id: bytes = ZERO_SESSION,
    version: int = 1,
    flag: int = 0,
    part_index: int = 0,
    part_count: int = 0,
) -> bytes:
    if len(session_id) != SESSION_ID_LEN:
        raise ValueError(f"session id must be {SESSION_ID_LEN} bytes")
    head = _HEAD.pack(HEADER, len(content), part_index, part_count, version, command, bytes(session_id))
    return b"".join((head, content, bytes((flag, TAIL))))


def encode_frames(
    command: int,
    content: bytes,
    *,
    max_part_len: int,
    session_id: bytes = ZERO_SESSION,
    version: int = 1,
    flag: int = 0,
    first_index: int = 0,
) -> list[bytes]:
    """Encode ``content`` as one frame, or as several parts of at most ``max_part_len`` bytes."""
    if max_part_len <= 0:
        raise ValueError("max_part_len must be positive")
    if len(content) <= max_part_len:
        return [encode_frame(command, content, session_id=session_id, version=version, flag=flag)]
    chunks = [content[i : i + max_part_len] for i in range(0, len(content), max_part_len)]
    return [
        encode_frame(
            command,
            chunk,
            session_id=session_id,
            version=version,
            flag=flag,
            part_index=first_index + i,
            part_count=len(chunks),
        )
        for i, chunk in enumerate(chunks)
    ]


@dataclass(slots=True)
class _Assembly:
    command: int
    version: int
    session_id: bytes
    part_count: int
    next_index: int
    chunks: list[bytes]
    size: int


class FrameDecoder:
    """Bytes in, :class:`Frame` events out. Holds at most one frame's bytes beyond what it was fed."""

    __slots__ = (
        "_assembly",
        "_buf",
        "_eof",
        "_error",
        "_head",
        "max_frame_len",
        "max_message_len",
        "max_parts",
    )

    def __init__(
        self,
        *,
        max_frame_len: int = DEFAULT_MAX_FRAME_LEN,
        max_message_len: int = DEFAULT_MAX_MESSAGE_LEN,
        max_parts: int = DEFAULT_MAX_PARTS,
    ) -> None:
        self.max_frame_len = max_frame_len
        self.max_message_len = max(max_message_len, max_frame_len)
        self.max_parts = max_parts
        self._buf = bytearray()
        self._head: tuple[int, int, int, int, int, bytes] | None = None
        self._assembly: _Assembly | None = None
        self._eof = False
        self._error: ProtocolError | None = None

    # -- state -----------------------------------------------------------------------------
    @property
    def in_frame(self) -> bool:
        """True while a frame has started but is not complete (for read timeouts)."""
        return bool(self._buf)

    @property
    def in_message(self) -> bool:
        """True while a frame or a multipart message is incomplete."""
        return bool(self._buf) or self._assembly is not None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    # -- input -----------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the connection; ``b""`` means the peer closed its side."""
        if self._error is not None:
            raise self._error
        if self._eof:
            if data:
                self._fail(ProtocolError("data_after_eof", "连接已关闭", "data received after end of stream"))
            return
        if not data:
            self._eof = True
            return
        self._buf += data

    # -- output ----------------------------------------------------------------------------
    def next_event(self) -> Frame | _Sentinel:
        if self._error is not None:
            raise self._error
        while True:
            frame = self._next_frame()
            if frame is None:
                if self._eof:
                    if self._buf or self._assembly is not None:
                        self._fail(
                            ProtocolError(
                                "truncated_frame",
                                "数据包不完整",
                                f"connection closed inside a frame ({len(self._buf)} bytes pending)",
                                fatal=True,
                            )
                        )
                    return CONNECTION_CLOSED
                return NEED_DATA
            out = self._reassemble(frame)
            if out is not None:
                return out

    # -- internals -------------------------------------------------------------------------
    def _fail(self, error: ProtocolError) -> NoReturn:
        error.fatal = True
        self._error = error
        self._buf.clear()
        self._assembly = None
        raise error

    def _next_frame(self) -> Frame | None:
        buf = self._buf
        if self._head is None:
            if not buf:
                return None
            if buf[0] != HEADER:
                self._fail(
                    ProtocolError("bad_header", "数据包起始标记错误", f"bad start byte 0x{buf[0]:02x}", fatal=True)
                )
            if len(buf) < HEADER_LEN:
                return None
            _, length, part_index, part_count, version, command, session_id = _HEAD.unpack_from(buf)
            if length > self.max_frame_len:
                self._fail(
                    ProtocolError(
                        "frame_too_long",
                        "数据包过长",
                        f"LEN {length} exceeds the limit {self.max_frame_len}",
                        command=command,
                        version=version,
                        session_id=session_id,
                    )
                )
            self._head = (length, part_index, part_count, version, command, session_id)
        length, part_index, part_count, version, command, session_id = self._head
        total = HEADER_LEN + length + _TRAILER_LEN
        if len(buf) < total:
            return None
        if buf[total - 1] != TAIL:
            self._fail(
                ProtocolError(
                    "bad_tail",
                    "数据包结束标记错误或长度不符",
                    f"bad end byte 0x{buf[total - 1]:02x} (LEN {length} does not match the data)",
                    command=command,
                    version=version,
                    session_id=session_id,
                )
            )
        content = bytes(buf[HEADER_LEN : HEADER_LEN + length])
        flag = buf[total - 2]
        del buf[:total]
        self._head = None
        return Frame(
            command=command,
            content=content,
            session_id=session_id,
            version=version,
            flag=flag,
            part_index=part_index,
            part_count=part_count,
        )

    def _multipart_error(self, frame: Frame, code: str, zh: str, en: str) -> NoReturn:
        self._fail(
            ProtocolError(code, zh, en, command=frame.command, version=frame.version, session_id=frame.session_id)
        )

    def _reassemble(self, frame: Frame) -> Frame | None:
        asm = self._assembly
        if frame.part_count <= 1:
            if asm is not None and frame.command != CMD_HEARTBEAT:
                self._multipart_error(
                    frame,
                    "interleaved_frame",
                    "分包数据未传完",
                    f"command {frame.command} arrived inside multipart command {asm.command}",
                )
            return frame
        # a part of a multipart message
        if frame.part_count > self.max_parts:
            self._multipart_error(
                frame, "too_many_parts", "分包数量过多", f"PartCount {frame.part_count} > {self.max_parts}"
            )
        if asm is None:
            if frame.part_index not in (0, 1):
                self._multipart_error(
                    frame,
                    "bad_part_index",
                    "分包序号错误",
                    f"first part has PartIndex {frame.part_index} (expected 0 or 1)",
                )
            base = frame.part_index
            asm = _Assembly(
                command=frame.command,
                version=frame.version,
                session_id=frame.session_id,
                part_count=frame.part_count,
                next_index=base,
                chunks=[],
                size=0,
            )
            self._assembly = asm
        if frame.command != asm.command or frame.session_id != asm.session_id or frame.part_count != asm.part_count:
            self._multipart_error(
                frame,
                "interleaved_frame",
                "分包数据不一致",
                "a part does not match the command, session or PartCount of the message",
            )
        if frame.part_index != asm.next_index:
            self._multipart_error(
                frame,
                "bad_part_index",
                "分包序号错误",
                f"PartIndex {frame.part_index}, expected {asm.next_index}",
            )
        asm.size += len(frame.content)
        if asm.size > self.max_message_len:
            self._multipart_error(
                frame,
                "message_too_long",
                "数据包过长",
                f"reassembled content exceeds the limit {self.max_message_len}",
            )
        asm.chunks.append(frame.content)
        asm.next_index += 1
        if len(asm.chunks) < asm.part_count:
            return None
        self._assembly = None
        return Frame(
            command=asm.command,
            content=b"".join(asm.chunks),
            session_id=asm.session_id,
            version=asm.version,
            flag=frame.flag,
            parts=asm.part_count,
        )
