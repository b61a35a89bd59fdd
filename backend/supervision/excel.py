""".xlsx exports: Chinese headers, frozen header row, one sheet per team (monthly matrix).  ID numbers appear
masked only.

openpyxl builds every workbook (sheets, styled header row, column widths, the frozen pane, document
properties).  The body rows — up to 5,000 people × 42 columns, or 200,000 punches — are then streamed into each
sheet's ``<sheetData>`` as the very SpreadsheetML openpyxl's write-only mode writes itself (inline strings and
numbers).  openpyxl serialises a cell through a generic XML tree writer in pure Python (~10 µs a cell without
lxml); formatting rows directly is an order of magnitude faster and keeps the monthly export within its budget
(benchmarks/reports.py).  The result is read back with openpyxl in the tests.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from backend.rules import DEFAULT_RULES, PROFILES
from backend.supervision.metrics import pct
from backend.supervision.services import CELL_LEGEND
from backend.xlsx_safe import safe_text

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="F2F4F7")
_CENTER = Alignment(horizontal="center")
_COLUMNS = [get_column_letter(i) for i in range(1, 200)]


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique sheet title: ≤ 31 characters, none of []:*?/\\, not empty."""
    base = _BAD_SHEET_CHARS.sub("_", safe_text(name).lstrip("'")).strip("'").strip() or "未命名"
    base = base[:31]
    title, n = base, 2
    while title.lower() in taken:
        suffix = f"({n})"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(title.lower())
    return title


class Percent(float):
    """A ratio written as a number in a percent format (0.857 shows as 85.7%; sums and filters still work)."""


PERCENT_FORMAT = "0.0%"


def _cell_xml(ref: str, value: Any, percent_style: int = 0) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, Percent):
        return f'<c r="{ref}" s="{percent_style}"><v>{float(value)!r}</v></c>' if math.isfinite(value) else ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    if isinstance(value, float):
        return f'<c r="{ref}"><v>{value!r}</v></c>' if math.isfinite(value) else ""
    text = safe_text(str(value)).translate(_ESCAPE)  # user text: formulas neutralised (backend/xlsx_safe.py)
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _rows_xml(rows: Iterable[Sequence[Any]], first_row: int, percent_style: int = 0) -> bytes:
    out: list[str] = []
    cols = _COLUMNS
    for r, row in enumerate(rows, start=first_row):
        n = str(r)
        out.append(f'<row r="{n}">' + "".join(_cell_xml(cols[i] + n, v, percent_style) for i, v in enumerate(row)) + "</row>")
    return "".join(out).encode("utf-8")


class Book:
    """A workbook whose sheets have an openpyxl-written header and fast-written body rows."""

    def __init__(self) -> None:
        self.wb = Workbook(write_only=True)
        self.taken: set[str] = set()
        self.bodies: list[list[Sequence[Any]]] = []
        self.percent_style = 0  # the workbook's style index of PERCENT_FORMAT (cellXfs), once a sheet exists

    def sheet(self, title: str, headers: Sequence[str], widths: Sequence[float], *, freeze: str = "A2",
              landscape: bool = False) -> list[Sequence[Any]]:
        """A sheet: header row, ``freeze`` (the first cell that scrolls), print set-up (``landscape``: landscape,
        fit to the page width, header row repeated on every page)."""
        if len(headers) >= len(_COLUMNS):
            raise ValueError("too many columns")
        ws = self.wb.create_sheet(sheet_title(title, self.taken))
        if landscape:  # before the header row: a write-only sheet writes its properties with the first row
            ws.page_setup.orientation = "landscape"
            ws.page_setup.paperSize = "9"  # A4
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 0
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            ws.print_title_rows = "1:1"
        _header(ws, headers, widths, freeze)
        self.percent_style = _register_percent(ws)
        body: list[Sequence[Any]] = []
        self.bodies.append(body)
        return body

    def save(self) -> bytes:
        buf = io.BytesIO()
        self.wb.save(buf)
        src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=5) as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                m = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
                if m and self.bodies[int(m.group(1)) - 1]:
                    body = _rows_xml(self.bodies[int(m.group(1)) - 1], first_row=2,
                                     percent_style=self.percent_style)
                    if b"</sheetData>" not in data:
                        raise RuntimeError(f"unexpected worksheet XML in {info.filename}")
                    data = data.replace(b"</sheetData>", body + b"</sheetData>", 1)
                dst.writestr(info.filename, data)
        return out.getvalue()


def _register_percent(ws: WriteOnlyWorksheet) -> int:
    """The workbook's style index of a percent cell (openpyxl registers a cell's style in the workbook)."""
    probe = WriteOnlyCell(ws, value=0.0)
    probe.number_format = PERCENT_FORMAT
    return int(probe.style_id)


def _header(ws: WriteOnlyWorksheet, names: Sequence[str], widths: Sequence[float], freeze: str = "A2") -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = freeze
    cells = []
    for name in names:
        c = WriteOnlyCell(ws, value=name)
        c.font, c.fill, c.alignment = _HEADER_FONT, _HEADER_FILL, _CENTER
        cells.append(c)
    ws.append(cells)


def matrix_workbook(matrix: Any) -> bytes:
    """Monthly attendance: a sheet per team (project – team when several projects), then a legend sheet."""
    book = Book()
    several = len({r.project_id for r in matrix.rows}) > 1
    day_names = [f"{d.day}日" for d in matrix.days]
    names = ["序号", "项目名称", "姓名", "身份证号", "班组", "人员类型", "岗位/工种", *day_names,
             "有效考勤天数", "应出勤天数", "到岗率", "是否达标"]
    widths = [6, 24, 10, 20, 14, 9, 14, *([4.5] * len(day_names)), 12, 11, 9, 9]
    groups: dict[tuple[int, int], list[Any]] = {}
    for r in matrix.rows:
        groups.setdefault((r.project_id, r.team_id), []).append(r)
    if not groups:
        book.sheet("考勤", names, widths, freeze="D2", landscape=True)
    for rows in groups.values():
        first = rows[0]
        body = book.sheet(f"{first.project_name}-{first.team_name}" if several else first.team_name, names, widths,
                          freeze="D2", landscape=True)  # 序号, 项目名称, 姓名 and the header stay in view
        for i, r in enumerate(rows, start=1):
            meets = r.meets
            body.append([i, r.project_name, r.name, r.id_masked, r.team_name, r.role_label, r.job_label, *r.cells,
                         r.valid_days, r.required_days, None if r.rate is None else Percent(r.rate),
                         None if meets is None else ("达标" if meets else "不达标")])
    legend = book.sheet("说明", ["符号", "含义"], [8, 70])
    legend.extend([mark, meaning] for mark, meaning in CELL_LEGEND.items())
    legend.append(["", f"统计月份 {matrix.month}，统计至 {min(matrix.last, matrix.as_of).isoformat()}"])
    # The numbers come from rules.py: the rows' own (per-district) ratio; the start rule per profile.
    ratios = sorted({r.threshold for r in matrix.rows if r.threshold is not None}) or \
        [DEFAULT_RULES.manager_valid_days_ratio]
    legend.append(["", "应出勤天数：本月施工（在建）天数中本人在册的天数，停工日不计（江门市住建局通知 §五(十三)）；"
                       "管理人员考勤的起算日按项目所在区县的判定规则（如中山市：拟开工日期起 "
                       f"{PROFILES['zhongshan'].manager_attendance_start_offset_days} 天后；江门市：实际开工日期），"
                       "见项目页“管理人员考勤”。"])
    legend.append(["", f"管理人员有效考勤天数不得少于本月施工时间的 {' / '.join(pct(x, 0) for x in ratios)}"
                       "（赣建建〔2022〕9号 §五）。"])
    return book.save()


DETAIL_HEADERS = ["序号", "项目名称", "姓名", "身份证号", "班组", "来源", "方向", "打卡时间", "接收时间", "上传延时（秒）",
                  "考勤结果", "原因/标记", "设备序列号"]


def detail_workbook(rows: Iterable[dict[str, Any]], title: str = "考勤明细") -> bytes:
    book = Book()
    body = book.sheet(title, DETAIL_HEADERS, [6, 24, 10, 20, 14, 6, 6, 20, 20, 12, 14, 36, 18])
    for i, r in enumerate(rows, start=1):
        body.append([i, r["project_name"], r["name"], r["id_masked"], r["team_name"], r["source_label"],
                     r["direction_label"] or None, r["captured_local"], r["received_local"], round(r["latency_s"], 1),
                     r["verdict_label"], "；".join(r["reason_labels"]) or None, r["terminal_serial"]])
    return book.save()


def table_workbook(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A one-sheet table (dashboards, manager table)."""
    book = Book()
    body = book.sheet(title, headers, [max(8.0, min(40.0, len(h) * 2.2)) for h in headers])
    body.extend(list(r) for r in rows)
    return book.save()
