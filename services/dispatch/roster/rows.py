"""Parsing a row: its cells through the column's parsers into the sheet's model (`Officer`,
`Enterprise`, `Department`, a duty holder), with every problem kept as a `RowError` that names
the row as Excel numbers it, the column as the file titles it, and the value as written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from services.dispatch.directory.model import Department, DutyPost, Enterprise, Officer
from services.dispatch.roster.cells import PARSERS, CellProblem
from services.dispatch.roster.files import RawSheet
from services.dispatch.roster.headers import KEY_FIELD, REQUIRED, Header, SheetKind, header_key


class DutyHolder(BaseModel):
    """A row of a duty sheet: who holds the post."""

    post: DutyPost
    officer_id: str


@dataclass(frozen=True)
class RowError:
    sheet: str
    row_number: int  # as Excel shows it: the header is row 1 (unless a title sits above it)
    field: str | None  # the model field, None when the whole row is concerned
    value: str | None  # the cell as written in the file
    message: str  # 'row 17: 手机 (phone) "1380013800" is not a mobile number (…)'

    def __str__(self) -> str:
        return f"{self.sheet}: {self.message}"


# Fields that name another row: an officer (by id) or a department.
REFERENCES: dict[SheetKind, dict[str, SheetKind]] = {
    SheetKind.OFFICERS: {
        "supervisor_id": SheetKind.OFFICERS,
        "paired_officer_id": SheetKind.OFFICERS,
        "department_id": SheetKind.DEPARTMENTS,
    },
    SheetKind.ENTERPRISES: {"cso_officer_id": SheetKind.OFFICERS},
    SheetKind.DEPARTMENTS: {"supervisor_id": SheetKind.OFFICERS},
    SheetKind.DUTY: {"officer_id": SheetKind.OFFICERS},
}
MODELS: dict[SheetKind, type[BaseModel]] = {
    SheetKind.OFFICERS: Officer,
    SheetKind.ENTERPRISES: Enterprise,
    SheetKind.DEPARTMENTS: Department,
    SheetKind.DUTY: DutyHolder,
}


@dataclass
class Row:
    sheet: str
    kind: SheetKind
    number: int
    titles: dict[str, str]
    raw: dict[str, str]
    key: str | None = None
    references: dict[str, str] = field(default_factory=dict)
    model: BaseModel | None = None
    errors: list[RowError] = field(default_factory=list)

    def label(self, name: str) -> str:
        title = self.titles.get(name, name)
        return name if header_key(title) == header_key(name) else f"{title} ({name})"

    def fail(self, name: str | None, text: str, *, with_value: bool = True) -> None:
        value = self.raw.get(name, "") if name else None
        shown = f' "{value}"' if with_value and value else ""
        subject = f"{self.label(name)}{shown} " if name else ""
        self.errors.append(
            RowError(self.sheet, self.number, name, value, f"row {self.number}: {subject}{text}")
        )

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


def parse_row(row: Row) -> None:
    values: dict[str, Any] = {}
    for name, parse in PARSERS[row.kind].items():
        text = row.raw.get(name, "").strip()
        if not text:
            if name in REQUIRED[row.kind]:
                row.fail(name, "is empty", with_value=False)
            continue
        try:
            values[name] = parse(text)
        except CellProblem as exc:
            row.fail(name, str(exc))
    key = values.get(KEY_FIELD[row.kind])
    row.key = key
    row.references = {name: values[name] for name in REFERENCES[row.kind] if name in values}
    if row.kind is SheetKind.OFFICERS and key is not None:
        for name, target in row.references.items():
            if target == key and REFERENCES[row.kind][name] is SheetKind.OFFICERS:
                row.fail(name, "names the officer themselves")
    if row.rejected:
        return
    try:
        row.model = MODELS[row.kind](**values)
    except ValidationError as exc:  # the checks above should leave nothing for pydantic
        for error in exc.errors():
            column = str(error["loc"][0]) if error["loc"] else None
            row.fail(column, f"is not accepted: {error['msg']}")


def sheet_rows(sheet: RawSheet, header: Header) -> Iterator[Row]:
    for index in range(header.row_index + 1, len(sheet.rows)):
        cells = sheet.rows[index]
        if not any(cell.strip() for cell in cells):
            continue  # blank rows (often formatted but empty at the end of a sheet)
        raw = {
            name: cells[column] if column < len(cells) else ""
            for name, column in header.columns.items()
        }
        yield Row(sheet.name, header.kind, index + 1, header.titles, raw)
