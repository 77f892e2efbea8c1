"""Inbox: what a consumer has handled, recorded in the same transaction as the effect, so a
redelivered event (same event_id) changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.envelope import Envelope


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Inbox:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def record_new(
        self, session: AsyncSession, envelopes: Sequence[Envelope], topic: str
    ) -> set[uuid.UUID]:
        """Records the events as handled, in one statement; returns the ids seen for the first
        time (handle those, skip the rest)."""
        rows = {
            e.event_id: {"event_id": e.event_id, "topic": topic, "event_type": e.type}
            for e in envelopes
        }
        if not rows:
            return set()
        result = await session.execute(
            insert(self.table)
            .values(list(rows.values()))
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.table.c.event_id)
        )
        return set(result.scalars())
