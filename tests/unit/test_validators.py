"""National-standard validators: GB 11643 ID numbers, GB 32100 USCC, seed 001 ethnicity dictionary, phones;
free text and person names (control/invisible characters), and user text in .xlsx cells."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from backend.demo import fake_id_number, fake_uscc
from backend.errors import InvalidInput
from backend.validators import (
    check_plain_text,
    clean_text,
    cross_check_id,
    id_check_char,
    invisible_chars,
    mask_id,
    parse_ethnicity,
    parse_id_number,
    parse_person_name,
    parse_phone,
    parse_uscc,
    sanitize_filename,
    uscc_check_char,
)
from backend.xlsx_safe import safe_text

TODAY = date(2026, 11, 25)


def make_id(region: str, birth: str, seq: str) -> str:
    """A number with a correct GB 11643 check character (so only the part under test is wrong)."""
    first17 = f"{region}{birth}{seq}"
    return first17 + id_check_char(first17)


def refused(fn, *args, **kw) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn(*args, **kw)
    return exc.value


# --- GB 11643-1999 ID numbers ------------------------------------------------------------


def test_id_gb11643_standard_example_with_x_check_digit():
    info = parse_id_number("11010519491231002X", today=TODAY)
    assert info.number == "11010519491231002X"
    assert info.birth_date == date(1949, 12, 31)
    assert info.region_code == "110105"
    assert info.gender == "F"  # 17th digit 2 is even


def test_id_gb11643_lowercase_x_is_normalised_to_upper_case():
    assert parse_id_number("11010519491231002x", today=TODAY).number == "11010519491231002X"


def test_id_gb11643_surrounding_spaces_are_stripped():
    assert parse_id_number("  11010519491231002X \n", today=TODAY).number == "11010519491231002X"


def test_id_gb11643_check_digit_computed_with_mod_11_weights():
    # ISO 7064 MOD 11-2: 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, map 10X98765432.
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44070319900101123") in "0123456789X"


@pytest.mark.parametrize("wrong", ["0", "1", "9"])
def test_id_gb11643_wrong_check_digit_refused(wrong):
    err = refused(parse_id_number, "11010519491231002" + wrong, today=TODAY)
    assert err.code == "id_check_digit"
    assert err.field == "id_number"
    assert err.zh and err.en


def test_id_gb11643_every_other_check_digit_is_refused():
    good = make_id("440703", "19850612", "123")
    for c in "0123456789X":
        if c != good[-1]:
            assert refused(parse_id_number, good[:17] + c, today=TODAY).code == "id_check_digit"


def test_id_gb11643_feb_30_birth_date_refused():
    err = refused(parse_id_number, make_id("440703", "19990230", "123"), today=TODAY)
    assert err.code == "id_birth_date"


@pytest.mark.parametrize("birth", ["19991301", "19990001", "19990100", "19990431", "19010229"])
def test_id_gb11643_impossible_birth_dates_refused(birth):
    assert refused(parse_id_number, make_id("440703", birth, "123"), today=TODAY).code == "id_birth_date"


def test_id_gb11643_leap_day_of_a_leap_year_accepted():
    assert parse_id_number(make_id("440703", "20000229", "123"), today=TODAY).birth_date == date(2000, 2, 29)


def test_id_gb11643_future_birth_date_refused():
    tomorrow = TODAY + timedelta(days=1)
    err = refused(parse_id_number, make_id("440703", f"{tomorrow:%Y%m%d}", "123"), today=TODAY)
    assert err.code == "id_birth_date"
    # today itself is still a real date of birth
    assert parse_id_number(make_id("440703", f"{TODAY:%Y%m%d}", "123"), today=TODAY).birth_date == TODAY


def test_id_gb11643_birth_year_before_1900_refused():
    assert refused(parse_id_number, make_id("440703", "18991231", "123"), today=TODAY).code == "id_birth_date"


@pytest.mark.parametrize("region", ["000000", "100101", "990101", "200101", "470101", "840101"])
def test_id_gb_t2260_unknown_province_code_refused(region):
    err = refused(parse_id_number, make_id(region, "19850612", "123"), today=TODAY)
    assert err.code == "id_region"
    assert err.field == "id_number"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1101051949123100",  # 16
        "11010519491231002",  # 17
        "11010519491231002X1",  # 19
        "1101051949123100X2",  # X not last
        "11010519491231002Y",
        "A1010519491231002X",
        "110105 19491231002X",
    ],
)
def test_id_gb11643_format_18_chars_17_digits_then_digit_or_x(raw):
    assert refused(parse_id_number, raw, today=TODAY).code == "id_format"


def test_id_gb11643_custom_field_name_is_reported():
    assert refused(parse_id_number, "123", "people[3].id_number").field == "people[3].id_number"


def test_id_gb11643_gender_from_17th_digit_odd_male_even_female():
    assert parse_id_number(make_id("440703", "19850612", "131"), today=TODAY).gender == "M"
    assert parse_id_number(make_id("440703", "19850612", "132"), today=TODAY).gender == "F"


def test_id_demo_generator_makes_valid_numbers():
    rng = random.Random(1)
    for _ in range(200):
        parse_id_number(fake_id_number(rng), today=TODAY)


FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize("number", ["11010519491231002X", "110105194912310003"])
def test_id_gb11643_full_width_input_normalised_to_ascii(number):
    """Chinese input methods type full-width characters: the same number must give the same (ASCII) value,
    or the person would get a second lookup hash."""
    assert parse_id_number(number.translate(FULL_WIDTH), today=TODAY).number == number
    mixed = number[:17].translate(FULL_WIDTH) + number[17]
    assert parse_id_number(mixed, today=TODAY).number == number


@pytest.mark.parametrize("digit", ["٣", "३", "²"])  # Arabic-Indic, Devanagari, superscript
def test_id_gb11643_other_unicode_digits_refused_cleanly(digit):
    refused(parse_id_number, digit + "1010519491231002X", today=TODAY)


# --- Cross-check: birth date and gender typed on a form ------------------------------------


def test_id_cross_check_matching_birth_date_and_gender_pass():
    info = parse_id_number("11010519491231002X", today=TODAY)
    cross_check_id(info, birth_date=date(1949, 12, 31), gender="F")
    cross_check_id(info, birth_date=None, gender=None)


def test_id_cross_check_birth_date_mismatch_refused():
    info = parse_id_number("11010519491231002X", today=TODAY)
    err = refused(cross_check_id, info, birth_date=date(1949, 12, 30), gender=None)
    assert err.field == "birth_date"
    assert err.code == "id_birth_mismatch"
    assert "1949-12-31" in err.zh


def test_id_cross_check_gender_mismatch_refused():
    info = parse_id_number("11010519491231002X", today=TODAY)
    err = refused(cross_check_id, info, birth_date=None, gender="M")
    assert err.field == "gender"
    assert err.code == "id_gender_mismatch"


# --- Masking ------------------------------------------------------------------------------


def test_mask_id_keeps_first_four_and_last_four():
    assert mask_id("44070319900101123X") == "4407**********123X"
    assert mask_id("11010519491231002X") == "1101**********002X"
    assert len(mask_id("44070319900101123X")) == 18


def test_mask_id_short_or_empty_values_fully_hidden():
    assert mask_id(None) == ""
    assert mask_id("") == ""
    assert mask_id("12345678") == "********"


# --- GB 32100-2015 unified social credit code ----------------------------------------------


def test_uscc_gb32100_standard_example_accepted():
    assert parse_uscc("91350100M000100Y43") == "91350100M000100Y43"


def test_uscc_gb32100_demo_generator_codes_are_valid():
    rng = random.Random(2)
    for region in ("440703", "110101", "110102"):
        for _ in range(100):
            code = fake_uscc(rng, region)
            assert parse_uscc(code) == code


def test_uscc_gb32100_lowercase_and_spaces_normalised():
    assert parse_uscc("  91350100m000100y43 ") == "91350100M000100Y43"


def test_uscc_gb32100_full_width_input_normalised():
    full_width = "91350100M000100Y43".translate(str.maketrans("0123456789MY", "０１２３４５６７８９ＭＹ"))
    assert parse_uscc(full_width) == "91350100M000100Y43"


def test_uscc_gb32100_wrong_check_character_refused():
    good = "91350100M000100Y43"
    for c in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if c != good[-1]:
            err = refused(parse_uscc, good[:17] + c)
            assert err.code == "uscc_check"
            assert err.field == "uscc"


def test_uscc_gb32100_check_character_mod_31():
    assert uscc_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_uscc_gb32100_forbidden_letters_i_o_z_s_v_refused(letter):
    # Put the forbidden letter in the body and in the check position: both are format errors.
    assert refused(parse_uscc, "91350100" + letter + "000100Y43").code == "uscc_format"
    assert refused(parse_uscc, "91350100M000100Y4" + letter).code == "uscc_format"


@pytest.mark.parametrize("raw", ["", "91350100M000100Y4", "91350100M000100Y431", "9135", "91350100M000100Y4-"])
def test_uscc_gb32100_wrong_length_or_characters_refused(raw):
    err = refused(parse_uscc, raw)
    assert err.code == "uscc_format"
    assert err.field == "uscc"


def test_uscc_custom_field_name_is_reported():
    assert refused(parse_uscc, "x", "enterprise.uscc").field == "enterprise.uscc"


# --- Ethnicity dictionary, seed 001 附件3 §1.2.7 ---------------------------------------------


@pytest.mark.parametrize("raw", ["01", "1", 1, "汉族", "汉", " 01 "])
def test_ethnicity_seed001_han_in_every_spelling(raw):
    assert parse_ethnicity(raw) == "01"


def test_ethnicity_seed001_names_with_and_without_suffix():
    assert parse_ethnicity("壮族") == "08"
    assert parse_ethnicity("壮") == "08"
    assert parse_ethnicity("维吾尔族") == "05"
    assert parse_ethnicity("其他") == "57"


def test_ethnicity_seed001_58_is_last_code():
    assert parse_ethnicity(58) == "58"
    assert parse_ethnicity("58") == "58"
    assert parse_ethnicity("外国血统") == "58"


@pytest.mark.parametrize("raw", [59, "59", 0, "00", "-1", "", "火星族", "1.0"])
def test_ethnicity_seed001_outside_01_58_refused(raw):
    err = refused(parse_ethnicity, raw)
    assert err.field == "ethnicity"
    assert err.code == "ethnicity"


@pytest.mark.parametrize("raw", ["²", "①", "٣"])
def test_ethnicity_seed001_unicode_digit_like_input_refused_cleanly(raw):
    """str.isdigit() is true for these, int() is not: an InvalidInput, never a ValueError (HTTP 500)."""
    assert refused(parse_ethnicity, raw).field == "ethnicity"


# --- Phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("19912345678", "19912345678"),
        ("020-12345678", "02012345678"),
        ("0750-1234567", "07501234567"),
    ],
)
def test_phone_mobile_and_landline_normalised(raw, expected):
    assert parse_phone(raw) == expected


def test_phone_full_width_digits_normalised():
    assert parse_phone("１３８００１３８０００") == "13800138000"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_phone_empty_means_none(raw):
    assert parse_phone(raw) is None


@pytest.mark.parametrize("raw", ["12345678901", "1380013800", "138001380001", "abc", "10086"])
def test_phone_invalid_refused(raw):
    err = refused(parse_phone, raw)
    assert err.field == "phone"
    assert err.code == "phone"


# --- Free text and person names (security issue items 8, 9, 15) ----------------------------------


@pytest.mark.parametrize("raw", ["张三", "阿卜杜·热合曼", "欧阳 娜娜", "  李四  ", "Jean-Luc"])
def test_person_name_accepted_and_spaces_collapsed(raw):
    assert parse_person_name(raw) == " ".join(raw.split())


@pytest.mark.parametrize("raw", ["张3", "<b>张三</b>", "=HYPERLINK(1)", "@SUM(A1)", "+86张", "张'三", "", "   ",
                                 "张" * 61])
def test_person_name_the_form_rule_refuses(raw):
    assert refused(parse_person_name, raw).code == "invalid_name"


@pytest.mark.parametrize("ch", ["\u0000", "\u0007", "\u001b", "\u007f", "\u202e", "\u202d", "\u2066", "\u200b",
                                "\u200d", "\ufeff", "\u00ad", "\u2028", "\u2029", "\t", "\n"])
def test_person_name_with_control_or_invisible_character_refused(ch):
    err = refused(parse_person_name, f"张{ch}三")
    assert err.code == "invisible_characters" and err.field == "name"
    assert f"U+{ord(ch):04X}" in err.zh


def test_plain_text_allows_line_breaks_only_when_multiline():
    check_plain_text("第一行\r\n第二行\t备注", "note", multiline=True)
    assert refused(check_plain_text, "第一行\n第二行", "note").code == "invisible_characters"
    assert refused(check_plain_text, "说明\u202e", "note", multiline=True).code == "invisible_characters"


def test_plain_text_keeps_chinese_spaces_and_private_use_rare_characters():
    assert invisible_chars("广东省\u3000江门市\u00a0蓬江区\ue000") == []


def test_clean_text_empty_or_whitespace_is_none_or_refused_when_required():
    assert clean_text("  ", "address", "住址", max_len=10) is None
    assert clean_text(" 某地 ", "address", "住址", max_len=10) == "某地"
    assert refused(clean_text, "\u3000 ", "name", "区县名称", max_len=10, required=True).code == "required"
    assert refused(clean_text, "一二三四五六", "name", "区县名称", max_len=5).code == "too_long"


def test_filename_control_characters_dropped_not_refused():
    assert sanitize_filename("合同\u202egpj.exe\u0000.pdf") == "合同gpj.exe.pdf"


@pytest.mark.parametrize(("raw", "cell"), [
    ("=1+1", "'=1+1"), ("+86", "'+86"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("张三", "张三"), ("a=b", "a=b"), ("张\u0000三", "张\ufffd三"), ("\u0000=1", "\ufffd=1"),
])
def test_xlsx_cell_text_neutralises_formulas_and_replaces_illegal_characters(raw, cell):
    assert safe_text(raw) == cell


def test_xlsx_text_cell_is_typed_as_string():
    from openpyxl import Workbook

    from backend.xlsx_safe import text_cell

    ws = Workbook(write_only=True).create_sheet("t")
    c = text_cell(ws, "=HYPERLINK(\"http://x\")")
    assert c.data_type == "s" and c.value.startswith("'=")
