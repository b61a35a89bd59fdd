"""Pure checks of crew registration (no I/O): ID-card fields, validity period, age, uploads by
magic bytes, the 人证核验 outcome, and one bulk-import row.

Every check raises ``InvalidInput`` (or ``PayloadTooLarge``) naming the field, in Chinese and English.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from backend.crew.dictionaries import CONTRACT_TYPE, TYPE_LABEL
from backend.errors import AppError, InvalidInput, PayloadTooLarge, invalid
from backend.rules import Rules
from backend.validators import (
    IdInfo,
    check_plain_text,
    clean_text,
    cross_check_id,
    parse_ethnicity,
    parse_id_number,
    parse_person_name,
    parse_phone,
)
from backend.vocabulary import RegistrationStatus, WorkRole
from backend.workforce.dictionaries import POSTS, WORK_ROLE, WORK_TYPES
from backend.workforce.services import age_on, check_age
from backend.workforce.validation import check_entry_fields, check_team_fit

# ---------------------------------------------------------------------------------- small parsers

_DATE_RE = re.compile(r"^\s*(\d{4})\s*[.\-/年]?\s*(\d{1,2})\s*[.\-/月]?\s*(\d{1,2})\s*日?\s*$")
LONG_TERM_WORDS = frozenset({"长期", "长期有效", "long", "long-term", "long_term"})


def parse_date(value: Any, field: str, label: str) -> date | None:
    """A date from a form or a spreadsheet cell: date, datetime, "2015.01.01", "2015-1-1", "20150101",
    "2015年1月1日".  Empty → None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    m = _DATE_RE.match(text)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise invalid(field, f"{label}不是有效日期：{text}（例如 2020-01-31）",
                  f"{field} is not a valid date: {text} (e.g. 2020-01-31)", code="invalid_date")


def parse_gender(value: Any, field: str = "gender") -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if text in ("男", "M", "m", "1"):
        return "M"
    if text in ("女", "F", "f", "0", "2"):
        return "F"
    raise invalid(field, f"性别应为“男”或“女”：{text}", f"Gender must be 男 or 女: {text}", code="invalid_gender")


def parse_validity_text(text: str) -> tuple[date | None, date | None, bool]:
    """The validity line of the ID card's back: "2015.01.01-2035.01.01" or "2015.01.01-长期"."""
    parts = [p.strip() for p in re.split(r"\s*[-—–至~]\s*(?=\d{4}|长期)", (text or "").strip()) if p.strip()]
    if len(parts) != 2:
        raise invalid("id_validity", f"有效期限格式应为“2015.01.01-2035.01.01”或“2015.01.01-长期”：{text}",
                      f"Validity must look like 2015.01.01-2035.01.01 or 2015.01.01-长期: {text}",
                      code="invalid_validity")
    start = parse_date(parts[0], "id_valid_from", "有效期起始日期")
    if parts[1] in LONG_TERM_WORDS:
        return start, None, True
    return start, parse_date(parts[1], "id_valid_until", "有效期截止日期"), False


# ---------------------------------------------------------------------------------- the ID card

# GB/T 2261 / 居民身份证法 §5: 16–25 岁 10 年, 26–45 岁 20 年, 46 岁以上长期, 未满 16 周岁 5 年.
VALIDITY_YEARS = (5, 10, 20)
LONG_TERM_MIN_AGE = 46


def _add_years(d: date, years: int) -> set[date]:
    try:
        return {d.replace(year=d.year + years)}
    except ValueError:  # 29 February: cards print 28 Feb or 1 Mar
        return {date(d.year + years, 2, 28), date(d.year + years, 3, 1)}


def check_validity(
    valid_from: date | None, valid_until: date | None, long_term: bool, birth: date, today: date,
    *, required: bool = True,
) -> None:
    """The card must not be expired; the period must be one the law issues (5/10/20 years or 长期)."""
    if valid_from is None and valid_until is None and not long_term:
        if required:
            raise invalid("id_valid_until", "请填写身份证有效期限", "The ID card's validity period is required",
                          code="validity_required")
        return
    if long_term and valid_until is not None:
        raise invalid("id_valid_until", "长期有效的身份证不应填写截止日期", "A long-term card has no end date",
                      code="invalid_validity")
    if valid_from is not None:
        if valid_from > today:
            raise invalid("id_valid_from", "身份证有效期起始日期晚于今天", "The card's validity starts in the future",
                          code="invalid_validity")
        if valid_from < birth:
            raise invalid("id_valid_from", "身份证有效期起始日期早于出生日期", "The card's validity starts before birth",
                          code="invalid_validity")
    if long_term:
        if valid_from is not None and age_on(birth, valid_from) < LONG_TERM_MIN_AGE:
            raise invalid("id_valid_until",
                          f"长期有效身份证仅签发给 {LONG_TERM_MIN_AGE} 周岁以上人员，请核对有效期限",
                          f"Long-term cards are only issued from age {LONG_TERM_MIN_AGE}; check the validity",
                          code="invalid_validity")
        return
    if valid_until is None:
        raise invalid("id_valid_until", "请填写身份证有效期截止日期或选择“长期”",
                      "Give the card's end date or mark it long-term", code="validity_required")
    if valid_until < today:
        raise invalid("id_valid_until", f"身份证已过期（有效期至 {valid_until.isoformat()}），请持有效证件登记",
                      f"The ID card expired on {valid_until.isoformat()}", code="id_expired")
    if valid_from is not None:
        if valid_until <= valid_from:
            raise invalid("id_valid_until", "有效期截止日期应晚于起始日期", "The end date must follow the start date",
                          code="invalid_validity")
        allowed = set().union(*(_add_years(valid_from, y) for y in VALIDITY_YEARS))
        if valid_until not in allowed:
            raise invalid("id_valid_until", "有效期限与身份证签发规定不符（应为 5 年、10 年、20 年或长期），请核对",
                          "The validity period must be 5, 10 or 20 years or long-term; check the dates",
                          code="invalid_validity")


@dataclass(frozen=True, slots=True)
class IdCard:
    """What the foreman typed (or OCR prefilled) from the card."""

    id_number: str
    name: str
    gender: str | None = None  # M | F | 男 | 女
    ethnicity: str = "01"
    birth_date: date | None = None
    address: str = ""
    issuer: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    long_term: bool = False


@dataclass(frozen=True, slots=True)
class CheckedIdCard:
    info: IdInfo
    name: str
    ethnicity: str
    address: str | None
    issuer: str | None
    valid_from: date | None
    valid_until: date | None
    long_term: bool


def check_id_card(card: IdCard, rules: Rules, today: date | None = None, *, validity_required: bool = True) -> CheckedIdCard:
    """Every rule of the ID step, first failure raised:
    name; GB 11643 (format, region, birth date, check digit); birth date and gender typed on the
    form equal what the number encodes; ethnicity in the dictionary (seed 001 民族字典); card not
    expired and its period legal; not under the labour law's minimum age (``rules.worker_min_age``).  No upper
    age limit: no seed caps age (seed 000 §六 应录尽录); the district's age notice is ``workforce.age_notices``."""
    today = today or date.today()
    name = parse_person_name(card.name)
    info = parse_id_number(card.id_number, today=today)
    cross_check_id(info, birth_date=card.birth_date, gender=parse_gender(card.gender))
    ethnicity = parse_ethnicity(card.ethnicity or "01")
    address = clean_text(card.address, "address", "住址", max_len=200)
    issuer = clean_text(card.issuer, "issuer", "签发机关", max_len=60)
    check_validity(card.valid_from, card.valid_until, card.long_term, info.birth_date, today,
                   required=validity_required)
    check_age(rules, info.birth_date, info.gender, today)
    return CheckedIdCard(info, name, ethnicity, address, issuer, card.valid_from, card.valid_until, card.long_term)


# ---------------------------------------------------------------------------------- uploads

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def sniff_type(data: bytes) -> str | None:
    """The file's type from its first bytes (never from the name or the declared type)."""
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def check_upload(data: bytes | None, *, field: str, label: str, allowed: frozenset[str], max_bytes: int) -> str:
    """Size, then type by magic bytes, then a structural check.  Returns the sniffed content type."""
    if not data:
        raise invalid(field, f"请上传{label}", f"{field}: a file is required", code="file_required")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{label}文件过大（{_mb(len(data))}，上限 {_mb(max_bytes)}）",
                              f"{field} is too large ({_mb(len(data))}, limit {_mb(max_bytes)})",
                              field=field, code="file_too_large")
    kind = sniff_type(data)
    names = "、".join(TYPE_LABEL[t] for t in sorted(allowed))
    if kind not in allowed:
        raise invalid(field, f"{label}须为 {names} 文件（按文件内容识别，不是扩展名）",
                      f"{field} must be {names} (judged by its content, not its name)", code="bad_file_type")
    if kind in ("image/jpeg", "image/png"):
        _check_image(data, field, label)
    elif kind == "application/pdf" and b"%%EOF" not in bytes(data[-2048:]):
        raise invalid(field, f"{label} PDF 文件不完整或已损坏", f"{field}: the PDF is truncated or damaged",
                      code="bad_file")
    return kind


def _check_image(data: bytes, field: str, label: str) -> None:
    import io
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(bytes(data))) as im:
                w, h = im.size
                im.verify()
        except Exception:
            raise invalid(field, f"{label}图片已损坏或无法识别", f"{field}: the image is damaged or unreadable",
                          code="bad_file") from None
    if w < 200 or h < 200:
        raise invalid(field, f"{label}图片太小（{w}×{h}），请重新拍摄", f"{field}: the picture is too small ({w}×{h})",
                      code="image_too_small")


# ---------------------------------------------------------------------------------- 人证核验


def face_outcome(*, matched: bool, duplicate_person: int | None) -> str:
    """Next status after a passed liveness check: a face already enrolled under another ID number is
    blocked for review (it outranks everything); a live face that does not match the ID-card photo
    waits for a supervisor's confirmation; otherwise the registration goes on."""
    if duplicate_person is not None:
        return RegistrationStatus.pending_review
    if not matched:
        return RegistrationStatus.pending_confirmation
    return RegistrationStatus.face_checked


# ---------------------------------------------------------------------------------- roster fields


def check_roster_choice(work_role: str, post: str | None, work_type: str | None, team_kind: str,
                        unit_type: str) -> None:
    """Role, post and work type against the chosen team: the roster's rules, and on the tablet a worker must
    also name a work type."""
    check_entry_fields(work_role, post, work_type)
    if work_role == WorkRole.worker and not work_type:
        raise invalid("work_type", "建筑工人须选择工种", "A worker needs a work type")
    check_team_fit(work_role, post, team_kind, unit_type)


def lookup_code(value: Any, codes: dict[str, str], field: str, label: str) -> str | None:
    """A code list value given as its code ("020") or its label ("钢筋工")."""
    text = str(value or "").strip()
    if not text:
        return None
    if text in codes:
        return text
    if text.isdigit() and text.zfill(3) in codes:
        return text.zfill(3)
    for code, name in codes.items():
        if text in (name, name.split("（")[0]):
            return code
    raise invalid(field, f"未知{label}：{text}", f"Unknown {field}: {text}", code=f"unknown_{field}")


# ---------------------------------------------------------------------------------- import rows


@dataclass(frozen=True, slots=True)
class TeamRef:
    id: int
    unit_id: int
    name: str
    kind: str
    unit_type: str
    unit_name: str
    open: bool  # neither the team nor its unit has exited


@dataclass(frozen=True, slots=True)
class ImportRow:
    row: int  # spreadsheet row number
    card: CheckedIdCard
    phone: str | None
    team: TeamRef
    work_role: str
    post: str | None
    work_type: str | None
    entered_on: date


@dataclass
class RowErrors:
    row: int
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, column: str, err: AppError) -> None:
        self.items.append({"row": self.row, "column": column, "code": err.code, "message": err.zh,
                           "message_en": err.en})


def _try(errors: RowErrors, column: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (InvalidInput, PayloadTooLarge) as e:
        errors.add(column, e)
        return None


def check_import_row(
    row: int, raw: dict[str, Any], teams: dict[str, list[TeamRef]], rules: Rules, today: date, headers: dict[str, str],
) -> tuple[ImportRow | None, list[dict[str, Any]]]:
    """Validate one spreadsheet row; collect EVERY problem of the row (column named in Chinese).

    The problems come column by column in this order: the ID card, phone, role, post, work type, entry date,
    team, and last the role against the team."""
    errs = RowErrors(row)
    h = headers
    checked = _row_card(errs, raw, rules, today, h)
    phone = _try(errs, h["phone"], lambda: parse_phone(raw.get("phone")))
    role = _row_role(errs, raw, h)
    post = _try(errs, h["post"], lambda: lookup_code(raw.get("post"), POSTS, "post", "岗位"))
    work_type = _try(errs, h["work_type"], lambda: lookup_code(raw.get("work_type"), WORK_TYPES, "work_type", "工种"))
    entered_on = _row_entered_on(errs, raw, today, h)
    team = _row_team(errs, raw, teams, h)
    if role and team is not None:
        _try(errs, h["work_role"], lambda: check_roster_choice(role, post, work_type, team.kind, team.unit_type))
    if errs.items or checked is None or team is None or role is None:
        return None, errs.items
    return ImportRow(row, checked, phone, team, role, post, work_type, entered_on or today), []


def id_card_of_row(raw: dict[str, Any], headers: dict[str, str]) -> IdCard:
    """The ID-card columns of an import row (dates parsed; "长期" in the end date means long-term)."""
    valid_from = parse_date(raw.get("id_valid_from"), "id_valid_from", headers["id_valid_from"])
    long_term = str(raw.get("id_valid_until") or "").strip() in LONG_TERM_WORDS
    valid_until = (None if long_term
                   else parse_date(raw.get("id_valid_until"), "id_valid_until", headers["id_valid_until"]))
    return IdCard(
        id_number=str(raw.get("id_number") or ""), name=str(raw.get("name") or ""),
        gender=raw.get("gender"), ethnicity=str(raw.get("ethnicity") or "01"),
        birth_date=parse_date(raw.get("birth_date"), "birth_date", headers["birth_date"]),
        address=str(raw.get("address") or ""), issuer=str(raw.get("issuer") or ""),
        valid_from=valid_from, valid_until=valid_until, long_term=long_term,
    )


def _row_card(errs: RowErrors, raw: dict[str, Any], rules: Rules, today: date,
              h: dict[str, str]) -> CheckedIdCard | None:
    """The card's first problem, under the column it names (the ID number's when it names none)."""
    try:
        return check_id_card(id_card_of_row(raw, h), rules, today, validity_required=False)
    except (InvalidInput, PayloadTooLarge) as e:
        errs.add(h.get(e.field or "", h["id_number"]), e)
        return None


def _row_role(errs: RowErrors, raw: dict[str, Any], h: dict[str, str]) -> str | None:
    role = _try(errs, h["work_role"], lambda: lookup_code(raw.get("work_role"), WORK_ROLE, "work_role", "人员类型"))
    if role is None and not any(e["column"] == h["work_role"] for e in errs.items):
        errs.add(h["work_role"], invalid("work_role", "请填写人员类型（建筑工人或管理人员）", "work_role is required"))
    return role


def _row_entered_on(errs: RowErrors, raw: dict[str, Any], today: date, h: dict[str, str]) -> date | None:
    entered_on = _try(errs, h["entered_on"], lambda: parse_date(raw.get("entered_on"), "entered_on", h["entered_on"]))
    if entered_on is not None and entered_on > today:
        errs.add(h["entered_on"], invalid("entered_on", "进场日期不能晚于今天", "The entry date is in the future"))
    return entered_on


def _row_team(errs: RowErrors, raw: dict[str, Any], teams: dict[str, list[TeamRef]],
              h: dict[str, str]) -> TeamRef | None:
    """The row's team.  An exited team is reported but still returned (its role is checked against it too)."""
    team_name = str(raw.get("team") or "").strip()
    try:
        team = pick_team(teams, team_name, str(raw.get("unit") or "").strip())
    except InvalidInput as e:
        errs.add(h[e.field or "team"], e)
        return None
    if not team.open:
        errs.add(h["team"], invalid("team", f"班组“{team_name}”或其参建单位已退场", f"Team {team_name} has exited"))
    return team


def pick_team(teams: dict[str, list[TeamRef]], team_name: str, unit_name: str) -> TeamRef:
    """The one team of that name (of that unit, when given); ``InvalidInput`` on field team or unit."""
    if not team_name:
        raise invalid("team", "请填写班组名称", "The team is required")
    found = [t for t in teams.get(team_name, []) if not unit_name or t.unit_name == unit_name]
    if not found:
        raise invalid("team", f"本项目没有名为“{team_name}”的班组" + (f"（单位：{unit_name}）" if unit_name else ""),
                      f"No team named {team_name} on this project")
    if len(found) > 1:
        raise invalid("unit", f"有多个名为“{team_name}”的班组，请填写参建单位名称",
                      f"Several teams are named {team_name}; give the unit")
    return found[0]


# ---------------------------------------------------------------------------------- contracts


def check_contract(contract_type: str, starts_on: date | None, ends_on: date | None, signed_on: date | None,
                   today: date, contract_no: str = "") -> None:
    """劳动合同法 §12: fixed-term contracts have an end date; open-ended ones have none; a task contract
    ends with the task (an end date is optional)."""
    if contract_type not in CONTRACT_TYPE:
        raise invalid("contract_type", "合同类型应为固定期限、以完成一定工作任务为期限或无固定期限",
                      "contract_type must be fixed_term, task or open_ended", code="invalid_contract_type")
    if len(contract_no) > 60:
        raise invalid("contract_no", "合同编号不超过 60 个字符", "Contract number: at most 60 characters")
    check_plain_text(contract_no, "contract_no", "合同编号")
    if starts_on is None:
        raise invalid("starts_on", "请填写合同开始日期", "The contract's start date is required", code="contract_start_required")
    if signed_on is not None and signed_on > today:
        raise invalid("signed_on", "签订日期不能晚于今天", "The signing date is in the future")
    if contract_type == "fixed_term" and ends_on is None:
        raise invalid("ends_on", "固定期限合同须填写结束日期", "A fixed-term contract needs an end date",
                      code="contract_end_required")
    if contract_type == "open_ended" and ends_on is not None:
        raise invalid("ends_on", "无固定期限合同不填写结束日期", "An open-ended contract has no end date")
    if ends_on is not None and ends_on < starts_on:
        raise invalid("ends_on", "合同结束日期早于开始日期", "The contract ends before it starts")
