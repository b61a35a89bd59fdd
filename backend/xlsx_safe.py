"""The one way user text goes into an .xlsx cell (every export of the product uses it).

- Formula injection (CSV/xlsx injection, OWASP "CSV Injection"): a value starting with ``=`` ``+`` ``-`` ``@``,
  a tab or a carriage return can be taken as a formula by a spreadsheet (now, or after the user edits the cell
  or saves the sheet as CSV).  Such a value is prefixed with a single quote ``'`` as OWASP recommends, and the
  cell is typed as a string.
- Characters XML 1.0 cannot hold (C0 controls; openpyxl's ``ILLEGAL_CHARACTERS_RE``) make openpyxl raise, so one
  bad stored value would break a project's export for good: they are replaced by U+FFFD when exporting (new
  input refuses them at the door: ``backend.validators.check_plain_text``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "\ufffd"
XLSX_CELL_MAX = 32_767  # Excel's limit of characters in a cell


def safe_text(value: str) -> str:
    """``value`` as a cell may hold it: illegal characters replaced, a leading formula trigger neutralised."""
    text = ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, value)
    if text.startswith(FORMULA_TRIGGERS):
        text = "'" + text
    return text[:XLSX_CELL_MAX]


def text_cell(ws: Any, value: str) -> WriteOnlyCell:
    """A write-only cell holding ``value`` as text (data type ``s``, never a formula)."""
    cell = WriteOnlyCell(ws, value=safe_text(value))
    cell.data_type = "s"
    return cell


def safe_row(ws: Any, values: Iterable[Any]) -> list[Any]:
    """A row for ``ws.append``: strings become text cells (``text_cell``); numbers, dates, None stay as they are."""
    return [text_cell(ws, v) if isinstance(v, str) else v for v in values]
