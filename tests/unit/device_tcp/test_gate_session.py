"""Per-connection state machine (sans-IO) of the gate protocol (seed 001 §1.2.1: other commands
only after a successful 843 login)."""

from __future__ import annotations

from datetime import datetime

import pytest

from device_tcp.frames import (
    CMD_ENROL,
    CMD_HEARTBEAT,
    CMD_LOGIN,
    CMD_PERSON_FEATURES,
    CMD_PUNCH,
    CMD_WHITELIST,
    ZERO_SESSION,
    Frame,
    ProtocolError,
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
    parse_text,
    with_checksum,
)
from device_tcp.session import (
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

SID = bytes.fromhex("a1" * 16)
ID = "44070319900101123X"


def login_frame(serial: str = "SN1", sid: bytes = ZERO_SESSION) -> Frame:
    return Frame(CMD_LOGIN, LoginRequest(vendor_code="VENDOR", serial=serial).build(), session_id=sid)


def logged_in(serial: str = "SN1") -> GateSession:
    s = GateSession(new_session_id=lambda: SID)
    call = s.handle_frame(login_frame(serial))
    assert isinstance(call, LoginCall)
    reply = s.succeeded(call)
    assert reply.frame.flag == 0 and reply.frame.session_id == SID
    return s


def punch_content(photo: bytes = b"\xff\xd8") -> bytes:
    return Punch(worker_no=9, captured_at=datetime(2026, 11, 22, 8, 30), photo=photo).build()


def enrol_content(**kw: object) -> bytes:
    values: dict[str, object] = {"id_number": ID, "name": "张三", "gender": "1", "ethnicity": "01"}
    values.update(kw)
    return Enrolment(**values).build()  # type: ignore[arg-type]


def text_of(reply: Reply) -> str:
    return parse_text(reply.frame.content)


# -- before login ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "content"),
    [
        (CMD_HEARTBEAT, b""),
        (CMD_PUNCH, punch_content()),
        (CMD_WHITELIST, WhitelistRequest().build()),
        (CMD_PERSON_FEATURES, PersonFeaturesRequest(serial="SN1", id_number=ID).build()),
        (CMD_ENROL, enrol_content()),
    ],
)
def test_commands_before_login_refused(command: int, content: bytes) -> None:
    s = GateSession()
    reply = s.handle_frame(Frame(command, content, session_id=SID, version=3))
    assert isinstance(reply, Reply)
    f = reply.frame
    assert (f.flag, f.command, f.version, f.session_id) == (1, command, 3, SID)
    assert text_of(reply) == "请先登录 / login first"
    assert not reply.close
    assert not s.logged_in


def test_many_frames_before_login_close_the_connection() -> None:
    s = GateSession(SessionLimits(max_unauthenticated_frames=3))
    closes = [s.handle_frame(Frame(CMD_HEARTBEAT)).close for _ in range(4)]  # type: ignore[union-attr]
    assert closes == [False, False, False, True]


def test_login_issues_a_session_id() -> None:
    s = GateSession()
    call = s.handle_frame(login_frame())
    assert isinstance(call, LoginCall)
    assert call.message == LoginRequest(vendor_code="VENDOR", serial="SN1")
    assert not s.logged_in  # not before the backend said yes
    reply = s.succeeded(call)
    assert reply.frame.flag == 0 and reply.frame.content == b""
    assert reply.frame.command == CMD_LOGIN
    assert len(s.session_id or b"") == 16 and s.session_id != ZERO_SESSION
    assert reply.frame.session_id == s.session_id
    assert s.serial == "SN1"
    # random per login
    other = GateSession()
    other_call = other.handle_frame(login_frame())
    other.succeeded(other_call)
    assert other.session_id != s.session_id


def test_login_refused() -> None:
    s = GateSession()
    call = s.handle_frame(login_frame())
    reply = s.refused(call, "设备未注册")  # type: ignore[arg-type]
    assert reply.frame.flag == 1 and text_of(reply) == "设备未注册"
    assert not s.logged_in


def test_malformed_login() -> None:
    s = GateSession()
    reply = s.handle_frame(Frame(CMD_LOGIN, b"\x00" * 10))
    assert isinstance(reply, Reply) and reply.frame.flag == 1
    assert "数据" in text_of(reply) and not reply.close


# -- after login -------------------------------------------------------------------------------
def test_session_id_checked() -> None:
    s = logged_in()
    reply = s.handle_frame(Frame(CMD_HEARTBEAT, session_id=ZERO_SESSION))
    assert isinstance(reply, Reply) and reply.frame.flag == 1
    assert text_of(reply).startswith("会话标识无效")
    assert isinstance(s.handle_frame(Frame(CMD_HEARTBEAT, session_id=SID)), HeartbeatCall)


def test_heartbeat_reply_empty() -> None:
    s = logged_in()
    call = s.handle_frame(Frame(CMD_HEARTBEAT, session_id=SID))
    reply = s.succeeded(call)  # type: ignore[arg-type]
    assert reply.frame == Frame(CMD_HEARTBEAT, b"", session_id=SID)


def test_unknown_command_refused_connection_kept() -> None:
    s = logged_in()
    reply = s.handle_frame(Frame(999, b"abc", session_id=SID))
    assert isinstance(reply, Reply)
    assert reply.frame.flag == 1 and reply.frame.command == 999 and not reply.close
    assert text_of(reply).startswith("未知命令")


def test_punch_call_and_ack() -> None:
    s = logged_in()
    call = s.handle_frame(Frame(CMD_PUNCH, punch_content(), session_id=SID))
    assert isinstance(call, PunchCall)
    assert call.message.worker_no == 9
    assert call.message.captured_at == datetime(2026, 11, 22, 8, 30)
    assert s.pending is call
    with pytest.raises(RuntimeError):
        s.handle_frame(Frame(CMD_HEARTBEAT, session_id=SID))  # one request at a time
    reply = s.succeeded(call)
    assert reply.frame.flag == 0 and reply.frame.content == b"" and s.pending is None


def test_punch_refused_and_internal_error() -> None:
    s = logged_in()
    call = s.handle_frame(Frame(CMD_PUNCH, punch_content(), session_id=SID))
    reply = s.refused(call, "不在白名单")  # type: ignore[arg-type]
    assert reply.frame.flag == 1 and text_of(reply) == "不在白名单"
    call = s.handle_frame(Frame(CMD_PUNCH, punch_content(), session_id=SID))
    reply = s.failed(call)  # type: ignore[arg-type]
    assert reply.frame.flag == 1 and text_of(reply).startswith("服务器内部错误")
    assert not reply.close


def test_punch_photo_limit_from_limits() -> None:
    s = GateSession(SessionLimits(punch_photo_max=100), new_session_id=lambda: SID)
    s.succeeded(s.handle_frame(login_frame()))  # type: ignore[arg-type]
    reply = s.handle_frame(Frame(CMD_PUNCH, punch_content(bytes(101)), session_id=SID))
    assert isinstance(reply, Reply) and reply.frame.flag == 1
    assert text_of(reply).startswith("考勤照片过大")


def test_bad_checksum_reply() -> None:
    s = logged_in()
    content = bytearray(punch_content())
    content[-1] ^= 0xFF
    reply = s.handle_frame(Frame(CMD_PUNCH, bytes(content), session_id=SID))
    assert isinstance(reply, Reply) and reply.frame.flag == 1 and not reply.close
    assert text_of(reply).startswith("校验和错误")
    assert reply.error and "bad_checksum" in reply.error


def test_whitelist_call_and_reply() -> None:
    s = logged_in()
    call = s.handle_frame(Frame(CMD_WHITELIST, WhitelistRequest(count=3, photo_length_sum=9).build(), session_id=SID))
    assert isinstance(call, WhitelistCall) and call.message.count == 3
    wl = Whitelist(
        project_no=5, project_name="项目", records=(WhitelistRecord(worker_no=1, name="张三", id_number=ID),)
    )
    reply = s.succeeded(call, wl)
    assert reply.frame.flag == 0 and Whitelist.parse(reply.frame.content) == wl


def test_backend_result_of_wrong_type_is_internal_error() -> None:
    s = logged_in()
    call = s.handle_frame(Frame(CMD_WHITELIST, WhitelistRequest().build(), session_id=SID))
    reply = s.succeeded(call, {"project_no": 1})
    assert reply.frame.flag == 1 and text_of(reply).startswith("服务器内部错误")
    assert reply.error


def test_unbuildable_backend_result_is_internal_error() -> None:
    s = logged_in()
    call = s.handle_frame(
        Frame(CMD_PERSON_FEATURES, PersonFeaturesRequest(serial="SN1", id_number=ID).build(), session_id=SID)
    )
    assert isinstance(call, PersonFeaturesCall)
    bad = PersonFeatures(worker_no=1, name="张三", id_number=ID, ethnicity="99", gender="1")
    reply = s.succeeded(call, bad)
    assert reply.frame.flag == 1 and "ethnicity" in (reply.error or "")


def test_person_features_serial_must_match_login() -> None:
    s = logged_in("SN1")
    reply = s.handle_frame(
        Frame(CMD_PERSON_FEATURES, PersonFeaturesRequest(serial="SN2", id_number=ID).build(), session_id=SID)
    )
    assert isinstance(reply, Reply) and reply.frame.flag == 1
    assert text_of(reply).startswith("设备标识不一致")


def test_enrol_success_reply_layout() -> None:
    s = logged_in()
    call = s.handle_frame(Frame(CMD_ENROL, enrol_content(), session_id=SID))
    assert isinstance(call, EnrolCall) and call.message.name == "张三"
    reply = s.succeeded(call)
    assert reply.frame.flag == 0
    assert EnrolmentReply.parse(reply.frame.content) == EnrolmentReply(result=0)


def test_enrol_failures_use_the_852_reply_layout() -> None:
    s = logged_in()
    call = s.handle_frame(Frame(CMD_ENROL, enrol_content(), session_id=SID))
    reply = s.refused(call, "身份证号码已采集")  # type: ignore[arg-type]
    assert reply.frame.flag == 1
    assert EnrolmentReply.parse(reply.frame.content) == EnrolmentReply(result=1, reason="身份证号码已采集")
    # a malformed 852 too
    bad = bytearray(enrol_content())
    bad[48:50] = b"9\x00"
    reply = s.handle_frame(Frame(CMD_ENROL, with_checksum(bytes(bad[:-1])), session_id=SID))
    assert isinstance(reply, Reply) and reply.frame.flag == 1
    assert EnrolmentReply.parse(reply.frame.content) == EnrolmentReply(result=1, reason="性别格式错误")
    # an internal error too
    call = s.handle_frame(Frame(CMD_ENROL, enrol_content(), session_id=SID))
    reply = s.failed(call)  # type: ignore[arg-type]
    assert EnrolmentReply.parse(reply.frame.content).reason == "服务器内部错误"


def test_relogin_same_serial_new_session_id() -> None:
    ids = iter([SID, bytes(range(16))])
    s = GateSession(new_session_id=lambda: next(ids))
    s.succeeded(s.handle_frame(login_frame()))  # type: ignore[arg-type]
    assert s.session_id == SID
    call = s.handle_frame(login_frame(sid=SID))
    reply = s.succeeded(call)  # type: ignore[arg-type]
    assert s.session_id == bytes(range(16)) == reply.frame.session_id


def test_relogin_with_another_serial_refused() -> None:
    s = logged_in("SN1")
    reply = s.handle_frame(login_frame("SN2", SID))
    assert isinstance(reply, Reply) and reply.frame.flag == 1
    assert s.serial == "SN1"


def test_refused_relogin_logs_out() -> None:
    s = logged_in("SN1")
    call = s.handle_frame(login_frame("SN1", SID))
    s.refused(call, "设备已停用")  # type: ignore[arg-type]
    assert not s.logged_in
    reply = s.handle_frame(Frame(CMD_HEARTBEAT, session_id=SID))
    assert text_of(reply) == "请先登录 / login first"  # type: ignore[arg-type]


def test_fatal_error_reply() -> None:
    s = GateSession()
    err = ProtocolError("frame_too_long", "数据包过长", "LEN too big", command=CMD_PUNCH, version=2, session_id=SID)
    reply = s.fatal_error(err)
    assert reply is not None and reply.close
    assert (reply.frame.command, reply.frame.version, reply.frame.session_id, reply.frame.flag) == (
        CMD_PUNCH,
        2,
        SID,
        1,
    )
    assert text_of(reply).startswith("数据包过长")
    assert s.fatal_error(ProtocolError("bad_header", "x", "y")) is None


def test_outcome_for_a_call_not_pending() -> None:
    s = logged_in()
    call = HeartbeatCall(Frame(CMD_HEARTBEAT, session_id=SID))
    with pytest.raises(RuntimeError):
        s.succeeded(call)


def test_session_id_check_can_be_switched_off() -> None:
    s = GateSession(SessionLimits(check_session_id=False), new_session_id=lambda: SID)
    s.succeeded(s.handle_frame(login_frame()))  # type: ignore[arg-type]
    assert isinstance(s.handle_frame(Frame(CMD_HEARTBEAT, session_id=ZERO_SESSION)), HeartbeatCall)


def test_unknown_and_malformed_frames_before_login_count_too() -> None:
    s = GateSession(SessionLimits(max_unauthenticated_frames=2))
    r1 = s.handle_frame(Frame(4242))
    r2 = s.handle_frame(Frame(CMD_LOGIN, b"short"))
    r3 = s.handle_frame(Frame(4242))
    assert [r.close for r in (r1, r2, r3)] == [False, False, True]  # type: ignore[union-attr]


def test_failed_logins_close_after_the_limit() -> None:
    s = GateSession(SessionLimits(max_unauthenticated_frames=2))
    closes = []
    for _ in range(3):
        call = s.handle_frame(login_frame())
        closes.append(s.refused(call, "设备未注册").close)  # type: ignore[arg-type]
    assert closes == [False, False, True]
