"""Money as integer fen (分), end to end: parsing what people and spreadsheets type, showing yuan with two
decimals, and the checks of account and card numbers, account names and masking.  Pure: no I/O."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from backend.errors import invalid

SPECIAL_ACCOUNT_SUFFIX = "农民工工资专户"  # seed 002 专户 notes §一.1: 企业名称（或项目部名称）后加资金性质
MAX_FEN = 10**13  # 1000 亿元: far above any payroll, keeps sums in 64 bits
_FEN = Decimal("0.01")
# A spreadsheet cell computed as =A1*B1 may hold 0.30000000000000004: a value this close to a whole fen is that fen.
_FLOAT_SLACK = Decimal("0.000001")
_DIGITS = re.compile(r"^[0-9]+$")


def to_fen(value: Any, *, field: str = "amount", label: str = "金额") -> int:
    """Yuan (int, Decimal, str like "1,234.50" or "¥12", or a float from a spreadsheet cell) → integer fen.
    More than two decimals is refused, except the float noise of a computed cell, which rounds half up to the
    fen.  Negative amounts are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(field, f"{label}不能为空", f"{field} is required", code="amount_required")
    if isinstance(value, bool):
        raise invalid(field, f"{label}格式不正确", f"{field} is not an amount", code="bad_amount")
    try:
        if isinstance(value, float):
            d = Decimal(repr(value))
        elif isinstance(value, int | Decimal):
            d = Decimal(value)
        else:
            d = Decimal(str(value).strip().replace(",", "").replace("，", "").lstrip("¥￥").replace("元", ""))
    except InvalidOperation:
        raise invalid(field, f"{label}格式不正确：{value}", f"{field} is not an amount: {value}",
                      code="bad_amount") from None
    if not d.is_finite():
        raise invalid(field, f"{label}格式不正确", f"{field} is not an amount", code="bad_amount")
    try:
        q = d.quantize(_FEN, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise invalid(field, f"{label}过大", f"{field} is too large", code="amount_too_large") from None
    if q != d and not (isinstance(value, float) and abs(q - d) < _FLOAT_SLACK):
        raise invalid(field, f"{label}最多两位小数（精确到分）：{value}", f"{field} has more than two decimals: {value}",
                      code="amount_precision")
    if q < 0:
        raise invalid(field, f"{label}不能为负数", f"{field} must not be negative", code="amount_negative")
    fen = int(q * 100)
    if fen > MAX_FEN:
        raise invalid(field, f"{label}过大", f"{field} is too large", code="amount_too_large")
    return fen


def yuan(fen: int | None) -> str:
    """Integer fen → "1234.50" (exact, no float)."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


def yuan_grouped(fen: int | None) -> str:
    """For pages: "1,234.50"."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def payable_fen(unit: str, rate_fen: int | None, days: int) -> int | None:
    """Amount payable from the contract: per day × valid days, per month (a month with any valid day), None
    for piece rates (the quantity is not ours to know) or no rate."""
    if rate_fen is None:
        return None
    if unit == "day":
        return rate_fen * days
    if unit == "month":
        return rate_fen if days > 0 else 0
    return None


def clean_number(value: Any) -> str:
    """A card or account number as typed: spaces and dashes dropped; a spreadsheet number as its digits."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"[\s\-]", "", str(value))


def check_account_no(number: str, *, field: str = "account_no") -> str:
    """A bank account number: digits only, 8–32 of them (our reading: Chinese settlement accounts run 12–25)."""
    n = clean_number(number)
    if not _DIGITS.match(n) or not 8 <= len(n) <= 32:
        raise invalid(field, "账号应为 8–32 位数字", "The account number must be 8–32 digits", code="bad_account_no")
    return n


def check_card_no(number: Any, *, field: str = "card_no") -> str:
    """A bank card number: digits only, 12–19 of them (ISO/IEC 7812 PAN length; not every Chinese card passes Luhn,
    so no check digit is tested)."""
    n = clean_number(number)
    if not _DIGITS.match(n) or not 12 <= len(n) <= 19:
        raise invalid(field, "银行卡号应为 12–19 位数字", "The bank card number must be 12–19 digits",
                      code="bad_card_no")
    return n


def mask_number(number: str) -> str:
    """6222 **** **** 1234 style: first four and last four digits kept, the rest starred."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def _is_abbreviation(short: str, full: str) -> bool:
    """``short`` is ``full`` or an abbreviation of it: its characters appear in ``full`` in order (中建三局 of
    中国建筑第三工程局有限公司)."""
    it = iter(full)
    return bool(short) and all(ch in it for ch in short)


def account_name_problem(name: str, enterprise_names: list[str], project_name: str) -> str | None:
    """Seed 002 专户 notes §一.1: 账户名称应为企业名称后加资金性质（农民工工资专户），或项目部名称后加资金性质；
    企业名称、项目部名称可使用简称.  Our reading: the name ends with 农民工工资专户 and what precedes it is one of the
    project's enterprises or the project's department (项目名称 [+ 项目部]), in full or abbreviated (the characters
    in order).  None when it passes, else the Chinese reason."""
    name = (name or "").strip()
    if not name.endswith(SPECIAL_ACCOUNT_SUFFIX):
        return f"账户名称应以“{SPECIAL_ACCOUNT_SUFFIX}”结尾（企业名称或项目部名称后加资金性质）"
    prefix = name[: -len(SPECIAL_ACCOUNT_SUFFIX)].strip()
    if not prefix:
        return f"账户名称应为企业名称或项目部名称后加“{SPECIAL_ACCOUNT_SUFFIX}”"
    if any(_is_abbreviation(prefix, e) for e in enterprise_names if e):
        return None
    dept = prefix
    for tail in ("项目经理部", "项目部"):
        if dept.endswith(tail):
            dept = dept[: -len(tail)]
            break
    if dept and (_is_abbreviation(dept, project_name) or any(_is_abbreviation(dept, e + project_name)
                                                             for e in enterprise_names if e)):
        return None
    return f"账户名称“{prefix}”不是本项目参建企业或项目部的名称（可用简称）"
