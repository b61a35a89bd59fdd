"""Property tests: whatever bytes a terminal (or anything else) sends, the decoder and every message
parser raise nothing but ProtocolError, and the session never raises at all."""

from __future__ import annotations

import itertools
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_tcp.frames import (
    CMD_ENROL,
    CMD_HEARTBEAT,
    CMD_LOGIN,
    CMD_PERSON_FEATURES,
    CMD_PUNCH,
    CMD_WHITELIST,
    NEED_DATA,
    Frame,
    FrameDecoder,
    ProtocolError,
    encode_frame,
    encode_frames,
)
from device_tcp.messages import (
    Enrolment,
    EnrolmentReply,
    LoginRequest,
    PersonFeatures,
    PersonFeaturesRequest,
    Punch,
    Whitelist,
    WhitelistRecord,
    WhitelistRequest,
    with_checksum,
)
from device_tcp.session import Call, GateSession, Reply

ID = "44070319900101123X"
SID = bytes(range(16))

VALID_CONTENTS = {
    "login": LoginRequest(vendor_code="VENDOR", serial="SN1").build(),
    "pf_req": PersonFeaturesRequest(serial="SN1", id_number=ID).build(),
    "pf": PersonFeatures(
        worker_no=1,
        name="张三",
        id_number=ID,
        ethnicity="01",
        gender="1",
        birth_date="19900101",
        face_photo=b"\xff\xd8abc",
        id_photo=b"\xff\xd8de",
    ).build(),
    "punch": Punch(worker_no=7, captured_at=datetime(2026, 11, 22, 8, 30), photo=b"\xff\xd8" * 20).build(),
    "wl_req": WhitelistRequest(count=2, photo_length_sum=100).build(),
    "wl": Whitelist(
        project_no=3,
        project_name="项目",
        records=(WhitelistRecord(worker_no=1, name="欧阳娜娜", id_number=ID, photo_length=5),),
    ).build(),
    "enrol": Enrolment(
        id_number=ID, name="张三", gender="0", ethnicity="02", id_photo=b"ID", face_photo=b"FACE"
    ).build(),
    "enrol_reply": EnrolmentReply(result=1, reason="原因").build(),
}

PARSERS = [
    LoginRequest.parse,
    PersonFeaturesRequest.parse,
    PersonFeatures.parse,
    lambda c: PersonFeatures.parse(c, photo_max=10),
    Punch.parse,
    lambda c: Punch.parse(c, photo_max=5),
    WhitelistRequest.parse,
    Whitelist.parse,
    Enrolment.parse,
    lambda c: Enrolment.parse(c, id_photo_max=1, face_photo_max=1, feature_max=1),
    EnrolmentReply.parse,
    WhitelistRecord.parse,
]


def only_protocol_errors(parse, content: bytes) -> None:  # type: ignore[no-untyped-def]
    try:
        parse(content)
    except ProtocolError as err:
        assert err.code and err.message_zh and err.message_en


# -- message parsers ----------------------------------------------------------------------------
@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_parsers_on_random_bytes(data: bytes) -> None:
    for parse in PARSERS:
        only_protocol_errors(parse, data)
        # with a correct checksum appended the parsers get past the checksum check
        only_protocol_errors(parse, with_checksum(data))


@st.composite
def mutated_content(draw: st.DrawFn) -> bytes:
    content = bytearray(draw(st.sampled_from(sorted(VALID_CONTENTS.values()))))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, max(0, len(content) - 1)))
        if kind == "flip" and content:
            content[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and content:
            content[pos] = draw(st.sampled_from([0x00, 0xFF, 0x80, 0xE5, 0x30, 0x7F]))
        elif kind == "cut":
            del content[pos:]
        elif kind == "insert":
            content[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and content:
            del content[pos]
    body = bytes(content[:-1])
    if draw(st.booleans()):
        return with_checksum(body)  # keep the checksum right: exercise the field checks
    return bytes(content)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_content())
def test_parsers_on_mutated_valid_content(content: bytes) -> None:
    for parse in PARSERS:
        only_protocol_errors(parse, content)


# -- frame decoder ------------------------------------------------------------------------------
def drain(dec: FrameDecoder) -> list[Frame]:
    out: list[Frame] = []
    while True:
        ev = dec.next_event()
        if not isinstance(ev, Frame):
            return out
        out.append(ev)


def feed(chunks: list[bytes], **limits: int) -> list[Frame]:
    dec = FrameDecoder(**limits)
    frames: list[Frame] = []
    try:
        for chunk in chunks:
            dec.receive_data(chunk)
            frames += drain(dec)
        dec.receive_data(b"")
        frames += drain(dec)
    except ProtocolError as err:
        assert err.fatal
    return frames


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=80), max_size=12))
def test_decoder_on_random_bytes(chunks: list[bytes]) -> None:
    feed(chunks, max_frame_len=256, max_message_len=1024, max_parts=8)


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=80), max_size=12))
def test_decoder_on_random_bytes_after_a_valid_header_byte(chunks: list[bytes]) -> None:
    feed([b"\x01", *chunks], max_frame_len=256, max_message_len=1024, max_parts=8)


def valid_stream() -> bytes:
    frames = [
        encode_frame(CMD_LOGIN, VALID_CONTENTS["login"]),
        encode_frame(CMD_HEARTBEAT, b"", session_id=SID),
        *encode_frames(CMD_PUNCH, VALID_CONTENTS["punch"], max_part_len=17, session_id=SID),
        encode_frame(CMD_WHITELIST, VALID_CONTENTS["wl_req"], session_id=SID),
    ]
    return b"".join(frames)


STREAM = valid_stream()


@settings(max_examples=500)
@given(
    st.lists(st.tuples(st.integers(0, len(STREAM) - 1), st.integers(0, 255)), max_size=4),
    st.lists(st.integers(1, len(STREAM)), max_size=6),
)
def test_decoder_on_mutated_valid_streams(mutations: list[tuple[int, int]], cuts: list[int]) -> None:
    data = bytearray(STREAM)
    for pos, value in mutations:
        data[pos] = value
    bounds = sorted({0, *cuts, len(data)})
    chunks = [bytes(data[a:b]) for a, b in itertools.pairwise(bounds)]
    frames = feed(chunks, max_frame_len=512, max_message_len=2048, max_parts=16)
    if not mutations:
        assert [f.command for f in frames] == [CMD_LOGIN, CMD_HEARTBEAT, CMD_PUNCH, CMD_WHITELIST]


@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_any_split_of_a_valid_stream_gives_the_same_frames(sizes: list[int]) -> None:
    chunks, pos, i = [], 0, 0
    while pos < len(STREAM):
        n = sizes[i % len(sizes)]
        chunks.append(STREAM[pos : pos + n])
        pos += n
        i += 1
    dec = FrameDecoder()
    frames: list[Frame] = []
    for c in chunks:
        dec.receive_data(c)
        frames += drain(dec)
    assert dec.next_event() is NEED_DATA
    assert [f.command for f in frames] == [CMD_LOGIN, CMD_HEARTBEAT, CMD_PUNCH, CMD_WHITELIST]
    assert frames[2].content == VALID_CONTENTS["punch"]


# -- session ------------------------------------------------------------------------------------
COMMANDS = [CMD_LOGIN, CMD_HEARTBEAT, CMD_PERSON_FEATURES, CMD_PUNCH, CMD_WHITELIST, CMD_ENROL, 0, 844, 4242]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(COMMANDS),
            st.one_of(st.binary(max_size=120), mutated_content(), st.sampled_from(list(VALID_CONTENTS.values()))),
            st.sampled_from([SID, bytes(16)]),
            st.sampled_from(["ok", "refused", "failed"]),
        ),
        max_size=10,
    )
)
def test_session_never_raises(script: list[tuple[int, bytes, bytes, str]]) -> None:
    s = GateSession(new_session_id=lambda: SID)
    for command, content, sid, outcome in script:
        action = s.handle_frame(Frame(command, content, session_id=sid))
        if isinstance(action, Call):
            if outcome == "ok":
                reply = s.succeeded(action, None)
            elif outcome == "refused":
                reply = s.refused(action, "拒绝")
            else:
                reply = s.failed(action)
        else:
            reply = action
        assert isinstance(reply, Reply)
        assert reply.frame.command == command
        reply.frame.to_bytes()
