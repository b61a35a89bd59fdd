"""Sans-IO per-connection state machine of the gate protocol.

The server feeds each decoded :class:`Frame` to :meth:`GateSession.handle_frame`, which returns
either a :class:`Reply` (answer at once, no backend needed) or a :class:`Call` (a request for the
server to execute against the backend). The server then hands the outcome back with
:meth:`GateSession.succeeded`, :meth:`GateSession.refused` or :meth:`GateSession.failed`, each of
which returns the :class:`Reply` to write. One call at a time ("同一台设备不能多线程并发").

States: not logged in → only 843 is served; everything else (65535 included, "设备通讯的其他命令
必须在本命令执行成功后，才可以使用") gets flag 1 "请先登录 / login first". After a successful login
the session holds the device serial and a random 16-byte session id issued in the login reply's
header; later frames must carry it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from device_tcp.frames import (
    CMD_ENROL,
    CMD_HEARTBEAT,
    CMD_LOGIN,
    CMD_PERSON_FEATURES,
    CMD_PUNCH,
    CMD_WHITELIST,
    SESSION_ID_LEN,
    Frame,
    ProtocolError,
)
from device_tcp.messages import (
    FEATURE_MAX,
    ID_PHOTO_MAX,
    PUNCH_PHOTO_MAX,
    Enrolment,
    EnrolmentReply,
    LoginRequest,
    PersonFeatures,
    PersonFeaturesRequest,
    Punch,
    Whitelist,
    WhitelistRequest,
    build_text,
)

__all__ = [
    "INTERNAL_ERROR_TEXT",
    "Call",
    "EnrolCall",
    "GateSession",
    "HeartbeatCall",
    "LoginCall",
    "PersonFeaturesCall",
    "PunchCall",
    "Reply",
    "SessionLimits",
    "WhitelistCall",
    "failure_text",
]

INTERNAL_ERROR_TEXT = "服务器内部错误 / internal server error"


def failure_text(zh: str, en: str) -> str:
    return f"{zh} / {en}"


@dataclass(frozen=True, slots=True)
class SessionLimits:
    punch_photo_max: int = PUNCH_PHOTO_MAX
    id_photo_max: int = ID_PHOTO_MAX
    face_photo_max: int = PUNCH_PHOTO_MAX  # 852 采集照片: no limit in the text; same as a punch photo
    feature_max: int = FEATURE_MAX
    # frames refused before a successful login; past this the connection is closed
    max_unauthenticated_frames: int = 8
    # refuse frames whose SessionID is not the one issued at login (off: for terminals that
    # never echo it)
    check_session_id: bool = True


@dataclass(frozen=True, slots=True)
class Reply:
    """A frame to write. ``close``: close the connection after writing it. ``error``: a line worth
    logging (what went wrong), for the server's log."""

    frame: Frame
    close: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """Base of the requests the server executes; ``request`` is the frame to answer."""

    request: Frame


@dataclass(frozen=True, slots=True)
class LoginCall(Call):
    message: LoginRequest


@dataclass(frozen=True, slots=True)
class HeartbeatCall(Call):
    pass


@dataclass(frozen=True, slots=True)
class WhitelistCall(Call):
    message: WhitelistRequest


@dataclass(frozen=True, slots=True)
class PersonFeaturesCall(Call):
    message: PersonFeaturesRequest


@dataclass(frozen=True, slots=True)
class EnrolCall(Call):
    message: Enrolment


@dataclass(frozen=True, slots=True)
class PunchCall(Call):
    message: Punch


_DEFAULT_LIMITS = SessionLimits()


class GateSession:
    """State of one connection: small on purpose (a serial, a session id, two counters)."""

    __slots__ = ("_new_session_id", "_pending", "_refusals", "limits", "serial", "session_id")

    def __init__(
        self,
        limits: SessionLimits = _DEFAULT_LIMITS,
        *,
        new_session_id: Callable[[], bytes] | None = None,
    ) -> None:
        self.limits = limits
        self.serial: str | None = None
        self.session_id: bytes | None = None
        self._pending: Call | None = None
        self._refusals = 0
        self._new_session_id = new_session_id

    @property
    def logged_in(self) -> bool:
        return self.serial is not None

    @property
    def pending(self) -> Call | None:
        return self._pending

    # -- frames in -------------------------------------------------------------------------
    def handle_frame(self, frame: Frame) -> Reply | Call:
        if self._pending is not None:
            raise RuntimeError("a call is still pending: one request at a time per connection")
        action = self._handle(frame)
        if isinstance(action, Reply) and not self.logged_in:
            # whatever is refused before a login counts; past the limit the connection goes
            self._refusals += 1
            if self._refusals > self.limits.max_unauthenticated_frames and not action.close:
                action = replace(action, close=True)
        return action

    def _handle(self, frame: Frame) -> Reply | Call:
        cmd = frame.command
        if cmd not in _PARSERS:
            return self._fail(frame, failure_text("未知命令", f"unknown command {cmd}"), "unknown command")
        if cmd != CMD_LOGIN:
            if not self.logged_in:
                return self._fail(frame, failure_text("请先登录", "login first"), f"command {cmd} before login")
            if self.limits.check_session_id and frame.session_id != self.session_id:
                return self._fail(
                    frame,
                    failure_text("会话标识无效，请重新登录", "invalid session id, log in again"),
                    f"command {cmd} with session id {frame.session_id.hex()}",
                    short="会话标识无效，请重新登录",
                )
        try:
            call = _PARSERS[cmd](self, frame)
        except ProtocolError as err:
            return self._protocol_failure(frame, err)
        if isinstance(call, Reply):
            return call
        self._pending = call
        return call

    def fatal_error(self, err: ProtocolError) -> Reply | None:
        """A reply to a decoder error that names a command (LEN too long, bad tail, ...), then
        close. None when there is nothing to address a reply to (garbage before any header)."""
        if err.command is None:
            return None
        frame = Frame(
            command=err.command,
            content=build_text(err.text),
            session_id=err.session_id or bytes(SESSION_ID_LEN),
            version=err.version if err.version is not None else 1,
            flag=1,
        )
        return Reply(frame, close=True, error=f"{err.code}: {err.message_en}")

    # -- call outcomes ---------------------------------------------------------------------
    def succeeded(self, call: Call, result: object = None) -> Reply:
        self._finish(call)
        req = call.request
        try:
            match call:
                case LoginCall(message=msg):
                    self.serial = msg.serial
                    self.session_id = self._issue_session_id()
                    self._refusals = 0
                    return Reply(req.reply(b"", session_id=self.session_id))
                case HeartbeatCall() | PunchCall():
                    return Reply(req.reply(b""))
                case WhitelistCall():
                    if not isinstance(result, Whitelist):
                        raise TypeError(f"whitelist() returned {type(result).__name__}, not Whitelist")
                    return Reply(req.reply(result.build()))
                case PersonFeaturesCall():
                    if not isinstance(result, PersonFeatures):
                        raise TypeError(f"person_features() returned {type(result).__name__}, not PersonFeatures")
                    return Reply(req.reply(result.build()))
                case EnrolCall():
                    return Reply(req.reply(EnrolmentReply(result=0).build()))
        except (ValueError, TypeError, OverflowError) as exc:
            return self._internal(call, f"cannot build the reply: {exc!r}")
        return self._internal(call, f"unexpected call {call!r}")

    def refused(self, call: Call, message: str) -> Reply:
        """The backend refused (GateRefused): flag 1 and its message."""
        self._finish(call)
        if isinstance(call, LoginCall):
            self._log_out()
            self._refusals += 1
            return self._fail(
                call.request,
                message,
                f"login of serial {call.message.serial!r} (vendor {call.message.vendor_code!r}) refused: {message}",
                close=self._refusals > self.limits.max_unauthenticated_frames,
            )
        return self._fail(call.request, message, f"refused: {message}")

    def failed(self, call: Call, what: str = "backend error") -> Reply:
        """The backend raised something else: flag 1 "服务器内部错误"."""
        self._finish(call)
        return self._internal(call, what)

    # -- internals -------------------------------------------------------------------------
    def _issue_session_id(self) -> bytes:
        sid = self._new_session_id() if self._new_session_id else os.urandom(SESSION_ID_LEN)
        if len(sid) != SESSION_ID_LEN:
            raise ValueError("session id must be 16 bytes")
        return sid

    def _log_out(self) -> None:
        self.serial = None
        self.session_id = None

    def _finish(self, call: Call) -> None:
        if self._pending is not call:
            raise RuntimeError("outcome for a call that is not pending")
        self._pending = None

    def _internal(self, call: Call, what: str) -> Reply:
        if isinstance(call, EnrolCall):
            return self._enrol_failure(call.request, "服务器内部错误", what)
        return self._fail(call.request, INTERNAL_ERROR_TEXT, what)

    def _fail(self, frame: Frame, text: str, error: str, *, close: bool = False, short: str | None = None) -> Reply:
        """Flag-1 reply with ``text``; an 852 reply (after login) gets ``short`` (the Chinese part)
        as 失败原因 in its own layout, which holds 30 bytes."""
        if frame.command == CMD_ENROL and self.logged_in:
            return self._enrol_failure(frame, short or text, error, close=close)
        return Reply(frame.reply(build_text(text), flag=1), close=close, error=error)

    @staticmethod
    def _enrol_failure(frame: Frame, reason: str, error: str, *, close: bool = False) -> Reply:
        # 852 has its own reply layout (返回结果 + 失败原因): failures use it, with flag 1 as well.
        content = EnrolmentReply(result=1, reason=reason).build()
        return Reply(frame.reply(content, flag=1), close=close, error=error)

    def _protocol_failure(self, frame: Frame, err: ProtocolError) -> Reply:
        return self._fail(frame, err.text, f"{err.code}: {err.message_en}", short=err.message_zh)

    # -- per-command parsing ---------------------------------------------------------------
    def _login(self, frame: Frame) -> Call | Reply:
        msg = LoginRequest.parse(frame.content)
        if self.serial is not None and msg.serial != self.serial:
            return self._fail(
                frame,
                failure_text("设备标识与本连接不一致", "serial differs from this connection's login"),
                f"re-login as {msg.serial!r} on the connection of {self.serial!r}",
            )
        return LoginCall(frame, msg)

    def _heartbeat(self, frame: Frame) -> Call:
        # "Content：空". Anything sent anyway is ignored.
        return HeartbeatCall(frame)

    def _whitelist(self, frame: Frame) -> Call:
        return WhitelistCall(frame, WhitelistRequest.parse(frame.content))

    def _person_features(self, frame: Frame) -> Call | Reply:
        msg = PersonFeaturesRequest.parse(frame.content)
        if msg.serial != self.serial:
            return self._fail(
                frame,
                failure_text("设备标识不一致", "serial differs from the login"),
                f"845 with serial {msg.serial!r}, logged in as {self.serial!r}",
            )
        return PersonFeaturesCall(frame, msg)

    def _enrol(self, frame: Frame) -> Call:
        lim = self.limits
        msg = Enrolment.parse(
            frame.content,
            id_photo_max=lim.id_photo_max,
            face_photo_max=lim.face_photo_max,
            feature_max=lim.feature_max,
        )
        return EnrolCall(frame, msg)

    def _punch(self, frame: Frame) -> Call:
        return PunchCall(frame, Punch.parse(frame.content, photo_max=self.limits.punch_photo_max))


_PARSERS: dict[int, Callable[[GateSession, Frame], Call | Reply]] = {
    CMD_LOGIN: GateSession._login,
    CMD_HEARTBEAT: GateSession._heartbeat,
    CMD_WHITELIST: GateSession._whitelist,
    CMD_PERSON_FEATURES: GateSession._person_features,
    CMD_ENROL: GateSession._enrol,
    CMD_PUNCH: GateSession._punch,
}
