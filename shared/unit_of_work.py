"""The unit of work: one transaction and the events it causes. What is done with `uow.session`
and what is `uow.publish`ed commit together (the events go into the service's outbox, in the same
transaction); once it has committed, the outbox relay is woken so they leave at once. Every route,
consumer and background worker changes state through one of these, so "commit, then publish"
has no second way to be written (and no way to be forgotten)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.envelope import Envelope
from shared.events import Event
from shared.outbox import Outbox


class UnitOfWork:
    """What a change holds while it is being made: the session and the events it puts out."""

    def __init__(self, session: AsyncSession, outbox: Outbox, producer: str) -> None:
        self.session = session
        self.producer = producer
        self._outbox = outbox
        self.published: list[Envelope] = []
        self.committed_callbacks: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Calls `callback` once this unit of work has committed (never if it rolls back): a
        worker woken for the rows just written, say."""
        if callback not in self.committed_callbacks:
            self.committed_callbacks.append(callback)

    async def publish(self, event: Event, *, correlation_id: str) -> Envelope:
        """Puts `event` into the outbox, in this transaction: it is published only if, and
        once, the transaction commits."""
        envelope = event.envelope(correlation_id=correlation_id, producer=self.producer)
        await self._outbox.put(self.session, envelope, event.TOPIC)
        self.published.append(envelope)
        return envelope

    async def republish(self, envelope: Envelope, topic: str) -> None:
        """Puts an envelope made elsewhere (a receipt for an adapter's own message) into the
        outbox, as `publish` does."""
        await self._outbox.put(self.session, envelope, topic)
        self.published.append(envelope)


class UnitsOfWork:
    """Makes units of work for one service: its database, its outbox, its relay's wake."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        *,
        producer: str,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.producer = producer
        self._after_commit = after_commit

    @classmethod
    def of(cls, db: Database, metadata: MetaData, *, producer: str) -> UnitsOfWork:
        """A service's units of work outside the service (the CLI, setup steps): its outbox is
        published by the running service's relay at its next poll."""
        return cls(db, Outbox(metadata.tables[f"{metadata.schema}.outbox"]), producer=producer)

    @asynccontextmanager
    async def begin(self, *, snapshot: bool = False) -> AsyncIterator[UnitOfWork]:
        """A transaction: commits when the block ends, rolls back when it raises. `snapshot`:
        every statement sees the same snapshot (REPEATABLE READ), for a change decided from
        several reads that must agree."""
        async with self.db.transaction(snapshot=snapshot) as session:
            uow = UnitOfWork(session, self.outbox, self.producer)
            yield uow
        if uow.published and self._after_commit is not None:
            self._after_commit()
        for callback in uow.committed_callbacks:
            callback()
