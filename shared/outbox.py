"""Transactional outbox: events are written in the same transaction as the state they describe
(through a unit of work, shared/unit_of_work.py), and a relay (shared/relay.py) publishes them
afterwards. Nothing is published that was not committed, and nothing committed is lost; a crash
between publish and delete republishes (consumers dedupe on event_id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from shared.broker import headers_for
from shared.envelope import Envelope


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", LargeBinary, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


@dataclass(frozen=True)
class OutboxRow:
    """One event on its way into the outbox. Its headers are taken when it is published (they
    carry the trace context current then), its row is written with the rest of its unit of
    work's."""

    envelope: Envelope
    topic: str
    headers: dict[str, str]

    @classmethod
    def of(cls, envelope: Envelope, topic: str) -> OutboxRow:
        return cls(envelope, topic, headers_for(envelope))

    def values(self) -> dict[str, Any]:
        envelope = self.envelope
        return {
            "event_id": envelope.event_id,
            "topic": self.topic,
            "key": envelope.key,
            "value": envelope.to_bytes(),
            "headers": self.headers,
        }


class Outbox:
    """Where a unit of work puts the events it causes."""

    def __init__(self, table: Table) -> None:
        self.table = table
        # One statement whatever the number of rows: executemany turns it into a pipelined
        # batch of one prepared statement (one round trip), not a statement text per row count.
        self._insert = insert(self.table)

    async def put_all(self, session: AsyncSession, rows: Sequence[OutboxRow]) -> None:
        if rows:
            await session.execute(self._insert, [row.values() for row in rows])


@dataclass(frozen=True)
class Backlog:
    """What an outbox holds right now: rows not yet published, and how long the oldest waited."""

    rows: int
    oldest_s: float


async def backlog_of(session: AsyncSession, table: Table) -> Backlog:
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.extract("epoch", func.now() - func.min(table.c.created_at)), 0),
            ).select_from(table)
        )
    ).one()
    return Backlog(int(row[0]), max(float(row[1]), 0.0))
