"""Typed content of each gate-protocol command (seed 001, 江门市实名设备直连对接标准 V1.0, §1.2).

Every class has ``parse(content) -> instance`` (raises only :class:`ProtocolError`, never anything
else, for any bytes) and ``build() -> bytes`` (raises ``ValueError`` for values that cannot be
encoded). ``content`` is a frame's whole Content, including the trailing XOR checksum byte where
the command has one. All numbers are little-endian.

Text fields have a fixed width. On build they are padded with NUL (0x00), UTF-8 text is cut on a
character boundary, ASCII text that does not fit is an error. On parse a field ends at its first
NUL, surrounding spaces are stripped, and an incomplete UTF-8 sequence at the very end (a
terminal that cut bytes) is dropped; any other invalid UTF-8 or non-ASCII byte in an ASCII field
is a ProtocolError.
"""

from __future__ import annotations

import codecs
import struct
from datetime import date, datetime
from typing import ClassVar, Final

import msgspec

from device_tcp.frames import (
    CMD_ENROL,
    CMD_LOGIN,
    CMD_PERSON_FEATURES,
    CMD_PUNCH,
    CMD_WHITELIST,
    ProtocolError,
)
from refdata.ethnicity import ETHNICITY

__all__ = [
    "ETHNICITY",
    "ID_PHOTO_MAX",
    "MODE_FACE",
    "PUNCH_PHOTO_MAX",
    "WHITELIST_RECORD_LEN",
    "Enrolment",
    "EnrolmentReply",
    "LoginRequest",
    "PersonFeatures",
    "PersonFeaturesRequest",
    "Punch",
    "Whitelist",
    "WhitelistRecord",
    "WhitelistRequest",
    "build_text",
    "cut_utf8",
    "decode_bcd_time",
    "encode_bcd_time",
    "parse_text",
    "split_checksum",
    "with_checksum",
    "xor_checksum",
]

# seed 001 §1.2.4: 考勤照片 … 不能超过 50kb; §1.2.6: 身份证照片 ≤30kb. The server passes the
# app's rules (backend.rules: gate_punch_photo_max_bytes / gate_id_photo_max_bytes).
PUNCH_PHOTO_MAX: Final = 50 * 1024
ID_PHOTO_MAX: Final = 30 * 1024
FEATURE_MAX: Final = 64 * 1024  # 852 特征信息: "默认给 0 / 不用传"; bounded anyway
MODE_FACE: Final = 6  # 848 刷卡模式: 6, 代表人脸

# seed 001 §1.2.7 民族字典: the national table lives in refdata/ (shared with backend/, which device_tcp never imports).

WHITELIST_RECORD_LEN: Final = 41
_WHITELIST_HEAD_LEN: Final = 104
_ENROL_REPLY_LEN: Final = 42
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U32_MAX: Final = 0xFFFFFFFF


# --------------------------------------------------------------------------------------------
# checksum
# --------------------------------------------------------------------------------------------
def xor_checksum(data: bytes) -> int:
    """XOR of all bytes (校验和: Xor 校验运算)."""
    # Photos make contents of tens of KB: fold the bytes as one integer, halves XOR-ed byte-aligned (each step
    # runs in C; ~5× faster than 8 bytes at a time in Python, measured on a 10 KB punch frame — issue 18).
    acc = int.from_bytes(data, "little")
    n = len(data)
    while n > 1:
        half = (n + 1) // 2
        acc = (acc & ((1 << (8 * half)) - 1)) ^ (acc >> (8 * half))
        n = half
    return acc


def with_checksum(body: bytes) -> bytes:
    return body + bytes((xor_checksum(body),))


def split_checksum(content: bytes, what: str = "") -> bytes:
    """Check the trailing XOR byte and return the content before it."""
    if not content:
        raise ProtocolError("truncated", "数据内容不完整", f"{what} content is empty (no checksum byte)")
    body = content[:-1]
    expected = xor_checksum(body)
    if content[-1] != expected:
        raise ProtocolError(
            "bad_checksum",
            "校验和错误",
            f"{what} checksum 0x{content[-1]:02x}, computed 0x{expected:02x}",
        )
    return body


# --------------------------------------------------------------------------------------------
# text fields
# --------------------------------------------------------------------------------------------
def cut_utf8(text: str, width: int) -> bytes:
    """UTF-8 bytes of ``text``, cut to at most ``width`` bytes on a character boundary."""
    raw = text.encode("utf-8")
    if len(raw) <= width:
        return raw
    cut = width
    while cut > 0 and (raw[cut] & 0xC0) == 0x80:  # raw[cut] is a continuation byte
        cut -= 1
    return raw[:cut]


def _pad(raw: bytes, width: int) -> bytes:
    return raw + bytes(width - len(raw))


def _ascii_field(text: str, width: int, name: str) -> bytes:
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be ASCII: {text!r}") from None
    if len(raw) > width:
        raise ValueError(f"{name} is longer than {width} bytes: {text!r}")
    return _pad(raw, width)


def _utf8_field(text: str, width: int) -> bytes:
    return _pad(cut_utf8(text, width), width)


def _field_bytes(raw: bytes) -> bytes:
    nul = raw.find(0)
    return raw if nul < 0 else raw[:nul]


def _decode_ascii(raw: bytes, name: str) -> str:
    raw = _field_bytes(raw)
    try:
        return raw.decode("ascii").strip(" ")
    except UnicodeDecodeError:
        raise ProtocolError("bad_text", f"{name}格式错误", f"{name}: not ASCII") from None


def _decode_utf8(raw: bytes, name: str) -> str:
    raw = _field_bytes(raw)
    try:
        # final=False: a sequence cut at the end is dropped; invalid bytes elsewhere raise
        return codecs.getincrementaldecoder("utf-8")().decode(raw, final=False).strip(" ")
    except UnicodeDecodeError:
        raise ProtocolError("bad_text", f"{name}不是UTF-8编码", f"{name}: invalid UTF-8") from None


def build_text(text: str) -> bytes:
    """Content of a failure reply (flag 1): UTF-8 text shown by the terminal."""
    return text.encode("utf-8")


def parse_text(content: bytes) -> str:
    """Lenient decoding of a failure reply's text (never raises)."""
    return _field_bytes(content).decode("utf-8", errors="replace").strip()


# --------------------------------------------------------------------------------------------
# BCD time (848 刷卡时间): 7 bytes, year in two bytes: 20 26 11 22 08 30 00 = 2026-11-22 08:30:00
# --------------------------------------------------------------------------------------------
def encode_bcd_time(moment: datetime) -> bytes:
    """Wall-clock fields of ``moment`` (the terminal's local time) as 7 BCD bytes."""
    if not 0 <= moment.year <= 9999:
        raise ValueError("year out of range")
    m = moment
    return bytes.fromhex(f"{m.year:04d}{m.month:02d}{m.day:02d}{m.hour:02d}{m.minute:02d}{m.second:02d}")


def decode_bcd_time(data: bytes) -> datetime:
    """7 BCD bytes → naive datetime (terminal local time). Bad digits or dates → ProtocolError."""
    if len(data) != 7:
        raise ProtocolError("bad_time", "刷卡时间格式错误", f"BCD time must be 7 bytes, got {len(data)}")
    for b in data:
        if b >> 4 > 9 or b & 0x0F > 9:
            raise ProtocolError("bad_time", "刷卡时间格式错误", f"not a BCD time: {data.hex(' ')}")
    d = [(b >> 4) * 10 + (b & 0x0F) for b in data]
    try:
        return datetime(d[0] * 100 + d[1], d[2], d[3], d[4], d[5], d[6])
    except ValueError:
        raise ProtocolError("bad_time", "刷卡时间无效", f"not a valid date/time: {data.hex(' ')}") from None


# --------------------------------------------------------------------------------------------
# field validation shared by 845 and 852
# --------------------------------------------------------------------------------------------
def _check_gender(value: str) -> None:
    if value not in ("0", "1"):
        raise ValueError(f"gender must be '1' (男) or '0' (女), got {value!r}")


def _check_birth(value: str) -> None:
    if value and _parse_birth(value) is None:
        raise ValueError(f"birth date must be yyyyMMdd, got {value!r}")


def _parse_birth(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _check_ethnicity(code: str) -> None:
    if code not in ETHNICITY:
        raise ValueError(f"ethnicity must be a code 01..58 of the 民族字典, got {code!r}")


def _parse_gender(raw: bytes) -> str:
    value = _decode_ascii(raw, "性别")
    if value not in ("0", "1"):
        raise ProtocolError("bad_gender", "性别格式错误", f"gender must be '1' or '0', got {value!r}")
    return value


def _parse_birth_field(raw: bytes) -> str:
    value = _decode_ascii(raw, "出生日期")
    if value and _parse_birth(value) is None:
        raise ProtocolError("bad_birth_date", "出生日期格式错误", f"birth date must be yyyyMMdd, got {value!r}")
    return value


def _ethnicity_from_number(n: int) -> str:
    code = f"{n:02d}"
    if code not in ETHNICITY:
        raise ProtocolError("bad_ethnicity", "民族代号错误", f"ethnicity code {n} not in 01..58")
    return code


def _id_number(raw: bytes) -> str:
    value = _decode_ascii(raw, "身份证号码").upper()
    if not value:
        raise ProtocolError("empty_field", "身份证号码为空", "ID number is empty")
    return value


# --------------------------------------------------------------------------------------------
# a cursor over content bytes; short content → ProtocolError("truncated")
# --------------------------------------------------------------------------------------------
class _Reader:
    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ProtocolError(
                "truncated",
                "数据内容不完整",
                f"{self.what}: content ends at byte {len(self.data)}, needs {end}",
            )
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return _U16.unpack(self.take(2))[0]

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def blob(self, limit: int | None, name: str, zh: str) -> bytes:
        n = self.u32()
        if limit is not None and n > limit:
            raise ProtocolError(
                "photo_too_large" if "photo" in name else "field_too_large",
                f"{zh}过大（最大 {limit // 1024} KB）",
                f"{self.what}: {name} is {n} bytes, limit {limit}",
            )
        return self.take(n)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError(
                "length_mismatch",
                "数据长度不符",
                f"{self.what}: {len(self.data) - self.pos} unexpected bytes after the last field",
            )


def _blob(data: bytes, name: str) -> bytes:
    if len(data) > _U32_MAX:
        raise ValueError(f"{name} too long")
    return _U32.pack(len(data)) + data


def _u32(value: int, name: str) -> bytes:
    if not 0 <= value <= _U32_MAX:
        raise ValueError(f"{name} must fit in u32, got {value}")
    return _U32.pack(value)


class _Message(msgspec.Struct, frozen=True, kw_only=True):
    COMMAND: ClassVar[int]


# --------------------------------------------------------------------------------------------
# 843 设备登录系统
# --------------------------------------------------------------------------------------------
class LoginRequest(_Message, frozen=True, kw_only=True):
    """843 request: 厂家识别码 32 ASCII + 设备的唯一标识码 32 ASCII + xor. Reply: empty content."""

    COMMAND: ClassVar[int] = CMD_LOGIN
    vendor_code: str
    serial: str

    @classmethod
    def parse(cls, content: bytes) -> LoginRequest:
        r = _Reader(split_checksum(content, "843"), "843")
        vendor = _decode_ascii(r.take(32), "厂家识别码")
        serial = _decode_ascii(r.take(32), "设备标识码")
        r.end()
        if not vendor or not serial:
            raise ProtocolError("empty_field", "厂家识别码或设备标识码为空", "vendor code or serial is empty")
        return cls(vendor_code=vendor, serial=serial)

    def build(self) -> bytes:
        return with_checksum(
            _ascii_field(self.vendor_code, 32, "vendor_code") + _ascii_field(self.serial, 32, "serial")
        )


# --------------------------------------------------------------------------------------------
# 845 获取人员特征信息
# --------------------------------------------------------------------------------------------
class PersonFeaturesRequest(_Message, frozen=True, kw_only=True):
    """845 request: 设备的唯一标识码 32 ASCII + 身份证 18 ASCII + xor."""

    COMMAND: ClassVar[int] = CMD_PERSON_FEATURES
    serial: str
    id_number: str

    @classmethod
    def parse(cls, content: bytes) -> PersonFeaturesRequest:
        r = _Reader(split_checksum(content, "845"), "845")
        serial = _decode_ascii(r.take(32), "设备标识码")
        id_number = _id_number(r.take(18))
        r.end()
        return cls(serial=serial, id_number=id_number)

    def build(self) -> bytes:
        return with_checksum(_ascii_field(self.serial, 32, "serial") + _ascii_field(self.id_number, 18, "id_number"))


class PersonFeatures(_Message, frozen=True, kw_only=True):
    """845 reply: one worker's data and photos. ``ethnicity`` is a 民族字典 code ("01"), sent as
    one byte holding the number; ``gender`` "1" 男 / "0" 女; ``birth_date`` "yyyyMMdd"."""

    COMMAND: ClassVar[int] = CMD_PERSON_FEATURES
    worker_no: int
    name: str
    id_number: str
    ethnicity: str
    gender: str
    address: str = ""
    birth_date: str = ""
    issuing_authority: str = ""
    validity: str = ""
    face_photo: bytes = b""
    id_photo: bytes = b""
    infrared_photo: bytes = b""

    @property
    def birth(self) -> date | None:
        return _parse_birth(self.birth_date)

    @classmethod
    def parse(cls, content: bytes, *, photo_max: int | None = None) -> PersonFeatures:
        r = _Reader(split_checksum(content, "845"), "845 reply")
        worker_no = r.u32()
        name = _decode_utf8(r.take(30), "姓名")
        id_number = _id_number(r.take(18))
        ethnicity = _ethnicity_from_number(r.u8())
        gender = _parse_gender(r.take(2))
        address = _decode_utf8(r.take(140), "身份证地址")
        birth = _parse_birth_field(r.take(16))
        authority = _decode_utf8(r.take(60), "发证机关")
        validity = _decode_utf8(r.take(64), "有效期")
        face = r.blob(photo_max, "face photo", "采集照片")
        id_photo = r.blob(photo_max, "ID photo", "身份证照片")
        infrared = r.blob(photo_max, "infrared photo", "红外照片")
        r.end()
        return cls(
            worker_no=worker_no,
            name=name,
            id_number=id_number,
            ethnicity=ethnicity,
            gender=gender,
            address=address,
            birth_date=birth,
            issuing_authority=authority,
            validity=validity,
            face_photo=face,
            id_photo=id_photo,
            infrared_photo=infrared,
        )

    def build(self) -> bytes:
        _check_ethnicity(self.ethnicity)
        _check_gender(self.gender)
        _check_birth(self.birth_date)
        return with_checksum(
            b"".join(
                (
                    _u32(self.worker_no, "worker_no"),
                    _utf8_field(self.name, 30),
                    _ascii_field(self.id_number, 18, "id_number"),
                    bytes((int(self.ethnicity),)),
                    _ascii_field(self.gender, 2, "gender"),
                    _utf8_field(self.address, 140),
                    _ascii_field(self.birth_date, 16, "birth_date"),
                    _utf8_field(self.issuing_authority, 60),
                    _utf8_field(self.validity, 64),
                    _blob(self.face_photo, "face_photo"),
                    _blob(self.id_photo, "id_photo"),
                    _blob(self.infrared_photo, "infrared_photo"),
                )
            )
        )


# --------------------------------------------------------------------------------------------
# 848 上传考勤信息
# --------------------------------------------------------------------------------------------
_PUNCH_HEAD = struct.Struct("<I7sB")


class Punch(_Message, frozen=True, kw_only=True):
    """848 request: 工人编号 u32 + 刷卡时间 7 BCD + 刷卡模式 1 (6 = face) + photo u32+bytes + xor.

    ``captured_at`` is naive: the terminal's local wall-clock time. Reply: empty content (flag 0)
    once the server has recorded the punch ("服务端已成功记录此次刷卡操作")."""

    COMMAND: ClassVar[int] = CMD_PUNCH
    worker_no: int
    captured_at: datetime
    mode: int = MODE_FACE
    photo: bytes = b""

    @property
    def is_face(self) -> bool:
        return self.mode == MODE_FACE

    @classmethod
    def parse(cls, content: bytes, *, photo_max: int | None = PUNCH_PHOTO_MAX) -> Punch:
        r = _Reader(split_checksum(content, "848"), "848")
        worker_no = r.u32()
        captured_at = decode_bcd_time(r.take(7))
        mode = r.u8()
        photo = r.blob(photo_max, "punch photo", "考勤照片")
        r.end()
        return cls(worker_no=worker_no, captured_at=captured_at, mode=mode, photo=photo)

    def build(self) -> bytes:
        if not 0 <= self.mode <= 0xFF:
            raise ValueError("mode must fit in a byte")
        return with_checksum(
            _u32(self.worker_no, "worker_no")
            + encode_bcd_time(self.captured_at)
            + bytes((self.mode,))
            + _blob(self.photo, "photo")
        )


# --------------------------------------------------------------------------------------------
# 849 获取白名单信息
# --------------------------------------------------------------------------------------------
class WhitelistRequest(_Message, frozen=True, kw_only=True):
    """849 request: 白名单人数 u16 + 数据长度累加值 u32 (sum of photo lengths) + xor — what the
    terminal holds now."""

    COMMAND: ClassVar[int] = CMD_WHITELIST
    count: int = 0
    photo_length_sum: int = 0

    @classmethod
    def parse(cls, content: bytes) -> WhitelistRequest:
        r = _Reader(split_checksum(content, "849"), "849")
        count = r.u16()
        total = r.u32()
        r.end()
        return cls(count=count, photo_length_sum=total)

    def build(self) -> bytes:
        if not 0 <= self.count <= 0xFFFF:
            raise ValueError("count must fit in u16")
        return with_checksum(_U16.pack(self.count) + _u32(self.photo_length_sum, "photo_length_sum"))


class WhitelistRecord(msgspec.Struct, frozen=True, kw_only=True):
    """41 bytes: 工人编号 u32 + 姓名 10 UTF-8 (cut on a character boundary) + 身份证 18 ASCII +
    采集照片长度 u32 + 5 reserved."""

    worker_no: int
    name: str
    id_number: str
    photo_length: int = 0

    def build(self) -> bytes:
        return b"".join(
            (
                _u32(self.worker_no, "worker_no"),
                _utf8_field(self.name, 10),
                _ascii_field(self.id_number, 18, "id_number"),
                _u32(self.photo_length, "photo_length"),
                bytes(5),
            )
        )

    @classmethod
    def parse(cls, raw: bytes) -> WhitelistRecord:
        r = _Reader(raw, "849 record")
        worker_no = r.u32()
        name = _decode_utf8(r.take(10), "姓名")
        id_number = _decode_ascii(r.take(18), "身份证号码").upper()
        photo_length = r.u32()
        r.take(5)
        r.end()
        return cls(worker_no=worker_no, name=name, id_number=id_number, photo_length=photo_length)


class Whitelist(_Message, frozen=True, kw_only=True):
    """849 reply: 项目编号 u32 + 项目名称 100 UTF-8 + records + xor."""

    COMMAND: ClassVar[int] = CMD_WHITELIST
    project_no: int
    project_name: str
    records: tuple[WhitelistRecord, ...] = ()

    @property
    def photo_length_sum(self) -> int:
        return sum(rec.photo_length for rec in self.records)

    @classmethod
    def parse(cls, content: bytes) -> Whitelist:
        body = split_checksum(content, "849")
        r = _Reader(body, "849 reply")
        project_no = r.u32()
        project_name = _decode_utf8(r.take(100), "项目名称")
        rest = len(body) - _WHITELIST_HEAD_LEN
        if rest % WHITELIST_RECORD_LEN:
            raise ProtocolError(
                "length_mismatch",
                "白名单数据长度不符",
                f"849 reply: {rest} record bytes is not a multiple of {WHITELIST_RECORD_LEN}",
            )
        records = tuple(
            WhitelistRecord.parse(r.take(WHITELIST_RECORD_LEN)) for _ in range(rest // WHITELIST_RECORD_LEN)
        )
        return cls(project_no=project_no, project_name=project_name, records=records)

    def build(self) -> bytes:
        return with_checksum(
            b"".join(
                (
                    _u32(self.project_no, "project_no"),
                    _utf8_field(self.project_name, 100),
                    *(rec.build() for rec in self.records),
                )
            )
        )


# --------------------------------------------------------------------------------------------
# 852 上传采集信息
# --------------------------------------------------------------------------------------------
class Enrolment(_Message, frozen=True, kw_only=True):
    """852 request: a worker enrolled at the terminal (ID card data, ID photo, face photo).

    ``ethnicity`` is a 民族字典 code ("01", sent as 4 ASCII bytes); ``recognition_level`` 识别度
    0 high / 1 low; ``recapture`` 是否重采 0 yes / 1 no; ``manual`` 是否手工 0 ID card read /
    1 typed in. ``feature`` (特征信息) is normally empty ("不用传")."""

    COMMAND: ClassVar[int] = CMD_ENROL
    id_number: str
    name: str
    gender: str
    ethnicity: str
    birth_date: str = ""
    address: str = ""
    feature: bytes = b""
    recognition_level: int = 0
    recapture: int = 0
    issuing_authority: str = ""
    validity: str = ""
    manual: int = 0
    id_photo: bytes = b""
    face_photo: bytes = b""

    @property
    def birth(self) -> date | None:
        return _parse_birth(self.birth_date)

    @property
    def ethnicity_name(self) -> str:
        return ETHNICITY.get(self.ethnicity, "")

    @classmethod
    def parse(
        cls,
        content: bytes,
        *,
        id_photo_max: int | None = ID_PHOTO_MAX,
        face_photo_max: int | None = PUNCH_PHOTO_MAX,
        feature_max: int | None = FEATURE_MAX,
    ) -> Enrolment:
        r = _Reader(split_checksum(content, "852"), "852")
        id_number = _id_number(r.take(18))
        name = _decode_utf8(r.take(30), "姓名")
        gender = _parse_gender(r.take(2))
        eth_raw = _decode_ascii(r.take(4), "民族")
        if not (eth_raw.isdigit() and len(eth_raw) <= 4):
            raise ProtocolError("bad_ethnicity", "民族代号错误", f"ethnicity {eth_raw!r} is not a code")
        ethnicity = _ethnicity_from_number(int(eth_raw))
        birth = _parse_birth_field(r.take(16))
        address = _decode_utf8(r.take(140), "住址")
        feature = r.blob(feature_max, "feature", "特征信息")
        recognition_level = r.u8()
        recapture = r.u8()
        authority = _decode_utf8(r.take(60), "发证机关")
        validity = _decode_utf8(r.take(64), "有效期")
        manual = r.u8()
        r.take(99)  # 保留
        id_photo = r.blob(id_photo_max, "ID photo", "身份证照片")
        face_photo = r.blob(face_photo_max, "face photo", "采集照片")
        r.end()
        if not name:
            raise ProtocolError("empty_field", "姓名为空", "name is empty")
        return cls(
            id_number=id_number,
            name=name,
            gender=gender,
            ethnicity=ethnicity,
            birth_date=birth,
            address=address,
            feature=feature,
            recognition_level=recognition_level,
            recapture=recapture,
            issuing_authority=authority,
            validity=validity,
            manual=manual,
            id_photo=id_photo,
            face_photo=face_photo,
        )

    def build(self) -> bytes:
        _check_ethnicity(self.ethnicity)
        _check_gender(self.gender)
        _check_birth(self.birth_date)
        for name in ("recognition_level", "recapture", "manual"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{name} must fit in a byte")
        return with_checksum(
            b"".join(
                (
                    _ascii_field(self.id_number, 18, "id_number"),
                    _utf8_field(self.name, 30),
                    _ascii_field(self.gender, 2, "gender"),
                    _ascii_field(self.ethnicity, 4, "ethnicity"),
                    _ascii_field(self.birth_date, 16, "birth_date"),
                    _utf8_field(self.address, 140),
                    _blob(self.feature, "feature"),
                    bytes((self.recognition_level, self.recapture)),
                    _utf8_field(self.issuing_authority, 60),
                    _utf8_field(self.validity, 64),
                    bytes((self.manual,)),
                    bytes(99),
                    _blob(self.id_photo, "id_photo"),
                    _blob(self.face_photo, "face_photo"),
                )
            )
        )


class EnrolmentReply(_Message, frozen=True, kw_only=True):
    """852 reply, 42 bytes: 返回结果 1 (0 success / 1 failure) + 失败原因 30 UTF-8 + 保留 10 + xor."""

    COMMAND: ClassVar[int] = CMD_ENROL
    result: int = 0
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.result == 0

    @classmethod
    def parse(cls, content: bytes) -> EnrolmentReply:
        r = _Reader(split_checksum(content, "852"), "852 reply")
        result = r.u8()
        reason = _decode_utf8(r.take(30), "失败原因")
        r.take(10)
        r.end()
        return cls(result=result, reason=reason)

    def build(self) -> bytes:
        if not 0 <= self.result <= 0xFF:
            raise ValueError("result must fit in a byte")
        return with_checksum(bytes((self.result,)) + _utf8_field(self.reason, 30) + bytes(10))
