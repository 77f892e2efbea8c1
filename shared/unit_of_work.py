"""The unit of work: one transaction and the events it causes. What is done with `uow.session`
and what is `uow.publish`ed commit together (the events go into the service's outbox, in the same
transaction); once it has committed, the outbox relay is woken so they leave at once. Every route,
consumer and background worker changes state through one of these, so "commit, then publish"
has no second way to be written (and no way to be forgotten)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar, cast, runtime_checkable

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.envelope import Envelope
from shared.events import Event
from shared.outbox import Outbox, OutboxRow

T = TypeVar("T")


@runtime_checkable
class Flushing(Protocol):
    """Something a unit of work holds that writes what it kept back before the commit (a
    repository that stores a whole batch's changes in one statement per table)."""

    async def flush(self) -> None: ...


class UnitOfWork:
    """What a change holds while it is being made: the session and the events it puts out.

    Events are written to the outbox together, in one statement, when the unit of work ends
    (before its commit): a batch of a hundred messages costs one round trip for its events, not
    a hundred."""

    def __init__(self, session: AsyncSession, outbox: Outbox, producer: str) -> None:
        self.session = session
        self.producer = producer
        self._outbox = outbox
        self.published: list[Envelope] = []
        self._rows: list[OutboxRow] = []
        self._attached: dict[object, object] = {}
        self.committed_callbacks: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Calls `callback` once this unit of work has committed (never if it rolls back): a
        worker woken for the rows just written, say."""
        if callback not in self.committed_callbacks:
            self.committed_callbacks.append(callback)

    def attached(self, key: object, make: Callable[[], T]) -> T:
        """The object kept under `key` for this unit of work, made by `make` the first time: a
        repository that caches what it loaded for a batch. One with a `flush()` is flushed before
        the outbox, when the unit of work ends."""
        if key not in self._attached:
            self._attached[key] = make()
        return cast(T, self._attached[key])

    async def publish(self, event: Event, *, correlation_id: str) -> Envelope:
        """Puts `event` into the outbox, in this transaction: it is published only if, and
        once, the transaction commits."""
        envelope = event.envelope(correlation_id=correlation_id, producer=self.producer)
        self._rows.append(OutboxRow.of(envelope, event.TOPIC))
        self.published.append(envelope)
        return envelope

    async def republish(self, envelope: Envelope, topic: str) -> None:
        """Puts an envelope made elsewhere (a receipt for an adapter's own message) into the
        outbox, as `publish` does."""
        self._rows.append(OutboxRow.of(envelope, topic))
        self.published.append(envelope)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part that may fail on its own: when it raises, what it wrote is rolled back and
        what it published is forgotten; the rest of the unit of work goes on."""
        rows, published = len(self._rows), len(self.published)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._rows[rows:]
            del self.published[published:]
            raise

    async def flush(self) -> None:
        """Writes what was kept back: the attached repositories' changes, then the events."""
        for attached in list(self._attached.values()):
            if isinstance(attached, Flushing):
                await attached.flush()
        rows, self._rows = self._rows, []
        await self._outbox.put_all(self.session, rows)


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
            await uow.flush()
        if uow.published and self._after_commit is not None:
            self._after_commit()
        for callback in uow.committed_callbacks:
            callback()
