"""Notify's copy of the directory (notify.officers, notify.enterprises): the contacts it reaches
officers by, their supervisors and pairs, and the enterprises' CSOs, as `directory.changes`
last told them.

A batch of appeal events reads it through `DirectoryCopy`, one per unit of work
(`directory(uow)`): the officers it names, and their supervisors, in one query (from the
consumer's prepare), and whatever else it asks for once each. A batch of directory changes
writes it through `DirectoryWrites` (`writes(uow)`), one statement per table."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import String, Table, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from services.notify.tables import enterprises, officers
from shared.unit_of_work import UnitOfWork


@cache
def _upsert_unless_older(table: Table, key: str, columns: tuple[str, ...]) -> Executable:
    """Upserts a row as of its `updated_at`; a change older than the one kept, heard late (the
    directory's events for one key stay in order, but a replay may bring an old one), is
    ignored. One statement per table and set of columns, built once."""
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[key],
        set_={column: statement.excluded[column] for column in columns if column != key},
        where=table.c.updated_at <= statement.excluded.updated_at,
    )


class DirectoryWrites:
    """A unit of work's directory changes, written when it ends: one statement per table for a
    batch of `directory.changes` (executemany: applied in order, as one at a time)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._rows: dict[Executable, list[dict[str, Any]]] = {}

    def _save(self, table: Table, key: str, changed_at: datetime, values: dict[str, Any]) -> None:
        row = {**values, "updated_at": changed_at}
        self._rows.setdefault(_upsert_unless_older(table, key, tuple(row)), []).append(row)

    def officer(self, changed_at: datetime, **values: Any) -> None:
        self._save(officers, "officer_id", changed_at, values)

    def enterprise(
        self, credit_code: str, cso_officer_id: str | None, changed_at: datetime
    ) -> None:
        self._save(
            enterprises,
            "credit_code",
            changed_at,
            {"credit_code": credit_code, "cso_officer_id": cso_officer_id},
        )

    async def flush(self) -> None:
        rows, self._rows = self._rows, {}
        for statement, values in rows.items():
            await self.session.execute(statement, values)


def writes(uow: UnitOfWork) -> DirectoryWrites:
    """The unit of work's directory changes (one per unit of work: a batch shares them)."""
    return uow.attached(DirectoryWrites, lambda: DirectoryWrites(uow.session))


# --- reads, built once ------------------------------------------------------------------------

_IDS = bindparam("ids", type_=ARRAY(String()))
# The officers named, and the supervisors of those officers (a SupervisorOf audience needs both).
OFFICERS_AND_SUPERVISORS = select(officers).where(
    or_(
        officers.c.officer_id == any_(_IDS),
        officers.c.officer_id.in_(
            select(officers.c.supervisor_id).where(officers.c.officer_id == any_(_IDS))
        ),
    )
)
OFFICER = select(officers).where(officers.c.officer_id == bindparam("officer_id"))
UNIT_SUPERVISORS = (
    select(officers.c.officer_id)
    .where(officers.c.unit == bindparam("unit"), officers.c.role == "supervisor")
    .order_by(officers.c.officer_id)
)
CSO_OF = select(enterprises.c.cso_officer_id).where(
    enterprises.c.credit_code == bindparam("credit_code")
)


async def officer(session: AsyncSession, officer_id: str | None) -> Any:
    if officer_id is None:
        return None
    return (await session.execute(OFFICER, {"officer_id": officer_id})).first()


async def unit_supervisors(session: AsyncSession, unit: str) -> list[str]:
    return list((await session.scalars(UNIT_SUPERVISORS, {"unit": unit})).all())


async def cso_of(session: AsyncSession, credit_code: str) -> str | None:
    cso: str | None = await session.scalar(CSO_OF, {"credit_code": credit_code})
    return cso


class DirectoryCopy:
    """The directory copy as one unit of work reads it: each row read once (a miss too)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._officers: dict[str, Any] = {}
        self._units: dict[str, list[str]] = {}
        self._csos: dict[str, str | None] = {}

    async def load(self, officer_ids: Collection[str | None]) -> None:
        """Reads, in one query, the officers not read yet and their supervisors."""
        ids = sorted({i for i in officer_ids if i} - set(self._officers))
        if not ids:
            return
        for row in await self.session.execute(OFFICERS_AND_SUPERVISORS, {"ids": ids}):
            self._officers[row.officer_id] = row
        for officer_id in ids:
            self._officers.setdefault(officer_id, None)

    async def officer(self, officer_id: str | None) -> Any:
        """The officer's row; None for None or an officer the copy does not have."""
        if officer_id is None:
            return None
        if officer_id not in self._officers:
            self._officers[officer_id] = await officer(self.session, officer_id)
        return self._officers[officer_id]

    async def unit_supervisors(self, unit: str) -> list[str]:
        if unit not in self._units:
            self._units[unit] = await unit_supervisors(self.session, unit)
        return self._units[unit]

    async def cso_of(self, credit_code: str) -> str | None:
        if credit_code not in self._csos:
            self._csos[credit_code] = await cso_of(self.session, credit_code)
        return self._csos[credit_code]


def directory(uow: UnitOfWork) -> DirectoryCopy:
    """The unit of work's directory reads (one per unit of work: a batch shares them)."""
    return uow.attached(DirectoryCopy, lambda: DirectoryCopy(uow.session))
