"""Transactional outbox: events are written in the same transaction as the state they describe
(through a unit of work, shared/unit_of_work.py), and a relay (shared/relay.py) publishes them
afterwards. Nothing is published that was not committed, and nothing committed is lost; a crash
between publish and delete republishes (consumers dedupe on event_id).
"""

from __future__ import annotations

from dataclasses import dataclass

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


class Outbox:
    """Where a unit of work puts the events it causes."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def put(self, session: AsyncSession, envelope: Envelope, topic: str) -> None:
        await session.execute(
            insert(self.table).values(
                event_id=envelope.event_id,
                topic=topic,
                key=envelope.key,
                value=envelope.to_bytes(),
                headers=headers_for(envelope),
            )
        )


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
