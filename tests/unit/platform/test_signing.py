"""Signing of the national worker-platform interface (seed 003 数据接口标准, issue 17): sha256 hex of the
lower-cased ``appid=…&data=…&format=json&method=…&nonce=…&timestamp=…&version=1.0&appsecret=…``, timestamp
``yyyyMMddHHmmss`` in China time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.platform import signing

APPID = "AppID123"
APPSECRET = "SeCrEt456"
NONCE = "Nonce0001"
TIMESTAMP = "20261202210000"
DATA = '{"projectCode":"44070300000001","teamName":"钢筋班"}'
# Computed independently of this code, in a shell:
#   printf '%s' 'appid=AppID123&data={"projectCode":"44070300000001","teamName":"钢筋班"}&format=json&method=Team.Add'\
#     '&nonce=Nonce0001&timestamp=20261202210000&version=1.0&appsecret=SeCrEt456' | tr 'A-Z' 'a-z' | sha256sum
EXPECTED = "bdddddecadc23a40127b2b7c29d5ad9937c074708e0fb9c9660d24a6c8c47216"
# printf '%s' 'appid=a&data={}&format=json&method=AsyncHandleResult.Query&nonce=n&timestamp=20260101080000'\
#   '&version=1.0&appsecret=S' | tr 'A-Z' 'a-z' | sha256sum
EXPECTED_QUERY = "e5eee51997d04c8aa590a342c14da5bc1827cfd36606faaa16540654d6f2b8d5"


def test_sign_matches_the_digest_computed_independently() -> None:
    assert signing.sign(APPID, APPSECRET, "Team.Add", DATA, NONCE, TIMESTAMP) == EXPECTED
    assert signing.sign("a", "S", "AsyncHandleResult.Query", "{}", "n", "20260101080000") == EXPECTED_QUERY


def test_sign_lower_cases_the_whole_string_so_case_of_secret_and_method_does_not_matter() -> None:
    assert signing.sign(APPID.lower(), APPSECRET.upper(), "team.add", DATA, NONCE.upper(), TIMESTAMP) == EXPECTED


def test_build_form_has_every_field_and_a_sign_that_verifies() -> None:
    form = signing.build_form(APPID, APPSECRET, "Team.Add", DATA, nonce=NONCE, timestamp=TIMESTAMP)
    assert form == {"appid": APPID, "method": "Team.Add", "format": "json", "version": "1.0",
                    "timestamp": TIMESTAMP, "nonce": NONCE, "data": DATA, "sign": EXPECTED}
    assert signing.verify(form, APPSECRET)


def test_build_form_encodes_a_dict_as_compact_json_keeping_chinese() -> None:
    form = signing.build_form(APPID, APPSECRET, "Team.Add", {"projectCode": "44070300000001", "teamName": "钢筋班"},
                              nonce=NONCE, timestamp=TIMESTAMP)
    assert form["data"] == DATA
    assert form["sign"] == EXPECTED


def test_verify_refuses_a_tampered_field_or_a_wrong_secret() -> None:
    form = signing.build_form(APPID, APPSECRET, "Team.Add", DATA, nonce=NONCE, timestamp=TIMESTAMP)
    assert not signing.verify({**form, "data": DATA.replace("钢筋班", "木工班")}, APPSECRET)
    assert not signing.verify({**form, "nonce": "other"}, APPSECRET)
    assert not signing.verify(form, "wrong-secret")
    assert not signing.verify({k: v for k, v in form.items() if k != "nonce"}, APPSECRET)


def test_fresh_nonces_differ() -> None:
    assert len({signing.new_nonce() for _ in range(100)}) == 100


def test_timestamp_is_china_time_whatever_the_callers_zone() -> None:
    # 13:00 UTC is 21:00 in China (UTC+8)
    assert signing.china_timestamp(datetime(2026, 12, 2, 13, 0, 0, tzinfo=UTC)) == TIMESTAMP
    assert signing.parse_timestamp(TIMESTAMP) == datetime(2026, 12, 2, 13, 0, 0, tzinfo=UTC)


def test_timestamp_window_is_plus_minus_five_minutes() -> None:
    now = datetime(2026, 12, 2, 13, 0, 0, tzinfo=UTC)
    assert signing.within_window(signing.china_timestamp(now + timedelta(minutes=5)), now)
    assert signing.within_window(signing.china_timestamp(now - timedelta(minutes=5)), now)
    assert not signing.within_window(signing.china_timestamp(now - timedelta(minutes=5, seconds=1)), now)
    assert not signing.within_window(signing.china_timestamp(now + timedelta(minutes=6)), now)
    assert not signing.within_window("2026-12-02 21:00", now)
