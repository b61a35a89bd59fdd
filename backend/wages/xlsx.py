"""The spreadsheet side of wages (openpyxl / csv, no database; the readers run in a worker process,
``backend.bounded``): the payroll template and its reader, the bank payment file (.xlsx / .csv), the bank's result
file reader, and the evidence workbook for labour inspection.  Money is written as yuan text with two decimals
(from integer fen, never a float)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from backend.crew.xlsx import UNREADABLE, ImportLimits, check_archive
from backend.errors import invalid
from backend.xlsx_safe import safe_row

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    required: bool
    note: str = ""


PAYROLL_COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", True, "与身份证一致"),
    Column("id_number", "身份证号", True, "18 位；请以文本格式填写"),
    Column("payable", "应发工资", False, "元，最多两位小数；留空按劳动合同的计量单价和考勤天数计算"),
    Column("paid", "实发工资", False, "元；未发放填 0 或留空"),
    Column("paid_on", "发放日期", False, "如 2026-11-15；未发放留空"),
    Column("card_no", "银行卡号", False, "12–19 位数字；请以文本格式填写"),
    Column("card_holder", "持卡人", False, "银行卡户名；留空视为本人"),
    Column("card_bank", "开户银行", False, ""),
    Column("leader_confirmed", "班组长确认", False, "是/否"),
    Column("worker_confirmed", "本人确认", False, "是/否"),
    Column("note", "备注", False, ""),
)
RESULT_COLUMNS: tuple[Column, ...] = (
    Column("seq", "序号", True),
    Column("name", "姓名", True),
    Column("card_no", "银行卡号", False),
    Column("amount", "金额", True),
    Column("result", "结果", True, "成功 / 失败"),
    Column("reason", "失败原因", False),
    Column("paid_on", "日期", False),
)
_ALIASES = {"户名": "姓名", "收款人": "姓名", "交易金额": "金额", "金额(元)": "金额", "金额（元）": "金额",
            "处理结果": "结果", "状态": "结果", "备注": "失败原因", "失败原因/备注": "失败原因", "交易日期": "日期",
            "账号": "银行卡号", "卡号": "银行卡号"}
BANK_FILE_HEADERS = ("序号", "姓名", "身份证号", "银行卡号", "金额（元）", "备注")


def _key_map(columns: Sequence[Column]) -> dict[str, str]:
    return {c.header: c.key for c in columns}


def _header_key(text: Any, by_header: dict[str, str]) -> str | None:
    t = str(text or "").strip().rstrip("*＊").strip()
    t = _ALIASES.get(t, t) if t not in by_header else t
    return by_header.get(t)


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, datetime):
        return value.date()
    return value


def payroll_template_bytes(month: str, rows: Iterable[dict[str, Any]] = ()) -> bytes:
    """The import template (header + the roster's workers, when given: name and masked ID to be completed)."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"{month} 工资发放表"
    ws.append([c.header + ("*" if c.required else "") for c in PAYROLL_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(safe_row(ws, [r.get("name", ""), ""] + [""] * (len(PAYROLL_COLUMNS) - 2)))
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for c in PAYROLL_COLUMNS:
        notes.append([c.header, ("必填。" if c.required else "") + c.note])
    notes.append(["出勤天数", "不需填写：由本平台的考勤记录（有效考勤天数）自动填入"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rows_from(it: Iterable[Sequence[Any]], columns: Sequence[Column], max_rows: int, max_sheet_rows: int,
               ) -> list[tuple[int, dict[str, Any]]]:
    by_header = _key_map(columns)
    it = iter(it)
    header = next(it, None)
    if header is None:
        raise invalid("file", "文件是空的", "The file is empty", code="empty_file")
    keys = [_header_key(h, by_header) for h in header]
    missing = [c.header for c in columns if c.required and c.key not in keys]
    if missing:
        raise invalid("file", f"缺少必填列：{'、'.join(missing)}（请使用下载的模板）",
                      f"Required columns are missing: {', '.join(missing)}", code="missing_columns")
    rows: list[tuple[int, dict[str, Any]]] = []
    for n, values in enumerate(it, start=2):
        if n > max_sheet_rows:
            raise invalid("file", f"文件超过 {max_sheet_rows} 行（含空行），请删除多余的行或拆分文件",
                          f"The file runs past row {max_sheet_rows}", code="too_many_rows")
        record = {k: _cell(v) for k, v in zip(keys, values, strict=False) if k}
        if not any(v is not None for v in record.values()):
            continue
        if str(record.get(columns[0].key) or "").strip() in ("合计", "总计"):
            continue  # a totals row
        rows.append((n, record))
        if len(rows) > max_rows:
            raise invalid("file", f"每次最多导入 {max_rows} 行，请拆分文件", f"At most {max_rows} rows per file",
                          code="too_many_rows")
    if not rows:
        raise invalid("file", "文件中没有数据行", "The file has no data rows", code="empty_file")
    return rows


def read_table(data: bytes, kind: str, max_rows: int, limits: ImportLimits) -> list[tuple[int, dict[str, Any]]]:
    """Rows of an uploaded .xlsx (first sheet, streamed, bounded) or .csv (UTF-8 or GB18030) as ``(row number,
    {key: value})``; ``kind`` is ``payroll`` or ``result``.  Run it in a worker process."""
    columns = PAYROLL_COLUMNS if kind == "payroll" else RESULT_COLUMNS
    if data[:4] != b"PK\x03\x04":
        if kind == "payroll":
            raise invalid("file", "工资表须为 Excel .xlsx 格式（请使用下载的模板）", "The payroll must be an .xlsx",
                          code="bad_file_type")
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise invalid("file", "无法识别文件编码（请使用 UTF-8 或 GBK 的 CSV，或 .xlsx）", "Unknown text encoding",
                          code="bad_encoding")
        reader = csv.reader(io.StringIO(text))
        return _rows_from(([c[:limits.max_columns] for c in reader]), columns, max_rows, limits.max_sheet_rows)
    check_archive(data, limits)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        ws = wb.worksheets[0]
    except UNREADABLE as e:
        raise invalid("file", "无法读取该 Excel 文件，请使用下载的模板（.xlsx）",
                      f"The file is not a readable .xlsx workbook ({type(e).__name__})", code="bad_xlsx") from None
    try:
        rows_declared = getattr(ws, "max_row", None)
        if isinstance(rows_declared, int) and rows_declared > limits.max_sheet_rows:
            raise invalid("file", f"工作表范围过大（{rows_declared} 行，上限 {limits.max_sheet_rows} 行）",
                          f"The sheet extends to row {rows_declared}", code="too_many_rows")
        return _rows_from(ws.iter_rows(max_col=limits.max_columns, values_only=True), columns, max_rows,
                          limits.max_sheet_rows)
    except (zipfile.BadZipFile, ValueError, SyntaxError, EOFError) as e:
        if isinstance(e, ValueError) and getattr(e, "code", None):
            raise
        raise invalid("file", "无法读取该 Excel 文件", f"Unreadable workbook ({type(e).__name__})",
                      code="bad_xlsx") from None
    finally:
        wb.close()


def bank_file_rows(rows: Iterable[dict[str, Any]]) -> list[list[str]]:
    """The payment rows (seq, name, full ID, full card, amount yuan text, remark)."""
    return [[str(r["seq"]), r["name"], r["id_number"], r["card_no"], r["amount"], r["remark"]] for r in rows]


def bank_xlsx(rows: list[list[str]], title: str) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("代发明细")
    ws.append(list(BANK_FILE_HEADERS))
    for r in rows:
        ws.append(safe_row(ws, r))  # numbers stay text: no digits lost, no formula
    info = wb.create_sheet("说明")
    info.append(safe_row(info, [title]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _csv_safe(value: str) -> str:
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def bank_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(BANK_FILE_HEADERS)
    for r in rows:
        w.writerow([_csv_safe(v) for v in r])
    return buf.getvalue().encode("utf-8-sig")


def evidence_xlsx(title: str, sheets: list[tuple[str, list[str], list[list[Any]]]]) -> bytes:
    """The labour-inspection evidence: one sheet per part (attendance, payroll, bank results, findings)."""
    wb = Workbook(write_only=True)
    cover = wb.create_sheet("说明")
    cover.append(safe_row(cover, [title]))
    cover.append(safe_row(cover, ["依据：赣建建〔2022〕9号 七（因未及时足额支付农民工工资而预警的项目，应及时转当地劳动监察部门处理）"]))
    for name, header, rows in sheets:
        ws = wb.create_sheet(name)
        ws.append(safe_row(ws, header))
        for r in rows:
            ws.append(safe_row(ws, [v.isoformat() if isinstance(v, date) else v for v in r]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
