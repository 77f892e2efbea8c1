"""The roster as a whole: every recognised sheet's rows parsed and checked (`check_roster`),
into the good models and the row-by-row list of what was rejected and why (`RosterReport`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from services.dispatch.directory.model import (
    Department,
    Directory,
    DutyPost,
    Enterprise,
    Officer,
)
from services.dispatch.roster.cells import PARSERS
from services.dispatch.roster.checks import check_duplicates, check_references
from services.dispatch.roster.files import (
    PROGRESS_EVERY,
    Progress,
    RawSheet,
    RosterFile,
    RosterUnreadable,
    open_roster,
)
from services.dispatch.roster.headers import REQUIRED, Header, SheetKind, find_header
from services.dispatch.roster.rows import DutyHolder, Row, RowError, parse_row, sheet_rows


@dataclass(frozen=True)
class SheetSummary:
    name: str
    kind: SheetKind
    header_row: int
    rows: int  # non-blank data rows
    ignored_columns: tuple[str, ...] = ()


@dataclass
class RosterReport:
    source: str
    officers: list[Officer] = field(default_factory=list)
    enterprises: list[Enterprise] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)
    duty: dict[DutyPost, str] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    sheets: list[SheetSummary] = field(default_factory=list)
    skipped_sheets: list[str] = field(default_factory=list)  # "说明: no header …"
    # Optional fields whose column the row's sheet lacks, by officer id / credit code: the
    # importer keeps the directory's values for them rather than resetting them to defaults
    # (an enterprise list without a CSO column must not unassign every CSO).
    officer_fields_absent: dict[str, frozenset[str]] = field(default_factory=dict)
    enterprise_fields_absent: dict[str, frozenset[str]] = field(default_factory=dict)
    department_fields_absent: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(sheet.rows for sheet in self.sheets)

    @property
    def rows_rejected(self) -> int:
        return len({(error.sheet, error.row_number) for error in self.errors})

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def empty(self) -> bool:
        """No good row at all: nothing to import."""
        return not (self.officers or self.enterprises or self.departments or self.duty)

    def directory(self) -> Directory:
        """The good rows, ready for `load_directory` (which upserts; absent rows stay)."""
        return Directory(
            officers=self.officers,
            enterprises=self.enterprises,
            departments=self.departments,
            duty=self.duty,
        )


def check_roster(
    roster: RosterFile,
    *,
    known_officer_ids: Collection[str] = frozenset(),
    known_department_ids: Collection[str] = frozenset(),
    progress: Progress | None = None,
) -> RosterReport:
    """Validates every row of every recognised sheet; see the module docstring."""
    report = RosterReport(roster.source)
    rows: list[Row] = []
    headers: list[tuple[RawSheet, Header]] = []
    for sheet in roster.sheets:
        if not any(any(cell.strip() for cell in cells) for cells in sheet.rows):
            if len(roster.sheets) > 1:
                report.skipped_sheets.append(f"{sheet.name}: empty")
            continue
        header = find_header(sheet)
        if header is None:
            report.skipped_sheets.append(
                f"{sheet.name}: no header with 工号/officer_id, 统一社会信用代码/credit_code, "
                "部门编号/department_id or 值班岗位/post"
            )
            continue
        headers.append((sheet, header))
    if not headers:
        reasons = "; ".join(report.skipped_sheets) or "no rows"
        raise RosterUnreadable(
            f"{roster.source}: no officers, enterprises, departments or duty sheet ({reasons})"
        )

    expected = sum(len(sheet.rows) - header.row_index - 1 for sheet, header in headers)
    for sheet, header in headers:
        header_row = header.row_index + 1
        missing = [name for name in REQUIRED[header.kind] if name not in header.columns]
        problems = [f"the {name} column is missing" for name in missing] + [
            f"two columns are read as {name}" for name in header.duplicated
        ]
        rows_of_sheet = list(sheet_rows(sheet, header))
        report.sheets.append(
            SheetSummary(sheet.name, header.kind, header_row, len(rows_of_sheet), header.ignored)
        )
        if problems:
            # Without a required column no row of the sheet can be read: one error says so.
            for problem in problems:
                report.errors.append(
                    RowError(
                        sheet.name,
                        header_row,
                        None,
                        None,
                        f"row {header_row}: {problem}; none of the sheet's "
                        f"{len(rows_of_sheet)} rows can be imported",
                    )
                )
            continue
        for row in rows_of_sheet:
            parse_row(row)
            rows.append(row)
            if progress is not None and len(rows) % PROGRESS_EVERY == 0:
                progress(len(rows), expected)
    if progress is not None:
        progress(len(rows), len(rows))

    check_duplicates(rows)
    check_references(rows, known_officer_ids, known_department_ids)

    order = {sheet.name: index for index, sheet in enumerate(roster.sheets)}
    absent = {
        sheet.name: frozenset(PARSERS[header.kind]) - frozenset(header.columns)
        for sheet, header in headers
    }
    for row in rows:
        report.errors.extend(row.errors)
        if row.rejected or row.model is None:
            continue
        model = row.model
        if isinstance(model, Officer):
            report.officers.append(model)
            if absent[row.sheet]:
                report.officer_fields_absent[model.officer_id] = absent[row.sheet]
        elif isinstance(model, Enterprise):
            report.enterprises.append(model)
            if absent[row.sheet]:
                report.enterprise_fields_absent[model.credit_code] = absent[row.sheet]
        elif isinstance(model, Department):
            report.departments.append(model)
            if absent[row.sheet]:
                report.department_fields_absent[model.department_id] = absent[row.sheet]
        elif isinstance(model, DutyHolder):
            report.duty[model.post] = model.officer_id
    report.errors.sort(key=lambda e: (order.get(e.sheet, 0), e.row_number))
    return report


def read_roster(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    known_officer_ids: Collection[str] = frozenset(),
    known_department_ids: Collection[str] = frozenset(),
    progress: Progress | None = None,
) -> RosterReport:
    """Reads and checks a roster: `open_roster` then `check_roster`."""
    roster = open_roster(source, name=name, progress=progress)
    return check_roster(
        roster,
        known_officer_ids=known_officer_ids,
        known_department_ids=known_department_ids,
        progress=progress,
    )
