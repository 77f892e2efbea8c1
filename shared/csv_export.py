"""CSV exports of the same data a route returns as JSON: a caller asking `Accept: text/csv` gets
a file a supervisor opens in Excel. UTF-8 with a byte-order mark (Chinese Excel reads BOM-less
UTF-8 as GBK and garbles it); cells that a spreadsheet would run as a formula are quoted."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from fastapi import Request, Response

CSV_MEDIA_TYPE = "text/csv"
# A cell starting with one of these runs as a formula in Excel (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: Request) -> bool:
    """The caller prefers CSV: `Accept: text/csv` (alone or first among its choices)."""
    accept = request.headers.get("accept", "")
    choices = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    return bool(choices) and choices[0] == CSV_MEDIA_TYPE


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list | tuple):
        return ";".join(cell(v) for v in value)
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])
    return out.getvalue()


def csv_response(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], filename: str
) -> Response:
    body = "\ufeff" + to_csv(rows, columns)
    return Response(
        body.encode("utf-8"),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
