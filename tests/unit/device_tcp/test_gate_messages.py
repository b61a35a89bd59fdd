"""Content of each gate command (seed 001 江门市实名设备直连对接标准 V1.0 §1.2), checksum, BCD time."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_tcp.frames import ProtocolError
from device_tcp.messages import (
    ETHNICITY,
    ID_PHOTO_MAX,
    PUNCH_PHOTO_MAX,
    WHITELIST_RECORD_LEN,
    Enrolment,
    EnrolmentReply,
    LoginRequest,
    PersonFeatures,
    PersonFeaturesRequest,
    Punch,
    Whitelist,
    WhitelistRecord,
    WhitelistRequest,
    cut_utf8,
    decode_bcd_time,
    encode_bcd_time,
    parse_text,
    split_checksum,
    with_checksum,
    xor_checksum,
)


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def jpeg_like(n: int) -> bytes:
    return (b"\xff\xd8\xff\xe0" + bytes(range(256)) * (n // 256 + 1))[:n]


# -- checksum -----------------------------------------------------------------------------------
def test_xor_checksum_by_hand() -> None:
    assert xor_checksum(b"") == 0
    assert xor_checksum(h("01 02 04 08")) == 0x0F
    assert xor_checksum(h("ff ff")) == 0
    assert xor_checksum(h("12 34 56")) == 0x12 ^ 0x34 ^ 0x56 == 0x70
    # the 8-bytes-at-a-time path agrees with the plain loop
    data = bytes(range(251)) * 3
    acc = 0
    for b in data:
        acc ^= b
    assert xor_checksum(data) == acc


def test_split_checksum() -> None:
    assert split_checksum(h("12 34 56 70")) == h("12 34 56")
    with pytest.raises(ProtocolError) as exc:
        split_checksum(h("12 34 56 71"))
    assert exc.value.code == "bad_checksum" and not exc.value.fatal
    with pytest.raises(ProtocolError, match="truncated"):
        split_checksum(b"")
    assert split_checksum(h("00")) == b""


# -- BCD time (848 刷卡时间) ------------------------------------------------------------------------
def test_bcd_example_from_design() -> None:
    assert decode_bcd_time(h("20 26 11 22 08 30 00")) == datetime(2026, 11, 22, 8, 30, 0)
    assert encode_bcd_time(datetime(2026, 11, 22, 8, 30, 0)) == h("20 26 11 22 08 30 00")


@pytest.mark.parametrize(
    ("raw", "moment"),
    [
        ("19 99 12 31 23 59 59", datetime(1999, 12, 31, 23, 59, 59)),
        ("20 00 01 01 00 00 00", datetime(2000, 1, 1)),
        ("20 24 02 29 12 00 00", datetime(2024, 2, 29, 12)),  # leap day
        ("20 00 02 29 00 00 00", datetime(2000, 2, 29)),  # 2000 is a leap year
        ("00 01 01 01 00 00 00", datetime(1, 1, 1)),
        ("99 99 12 31 23 59 59", datetime(9999, 12, 31, 23, 59, 59)),
    ],
)
def test_bcd_valid_edges(raw: str, moment: datetime) -> None:
    assert decode_bcd_time(h(raw)) == moment
    assert encode_bcd_time(moment) == h(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "20 26 02 29 00 00 00",  # not a leap year
        "21 00 02 29 00 00 00",  # 2100 is not a leap year
        "20 26 13 01 00 00 00",  # month 13
        "20 26 00 01 00 00 00",  # month 0
        "20 26 01 00 00 00 00",  # day 0
        "20 26 04 31 00 00 00",  # 31 April
        "20 26 01 01 24 00 00",  # hour 24
        "20 26 01 01 23 60 00",  # minute 60
        "20 26 01 01 23 59 60",  # second 60
        "00 00 01 01 00 00 00",  # year 0
        "20 2a 01 01 00 00 00",  # not a BCD digit (low nibble)
        "20 26 1a 01 00 00 00",
        "a0 26 01 01 00 00 00",  # high nibble
        "20 26 11 22 08 30",  # 6 bytes
        "20 26 11 22 08 30 00 00",  # 8 bytes
        "26 11 22 08 30 00 00",  # year in one byte: 2611-22-08 → month 22
    ],
)
def test_bcd_invalid(raw: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        decode_bcd_time(h(raw))
    assert exc.value.code == "bad_time"


def test_bcd_encode_drops_microseconds() -> None:
    assert encode_bcd_time(datetime(2026, 1, 2, 3, 4, 5, 999_999)) == h("20 26 01 02 03 04 05")


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_bcd_round_trip(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    assert decode_bcd_time(encode_bcd_time(moment)) == moment


@given(st.binary(min_size=0, max_size=9))
def test_bcd_decode_only_protocol_errors(raw: bytes) -> None:
    try:
        decode_bcd_time(raw)
    except ProtocolError:
        pass


# -- text fields --------------------------------------------------------------------------------
def test_cut_utf8_on_character_boundary() -> None:
    assert cut_utf8("欧阳娜娜", 10) == "欧阳娜".encode()  # 12 bytes → 9
    assert cut_utf8("张三", 10) == "张三".encode()
    assert cut_utf8("A张三四", 10) == "A张三四".encode()  # exactly 10
    assert cut_utf8("AB张三四", 10) == "AB张三".encode()  # 11 → 8
    assert cut_utf8("😀😀😀", 10) == "😀😀".encode()  # 4-byte characters
    assert cut_utf8("abc", 0) == b""


@given(st.text(max_size=40), st.integers(min_value=0, max_value=60))
def test_cut_utf8_property(text: str, width: int) -> None:
    raw = cut_utf8(text, width)
    assert len(raw) <= width
    decoded = raw.decode("utf-8")  # never a broken character
    assert text.startswith(decoded)
    assert len(raw) > width - 4 or raw == text.encode()


def test_parse_text_of_failure_reply() -> None:
    assert parse_text("请先登录 / login first".encode()) == "请先登录 / login first"
    assert parse_text("设备未注册".encode() + b"\x00\x00") == "设备未注册"
    assert parse_text(b"\xff\xfe") == "\ufffd\ufffd"


# -- 843 login ----------------------------------------------------------------------------------
def test_login_parse_strips_nul_and_spaces() -> None:
    body = b"VENDOR  " + bytes(24) + b" SN-01 " + bytes(25)
    assert LoginRequest.parse(with_checksum(body)) == LoginRequest(vendor_code="VENDOR", serial="SN-01")


def test_login_full_width_fields() -> None:
    v, s = "V" * 32, "0123456789ABCDEF0123456789ABCDEF"
    msg = LoginRequest(vendor_code=v, serial=s)
    assert len(msg.build()) == 65
    assert LoginRequest.parse(msg.build()) == msg
    with pytest.raises(ValueError):
        LoginRequest(vendor_code="V" * 33, serial="S").build()
    with pytest.raises(ValueError):
        LoginRequest(vendor_code="厂家", serial="S").build()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (bytes(64), "empty_field"),
        (b"V" + bytes(31) + b"S" + bytes(30), "truncated"),
        (b"V" + bytes(31) + b"S" + bytes(32), "length_mismatch"),
        (b"V\xe5" + bytes(30) + b"S" + bytes(31), "bad_text"),
    ],
)
def test_login_bad_content(body: bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        LoginRequest.parse(with_checksum(body))
    assert exc.value.code == code


def test_login_bad_checksum() -> None:
    content = bytearray(LoginRequest(vendor_code="V", serial="S").build())
    content[-1] ^= 0x01
    with pytest.raises(ProtocolError, match="bad_checksum"):
        LoginRequest.parse(bytes(content))


def test_garbage_after_nul_in_a_field_is_ignored() -> None:
    body = b"VENDOR\x00\xff\xfe garbage" + bytes(32 - 17) + b"SN1" + bytes(29)
    assert LoginRequest.parse(with_checksum(body)).vendor_code == "VENDOR"


# -- 845 person features ------------------------------------------------------------------------
ID = "44070319900101123X"


def test_person_features_request_layout() -> None:
    content = PersonFeaturesRequest(serial="SN1", id_number=ID).build()
    assert content == with_checksum(b"SN1" + bytes(29) + ID.encode())
    assert len(content) == 51
    assert PersonFeaturesRequest.parse(content).id_number == ID
    # a lower-case x is taken as X
    lower = with_checksum(b"SN1" + bytes(29) + ID.lower().encode())
    assert PersonFeaturesRequest.parse(lower).id_number == ID


def _features(**kw: object) -> PersonFeatures:
    values: dict[str, object] = {
        "worker_no": 1234,
        "name": "欧阳娜娜",
        "id_number": ID,
        "ethnicity": "01",
        "gender": "0",
        "address": "广东省江门市蓬江区",
        "birth_date": "19900101",
        "issuing_authority": "江门市公安局",
        "validity": "2020.01.01-2040.01.01",
        "face_photo": jpeg_like(9000),
        "id_photo": jpeg_like(3000),
        "infrared_photo": b"",
    }
    values.update(kw)
    return PersonFeatures(**values)  # type: ignore[arg-type]


def test_person_features_reply_layout() -> None:
    pf = _features(ethnicity="58", face_photo=b"F", id_photo=b"II", infrared_photo=b"")
    c = pf.build()
    fixed = 4 + 30 + 18 + 1 + 2 + 140 + 16 + 60 + 64
    assert len(c) == fixed + 4 + 1 + 4 + 2 + 4 + 0 + 1
    assert c[0:4] == h("d2 04 00 00")  # 1234
    assert c[4:34] == "欧阳娜娜".encode() + bytes(18)
    assert c[34:52] == ID.encode()
    assert c[52] == 58  # 民族: one byte holding the number
    assert c[53:55] == b"0\x00"  # 性别 2 ASCII
    assert c[55:195].rstrip(b"\x00") == "广东省江门市蓬江区".encode()
    assert c[195:211] == b"19900101" + bytes(8)
    assert c[fixed : fixed + 5] == h("01 00 00 00") + b"F"
    assert c[fixed + 5 : fixed + 11] == h("02 00 00 00") + b"II"
    assert c[fixed + 11 : fixed + 15] == h("00 00 00 00")  # 红外照片长度 may be 0
    assert c[-1] == xor_checksum(c[:-1])
    assert PersonFeatures.parse(c) == pf


def test_person_features_round_trip_and_build_checks() -> None:
    pf = _features(infrared_photo=jpeg_like(500))
    assert PersonFeatures.parse(pf.build()) == pf
    assert pf.birth is not None and pf.birth.year == 1990
    with pytest.raises(ValueError):
        _features(ethnicity="59").build()
    with pytest.raises(ValueError):
        _features(gender="男").build()
    with pytest.raises(ValueError):
        _features(birth_date="1990-01-01").build()
    long_name = _features(name="阿" * 11)  # 33 bytes → cut to 30
    assert PersonFeatures.parse(long_name.build()).name == "阿" * 10


def test_person_features_bad_ethnicity_byte() -> None:
    c = bytearray(_features().build())
    c[52] = 0
    c[-1] = xor_checksum(bytes(c[:-1]))
    with pytest.raises(ProtocolError, match="bad_ethnicity"):
        PersonFeatures.parse(bytes(c))


# -- 848 punch ----------------------------------------------------------------------------------
def test_punch_layout_by_hand() -> None:
    content = h(
        "39 30 00 00"  # 工人编号 12345
        " 20 26 11 22 08 30 00"  # 刷卡时间 BCD
        " 06"  # 刷卡模式: face
        " 03 00 00 00 ff d8 ff"  # 照片长度 + 照片
    )
    content += bytes((xor_checksum(content),))
    p = Punch.parse(content)
    assert p == Punch(worker_no=12345, captured_at=datetime(2026, 11, 22, 8, 30), mode=6, photo=h("ff d8 ff"))
    assert p.is_face
    assert p.build() == content


def test_punch_photo_limit_50kb() -> None:
    ok = Punch(worker_no=1, captured_at=datetime(2026, 1, 1), photo=jpeg_like(PUNCH_PHOTO_MAX))
    assert Punch.parse(ok.build()).photo == ok.photo
    big = Punch(worker_no=1, captured_at=datetime(2026, 1, 1), photo=jpeg_like(PUNCH_PHOTO_MAX + 1))
    with pytest.raises(ProtocolError) as exc:
        Punch.parse(big.build())
    assert exc.value.code == "photo_too_large"
    assert "照片过大" in exc.value.message_zh
    # the limit is a parameter (the app's rules)
    assert Punch.parse(big.build(), photo_max=100 * 1024).photo == big.photo
    with pytest.raises(ProtocolError, match="photo_too_large"):
        Punch.parse(ok.build(), photo_max=1000)


def test_punch_photo_length_beyond_content() -> None:
    body = h("01 00 00 00 20 26 11 22 08 30 00 06 10 00 00 00") + b"short"
    with pytest.raises(ProtocolError, match="truncated"):
        Punch.parse(with_checksum(body))


def test_punch_bad_time() -> None:
    body = h("01 00 00 00 20 26 13 22 08 30 00 06 00 00 00 00")
    with pytest.raises(ProtocolError, match="bad_time"):
        Punch.parse(with_checksum(body))


# -- 849 whitelist ------------------------------------------------------------------------------
def test_whitelist_request_layout() -> None:
    # 白名单人数 300 = 2c 01; 数据长度累加值 1,000,000 = 40 42 0f 00
    body = h("2c 01 40 42 0f 00")
    assert xor_checksum(body) == 0x2C ^ 0x01 ^ 0x40 ^ 0x42 ^ 0x0F == 0x20
    content = body + h("20")
    assert WhitelistRequest.parse(content) == WhitelistRequest(count=300, photo_length_sum=1_000_000)
    assert WhitelistRequest(count=300, photo_length_sum=1_000_000).build() == content
    with pytest.raises(ValueError):
        WhitelistRequest(count=70000).build()


def test_whitelist_record_name_cut_on_character_boundary() -> None:
    rec = WhitelistRecord(worker_no=7, name="欧阳娜娜", id_number=ID, photo_length=10240)
    raw = rec.build()
    assert len(raw) == WHITELIST_RECORD_LEN == 41
    assert raw == h(
        "07 00 00 00"  # 工人编号
        " e6 ac a7 e9 98 b3 e5 a8 9c 00"  # 欧阳娜 (9 bytes) + NUL: 娜 #4 would not fit
        " 34 34 30 37 30 33 31 39 39 30 30 31 30 31 31 32 33 58"  # 44070319900101123X
        " 00 28 00 00"  # 采集照片长度 10240
        " 00 00 00 00 00"  # 保留
    )
    assert WhitelistRecord.parse(raw).name == "欧阳娜"


def test_whitelist_record_short_name_padded() -> None:
    raw = WhitelistRecord(worker_no=1, name="张三", id_number=ID).build()
    assert raw[4:14] == h("e5 bc a0 e4 b8 89 00 00 00 00")


def test_whitelist_reply_layout() -> None:
    wl = Whitelist(
        project_no=0x01020304,
        project_name="项目",
        records=(
            WhitelistRecord(worker_no=1, name="张三", id_number=ID, photo_length=100),
            WhitelistRecord(worker_no=2, name="欧阳娜娜", id_number="440703199001011234", photo_length=0),
        ),
    )
    c = wl.build()
    assert len(c) == 4 + 100 + 2 * 41 + 1
    assert c[0:4] == h("04 03 02 01")
    assert c[4:104] == h("e9 a1 b9 e7 9b ae") + bytes(94)
    assert c[104:108] == h("01 00 00 00")
    assert c[145:149] == h("02 00 00 00")
    parsed = Whitelist.parse(c)
    assert parsed.project_name == "项目"
    assert [r.name for r in parsed.records] == ["张三", "欧阳娜"]
    assert parsed.photo_length_sum == 100
    assert Whitelist.parse(Whitelist(project_no=1, project_name="空").build()).records == ()


def test_whitelist_reply_bad_record_length() -> None:
    body = bytes(4) + bytes(100) + bytes(40)
    with pytest.raises(ProtocolError, match="length_mismatch"):
        Whitelist.parse(with_checksum(body))
    with pytest.raises(ProtocolError, match="truncated"):
        Whitelist.parse(with_checksum(bytes(50)))


# -- 852 enrolment ------------------------------------------------------------------------------
def _enrolment(**kw: object) -> Enrolment:
    values: dict[str, object] = {
        "id_number": ID,
        "name": "张三",
        "gender": "1",
        "ethnicity": "01",
        "birth_date": "19900101",
        "address": "广东省江门市蓬江区建设路1号",
        "recognition_level": 0,
        "recapture": 1,
        "issuing_authority": "江门市公安局蓬江分局",
        "validity": "2020.01.01-2040.01.01",
        "manual": 0,
        "id_photo": jpeg_like(20_000),
        "face_photo": jpeg_like(10_000),
    }
    values.update(kw)
    return Enrolment(**values)  # type: ignore[arg-type]


def test_enrolment_layout() -> None:
    e = _enrolment(id_photo=b"ID", face_photo=b"FACE", feature=b"")
    c = e.build()
    assert len(c) == 18 + 30 + 2 + 4 + 16 + 140 + 4 + 0 + 1 + 1 + 60 + 64 + 1 + 99 + 4 + 2 + 4 + 4 + 1
    assert c[0:18] == ID.encode()
    assert c[18:48] == "张三".encode() + bytes(24)
    assert c[48:50] == b"1\x00"
    assert c[50:54] == b"01\x00\x00"  # 民族 4 ASCII
    assert c[54:70] == b"19900101" + bytes(8)
    assert c[210:214] == bytes(4)  # 特征信息长度 0
    assert c[214:216] == h("00 01")  # 识别度 高, 不重采
    assert c[340] == 0  # 是否手工
    assert c[341:440] == bytes(99)  # 保留
    assert c[440:446] == h("02 00 00 00") + b"ID"
    assert c[446:454] == h("04 00 00 00") + b"FACE"
    assert Enrolment.parse(c) == e
    assert e.ethnicity_name == "汉族"


def test_enrolment_round_trip_full() -> None:
    e = _enrolment(feature=b"\x01\x02\x03", manual=1, ethnicity="58")
    assert Enrolment.parse(e.build()) == e


@pytest.mark.parametrize(("raw", "code"), [(b"01\x00\x00", "01"), (b"1\x00\x00\x00", "01"), (b" 56 ", "56")])
def test_enrolment_ethnicity_forms(raw: bytes, code: str) -> None:
    c = bytearray(_enrolment().build())
    c[50:54] = raw
    c[-1] = xor_checksum(bytes(c[:-1]))
    assert Enrolment.parse(bytes(c)).ethnicity == code


@pytest.mark.parametrize("raw", [b"59\x00\x00", b"00\x00\x00", b"ab\x00\x00", b"\x00\x00\x00\x00", b"-1\x00\x00"])
def test_enrolment_bad_ethnicity(raw: bytes) -> None:
    c = bytearray(_enrolment().build())
    c[50:54] = raw
    c[-1] = xor_checksum(bytes(c[:-1]))
    with pytest.raises(ProtocolError, match="bad_ethnicity"):
        Enrolment.parse(bytes(c))


def test_enrolment_bad_gender_and_birth() -> None:
    c = bytearray(_enrolment().build())
    c[48:50] = b"2\x00"
    c[-1] = xor_checksum(bytes(c[:-1]))
    with pytest.raises(ProtocolError, match="bad_gender"):
        Enrolment.parse(bytes(c))
    c = bytearray(_enrolment().build())
    c[54:62] = b"19901301"
    c[-1] = xor_checksum(bytes(c[:-1]))
    with pytest.raises(ProtocolError, match="bad_birth_date"):
        Enrolment.parse(bytes(c))


def test_enrolment_id_photo_limit_30kb() -> None:
    assert Enrolment.parse(_enrolment(id_photo=jpeg_like(ID_PHOTO_MAX)).build()).id_photo
    with pytest.raises(ProtocolError) as exc:
        Enrolment.parse(_enrolment(id_photo=jpeg_like(ID_PHOTO_MAX + 1)).build())
    assert exc.value.code == "photo_too_large" and "身份证照片" in exc.value.message_zh
    with pytest.raises(ProtocolError, match="photo_too_large"):
        Enrolment.parse(_enrolment().build(), face_photo_max=5000)
    with pytest.raises(ProtocolError, match="field_too_large"):
        Enrolment.parse(_enrolment(feature=bytes(100)).build(), feature_max=10)


def test_enrolment_invalid_utf8_name() -> None:
    c = bytearray(_enrolment().build())
    c[18:20] = b"\xff\xfe"
    c[-1] = xor_checksum(bytes(c[:-1]))
    with pytest.raises(ProtocolError, match="bad_text"):
        Enrolment.parse(bytes(c))


def test_utf8_cut_mid_character_by_terminal_is_tolerated() -> None:
    c = bytearray(_enrolment(name="阿" * 10).build())  # 30 bytes exactly
    c[18:48] = "阿".encode() * 9 + "阿".encode()[:2] + b"\x00"
    c[-1] = xor_checksum(bytes(c[:-1]))
    assert Enrolment.parse(bytes(c)).name == "阿" * 9


def test_enrolment_reply_layout() -> None:
    ok = EnrolmentReply(result=0).build()
    assert len(ok) == 42 and ok == bytes(42)
    fail = EnrolmentReply(result=1, reason="身份证号码已存在").build()
    assert fail[0] == 1
    assert fail[1:31] == "身份证号码已存在".encode() + bytes(6)
    assert fail[31:41] == bytes(10)
    assert fail[41] == xor_checksum(fail[:41])
    assert EnrolmentReply.parse(fail) == EnrolmentReply(result=1, reason="身份证号码已存在")
    long = EnrolmentReply(result=1, reason="一二三四五六七八九十一二").build()  # 36 bytes → 30
    assert EnrolmentReply.parse(long).reason == "一二三四五六七八九十"


def test_ethnicity_dictionary() -> None:
    assert len(ETHNICITY) == 58
    assert list(ETHNICITY) == [f"{i:02d}" for i in range(1, 59)]
    assert ETHNICITY["01"] == "汉族"
    assert ETHNICITY["08"] == "壮族"
    assert ETHNICITY["36"] == "毛难族"  # as in the seed text
    assert ETHNICITY["57"] == "其他"
    assert ETHNICITY["58"] == "外国血统"


# -- round trips of every message ---------------------------------------------------------------
ROUND_TRIPS = [
    LoginRequest(vendor_code="VENDOR-CODE", serial="SN-000001"),
    PersonFeaturesRequest(serial="SN-000001", id_number=ID),
    _features(),
    Punch(worker_no=0xFFFFFFFF, captured_at=datetime(2026, 11, 22, 8, 30), mode=6, photo=jpeg_like(10_000)),
    Punch(worker_no=0, captured_at=datetime(2026, 1, 1), mode=1, photo=b""),
    WhitelistRequest(count=0, photo_length_sum=0),
    WhitelistRequest(count=65535, photo_length_sum=0xFFFFFFFF),
    Whitelist(
        project_no=42,
        project_name="江门市某某工程项目" * 5,
        records=tuple(WhitelistRecord(worker_no=i, name="工人", id_number=ID, photo_length=i) for i in range(50)),
    ),
    _enrolment(),
    EnrolmentReply(result=0),
    EnrolmentReply(result=1, reason="不在名单"),
]


@pytest.mark.parametrize("msg", ROUND_TRIPS, ids=lambda m: type(m).__name__)
def test_round_trip(msg: object) -> None:
    content = msg.build()  # type: ignore[attr-defined]
    parsed = type(msg).parse(content)  # type: ignore[attr-defined]
    if isinstance(msg, Whitelist):
        # the project name is cut to 100 bytes on a character boundary
        assert parsed.project_name == cut_utf8(msg.project_name, 100).decode()
        assert parsed.records == msg.records
    else:
        assert parsed == msg
    assert parsed.build() == content  # type: ignore[attr-defined]


@pytest.mark.parametrize("msg", ROUND_TRIPS, ids=lambda m: type(m).__name__)
def test_every_parser_rejects_truncation_and_extra_bytes(msg: object) -> None:
    body = msg.build()[:-1]  # type: ignore[attr-defined]
    parse = type(msg).parse  # type: ignore[attr-defined]
    if isinstance(msg, Whitelist):
        return  # records make any multiple of 41 valid; covered above
    with pytest.raises(ProtocolError) as exc:
        parse(with_checksum(body[:-1]))
    assert exc.value.code in {"truncated", "length_mismatch"}
    with pytest.raises(ProtocolError, match="length_mismatch"):
        parse(with_checksum(body + b"\x00"))
    with pytest.raises(ProtocolError, match="bad_checksum"):
        parse(body + bytes(((xor_checksum(body) + 1) & 0xFF,)))
