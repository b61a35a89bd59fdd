"""Framing of the gate protocol (seed 001 江门市实名设备直连对接标准 V1.0 §1.1), from hand-written hex."""

from __future__ import annotations

import pytest

from device_tcp.frames import (
    CMD_HEARTBEAT,
    CMD_LOGIN,
    CMD_PUNCH,
    CONNECTION_CLOSED,
    FRAME_OVERHEAD,
    HEADER_LEN,
    NEED_DATA,
    ZERO_SESSION,
    Frame,
    FrameDecoder,
    ProtocolError,
    encode_frame,
    encode_frames,
)
from device_tcp.messages import LoginRequest


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# A login (843) frame written out by hand from §1.1 and §1.2.1.
# vendor code "VENDOR" and serial "SN0001", each NUL-padded to 32 bytes.
# XOR by hand: V^E^N^D^O^R = 56^45^4e^44^4f^52 = 04; S^N^0^0^0^1 = 53^4e^30^30^30^31 = 1c;
# 04 ^ 1c = 18.
LOGIN_CONTENT_HEX = (
    "56 45 4e 44 4f 52" + " 00" * 26  # 厂家识别码 32 ASCII
    + "53 4e 30 30 30 31" + " 00" * 26  # 设备的唯一标识码 32 ASCII
    + " 18"  # 校验和
)  # fmt: skip
LOGIN_FRAME_HEX = (
    "01"  # Header
    " 41 00 00 00"  # LEN = 65 (32 + 32 + 1), little-endian
    " 00 00 00 00"  # PartIndex
    " 00 00 00 00"  # PartCount
    " 01"  # Version
    " 4b 03"  # Command 843 = 0x034b, little-endian
    + " 00" * 16  # SessionID
    + " " + LOGIN_CONTENT_HEX
    + " 00"  # Flag
    " 01"  # Tail
)  # fmt: skip
LOGIN_FRAME = h(LOGIN_FRAME_HEX)

# heartbeat 65535 with a session id 00 01 02 .. 0f, empty content
SID = bytes(range(16))
HEARTBEAT_FRAME = h("01 00000000 00000000 00000000 01 ffff 000102030405060708090a0b0c0d0e0f 00 01")


def test_login_frame_layout_from_spec() -> None:
    assert len(LOGIN_FRAME) == FRAME_OVERHEAD + 65
    assert HEADER_LEN == 32
    content = LoginRequest(vendor_code="VENDOR", serial="SN0001").build()
    assert content == h(LOGIN_CONTENT_HEX)
    assert encode_frame(CMD_LOGIN, content) == LOGIN_FRAME


def test_decode_login_frame() -> None:
    dec = FrameDecoder()
    assert dec.next_event() is NEED_DATA
    dec.receive_data(LOGIN_FRAME)
    frame = dec.next_event()
    assert isinstance(frame, Frame)
    assert frame.command == CMD_LOGIN
    assert frame.version == 1
    assert frame.session_id == ZERO_SESSION
    assert frame.flag == 0
    assert frame.content == h(LOGIN_CONTENT_HEX)
    assert LoginRequest.parse(frame.content) == LoginRequest(vendor_code="VENDOR", serial="SN0001")
    assert dec.next_event() is NEED_DATA
    assert not dec.in_frame


def test_heartbeat_frame_empty_content() -> None:
    dec = FrameDecoder()
    dec.receive_data(HEARTBEAT_FRAME)
    frame = dec.next_event()
    assert frame == Frame(command=CMD_HEARTBEAT, content=b"", session_id=SID)
    assert frame.to_bytes() == HEARTBEAT_FRAME


def test_split_byte_by_byte() -> None:
    dec = FrameDecoder()
    stream = LOGIN_FRAME + HEARTBEAT_FRAME
    frames = []
    for i in range(len(stream)):
        dec.receive_data(stream[i : i + 1])
        while (ev := dec.next_event()) is not NEED_DATA:
            frames.append(ev)
        if i < len(LOGIN_FRAME) - 1:
            assert not frames
            assert dec.in_frame
    assert [f.command for f in frames] == [CMD_LOGIN, CMD_HEARTBEAT]


@pytest.mark.parametrize("cut", [1, 5, 31, 32, 33, 96, len(LOGIN_FRAME) - 1])
def test_split_at_every_kind_of_boundary(cut: int) -> None:
    dec = FrameDecoder()
    dec.receive_data(LOGIN_FRAME[:cut])
    assert dec.next_event() is NEED_DATA
    dec.receive_data(LOGIN_FRAME[cut:])
    assert dec.next_event().command == CMD_LOGIN


def test_several_frames_in_one_read_and_a_partial_one() -> None:
    dec = FrameDecoder()
    dec.receive_data(HEARTBEAT_FRAME * 3 + LOGIN_FRAME + LOGIN_FRAME[:10])
    got = [dec.next_event() for _ in range(4)]
    assert [f.command for f in got] == [CMD_HEARTBEAT] * 3 + [CMD_LOGIN]
    assert dec.next_event() is NEED_DATA
    assert dec.in_frame and dec.buffered == 10
    dec.receive_data(LOGIN_FRAME[10:])
    assert dec.next_event().command == CMD_LOGIN


def test_clean_eof_and_truncated_eof() -> None:
    dec = FrameDecoder()
    dec.receive_data(HEARTBEAT_FRAME)
    dec.receive_data(b"")
    assert dec.next_event().command == CMD_HEARTBEAT
    assert dec.next_event() is CONNECTION_CLOSED

    dec = FrameDecoder()
    dec.receive_data(LOGIN_FRAME[:40])
    dec.receive_data(b"")
    with pytest.raises(ProtocolError) as exc:
        dec.next_event()
    assert exc.value.code == "truncated_frame" and exc.value.fatal


def test_bad_header_byte_is_fatal_and_sticky() -> None:
    dec = FrameDecoder()
    dec.receive_data(b"\x02" + LOGIN_FRAME[1:])
    with pytest.raises(ProtocolError) as exc:
        dec.next_event()
    assert exc.value.code == "bad_header"
    assert exc.value.fatal and exc.value.command is None
    with pytest.raises(ProtocolError):
        dec.next_event()
    with pytest.raises(ProtocolError):
        dec.receive_data(LOGIN_FRAME)


def test_garbage_is_rejected_on_its_first_byte() -> None:
    dec = FrameDecoder()
    dec.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(ProtocolError, match="bad_header"):
        dec.next_event()


def test_bad_tail_byte() -> None:
    bad = LOGIN_FRAME[:-1] + b"\x00"
    dec = FrameDecoder()
    dec.receive_data(bad)
    with pytest.raises(ProtocolError) as exc:
        dec.next_event()
    err = exc.value
    assert err.code == "bad_tail" and err.fatal
    # the header was read: an error reply can be addressed
    assert (err.command, err.version, err.session_id) == (CMD_LOGIN, 1, ZERO_SESSION)
    assert err.text.startswith("数据包结束标记错误")


def test_len_shorter_than_the_data_shows_as_bad_tail() -> None:
    # LEN says 64 but 65 content bytes follow: the byte at the tail position is the checksum 0x18
    bad = LOGIN_FRAME[:1] + (64).to_bytes(4, "little") + LOGIN_FRAME[5:]
    dec = FrameDecoder()
    dec.receive_data(bad)
    with pytest.raises(ProtocolError, match="bad_tail"):
        dec.next_event()


def test_len_beyond_limit_rejected_before_the_content_arrives() -> None:
    dec = FrameDecoder(max_frame_len=1024)
    head = encode_frame(CMD_PUNCH, bytes(1025))[:HEADER_LEN]
    dec.receive_data(head)
    with pytest.raises(ProtocolError) as exc:
        dec.next_event()
    assert exc.value.code == "frame_too_long"
    assert exc.value.command == CMD_PUNCH


def test_default_len_limit_is_one_mib() -> None:
    dec = FrameDecoder()
    dec.receive_data(h("01 01001000 00000000 00000000 01 5003") + bytes(16))  # LEN = 0x00100001
    with pytest.raises(ProtocolError, match="frame_too_long"):
        dec.next_event()
    dec = FrameDecoder()
    dec.receive_data(encode_frame(CMD_PUNCH, bytes(1 << 20)))
    assert len(dec.next_event().content) == 1 << 20


def test_version_flag_and_session_kept() -> None:
    raw = encode_frame(CMD_PUNCH, b"abc", session_id=SID, version=7, flag=1)
    dec = FrameDecoder()
    dec.receive_data(raw)
    f = dec.next_event()
    assert (f.version, f.flag, f.session_id, f.content) == (7, 1, SID, b"abc")
    r = f.reply(b"ok")
    assert (r.command, r.version, r.session_id, r.flag) == (CMD_PUNCH, 7, SID, 0)


# -- multipart ------------------------------------------------------------------------------------
def _parts(content: bytes, n: int, *, base: int = 0, command: int = CMD_PUNCH) -> list[bytes]:
    size = -(-len(content) // n)
    chunks = [content[i : i + size] for i in range(0, len(content), size)]
    assert len(chunks) == n
    return [encode_frame(command, c, session_id=SID, part_index=base + i, part_count=n) for i, c in enumerate(chunks)]


@pytest.mark.parametrize("base", [0, 1])
def test_multipart_reassembled(base: int) -> None:
    content = bytes(range(256)) * 10
    dec = FrameDecoder()
    for raw in _parts(content, 3, base=base):
        dec.receive_data(raw)
    f = dec.next_event()
    assert f.content == content and f.parts == 3 and f.command == CMD_PUNCH and f.session_id == SID
    assert dec.next_event() is NEED_DATA


def test_multipart_byte_by_byte_and_in_message() -> None:
    content = b"x" * 500
    stream = b"".join(_parts(content, 4))
    dec = FrameDecoder()
    out = []
    for b in stream:
        dec.receive_data(bytes((b,)))
        ev = dec.next_event()
        if ev is not NEED_DATA:
            out.append(ev)
    assert [f.content for f in out] == [content]


def test_encode_frames_round_trip() -> None:
    content = bytes(range(200)) * 7
    raws = encode_frames(CMD_PUNCH, content, max_part_len=300, session_id=SID)
    assert len(raws) == 5
    dec = FrameDecoder()
    dec.receive_data(b"".join(raws))
    assert dec.next_event().content == content
    assert encode_frames(CMD_PUNCH, b"small", max_part_len=300) == [encode_frame(CMD_PUNCH, b"small")]


def test_heartbeat_may_interleave_with_parts() -> None:
    p = _parts(b"y" * 90, 3)
    dec = FrameDecoder()
    dec.receive_data(p[0] + HEARTBEAT_FRAME + p[1] + p[2])
    assert dec.next_event().command == CMD_HEARTBEAT
    assert dec.in_message
    assert dec.next_event().content == b"y" * 90


def test_other_command_inside_multipart_rejected() -> None:
    p = _parts(b"y" * 90, 3)
    dec = FrameDecoder()
    dec.receive_data(p[0] + LOGIN_FRAME)
    with pytest.raises(ProtocolError, match="interleaved_frame"):
        dec.next_event()


@pytest.mark.parametrize(
    ("indexes", "code"),
    [((0, 2, 1), "bad_part_index"), ((2, 3, 4), "bad_part_index"), ((0, 0, 1), "bad_part_index")],
)
def test_bad_part_order(indexes: tuple[int, ...], code: str) -> None:
    dec = FrameDecoder()
    for i in indexes:
        dec.receive_data(encode_frame(CMD_PUNCH, b"ab", part_index=i, part_count=3))
    with pytest.raises(ProtocolError) as exc:
        dec.next_event()
    assert exc.value.code == code


def test_part_from_another_session_rejected() -> None:
    dec = FrameDecoder()
    dec.receive_data(encode_frame(CMD_PUNCH, b"a", session_id=SID, part_index=0, part_count=2))
    dec.receive_data(encode_frame(CMD_PUNCH, b"b", session_id=ZERO_SESSION, part_index=1, part_count=2))
    with pytest.raises(ProtocolError, match="interleaved_frame"):
        dec.next_event()


def test_too_many_parts() -> None:
    dec = FrameDecoder(max_parts=4)
    dec.receive_data(encode_frame(CMD_PUNCH, b"a", part_index=0, part_count=5))
    with pytest.raises(ProtocolError) as exc:
        dec.next_event()
    assert exc.value.code == "too_many_parts" and exc.value.command == CMD_PUNCH


def test_reassembled_size_limit() -> None:
    dec = FrameDecoder(max_frame_len=100, max_message_len=250)
    for i in range(3):
        dec.receive_data(encode_frame(CMD_PUNCH, bytes(100), part_index=i, part_count=3))
    with pytest.raises(ProtocolError, match="message_too_long"):
        dec.next_event()


def test_eof_inside_multipart_is_truncated() -> None:
    dec = FrameDecoder()
    dec.receive_data(_parts(b"z" * 30, 3)[0])
    dec.receive_data(b"")
    with pytest.raises(ProtocolError, match="truncated_frame"):
        dec.next_event()


def test_frame_validation() -> None:
    with pytest.raises(ValueError):
        Frame(command=1, session_id=b"short")
    with pytest.raises(ValueError):
        Frame(command=70000)
    with pytest.raises(ValueError):
        encode_frame(1, b"", session_id=b"x")
