"""Spreadsheets HR opens and uploads: xlsx written with openpyxl, CSV with a UTF-8 BOM (so Excel
shows the Chinese), and uploads (CSV or xlsx) read back as CSV text for the importers."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.notices import imports as texts
from bot.services.csvfile import CsvFormatError

BOM = "\ufeff"
MAX_UPLOAD_ROWS = 50_000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
_HEADER_FILL = PatternFill("solid", fgColor="E8F3EC")


@dataclass(frozen=True, slots=True)
class Sheet:
    """One worksheet: its tab title, header row and data rows (numbers stay numbers)."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx workbook: bold frozen header, filter, columns sized to their content."""
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        ws = book.create_sheet(title=_tab_title(sheet.title))
        ws.append(list(sheet.header))
        for row in sheet.rows:
            ws.append([_cell(v) for v in row])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(vertical="center")
        ws.freeze_panes = "A2"
        if sheet.rows:
            ws.auto_filter.ref = ws.dimensions
        for index, column in enumerate(ws.iter_cols(max_row=min(ws.max_row, 500)), start=1):
            width = max((_display_width(c.value) for c in column), default=8)
            ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _tab_title(title: str) -> str:
    """Excel tab names: at most 31 characters, none of []:*?/\\."""
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title[:31] or "Sheet"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: callers pass local times
    return value


def _display_width(value: Any) -> int:
    """Columns a value takes in Excel: a CJK character is about two."""
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """CSV as UTF-8 with a BOM, so Excel opens the Chinese correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return (BOM + buf.getvalue()).encode("utf-8")


def upload_text(filename: str, data: bytes) -> str:
    """An uploaded CSV (UTF-8, with or without BOM) or .xlsx (first sheet) as CSV text.

    Raises:
        CsvFormatError: an old .xls, a CSV that is not UTF-8, or an unreadable workbook.
    """
    name = (filename or "").lower()
    if data.startswith(b"PK\x03\x04") or name.endswith(".xlsx"):
        return _xlsx_to_csv(data)
    if name.endswith(".xls") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise CsvFormatError(1, texts.OLD_EXCEL)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvFormatError(1, texts.NOT_UTF8) from None


def _xlsx_to_csv(data: bytes) -> str:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise CsvFormatError(1, texts.BAD_XLSX) from None
    try:
        sheet = book.worksheets[0]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for count, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if count > MAX_UPLOAD_ROWS:
                raise CsvFormatError(count, texts.TOO_MANY_ROWS.format(limit=MAX_UPLOAD_ROWS))
            writer.writerow([_text(v) for v in row])
    finally:
        book.close()
    return buf.getvalue()


def _text(value: Any) -> str:
    """A cell as the CSV importers expect it: 5.0 → 5, TRUE → true, dates in ISO, one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("\r", " ").replace("\n", " ")
