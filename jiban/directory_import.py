"""`jiban directory import FILE`: a roster (CSV or XLSX) into dispatch's directory.

The file is read and checked row by row (services/dispatch/roster/), the report printed, and
the good rows upserted in ONE transaction with an OfficerChanged / EnterpriseChanged /
DepartmentChanged / DutyChanged for each row that is new or changed — so importing the same file
twice changes nothing the second time. References (supervisors, partners, CSOs, departments,
duty holders) may name rows of the same file or what the directory already holds.
By default bad rows are reported and the good ones imported; with `strict`, any bad row means
nothing is committed. `dry_run` does all the work and rolls it back, to say what would change.

Exit codes: 0 every row imported, 1 some rows rejected, 2 the file cannot be read.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeVar

from pydantic import BaseModel
from sqlalchemy import Column, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from jiban.failures import CommandError
from services.dispatch import tables
from services.dispatch.directory import Directory
from services.dispatch.directory.load import LoadReport, apply_directory
from services.dispatch.roster import RosterReport, RosterUnreadable, check_roster, open_roster
from shared.db import Database
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_UNREADABLE = 2
LOOKUP_BATCH = 5000

M = TypeVar("M", bound=BaseModel)


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _listed(
    officers: int,
    enterprises: int,
    departments: int,
    duty: int,
    *,
    mention: tuple[int, int] | None = None,
) -> str:
    """ "4 officers and 1 enterprise", with departments and duty posts only when the roster has
    some (`mention`: how many it has, when the numbers are changes)."""
    has_departments, has_duty = mention or (departments, duty)
    parts = [
        _count(officers, "officer", "officers"),
        _count(enterprises, "enterprise", "enterprises"),
    ]
    if has_departments:
        parts.append(_count(departments, "department", "departments"))
    if has_duty:
        parts.append(_count(duty, "duty post", "duty posts"))
    return ", ".join(parts[:-1]) + " and " + parts[-1]


class ProgressBar:
    """A one-line bar redrawn with a carriage return; silent unless the stream is a terminal
    (or `enabled=True`), so logs and pipes do not fill with half-drawn lines."""

    WIDTH = 30
    MIN_INTERVAL_S = 0.1

    def __init__(self, stream: TextIO, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._label = ""
        self._drawn = 0.0
        self._open = False

    def phase(self, label: str) -> ProgressBar:
        self.finish()
        self._label = label
        return self

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._drawn < self.MIN_INTERVAL_S:
            return
        self._drawn = now
        if total:
            filled = min(self.WIDTH, self.WIDTH * done // total)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            line = f"\r{self._label} [{bar}] {done}/{total}"
        else:
            line = f"\r{self._label} {done}"
        self.stream.write(line)
        self.stream.flush()
        self._open = True

    def finish(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


@dataclass(frozen=True)
class ImportResult:
    exit_code: int
    report: RosterReport | None  # None when the file could not be read
    changes: LoadReport | None  # None when nothing was applied
    committed: bool
    problem: str | None = None  # why the file could not be read


async def _known_ids(db: Database) -> tuple[set[str], set[str]]:
    """The officer ids and department ids the directory holds."""
    async with db.transaction() as session:
        officers = set((await session.execute(select(tables.officers.c.officer_id))).scalars())
        departments = set(
            (await session.execute(select(tables.departments.c.department_id))).scalars()
        )
    return officers, departments


async def _keep_absent_fields(session: AsyncSession, report: RosterReport) -> Directory:
    """The good rows, with the directory's values for fields whose column the sheet lacks."""
    officers = await _merge(
        session,
        tables.officers,
        tables.officers.c.officer_id,
        report.officers,
        lambda o: o.officer_id,
        report.officer_fields_absent,
    )
    enterprises = await _merge(
        session,
        tables.enterprises,
        tables.enterprises.c.credit_code,
        report.enterprises,
        lambda e: e.credit_code,
        report.enterprise_fields_absent,
    )
    departments = await _merge(
        session,
        tables.departments,
        tables.departments.c.department_id,
        report.departments,
        lambda d: d.department_id,
        report.department_fields_absent,
    )
    return Directory(
        officers=officers, enterprises=enterprises, departments=departments, duty=report.duty
    )


async def _merge(
    session: AsyncSession,
    table: Table,
    key_column: Column[str],
    models: list[M],
    key: Callable[[M], str],
    absent: dict[str, frozenset[str]],
) -> list[M]:
    if not absent:
        return models
    existing: dict[str, Any] = {}
    keys = list(absent)
    for start in range(0, len(keys), LOOKUP_BATCH):
        rows = await session.execute(
            select(table).where(key_column.in_(keys[start : start + LOOKUP_BATCH]))
        )
        existing.update({getattr(row, key_column.name): row for row in rows})
    merged: list[M] = []
    for model in models:
        row = existing.get(key(model))
        fields = absent.get(key(model), frozenset())
        if row is None or not fields:
            merged.append(model)
            continue
        kept = {name: getattr(row, name) for name in fields}
        merged.append(type(model).model_validate({**model.model_dump(), **kept}))
    return merged


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


async def import_roster(
    settings: Settings,
    path: str | Path,
    *,
    strict: bool = False,
    dry_run: bool = False,
    progress: ProgressBar | None = None,
) -> ImportResult:
    bar = progress or ProgressBar(sys.stderr, enabled=False)
    try:
        # The file first: an unreadable one is answered without touching the database.
        roster = open_roster(path, progress=bar.phase(f"reading {Path(path).name}"))
    except RosterUnreadable as exc:
        bar.finish()
        return ImportResult(EXIT_UNREADABLE, None, None, committed=False, problem=str(exc))
    db = Database(settings)
    try:
        known_officers, known_departments = await _known_ids(db)
        try:
            report = check_roster(
                roster,
                known_officer_ids=known_officers,
                known_department_ids=known_departments,
                progress=bar.phase("checking"),
            )
        except RosterUnreadable as exc:
            bar.finish()
            return ImportResult(EXIT_UNREADABLE, None, None, committed=False, problem=str(exc))
        exit_code = EXIT_OK if report.ok else EXIT_REJECTED
        if (strict and not report.ok) or report.empty:
            bar.finish()
            return ImportResult(exit_code, report, None, committed=False)
        changes: LoadReport | None = None
        try:
            units = UnitsOfWork.of(db, tables.metadata, producer="dispatch")
            async with units.begin() as uow:
                directory = await _keep_absent_fields(uow.session, report)
                changes = await apply_directory(uow, directory, progress=bar.phase("importing"))
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        bar.finish()
        return ImportResult(exit_code, report, changes, committed=not dry_run)
    finally:
        await db.dispose()


def format_result(result: ImportResult, *, strict: bool = False, dry_run: bool = False) -> str:
    """What the operator reads: the sheets, each rejected row and why, and what changed."""
    if result.report is None:
        return f"cannot import: {result.problem}"
    report = result.report
    lines: list[str] = []
    for sheet in report.sheets:
        rows = _count(sheet.rows, "row", "rows")
        line = f"{sheet.name}: {rows} of {sheet.kind.value} (header: row {sheet.header_row})"
        if sheet.ignored_columns:
            line += "; columns ignored: " + ", ".join(sheet.ignored_columns)
        lines.append(line)
    lines += [f"{skipped} (skipped)" for skipped in report.skipped_sheets]
    if report.errors:
        lines.append(f"{report.rows_rejected} of {report.rows_read} rows rejected:")
        lines += [f"  {error}" for error in report.errors]
    good = _listed(
        len(report.officers), len(report.enterprises), len(report.departments), len(report.duty)
    )
    if strict and not report.ok:
        lines.append(f"--strict: nothing imported ({good} were good)")
    elif result.changes is None:
        lines.append("nothing to import")
    else:
        changes = result.changes
        changed = (
            _listed(
                changes.officers_changed,
                changes.enterprises_changed,
                changes.departments_changed,
                changes.duty_changed,
                mention=(len(report.departments), len(report.duty)),
            )
            + " new or changed"
        )
        if dry_run:
            lines.append(f"dry run: {good} checked; would be {changed}; nothing committed")
        else:
            lines.append(f"imported {good}: {changed}")
    return "\n".join(lines)


def run_import(
    settings: Settings,
    path: str | Path,
    *,
    strict: bool = False,
    dry_run: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The CLI entry: imports, prints the report on stdout (progress on stderr) and returns the
    exit code; a file that cannot be read is a CommandError (exit 2)."""
    out, err = out or sys.stdout, err or sys.stderr
    bar = ProgressBar(err)
    try:
        result = asyncio.run(
            import_roster(settings, path, strict=strict, dry_run=dry_run, progress=bar)
        )
    finally:
        bar.finish()  # a failure's one line starts on a line of its own
    text = format_result(result, strict=strict, dry_run=dry_run)
    if result.report is None:
        raise CommandError(text, EXIT_UNREADABLE)
    print(text, file=out)
    return result.exit_code
