"""The .xlsx side of the roster (openpyxl, no database): the import template, reading an uploaded
workbook into raw rows, and the export."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from backend.bounded import check_zip
from backend.errors import invalid
from backend.rules import DEFAULT_RULES, Rules
from backend.validators import ETHNICITY
from backend.vocabulary import local_today
from backend.workforce.dictionaries import POSTS, WORK_ROLE, WORK_TYPES
from backend.xlsx_safe import safe_row


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    required: bool
    width: int
    note: str


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", True, 10, "与身份证一致"),
    Column("id_number", "身份证号", True, 22, "18 位，末位可为 X；请以文本格式填写"),
    Column("gender", "性别", False, 6, "男/女；可留空（由身份证号推出），填写时须与身份证号一致"),
    Column("birth_date", "出生日期", False, 12, "可留空；填写时须与身份证号一致，如 1985-03-07"),
    Column("ethnicity", "民族", False, 8, "如 汉族 或 01；留空为汉族"),
    Column("phone", "手机号", False, 14, "用于工人手机考勤账号"),
    Column("address", "住址", False, 30, "身份证上的住址"),
    Column("issuer", "签发机关", False, 16, ""),
    Column("id_valid_from", "有效期起", False, 12, "如 2015-01-01"),
    Column("id_valid_until", "有效期止", False, 12, "日期或“长期”；已过期的身份证不能登记"),
    Column("unit", "参建单位", False, 24, "企业名称；仅在班组重名时需要"),
    Column("team", "班组", True, 14, "本项目已建立的班组名称；管理人员填所属单位的项目部"),
    Column("work_role", "人员类型", True, 10, "建筑工人 / 管理人员"),
    Column("post", "岗位", False, 16, "管理人员必填，如 安全员"),
    Column("work_type", "工种", False, 12, "建筑工人必填，如 钢筋工 或 020"),
    Column("entered_on", "进场日期", False, 12, "留空为今天"),
)
HEADERS: dict[str, str] = {c.key: c.header for c in COLUMNS}
_BY_HEADER: dict[str, str] = {c.header: c.key for c in COLUMNS}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _header_key(text: Any) -> str | None:
    t = str(text or "").strip().rstrip("*＊").strip()
    return _BY_HEADER.get(t)


def template_bytes() -> bytes:
    """The downloadable import template: a header row, one example row, code lists on a 2nd sheet."""
    wb = Workbook()
    ws = wb.active
    ws.title = "人员名单"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for i, c in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=i, value=c.header + ("*" if c.required else ""))
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
        ws.column_dimensions[get_column_letter(i)].width = c.width + 4
        for r in range(2, 2002):  # text format for ID numbers and phones (no 4.4E+17)
            if c.key in ("id_number", "phone"):
                ws.cell(row=r, column=i).number_format = "@"
    ws.freeze_panes = "A2"
    roles = DataValidation(type="list", formula1='"建筑工人,管理人员"', allow_blank=False)
    ws.add_data_validation(roles)
    roles.add(f"{get_column_letter(_col('work_role'))}2:{get_column_letter(_col('work_role'))}5001")
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "是否必填", "说明"])
    for c in COLUMNS:
        notes.append([c.header, "必填" if c.required else "选填", c.note])
    notes.append([])
    notes.append(["整个文件校验通过后才会导入；任何一行有误，所有行都不导入，并给出逐行错误报告。"])
    notes.column_dimensions["A"].width, notes.column_dimensions["C"].width = 12, 70
    codes = wb.create_sheet("代码表")
    codes.append(["工种代码", "工种", "", "岗位", "", "民族代码", "民族"])
    post_names = list(POSTS.values())
    eth = list(ETHNICITY.items())
    wt = list(WORK_TYPES.items())
    for i in range(max(len(wt), len(post_names), len(eth))):
        codes.append([
            wt[i][0] if i < len(wt) else None, wt[i][1] if i < len(wt) else None, None,
            post_names[i] if i < len(post_names) else None, None,
            eth[i][0] if i < len(eth) else None, eth[i][1] if i < len(eth) else None,
        ])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _col(key: str) -> int:
    return next(i for i, c in enumerate(COLUMNS, start=1) if c.key == key)


def _cell(value: Any, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, int | float):
        if key == "id_number":
            return value  # reported by the caller: numbers lose digits
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)
    return str(value).strip() or None


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Bounds on an uploaded workbook beyond the row count: the values are ``backend.rules``' (crew_import_*,
    upload_*), per district — ``from_rules`` is the only way in, so no second copy of the numbers lives here."""

    max_unpacked_bytes: int
    max_ratio: float
    max_members: int
    max_sheet_rows: int
    max_columns: int

    @classmethod
    def from_rules(cls, rules: Rules = DEFAULT_RULES, max_rows: int | None = None) -> ImportLimits:
        """The district's limits; the sheet may always hold ``max_rows`` data rows and the header."""
        rows = rules.crew_import_max_rows if max_rows is None else max_rows
        return cls(max_unpacked_bytes=rules.crew_import_max_unpacked_bytes,
                   max_ratio=rules.upload_max_compression_ratio, max_members=rules.upload_max_zip_members,
                   max_sheet_rows=max(rules.crew_import_max_sheet_rows, rows + 1),
                   max_columns=rules.crew_import_max_columns)


# What a damaged or hostile workbook makes openpyxl raise (defusedxml's refusals are ValueErrors, expat's
# ParseError a SyntaxError).
UNREADABLE = (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, IndexError, EOFError, SyntaxError)


def check_archive(data: bytes, limits: ImportLimits) -> None:
    """Member sizes, count and compression ratio from the zip's directory, before anything is unpacked
    (a 1 MB file can hold a 1 GB shared string).  An unreadable zip passes: the reader reports it."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except UNREADABLE:
        return
    with zf:
        check_zip(zf, max_total=limits.max_unpacked_bytes, max_member=limits.max_unpacked_bytes,
                  max_ratio=limits.max_ratio, max_members=limits.max_members,
                  what_zh="Excel 文件", what_en="workbook")


def _check_dimension(ws: Any, limits: ImportLimits) -> None:
    """The sheet's declared extent (``<dimension ref="A1:P20000000"/>``) against the row and column caps."""
    rows, cols = getattr(ws, "max_row", None), getattr(ws, "max_column", None)
    if isinstance(rows, int) and rows > limits.max_sheet_rows:
        raise invalid("file", f"工作表范围过大（{rows} 行，上限 {limits.max_sheet_rows} 行），请删除多余的行后重试",
                      f"The sheet extends to row {rows} (limit {limits.max_sheet_rows}); delete the extra rows",
                      code="too_many_rows")
    if isinstance(cols, int) and cols > limits.max_columns:
        raise invalid("file", f"工作表列数过多（{cols} 列，上限 {limits.max_columns} 列），请删除多余的列后重试",
                      f"The sheet has {cols} columns (limit {limits.max_columns}); delete the extra columns",
                      code="too_many_columns")


def check_limits(data: bytes, limits: ImportLimits) -> None:
    """The cheap checks, before the import is queued: zip members and the first sheet's declared extent.
    A file that is not a readable workbook passes here (the import job reports it, row by row)."""
    check_archive(data, limits)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except UNREADABLE:
        return
    try:
        if wb.worksheets:
            _check_dimension(wb.worksheets[0], limits)
    finally:
        wb.close()


def read_rows(data: bytes, max_rows: int, limits: ImportLimits | None = None,
              ) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """Rows of the first sheet as ``(row number, {key: value})`` (empty rows skipped) and file-level
    errors (no header, missing required columns, too many rows, not an .xlsx).

    Bounded (security issue item 3): the zip members are checked before unpacking, the sheet is streamed
    (read-only mode) and the read stops at ``limits.max_sheet_rows`` rows — blank ones included, so
    ``<row r="20000000"/>`` costs nothing — and ``limits.max_columns`` columns.  Run it in a worker process
    (``backend.bounded``) for the time and memory caps."""
    limits = limits or ImportLimits.from_rules(DEFAULT_RULES, max_rows)
    check_archive(data, limits)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        ws = wb.worksheets[0]
    except UNREADABLE as e:
        raise invalid("file", "无法读取该 Excel 文件，请使用下载的模板（.xlsx）",
                      f"The file is not a readable .xlsx workbook ({type(e).__name__})", code="bad_xlsx") from None
    try:
        _check_dimension(ws, limits)
        it = ws.iter_rows(max_col=limits.max_columns, values_only=True)
        header = next(it, None)
        if header is None:
            raise invalid("file", "文件是空的", "The workbook is empty", code="empty_xlsx")
        keys = [_header_key(h) for h in header]
        missing = [c.header for c in COLUMNS if c.required and c.key not in keys]
        if missing:
            raise invalid("file", f"缺少必填列：{'、'.join(missing)}（请使用下载的模板）",
                          f"Required columns are missing: {', '.join(missing)}", code="missing_columns")
        rows: list[tuple[int, dict[str, Any]]] = []
        for n, values in enumerate(it, start=2):
            if n > limits.max_sheet_rows:
                raise invalid("file", f"工作表超过 {limits.max_sheet_rows} 行（含空行），请删除多余的行或拆分文件",
                              f"The sheet runs past row {limits.max_sheet_rows} (blank rows included); "
                              "delete the extra rows or split the file", code="too_many_rows")
            record = {k: _cell(v, k) for k, v in zip(keys, values, strict=False) if k}
            if not any(v is not None for v in record.values()):
                continue
            rows.append((n, record))
            if len(rows) > max_rows:
                raise invalid("file", f"每次最多导入 {max_rows} 行，请拆分文件",
                              f"At most {max_rows} rows per import; split the file", code="too_many_rows")
        if not rows:
            raise invalid("file", "文件中没有人员数据", "The workbook has no data rows", code="empty_xlsx")
        return rows, []
    except (zipfile.BadZipFile, ValueError, SyntaxError, EOFError) as e:  # damage found while streaming
        raise invalid("file", "无法读取该 Excel 文件，请使用下载的模板（.xlsx）",
                      f"The file is not a readable .xlsx workbook ({type(e).__name__})", code="bad_xlsx") from None
    finally:
        wb.close()


EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    *((c.key, c.header) for c in COLUMNS),
    ("status", "状态"),
    ("exited_on", "退场日期"),
    ("enrolled", "人脸采集"),
    ("contract", "劳动合同"),
)


def export_bytes(project_name: str, rows: Iterable[dict[str, Any]], *, full_id: bool) -> bytes:
    """The roster as .xlsx, same columns as the import template (so it can be re-imported) plus status."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("花名册")
    ws.append([h for _, h in EXPORT_COLUMNS])
    for r in rows:  # user text as text cells: formulas neutralised, illegal characters replaced (xlsx_safe)
        ws.append(safe_row(ws, [_export_value(r.get(k)) for k, _ in EXPORT_COLUMNS]))
    about = wb.create_sheet("说明")
    about.append(safe_row(about, [f"{project_name} 花名册，导出于 {local_today().isoformat()}"]))
    about.append(["含完整身份证号，请妥善保管，勿外传" if full_id else "身份证号已脱敏（中间位以 * 代替）"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _export_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "是" if v else "否"
    return v


def role_label(code: str) -> str:
    return WORK_ROLE.get(code, code)
