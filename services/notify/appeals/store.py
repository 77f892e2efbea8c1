"""Notify's copy of each appeal (notify.appeals): the appeal events arrive in any order, and each
fills what it knows and leaves the rest.

A consumer's batch goes through `AppealCopies`, one per unit of work (`copies(uow)`): the batch's
appeals are locked and read in one statement (`load`, from the consumer's prepare), the
handlers' reads are answered from memory (what earlier messages of the batch changed included),
and the changes are written at the end of the unit of work, one statement per kind of change for
the whole batch.
The writes merge in SQL as they did one at a time (a column the event does not know is left as
it is, an older assignment does not win), so another consumer changing the same appeal at the
same time loses nothing."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.appeals.facts import AppealFacts
from services.notify.tables import appeals
from shared.unit_of_work import UnitOfWork

# --- statements, built once -------------------------------------------------------------------

_FACTS = (
    appeals.c.appeal_id,
    appeals.c.tracking_code,
    appeals.c.channel,
    appeals.c.external_id,
    appeals.c.anonymous,
    appeals.c.appellant_name,
    appeals.c.appellant_phone,
    appeals.c.urgency,
    appeals.c.officer_id,
    appeals.c.assistant_officer_ids,
    appeals.c.enterprise_credit_code,
    appeals.c.assigned_at,
)


def _lock_many() -> Any:
    # A bare row for an appeal not heard of (the rules take it as they take none: nothing
    # known), and the no-op update on conflict locks the rows that exist; either way the row is
    # this transaction's until it ends, and it comes back as the latest commit left it. So two
    # consumers' batches that share an appeal take turns: a status change parked by one is seen
    # by the other's receipt, or the receipt by the status change. The ids come sorted: shared
    # rows are locked in the same order.
    upsert = insert(appeals).from_select(
        ["appeal_id"],
        select(func.unnest(bindparam("ids", type_=ARRAY(PgUUID(as_uuid=True))))),
    )
    return upsert.on_conflict_do_update(
        index_elements=["appeal_id"], set_={"appeal_id": upsert.excluded.appeal_id}
    ).returning(*_FACTS)


LOCK_MANY = _lock_many()

# What a receipt knows: a value it does not know (None) leaves the copy's as it was.
RECEIVED_COLUMNS = (
    "tracking_code",
    "channel",
    "external_id",
    "anonymous",
    "appellant_name",
    "appellant_phone",
    "urgency",
    "enterprise_credit_code",
)


def _received() -> Any:
    statement = insert(appeals)
    return statement.on_conflict_do_update(
        index_elements=["appeal_id"],
        set_={
            **{c: func.coalesce(statement.excluded[c], appeals.c[c]) for c in RECEIVED_COLUMNS},
            "updated_at": func.now(),
        },
    )


def _assigned() -> Any:
    statement = insert(appeals)
    return statement.on_conflict_do_update(
        index_elements=["appeal_id"],
        set_={
            "officer_id": statement.excluded.officer_id,
            "assigned_at": statement.excluded.assigned_at,
            "tracking_code": func.coalesce(
                appeals.c.tracking_code, statement.excluded.tracking_code
            ),
            "updated_at": func.now(),
        },
        where=or_(
            appeals.c.assigned_at.is_(None),
            appeals.c.assigned_at <= statement.excluded.assigned_at,
        ),
    )


def _assistants() -> Any:
    statement = insert(appeals)
    return statement.on_conflict_do_update(
        index_elements=["appeal_id"],
        set_={
            "assistant_officer_ids": statement.excluded.assistant_officer_ids,
            "updated_at": func.now(),
        },
    )


# Each run once per batch with all its rows (executemany: one prepared statement, pipelined, the
# rows applied in order as if one at a time).
SAVE_RECEIVED = _received()
SAVE_ASSIGNED = _assigned()
SAVE_ASSISTANTS = _assistants()


def _facts_of(row: Any) -> AppealFacts:
    return AppealFacts(
        appeal_id=row.appeal_id,
        tracking_code=row.tracking_code,
        channel=row.channel,
        external_id=row.external_id,
        anonymous=row.anonymous,
        appellant_name=row.appellant_name,
        appellant_phone=row.appellant_phone,
        urgency=row.urgency,
        officer_id=row.officer_id,
        assistant_officer_ids=tuple(row.assistant_officer_ids or ()),
        enterprise_credit_code=row.enterprise_credit_code,
    )


# --- a batch ----------------------------------------------------------------------------------


class AppealCopies:
    """A unit of work's view of notify's appeal copies: read (and locked) once per batch,
    changed in memory as the batch's events say, written at `flush`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._facts: dict[UUID, AppealFacts] = {}
        self._assigned_at: dict[UUID, datetime | None] = {}
        self._received: list[dict[str, Any]] = []
        self._assigned: list[dict[str, Any]] = []
        self._assistants: list[dict[str, Any]] = []

    async def load(self, appeal_ids: Collection[UUID]) -> None:
        """Locks and reads, in one statement, the appeals not read yet (a bare row made for
        one not heard of)."""
        ids = sorted(set(appeal_ids) - set(self._facts))
        if not ids:
            return
        for row in await self.session.execute(LOCK_MANY, {"ids": ids}):
            self._facts[row.appeal_id] = _facts_of(row)
            self._assigned_at[row.appeal_id] = row.assigned_at

    async def facts(self, appeal_id: UUID) -> AppealFacts:
        """What notify knows of the appeal, this batch's changes included (nothing, for one it
        never heard of)."""
        if appeal_id not in self._facts:
            await self.load([appeal_id])
        return self._facts[appeal_id]

    async def received(self, appeal_id: UUID, **known: Any) -> None:
        """What a receipt tells (RECEIVED_COLUMNS): a None leaves the copy's value."""
        row = {c: known.get(c) for c in RECEIVED_COLUMNS}
        # As the table gives them back: an enum's value as a plain string.
        fill: dict[str, Any] = {
            k: str(v) if isinstance(v, str) else v for k, v in row.items() if v is not None
        }
        self._facts[appeal_id] = replace(await self.facts(appeal_id), **fill)
        self._received.append({"appeal_id": appeal_id, **row})

    async def assigned(
        self, appeal_id: UUID, officer_id: str, assigned_at: datetime, tracking_code: str | None
    ) -> None:
        """The officer now responsible; an older assignment heard late does not undo a newer
        one."""
        current = await self.facts(appeal_id)
        since = self._assigned_at.get(appeal_id)
        if since is None or since <= assigned_at:
            self._facts[appeal_id] = replace(
                current,
                officer_id=officer_id,
                tracking_code=current.tracking_code or tracking_code,
            )
            self._assigned_at[appeal_id] = assigned_at
        self._assigned.append(
            {
                "appeal_id": appeal_id,
                "officer_id": officer_id,
                "assigned_at": assigned_at,
                "tracking_code": tracking_code,
            }
        )

    async def assistants(self, appeal_id: UUID, officer_ids: Collection[str]) -> None:
        ids = list(officer_ids)
        self._facts[appeal_id] = replace(
            await self.facts(appeal_id), assistant_officer_ids=tuple(ids)
        )
        self._assistants.append({"appeal_id": appeal_id, "assistant_officer_ids": ids})

    async def flush(self) -> None:
        """Writes the batch's changes: one statement per kind of change."""
        for statement, rows in (
            (SAVE_RECEIVED, self._received),
            (SAVE_ASSIGNED, self._assigned),
            (SAVE_ASSISTANTS, self._assistants),
        ):
            if rows:
                await self.session.execute(statement, rows)
                rows.clear()


def copies(uow: UnitOfWork) -> AppealCopies:
    """The unit of work's appeal copies (one per unit of work: a batch shares them)."""
    return uow.attached(AppealCopies, lambda: AppealCopies(uow.session))
