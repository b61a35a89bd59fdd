"""National-standard validators: ID numbers (GB 11643), USCC (GB 32100), ethnicity (seed 001), phones.

All return normalised values or raise ``InvalidInput`` naming the field, in Chinese and English.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from backend.errors import invalid
from refdata.ethnicity import ETHNICITY as ETHNICITY  # the national table lives in refdata/ (shared with device_tcp)
from refdata.idcard import PROVINCES as _PROVINCES
from refdata.idcard import id_check_char as id_check_char

# --- GB 11643-1999 citizen identification number (check character, provinces: refdata/idcard.py) -----


@dataclass(frozen=True, slots=True)
class IdInfo:
    number: str
    birth_date: date
    gender: str  # "M" | "F"
    region_code: str


def parse_id_number(raw: str, field: str = "id_number", *, today: date | None = None) -> IdInfo:
    """Validate an 18-digit ID number: format, province, birth date, GB 11643 check digit."""
    # NFKC turns full-width digits (１２３) into ASCII; the pattern then accepts ASCII only.
    number = unicodedata.normalize("NFKC", raw or "").strip().upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise invalid(field, "身份证号必须是 18 位（前 17 位数字，末位数字或 X）",
                      "ID number must be 18 characters: 17 digits then a digit or X", code="id_format")
    if int(number[:2]) not in _PROVINCES:
        raise invalid(field, f"身份证号地区码无效：{number[:2]}", f"Unknown region code in ID number: {number[:2]}",
                      code="id_region")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise invalid(field, "身份证号中的出生日期无效", "Birth date inside the ID number is not a real date",
                      code="id_birth_date") from None
    today = today or date.today()
    if birth.year < 1900 or birth > today:
        raise invalid(field, "身份证号中的出生日期不合理", "Birth date inside the ID number is out of range",
                      code="id_birth_date")
    if id_check_char(number[:17]) != number[17]:
        raise invalid(field, "身份证号校验位错误", "ID number check digit is wrong", code="id_check_digit")
    gender = "M" if int(number[16]) % 2 == 1 else "F"
    return IdInfo(number=number, birth_date=birth, gender=gender, region_code=number[:6])


def cross_check_id(info: IdInfo, *, birth_date: date | None, gender: str | None) -> None:
    """The birth date and gender typed on a form must match what the number encodes."""
    if birth_date is not None and birth_date != info.birth_date:
        raise invalid("birth_date", f"出生日期与身份证号不符（身份证号为 {info.birth_date.isoformat()}）",
                      f"Birth date does not match the ID number ({info.birth_date.isoformat()})",
                      code="id_birth_mismatch")
    if gender is not None and gender != info.gender:
        raise invalid("gender", "性别与身份证号不符", "Gender does not match the ID number", code="id_gender_mismatch")


def mask_id(number: str | None) -> str:
    """4407**********123X — first four and last four characters kept."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# --- GB 32100-2015 unified social credit code ------------------------------------------

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def parse_uscc(raw: str, field: str = "uscc") -> str:
    code = unicodedata.normalize("NFKC", raw or "").strip().upper()
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        raise invalid(field, "统一社会信用代码必须是 18 位（数字或除 I、O、Z、S、V 以外的大写字母）",
                      "USCC must be 18 characters of digits and capital letters except I, O, Z, S, V",
                      code="uscc_format")
    if uscc_check_char(code[:17]) != code[17]:
        raise invalid(field, "统一社会信用代码校验位错误", "USCC check character is wrong", code="uscc_check")
    return code


# --- Ethnicity dictionary, seed 001 附件3 §1.2.7 (民族字典) -------------------------------

# ``ETHNICITY`` (imported above) is the seed's table from refdata/ethnicity.py: one copy for the gate protocol
# and registration.


def parse_ethnicity(raw: str | int, field: str = "ethnicity") -> str:
    """Accept "1", "01", 1 or a name such as 汉族 / 汉; return the two-digit code."""
    text = str(raw).strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 58:
        return f"{int(text):02d}"
    for code, name in ETHNICITY.items():
        if text in (name, name.removesuffix("族")):
            return code
    raise invalid(field, f"民族代码无效：{text}（应为 01–58）", f"Unknown ethnicity: {text} (expected 01–58)",
                  code="ethnicity")


# --- Phones ---------------------------------------------------------------------------

def parse_phone(raw: str | None, field: str = "phone") -> str | None:
    if raw is None or not str(raw).strip():
        return None
    phone = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", str(raw)))
    if not re.fullmatch(r"1[3-9][0-9]{9}|0[0-9]{2,3}[0-9]{7,8}", phone):
        raise invalid(field, "手机号或电话号码格式不正确", "Phone number is not valid", code="phone")
    return phone


# --- Free text from users: names, addresses, team names, notes -------------------------------

# Unicode categories refused in anything a user types: Cc control characters (NUL, ESC, …; tab and line
# breaks only in multi-line notes), Cf format characters (zero-width space/joiner, RTL/LTR overrides and
# isolates U+202A–202E / U+2066–2069, BOM, soft hyphen), Cs lone surrogates, Zl/Zp line and paragraph
# separators.  They make names look alike, reorder what a reader sees, or break exports (XML 1.0 cannot
# hold most C0 controls).  Private-use characters stay allowed: rare characters (生僻字) of people's names
# are often typed from a private-use font.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MULTILINE_OK = frozenset("\n\r\t")


def invisible_chars(text: str, *, multiline: bool = False) -> list[str]:
    """The control/invisible characters of ``text`` as ``U+XXXX`` codes (empty when it is clean)."""
    found: list[str] = []
    for ch in text:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES and not (multiline and ch in _MULTILINE_OK):
            code = f"U+{ord(ch):04X}"
            if code not in found:
                found.append(code)
    return found


def check_plain_text(text: str, field: str, label: str = "", *, multiline: bool = False) -> None:
    """Refuse control and invisible characters (see ``_REFUSED_CATEGORIES``)."""
    bad = invisible_chars(text, multiline=multiline)
    if bad:
        what = label or field
        raise invalid(field, f"{what}含有控制字符或不可见字符（{'、'.join(bad[:5])}），请删除后重新填写",
                      f"{field} contains control or invisible characters ({', '.join(bad[:5])})",
                      code="invisible_characters")


def clean_text(value: object, field: str, label: str, *, max_len: int, required: bool = False,
               multiline: bool = False) -> str | None:
    """One free-text value from a user: stripped; control/invisible characters refused; at most
    ``max_len`` characters; empty (or whitespace only) → ``None``, or refused when ``required``."""
    text = "" if value is None else str(value)
    check_plain_text(text, field, label, multiline=multiline)
    text = text.strip()
    if not text:
        if required:
            raise invalid(field, f"{label}不能为空", f"{field} is required", code="required")
        return None
    if len(text) > max_len:
        raise invalid(field, f"{label}不超过 {max_len} 个字符", f"{field}: at most {max_len} characters",
                      code="too_long")
    return text


def sanitize_filename(name: str | None, max_len: int = 200) -> str:
    """An uploaded file's name as stored: control/invisible characters dropped (it is shown, never trusted)."""
    text = "".join(ch for ch in (name or "") if unicodedata.category(ch) not in _REFUSED_CATEGORIES)
    return text.strip()[:max_len]


# --- Person names: ONE rule for the roster API, the tablet, the import and gate enrolment -------

PERSON_NAME_MAX = 60  # person.name is Varchar(60)
# The tablet form's rule (it was backend/crew/validation.parse_name): no digits, no markup or formula characters.
_NAME_FORBIDDEN = re.compile(r"[\d<>{}\[\]\\/@#$%^&*=+|;:\"']")


def parse_person_name(value: object, field: str = "name") -> str:
    """A person's name as on the ID card: inner runs of spaces collapsed to one, 1–60 characters, no
    digits, markup or formula characters (name separators such as · stay: 阿卜杜·热合曼), no control or
    invisible characters."""
    raw = "" if value is None else str(value)
    check_plain_text(raw, field, "姓名")
    name = re.sub(r"\s+", " ", raw).strip()
    if not name or len(name) > PERSON_NAME_MAX:
        raise invalid(field, f"姓名不能为空且不超过 {PERSON_NAME_MAX} 个字符",
                      f"Name is required (at most {PERSON_NAME_MAX} characters)", code="invalid_name")
    if _NAME_FORBIDDEN.search(name):
        raise invalid(field, f"姓名含有无效字符：{name}", f"The name contains invalid characters: {name}",
                      code="invalid_name")
    return name
