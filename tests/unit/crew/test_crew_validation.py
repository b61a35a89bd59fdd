"""Rules of the ID step, uploads, contracts and the 人证核验 outcome (backend/crew/validation.py).

Rules checked: GB 11643 check digit / format / birth date; birth date and gender typed must match the
number; ethnicity dictionary (seed 001 民族字典); card validity (not expired; 5/10/20 years or 长期 per
居民身份证法); age limits from rules (劳动法 §15 minimum; district maximum by gender); uploads sniffed
by magic bytes with size limits from rules; 劳动合同法 §12 contract periods; duplicate-face and
mismatch outcomes.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import date

import pytest
from PIL import Image

from backend.crew import validation as v
from backend.errors import InvalidInput, PayloadTooLarge
from backend.rules import DEFAULT_RULES, rule_names
from backend.validators import id_check_char

TODAY = date(2026, 6, 1)


def make_id(birth: date, seq: int = 123, region: str = "440703") -> str:
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


MALE = make_id(date(1985, 3, 7), 123)  # seq 123: odd → male
FEMALE = make_id(date(1990, 8, 20), 124)


def card(**kw) -> v.IdCard:
    base = dict(id_number=MALE, name="张三", gender="男", ethnicity="汉族", birth_date=date(1985, 3, 7),
                address="广东省江门市蓬江区某路 1 号", issuer="江门市公安局蓬江分局",
                valid_from=date(2016, 5, 1), valid_until=date(2036, 5, 1))
    base.update(kw)
    return v.IdCard(**base)


def code_of(fn) -> str:
    with pytest.raises((InvalidInput, PayloadTooLarge)) as e:
        fn()
    assert e.value.zh and e.value.en and e.value.field
    return e.value.code


def test_a_good_card_passes_and_is_normalised():
    c = v.check_id_card(card(), DEFAULT_RULES, TODAY)
    assert c.info.gender == "M" and c.info.birth_date == date(1985, 3, 7)
    assert c.ethnicity == "01" and c.name == "张三"


def test_gb11643_wrong_check_digit_is_refused():
    bad = MALE[:17] + ("0" if MALE[17] != "0" else "1")
    assert code_of(lambda: v.check_id_card(card(id_number=bad), DEFAULT_RULES, TODAY)) == "id_check_digit"


def test_gb11643_format_and_region():
    assert code_of(lambda: v.check_id_card(card(id_number="12345"), DEFAULT_RULES, TODAY)) == "id_format"
    assert code_of(lambda: v.check_id_card(card(id_number=make_id(date(1985, 3, 7), region="990703")),
                                           DEFAULT_RULES, TODAY)) == "id_region"


def test_lower_case_x_is_accepted():
    for seq in range(200):
        n = make_id(date(1980, 1, 1), seq)
        if n.endswith("X"):
            c = v.check_id_card(card(id_number=n.lower(), gender=None, birth_date=None), DEFAULT_RULES, TODAY)
            assert c.info.number == n
            return
    pytest.fail("no X check digit in range")


def test_birth_date_typed_must_match_the_number():
    assert code_of(lambda: v.check_id_card(card(birth_date=date(1985, 3, 8)), DEFAULT_RULES, TODAY)) == "id_birth_mismatch"


def test_gender_typed_must_match_the_number():
    assert code_of(lambda: v.check_id_card(card(gender="女"), DEFAULT_RULES, TODAY)) == "id_gender_mismatch"
    assert code_of(lambda: v.check_id_card(card(gender="X"), DEFAULT_RULES, TODAY)) == "invalid_gender"


def test_ethnicity_from_the_dictionary():
    assert v.check_id_card(card(ethnicity="蒙古"), DEFAULT_RULES, TODAY).ethnicity == "02"
    assert v.check_id_card(card(ethnicity="3"), DEFAULT_RULES, TODAY).ethnicity == "03"
    assert code_of(lambda: v.check_id_card(card(ethnicity="火星族"), DEFAULT_RULES, TODAY)) == "ethnicity"
    assert code_of(lambda: v.check_id_card(card(ethnicity="59"), DEFAULT_RULES, TODAY)) == "ethnicity"


def test_name_rules():
    assert code_of(lambda: v.check_id_card(card(name=" "), DEFAULT_RULES, TODAY)) == "invalid_name"
    assert code_of(lambda: v.check_id_card(card(name="张3"), DEFAULT_RULES, TODAY)) == "invalid_name"
    assert v.check_id_card(card(name="阿依古丽·买买提"), DEFAULT_RULES, TODAY).name == "阿依古丽·买买提"


def test_expired_card_is_refused():
    err = code_of(lambda: v.check_id_card(card(valid_from=date(2006, 5, 1), valid_until=date(2026, 5, 1)),
                                          DEFAULT_RULES, TODAY))
    assert err == "id_expired"


def test_card_valid_until_today_is_still_valid():
    v.check_id_card(card(valid_from=date(2006, 6, 1), valid_until=TODAY), DEFAULT_RULES, TODAY)


def test_validity_period_must_be_5_10_or_20_years():
    assert code_of(lambda: v.check_id_card(card(valid_until=date(2036, 5, 2)), DEFAULT_RULES, TODAY)) == "invalid_validity"
    v.check_id_card(card(valid_from=date(2020, 5, 1), valid_until=date(2030, 5, 1)), DEFAULT_RULES, TODAY)
    v.check_id_card(card(valid_from=date(2024, 2, 29), valid_until=date(2029, 2, 28)), DEFAULT_RULES, TODAY)


def test_validity_start_cannot_be_in_the_future_or_before_birth():
    assert code_of(lambda: v.check_id_card(card(valid_from=date(2026, 7, 1), valid_until=date(2046, 7, 1)),
                                           DEFAULT_RULES, TODAY)) == "invalid_validity"
    assert code_of(lambda: v.check_id_card(card(valid_from=date(1980, 1, 1), valid_until=date(2030, 1, 1)),
                                           DEFAULT_RULES, TODAY)) == "invalid_validity"


def test_long_term_only_from_46_and_without_end_date():
    old = make_id(date(1970, 1, 1), 11)  # 46 in 2016, 56 today
    v.check_id_card(card(id_number=old, gender=None, birth_date=None, valid_from=date(2016, 1, 1), valid_until=None,
                         long_term=True), DEFAULT_RULES, TODAY)
    assert code_of(lambda: v.check_id_card(card(valid_until=None, long_term=True), DEFAULT_RULES, TODAY)) == "invalid_validity"
    assert code_of(lambda: v.check_id_card(card(long_term=True), DEFAULT_RULES, TODAY)) == "invalid_validity"


def test_validity_is_required_on_the_tablet():
    assert code_of(lambda: v.check_id_card(card(valid_from=None, valid_until=None), DEFAULT_RULES, TODAY)) == "validity_required"
    v.check_id_card(card(valid_from=None, valid_until=None), DEFAULT_RULES, TODAY, validity_required=False)


def test_age_minimum_is_the_legal_one_and_there_is_no_upper_cap_seed000_s6():
    """Labour law §15 (under 16) is the only age refusal; seed 000 §六 应录尽录: no seed caps age, so older
    people pass the ID check (the district's age notice is ``workforce.age_notices``, never a refusal)."""
    young = make_id(date(2011, 1, 1), 11)  # 15 on TODAY
    young_ok_card = card(id_number=young, gender=None, birth_date=None, valid_from=date(2022, 1, 1),
                         valid_until=date(2027, 1, 1))
    assert code_of(lambda: v.check_id_card(young_ok_card, DEFAULT_RULES, TODAY)) == "too_young"
    relaxed = dataclasses.replace(DEFAULT_RULES, worker_min_age=15)
    v.check_id_card(young_ok_card, relaxed, TODAY)
    old_man = make_id(date(1960, 1, 1), 11)  # 66
    old_card = card(id_number=old_man, gender=None, birth_date=None, valid_from=date(2010, 1, 1), valid_until=None,
                    long_term=True)
    noticing = dataclasses.replace(DEFAULT_RULES, age_notice_enabled=True)
    for rules in (DEFAULT_RULES, noticing):
        assert v.check_id_card(old_card, rules, TODAY).info.number == old_man
    woman = make_id(date(1968, 1, 1), 12)  # 58
    v.check_id_card(card(id_number=woman, gender="女", birth_date=None, valid_from=date(2016, 1, 1),
                         valid_until=date(2036, 1, 1)), noticing, TODAY)


def test_age_notice_is_off_by_default_and_names_the_districts_threshold_seed000_s6():
    from backend.workforce.services import age_notices

    assert age_notices(DEFAULT_RULES, date(1950, 1, 1), "M", TODAY) == []  # off unless the district turns it on
    on = DEFAULT_RULES.with_overrides({"age_notice_enabled": True})
    (notice,) = age_notices(on, date(1960, 1, 1), "M", TODAY)  # 66 ≥ 60
    assert notice.code == "age_notice" and "66 岁" in notice.message and "男 60 岁" in notice.message
    assert age_notices(on, date(1967, 1, 1), "M", TODAY) == []  # 59
    assert [n.code for n in age_notices(on, date(1976, 1, 1), "F", TODAY)] == ["age_notice"]  # 50 ≥ 女 50
    assert age_notices(on.with_overrides({"age_notice_female": 55}), date(1976, 1, 1), "F", TODAY) == []


def test_parse_validity_text_and_dates():
    assert v.parse_validity_text("2015.01.01-2035.01.01") == (date(2015, 1, 1), date(2035, 1, 1), False)
    assert v.parse_validity_text("2010.03.04-长期") == (date(2010, 3, 4), None, True)
    with pytest.raises(InvalidInput):
        v.parse_validity_text("2015.01.01")
    assert v.parse_date("2020年1月2日", "x", "日期") == date(2020, 1, 2)
    assert v.parse_date("20200102", "x", "日期") == date(2020, 1, 2)
    assert v.parse_date("", "x", "日期") is None
    assert code_of(lambda: v.parse_date("2020-02-30", "x", "日期")) == "invalid_date"


# ------------------------------------------------------------------------------------- uploads

def _jpeg(size=(400, 300)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buf, "JPEG")
    return buf.getvalue()


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def check(data, allowed=frozenset({"image/jpeg", "image/png", "application/pdf"}), max_bytes=10**6):
    return v.check_upload(data, field="f", label="文件", allowed=allowed, max_bytes=max_bytes)


def test_upload_type_is_sniffed_from_the_bytes():
    assert check(_jpeg()) == "image/jpeg"
    assert check(_png()) == "image/png"
    assert check(PDF) == "application/pdf"
    assert v.sniff_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert v.sniff_type(b"PK\x03\x04rest") == "application/zip"


def test_non_images_and_disguised_files_are_refused():
    assert code_of(lambda: check(b"MZ\x90\x00 an exe named photo.jpg")) == "bad_file_type"
    assert code_of(lambda: check(b"GIF89a....")) == "bad_file_type"
    assert code_of(lambda: check(PDF, allowed=frozenset({"image/jpeg", "image/png"}))) == "bad_file_type"
    assert code_of(lambda: check(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)) == "bad_file"
    assert code_of(lambda: check(b"%PDF-1.4 truncated")) == "bad_file"
    assert code_of(lambda: check(_jpeg((120, 80)))) == "image_too_small"


def test_empty_and_oversized_uploads():
    assert code_of(lambda: check(None)) == "file_required"
    assert code_of(lambda: check(b"")) == "file_required"
    data = _jpeg()
    with pytest.raises(PayloadTooLarge) as e:
        check(data, max_bytes=len(data) - 1)
    assert e.value.code == "file_too_large" and e.value.status_code == 413 and "上限" in e.value.zh


def test_document_size_limit_is_a_rule():
    assert DEFAULT_RULES.crew_document_max_bytes == 5 * 1024 * 1024
    assert "crew_document_max_bytes" in rule_names()  # a district may override it
    with pytest.raises(InvalidInput) as e:
        DEFAULT_RULES.with_overrides({"crew_document_max_bytes": -1})
    assert e.value.field == "rule_overrides.crew_document_max_bytes"


# ------------------------------------------------------------------------------------ contracts

def test_contract_periods():
    v.check_contract("fixed_term", date(2026, 1, 1), date(2026, 12, 31), date(2025, 12, 30), TODAY)
    v.check_contract("open_ended", date(2026, 1, 1), None, None, TODAY)
    v.check_contract("task", date(2026, 1, 1), None, None, TODAY)
    assert code_of(lambda: v.check_contract("fixed_term", date(2026, 1, 1), None, None, TODAY)) == "contract_end_required"
    assert code_of(lambda: v.check_contract("open_ended", date(2026, 1, 1), date(2027, 1, 1), None, TODAY)) == "invalid_input"
    assert code_of(lambda: v.check_contract("fixed_term", date(2026, 1, 1), date(2025, 1, 1), None, TODAY)) == "invalid_input"
    assert code_of(lambda: v.check_contract("lifetime", date(2026, 1, 1), None, None, TODAY)) == "invalid_contract_type"
    assert code_of(lambda: v.check_contract("task", None, None, None, TODAY)) == "contract_start_required"
    assert code_of(lambda: v.check_contract("task", date(2026, 1, 1), None, date(2026, 7, 1), TODAY)) == "invalid_input"


# ------------------------------------------------------------------------------------ 人证核验 outcome

def test_face_outcome_duplicate_outranks_mismatch():
    assert v.face_outcome(matched=True, duplicate_person=None) == "face_checked"
    assert v.face_outcome(matched=False, duplicate_person=None) == "pending_confirmation"
    assert v.face_outcome(matched=True, duplicate_person=7) == "pending_review"
    assert v.face_outcome(matched=False, duplicate_person=7) == "pending_review"


def test_roster_choice_rules():
    v.check_roster_choice("worker", None, "020", "worker", "general_contractor")
    v.check_roster_choice("manager", "safety_officer", None, "management", "general_contractor")
    assert code_of(lambda: v.check_roster_choice("worker", None, None, "worker", "general_contractor")) == "invalid_input"
    assert code_of(lambda: v.check_roster_choice("manager", None, None, "management", "general_contractor")) == "invalid_input"
    assert code_of(lambda: v.check_roster_choice("worker", None, "020", "management", "general_contractor")) == "invalid_input"
    assert code_of(lambda: v.check_roster_choice("manager", "chief_supervising_engineer", None, "management",
                                                 "general_contractor")) == "invalid_input"
    assert code_of(lambda: v.check_roster_choice("boss", None, None, "worker", "general_contractor")) == "invalid_input"
