"""Loading a directory: an idempotent upsert that publishes what changed on directory.changes.

What a directory names must exist once it is loaded: an officer's `department_id` names a
department in the directory given or already in the tables; a duty post and a department's
`supervisor_id` name an officer likewise. A directory that breaks this is refused whole
(`DirectoryReferenceError`, nothing written); the roster importer reports such rows one by one
before it gets here, so only a caller building a Directory in code meets the error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import uuid4

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
from shared.unit_of_work import UnitOfWork, UnitsOfWork

# PostgreSQL takes at most 32,767 parameters per statement and an officer row has 15: upserts go
# in batches so a directory of any size loads (still in the caller's one transaction).
BATCH_SIZE = 1000
T = TypeVar("T")


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
