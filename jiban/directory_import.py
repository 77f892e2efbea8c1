"""`jiban directory import FILE`: a roster (CSV or XLSX) into dispatch's directory.

The file is read and checked row by row (services/dispatch/roster/), the report printed, and
the good rows upserted in ONE transaction with an OfficerChanged / EnterpriseChanged /
DepartmentChanged / DutyChanged for each row that is new or changed — so importing the same file
twice changes nothing the second time. References (supervisors, partners, CSOs, departments,
duty holders) may name rows of the same file or what the directory already holds.
By default bad rows are reported and the good ones imported; with `strict`, any bad row means
nothing is committed. `dry_run` does all the work and rolls it back, to say what would change.
The import and its report are dispatch's (`import_roster` and `import_lines` in
services/dispatch/directory/load.py), which its `POST /v1/directory/roster` runs too: this
command reads the file, draws the progress and prints.

Exit codes: 0 every row imported, 1 some rows rejected, 2 the file cannot be read.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from jiban.failures import CommandError
from services.dispatch import tables
from services.dispatch.directory.load import LoadReport, RosterImport, import_lines
from services.dispatch.directory.load import import_roster as import_into
from services.dispatch.roster import RosterReport, RosterUnreadable, open_roster
from shared.db import Database
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_UNREADABLE = 2


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
        units = UnitsOfWork.of(db, tables.metadata, producer="dispatch")
        try:
            outcome = await import_into(
                units, roster, strict=strict, dry_run=dry_run, phases=bar.phase
            )
        except RosterUnreadable as exc:
            return ImportResult(EXIT_UNREADABLE, None, None, committed=False, problem=str(exc))
        finally:
            bar.finish()
        exit_code = EXIT_OK if outcome.report.ok else EXIT_REJECTED
        return ImportResult(exit_code, outcome.report, outcome.changes, outcome.committed)
    finally:
        await db.dispose()


def format_result(result: ImportResult, *, strict: bool = False, dry_run: bool = False) -> str:
    """What the operator reads: the sheets, each rejected row and why, and what changed."""
    if result.report is None:
        return f"cannot import: {result.problem}"
    outcome = RosterImport(result.report, result.changes, result.committed)
    return "\n".join(import_lines(outcome, strict=strict, dry_run=dry_run, strict_name="--strict"))


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
