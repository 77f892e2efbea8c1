"""Status changes heard before their appeal's receipt (notify.waiting_events): who they concern
is known only from the receipt, so they wait here and are decided when it comes."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import any_, bindparam, delete
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.tables import waiting_events
from shared.unit_of_work import UnitOfWork

PARK = insert(waiting_events)
UNPARK_MANY = (
    delete(waiting_events)
    .where(waiting_events.c.appeal_id == any_(bindparam("ids", type_=ARRAY(PgUUID(as_uuid=True)))))
    .returning(waiting_events.c.seq, waiting_events.c.appeal_id, waiting_events.c.envelope)
)


async def park(session: AsyncSession, appeal_id: UUID, envelope_json: str) -> None:
    await session.execute(PARK, [{"appeal_id": appeal_id, "envelope": envelope_json}])


async def unpark_many(session: AsyncSession, appeal_ids: Collection[UUID]) -> dict[UUID, list[str]]:
    """The envelopes that waited for these appeals' receipts, each appeal's in the order they
    came; removed, in one statement."""
    found: dict[UUID, list[str]] = {appeal_id: [] for appeal_id in appeal_ids}
    if not found:
        return found
    rows = (await session.execute(UNPARK_MANY, {"ids": sorted(found)})).all()
    for row in sorted(rows, key=lambda row: row.seq):
        found[row.appeal_id].append(row.envelope)
    return found


class Waiting:
    """A unit of work's parking and unparking: a batch's receipts take what waited for them in
    one go (`take`, from the consumer's prepare), then each receipt's handler gets its own."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._taken: dict[UUID, list[str]] = {}

    async def take(self, appeal_ids: Collection[UUID]) -> None:
        """Removes what waited for these appeals, keeping it for `unpark`."""
        fresh = set(appeal_ids) - set(self._taken)
        self._taken.update(await unpark_many(self.session, fresh))

    async def park(self, appeal_id: UUID, envelope_json: str) -> None:
        if appeal_id in self._taken:
            # This unit of work already took what waits for the appeal (its receipt is in the
            # batch, later): the receipt takes this too, as it would have from the table.
            self._taken[appeal_id].append(envelope_json)
            return
        await park(self.session, appeal_id, envelope_json)

    async def unpark(self, appeal_id: UUID) -> list[str]:
        """The envelopes that waited for this appeal's receipt, in the order they came; removed
        (what is parked after this goes to the table again)."""
        if appeal_id not in self._taken:
            await self.take([appeal_id])
        return self._taken.pop(appeal_id)


def waiting(uow: UnitOfWork) -> Waiting:
    """The unit of work's parking and unparking (one per unit of work: a batch shares it)."""
    return uow.attached(Waiting, lambda: Waiting(uow.session))
