"""Reading a roster file into sheets of text cells: XLSX (read-only) and CSV in UTF-8 (with or
without BOM), UTF-16 with BOM (Excel's "Unicode text") or GB18030/GBK (what Chinese Excel saves
"CSV" as). The format is decided by the content, not the file name."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

Progress = Callable[[int, int | None], None]  # (rows done, rows expected or None)
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is common in Excel rosters
PROGRESS_EVERY = 200


class RosterUnreadable(Exception):
    """The file cannot be read as a roster at all (not CSV/XLSX, wrong encoding, no header)."""


@dataclass
class RawSheet:
    name: str
    rows: list[tuple[str, ...]]  # rows[i] is Excel row i + 1; cells as text, "" when empty


@dataclass
class RosterFile:
    source: str
    sheets: list[RawSheet]


_XLSX_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 .xls format


def open_roster(
    source: str | Path | bytes, *, name: str | None = None, progress: Progress | None = None
) -> RosterFile:
    """Reads a CSV or XLSX file into sheets of text cells; RosterUnreadable if it cannot."""
    if isinstance(source, bytes):
        data, label = source, name or "roster"
    else:
        path = Path(source)
        label = name or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or exc
            raise RosterUnreadable(f"{label}: cannot read the file ({reason})") from None
    if not data.strip():
        raise RosterUnreadable(f"{label}: the file is empty")
    if data.startswith(_OLE2_MAGIC):
        raise RosterUnreadable(
            f"{label}: an old Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV and retry"
        )
    if data.startswith(_XLSX_MAGIC):
        return RosterFile(label, _xlsx_sheets(data, label, progress))
    return RosterFile(label, [_csv_sheet(data, label, progress)])


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        # Excel keeps numbers typed into a General column (phones, ids) as floats.
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _xlsx_sheets(data: bytes, label: str, progress: Progress | None) -> list[RawSheet]:
    from openpyxl import load_workbook  # only XLSX needs it

    try:
        # read_only streams the rows; data_only gives formulas' cached values, not the formulas.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign zip
        raise RosterUnreadable(f"{label}: not a readable XLSX workbook ({exc})") from None
    try:
        worksheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
        expected = sum(ws.max_row or 0 for ws in worksheets) or None
        done = 0
        sheets: list[RawSheet] = []
        for ws in worksheets:
            rows: list[tuple[str, ...]] = []
            # Read-only mode yields an empty row for each row missing from the file, so the
            # index stays the Excel row number.
            for values in ws.iter_rows(values_only=True):
                rows.append(tuple(_cell_text(v) for v in values))
                done += 1
                if progress is not None and done % PROGRESS_EVERY == 0:
                    progress(done, expected)
            sheets.append(RawSheet(ws.title, rows))
    except RosterUnreadable:
        raise
    except Exception as exc:
        raise RosterUnreadable(f"{label}: not a readable XLSX workbook ({exc})") from None
    finally:
        workbook.close()
    if progress is not None:
        progress(done, done)
    return sheets


def _decode(data: bytes, label: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312: one try covers all of Chinese Excel's exports.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise RosterUnreadable(
            f"{label}: neither UTF-8 nor GBK/GB18030 text; save it as CSV UTF-8 or as .xlsx"
        ) from None


def _delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])
    counts = {d: head.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_sheet(data: bytes, label: str, progress: Progress | None) -> RawSheet:
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if (b"\x00" in data and not utf16) or (utf16 and "\x00" in data.decode("utf-16", "replace")):
        raise RosterUnreadable(f"{label}: neither a workbook nor text (binary content)")
    try:
        text = _decode(data, label)
    except UnicodeDecodeError as exc:
        raise RosterUnreadable(f"{label}: damaged text ({exc.reason})") from None
    try:
        # One record is one Excel row, even when a quoted cell holds a line break.
        rows = [
            tuple(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
        ]
    except csv.Error as exc:
        raise RosterUnreadable(f"{label}: not a readable CSV file ({exc})") from None
    if progress is not None:
        progress(len(rows), len(rows))
    return RawSheet(Path(label).stem or label, rows)
