"""Inbox: what a consumer has handled, recorded in the same transaction as the effect, so a
redelivered event (same event_id) changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Column, DateTime, MetaData, String, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
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
        # Built once, the same text whatever the batch's size: one prepared statement.
        ids = bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
        topics = bindparam("topics", type_=ARRAY(String()))
        types = bindparam("types", type_=ARRAY(String()))
        rows = select(
            func.unnest(ids).label("event_id"),
            func.unnest(topics).label("topic"),
            func.unnest(types).label("event_type"),
        )
        self._record = (
            insert(table)
            .from_select(["event_id", "topic", "event_type"], rows)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(table.c.event_id)
        )

    async def record_new(
        self, session: AsyncSession, envelopes: Sequence[Envelope], topics: Sequence[str]
    ) -> set[uuid.UUID]:
        """Records the events as handled, each with the topic (logical) it came on, in one
        statement; returns the ids seen for the first time (handle those, skip the rest)."""
        rows: dict[uuid.UUID, tuple[str, str]] = {}
        for envelope, topic in zip(envelopes, topics, strict=True):
            rows.setdefault(envelope.event_id, (topic, envelope.type))
        if not rows:
            return set()
        values = list(rows.values())
        result = await session.execute(
            self._record,
            {
                "ids": list(rows),
                "topics": [topic for topic, _ in values],
                "types": [kind for _, kind in values],
            },
        )
        return set(result.scalars())
