"""Loading a directory: an idempotent upsert that publishes what changed on directory.changes,
and a roster's good rows loaded the same way (`import_roster`: what `jiban directory import` and
dispatch's `POST /v1/directory/roster` both do).

What a directory names must exist once it is loaded: an officer's `department_id` names a
department in the directory given or already in the tables; a duty post and a department's
`supervisor_id` name an officer likewise. A directory that breaks this is refused whole
(`DirectoryReferenceError`, nothing written); the roster importer reports such rows one by one
before it gets here, so only a caller building a Directory in code meets the error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import uuid4

from pydantic import BaseModel
from sqlalchemy import Column, Table
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import tables
from services.dispatch.directory import store
from services.dispatch.directory.model import Directory, DutyPost
from services.dispatch.directory.service import (
    department_changed,
    duty_changed,
    enterprise_changed,
    officer_changed,
)
from services.dispatch.roster import RosterFile, RosterReport, check_roster
from services.dispatch.roster.files import Progress
from shared.unit_of_work import UnitOfWork, UnitsOfWork

# PostgreSQL takes at most 32,767 parameters per statement and an officer row has 15: upserts go
# in batches so a directory of any size loads (still in the caller's one transaction).
BATCH_SIZE = 1000
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class DirectoryReferenceError(ValueError):
    """A directory names departments or officers that neither it nor the tables hold."""


@dataclass(frozen=True)
class LoadReport:
    officers_changed: int
    enterprises_changed: int
    departments_changed: int = 0
    duty_changed: int = 0


# --- loading -------------------------------------------------------------------------------


def _batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


async def check_references(session: AsyncSession, directory: Directory) -> None:
    """DirectoryReferenceError naming every dangling department or officer id (see above)."""
    department_ids = {d.department_id for d in directory.departments}
    officer_ids = {o.officer_id for o in directory.officers}
    by_department: dict[str, list[str]] = {}
    for officer in directory.officers:
        if officer.department_id is not None and officer.department_id not in department_ids:
            by_department.setdefault(officer.department_id, []).append(officer.officer_id)
    by_officer: dict[str, list[str]] = {}
    for post, officer_id in directory.duty.items():
        if officer_id not in officer_ids:
            by_officer.setdefault(officer_id, []).append(f"duty post {DutyPost(post).value}")
    for department in directory.departments:
        if department.supervisor_id is not None and department.supervisor_id not in officer_ids:
            by_officer.setdefault(department.supervisor_id, []).append(
                f"department {department.department_id}"
            )
    known_departments = await store.existing_ids(
        session, tables.departments.c.department_id, by_department
    )
    known_officers = await store.existing_ids(session, tables.officers.c.officer_id, by_officer)
    problems = [
        f"department {d!r} (named by {', '.join(sorted(who))}) is not in the directory"
        for d, who in sorted(by_department.items())
        if d not in known_departments
    ] + [
        f"officer {o!r} (named by {', '.join(sorted(who))}) is not in the directory"
        for o, who in sorted(by_officer.items())
        if o not in known_officers
    ]
    if problems:
        raise DirectoryReferenceError("; ".join(problems))


async def apply_directory(
    uow: UnitOfWork,
    directory: Directory,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> LoadReport:
    """Upserts the departments, officers, enterprises and duty posts given (others are left
    alone) and puts a DepartmentChanged / OfficerChanged / EnterpriseChanged / DutyChanged for
    each that is new or actually changed, inside the caller's transaction.
    `progress(done, total)` is called after each batch. DirectoryReferenceError, before anything
    is written, if the directory names departments or officers that do not exist."""
    session = uow.session
    await check_references(session, directory)
    correlation_id = f"directory-load-{uuid4()}"
    departments = {d.department_id: d for d in directory.departments}
    officers = {o.officer_id: o for o in directory.officers}
    enterprises = {e.credit_code: e for e in directory.enterprises}
    total = (
        len(directory.departments)
        + len(directory.officers)
        + len(directory.enterprises)
        + len(directory.duty)
    )
    done = 0

    def advanced(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    changed_departments: list[str] = []
    for department_batch in _batches(directory.departments, batch_size):
        changed_departments += await store.upsert_departments(session, department_batch)
        advanced(len(department_batch))
    changed_officers: list[str] = []
    for officer_batch in _batches(directory.officers, batch_size):
        changed_officers += await store.upsert_officers(session, officer_batch)
        advanced(len(officer_batch))
    changed_enterprises: list[str] = []
    for enterprise_batch in _batches(directory.enterprises, batch_size):
        changed_enterprises += await store.upsert_enterprises(session, enterprise_batch)
        advanced(len(enterprise_batch))
    changed_posts = await store.set_duty(session, directory.duty)
    if directory.duty:
        advanced(len(directory.duty))

    events = [
        *(department_changed(departments[d]) for d in changed_departments),
        *(officer_changed(officers[o]) for o in changed_officers),
        *(enterprise_changed(enterprises[e]) for e in changed_enterprises),
        *(duty_changed(post, directory.duty[post]) for post in changed_posts),
    ]
    for event in events:
        await uow.publish(event, correlation_id=correlation_id)
    return LoadReport(
        officers_changed=len(changed_officers),
        enterprises_changed=len(changed_enterprises),
        departments_changed=len(changed_departments),
        duty_changed=len(changed_posts),
    )


async def load_directory(units: UnitsOfWork, directory: Directory) -> LoadReport:
    async with units.begin() as uow:
        return await apply_directory(uow, directory)


# --- importing a roster ----------------------------------------------------------------------


@dataclass(frozen=True)
class RosterImport:
    """What importing a roster did: the row-by-row report, what changed (None when nothing was
    applied: `strict` with a bad row, or no good row at all) and whether it was committed (not
    for a dry run)."""

    report: RosterReport
    changes: LoadReport | None
    committed: bool


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


# Where a long import says how far it got: given a phase's name ("checking", "importing"), the
# callback for that phase (the CLI draws a bar; the HTTP endpoint says nothing).
Phases = Callable[[str], Progress]


def _silent(_phase: str) -> Progress | None:
    return None


async def import_roster(
    units: UnitsOfWork,
    roster: RosterFile,
    *,
    strict: bool = False,
    dry_run: bool = False,
    phases: Phases | None = None,
) -> RosterImport:
    """Checks every row of `roster` against itself and the directory, then upserts the good
    rows in ONE transaction with an event for each row new or changed (importing the same file
    twice changes nothing the second time). With `strict`, any bad row means nothing is
    written; `dry_run` does all the work and rolls it back, to say what would change.
    RosterUnreadable if no sheet of the file is a roster."""
    phase = phases or _silent
    async with units.db.transaction() as session:
        known_officers, known_departments = await store.all_ids(session)
    # Checking is pure CPU over every row: off the event loop, so a service that imports a
    # roster keeps answering its other requests meanwhile.
    report = await asyncio.to_thread(
        check_roster,
        roster,
        known_officer_ids=known_officers,
        known_department_ids=known_departments,
        progress=phase("checking"),
    )
    if (strict and not report.ok) or report.empty:
        return RosterImport(report, None, committed=False)
    changes: LoadReport | None = None
    importing = phase("importing")
    try:
        async with units.begin() as uow:
            directory = await keep_absent_fields(uow.session, report)
            changes = await apply_directory(uow, directory, progress=importing)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return RosterImport(report, changes, committed=not dry_run)


async def keep_absent_fields(session: AsyncSession, report: RosterReport) -> Directory:
    """The good rows, with the directory's values for fields whose column the sheet lacks (an
    enterprise list without a CSO column must not unassign every CSO)."""
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
    existing: dict[str, Any] = await store.rows_by_key(session, table, key_column, absent)
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


# --- what an import says ---------------------------------------------------------------------


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


def import_lines(
    outcome: RosterImport, *, strict: bool, dry_run: bool, strict_name: str = "strict"
) -> list[str]:
    """What an operator reads of an import: the sheets, each rejected row and why, and what
    changed (`strict_name`: what the caller calls the strict option, `--strict` on the CLI)."""
    report = outcome.report
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
        lines.append(f"{strict_name}: nothing imported ({good} were good)")
    elif outcome.changes is None:
        lines.append("nothing to import")
    else:
        changes = outcome.changes
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
    return lines
