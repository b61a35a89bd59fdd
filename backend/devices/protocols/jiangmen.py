"""The protocol adapter of seed 001 附件3 "江门市实名设备直连对接标准 V1.0" (``jiangmen-v1``):
implements :class:`device_tcp.backend.GateBackend` by translating the messages of ``device_tcp``
into calls of the terminal lifecycle (``backend.devices.terminals``) and the domain
(``backend.devices.domain``), and their results and refusals back into this standard's replies.

What is particular to this standard (and so lives here, not in the domain):

- Refusals are a UTF-8 text "中文 / English" with flag 1 (``failure_text``); the 852 reply holds a
  reason of at most 30 bytes, so the long texts of the validators and the face service are replaced
  by short ones (``SHORT_REASONS``); the full text goes to the log.
- 849 / 845 / 848 name a person by the worker number (工人编号, u32) = the person id.
- 845: gender "1" 男 / "0" 女, birth date "yyyyMMdd", validity "yyyy.mm.dd", ethnicity code "01" when
  unknown.  852: the ID card validity as printed ("2015.01.01-2035.01.01", "20150101-长期").
- 848: the BCD time is the terminal's local wall-clock time, read in the project's time zone; the
  idempotency key is serial + worker no + capture time, so a re-sent punch is acknowledged and
  stored once; a punch in another mode than face (刷卡模式 6) is flagged ``non_face_mode``.  Unknown
  worker numbers get flag 1; late uploads are kept and flagged by the attendance service.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.attendance.live import LiveFeed
from backend.devices.domain import TerminalCapture, TerminalDomain, TerminalPunch
from backend.devices.services import TerminalChanges
from backend.devices.terminals import Connections, TerminalLifecycle, TerminalRefused, local_today
from backend.errors import AppError, NotFound
from backend.face.service import FaceService
from backend.rules import DEFAULT_RULES, Rules
from backend.validators import mask_id, parse_id_number
from backend.vocabulary import Reason
from device_tcp.backend import GateRefused
from device_tcp.messages import MODE_FACE, PersonFeatures, Whitelist, WhitelistRecord
from device_tcp.messages import Enrolment as EnrolmentMsg
from device_tcp.messages import Punch as PunchMsg
from device_tcp.session import failure_text

log = logging.getLogger("smz.gate")

PROTOCOL = "jiangmen-v1"

# 852 refusal reasons: the reply holds 30 UTF-8 bytes (10 Chinese characters), so the long texts of
# the validators and the face service are replaced by short ones; the full text goes to the log.
SHORT_REASONS: dict[str, str] = {
    "consent_missing": "未签人脸采集同意书",  # issue 20 B.1: no face without 单独同意 (27 bytes)
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
    "not_on_roster": "人员不在本项目花名册",
    "face_photo_missing": "缺少采集照片",
}
# 852 replies of the tenant and review rules (≤ 30 UTF-8 bytes each)
NOT_ON_ROSTER = SHORT_REASONS["not_on_roster"]
PENDING_REVIEW = "人脸待审核，暂未生效"


def short_reason(exc: AppError, rules: Rules = DEFAULT_RULES, gender: str | None = None) -> str:
    """The 852 failure reason (≤ 30 UTF-8 bytes) for an AppError; ``rules`` names the legal minimum age.
    There is no upper age refusal: no seed caps age (seed 000 §六 应录尽录) — an older person is enrolled
    and the district's age notice, if any, goes to the log (``backend.crew.enrolment``).  ``gender`` is
    kept for callers; no reason depends on it any more."""
    if exc.code == "too_young":
        return f"未满{rules.worker_min_age}周岁，不得采集"
    if exc.code in SHORT_REASONS:
        return SHORT_REASONS[exc.code]
    if exc.field == "name":
        return "姓名无效"
    return exc.zh


def validity_end(text: str) -> date | None:
    """ID card validity as printed, e.g. "2015.01.01-2035.01.01" or "20150101-长期" → the end date
    (None for 长期 or when it cannot be read)."""
    dates = re.findall(r"(\d{4})[.\-/年]?(\d{2})[.\-/月]?(\d{2})", text or "")
    if len(dates) < 2:
        return None
    try:
        return date(*(int(x) for x in dates[-1]))
    except ValueError:
        return None


def _id_gender(id_number: str) -> str | None:
    try:
        return parse_id_number(id_number).gender
    except AppError:
        return None


_MAX_PERSON_ID = 2**31 - 1  # person ids are int32 in PostgreSQL; a worker no is a u32 on the wire


def _unknown_worker(serial: str, worker_no: int) -> GateRefused:
    log.info("gate %s punch for unknown worker no %s", serial, worker_no)
    return _refuse(f"工人编号 {worker_no} 不存在", f"unknown worker no {worker_no}")


def _refuse(zh: str, en: str, *, close: bool = False) -> GateRefused:
    return GateRefused(failure_text(zh, en), close=close)


def _refused(exc: TerminalRefused) -> GateRefused:
    return _refuse(exc.zh, exc.en, close=exc.close)


class JiangmenAdapter:
    """Implements device_tcp.backend.GateBackend for terminals of ``jiangmen-v1``.

    The keywords tune the terminal lifecycle (``touch_interval_s``, ``terminal_ttl_s``, the login
    failure limits) and the domain (``punch_concurrency``: no longer used — punches share transactions
    through the group commit, ``backend.attendance.batching``; kept for callers)."""

    protocol = PROTOCOL

    def __init__(self, *, touch_interval_s: float = 30.0, terminal_ttl_s: float = 5.0,
                 punch_concurrency: int | None = -1, max_failures_per_serial: int | None = None,
                 max_failures_per_address: int | None = None, failure_window_s: float | None = None) -> None:
        self.terminals = TerminalLifecycle(
            PROTOCOL, touch_interval_s=touch_interval_s, terminal_ttl_s=terminal_ttl_s,
            max_failures_per_serial=max_failures_per_serial, max_failures_per_address=max_failures_per_address,
            failure_window_s=failure_window_s,
        )
        self.domain = TerminalDomain(punch_concurrency=punch_concurrency)

    def attach(self, *, terminal_changes: TerminalChanges | None, live_feed: LiveFeed | None,
               face: FaceService | None) -> None:
        """The app's services this adapter works with (``start_gate_server`` hands them in)."""
        self.terminals.changes = terminal_changes
        self.domain.live_feed = live_feed
        self.domain.face = face

    @property
    def server(self) -> Connections | None:
        """The server's connections (set by ``start_gate_server``): the lifecycle's."""
        return self.terminals.server

    @server.setter
    def server(self, server: Connections | None) -> None:
        self.terminals.server = server

    async def _terminal(self, serial: str, *, wait_touch: bool = True) -> dict[str, Any]:
        try:
            return await self.terminals.terminal(serial, wait_touch=wait_touch)
        except TerminalRefused as exc:
            raise _refused(exc) from None

    # -- GateBackend -----------------------------------------------------------------------
    async def login(self, vendor_code: str, serial: str, peer: str) -> None:
        try:
            await self.terminals.login(vendor_code, serial, peer)
        except TerminalRefused as exc:
            raise _refused(exc) from None

    async def login_conflict(self, serial: str, peer: str, online_peer: str) -> None:
        await self.terminals.login_conflict(serial, peer, online_peer)

    async def vendor_code_rotated(self, vendor_id: int, by: str = "") -> int:
        return await self.terminals.vendor_code_rotated(vendor_id, by)

    async def heartbeat(self, serial: str) -> None:
        await self._terminal(serial)

    async def whitelist(self, serial: str) -> Whitelist:
        """849: the project's current roster: entered, not exited, enrolled."""
        t = await self._terminal(serial)
        rows = await self.domain.whitelist(t["project"], local_today(t))
        records = tuple(
            WhitelistRecord(worker_no=r.person_id, name=r.name, id_number=r.id_number, photo_length=r.photo_length)
            for r in rows
        )
        log.info("gate %s whitelist: %d people", serial, len(records))
        return Whitelist(project_no=t["project"], project_name=t["project_name"], records=records)

    async def person_features(self, serial: str, id_number: str) -> PersonFeatures:
        """845: one person of the roster, with the enrolment photos; people of other projects are unknown."""
        t = await self._terminal(serial)
        try:
            person = await self.domain.person(t["project"], id_number, local_today(t))
        except AppError:
            raise _refuse("身份证号码无效", "invalid ID number") from None
        if person is None:
            raise _refuse("人员不在本项目花名册中", "not on this project's roster")
        valid = person.valid_until
        return PersonFeatures(
            worker_no=person.person_id, name=person.name, id_number=person.id_number,
            ethnicity=person.ethnicity or "01", gender="1" if person.gender == "M" else "0",
            address=person.address or "", birth_date=person.birth_date.strftime("%Y%m%d"),
            issuing_authority=person.issuer or "", validity=f"{valid:%Y.%m.%d}" if valid else "",
            face_photo=person.face_photo, id_photo=person.id_photo,
        )

    async def enrol(self, serial: str, enrolment: EnrolmentMsg) -> None:
        """852: enrol a person of this project's roster (the one enrolment service); a person who
        already has a face template gets a registration pending review instead.  Refusals carry a
        reason of at most 30 bytes."""
        t = await self._terminal(serial)
        rules = await self.domain.project_rules(t["project"])
        capture = TerminalCapture(
            id_number=enrolment.id_number, name=enrolment.name, gender={"1": "M", "0": "F"}.get(enrolment.gender),
            ethnicity=enrolment.ethnicity, birth_date=enrolment.birth, address=enrolment.address,
            issuer=enrolment.issuing_authority, valid_until=validity_end(enrolment.validity),
            face_photo=enrolment.face_photo, id_photo=enrolment.id_photo or None,
        )
        try:
            outcome = await self.domain.enrol(t["project"], capture, rules=rules, today=local_today(t),
                                              terminal=serial, max_photo_bytes=rules.gate_punch_photo_max_bytes)
        except AppError as exc:
            reason = short_reason(exc, rules, _id_gender(enrolment.id_number))
            masked = mask_id(enrolment.id_number) if len(enrolment.id_number) == 18 else "?"
            log.info("gate %s enrolment of %s refused: %s (%s)", serial, masked, exc.zh, exc.code)
            raise GateRefused(reason) from None
        if outcome.pending_review:
            raise GateRefused(PENDING_REVIEW)

    async def punch(self, serial: str, punch: PunchMsg, received_at: datetime) -> None:
        """848: through the one attendance service; the reply is written only after the commit."""
        t = await self._terminal(serial, wait_touch=False)
        if not 1 <= punch.worker_no <= _MAX_PERSON_ID:
            raise _unknown_worker(serial, punch.worker_no)
        p = TerminalPunch(
            terminal_id=t["id"], project_id=t["project"], person_id=punch.worker_no, direction=t["direction"],
            captured_at=punch.captured_at.replace(tzinfo=ZoneInfo(t["tz"])).astimezone(UTC), received_at=received_at,
            idempotency_key=f"g:{serial}:{punch.worker_no}:{punch.captured_at:%Y%m%d%H%M%S}",
            photo=punch.photo or None, flags=() if punch.mode == MODE_FACE else (Reason.non_face_mode,),
        )
        try:
            v = await self.domain.punch(p)
        except NotFound as exc:
            # the batch reads the person with the rest of its facts (issue 18: no query of its own per punch)
            if exc.field == "person_id":
                raise _unknown_worker(serial, punch.worker_no) from None
            raise _refuse(exc.zh, exc.en) from None
        except AppError as exc:
            raise _refuse(exc.zh, exc.en) from None
        if v.duplicate:
            log.info("gate %s re-sent punch %s (stored once)", serial, v.punch_id)

    async def connection_closed(self, serial: str) -> None:
        await self.terminals.connection_closed(serial)

    async def all_offline(self) -> int:
        return await self.terminals.all_offline()
