"""Tracking's tables (schema `tracking`): appeal records and their append-only history, and its
own copy of the directory's officers (who they are, which unit), followed from
`directory.changes`: tracking never reads dispatch's tables."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.projection import AppealRecord, ReturnDecision, Submission
from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.vocabulary import AppealStatus

SCHEMA = "tracking"
metadata = service_metadata(SCHEMA)

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("status", String(32)),
    Column("tracking_code", String(32), index=True),
    Column("channel", String(32)),
    Column("appeal_type", String(16)),
    Column("category", String(40)),
    Column("urgency", String(16)),
    # Server defaults: lock_record inserts a bare placeholder row with only the id.
    Column("classified_by", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("times_raised", Integer, nullable=False, server_default=text("0")),
    # A short list per appeal (a handful of repeats), always read whole: JSONB, not a table.
    Column("submissions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("summary", String(200)),
    Column("community", String(100)),
    Column("enterprise_credit_code", String(18)),
    Column("phone_last4", String(4)),
    Column("received_at", DateTime(timezone=True)),
    Column("officer_id", String(64)),
    Column("assigned_at", DateTime(timezone=True)),
    Column("assignment_reason", String(500)),
    Column("assignment_reason_code", String(40)),
    # Assisting officers' ids (a handful), a JSON array: the GIN index finds an assistant's
    # appeals for their queue (`assistant_officer_ids @> '["cw-1"]'`).
    Column("assistant_officer_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("assistants_changed_at", DateTime(timezone=True)),
    Column("last_return_decision", JSONB),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_appeals_officer_queue", "officer_id", "assigned_at", "appeal_id"),
    Index("ix_appeals_assistants", "assistant_officer_ids", postgresql_using="gin"),
)

# Who each officer is, as the directory last said (OfficerChanged): enough to decide who may
# read what (a supervisor reads the queues and appeals of their unit's officers).
officers = Table(
    "officers",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(40), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("supervisor_id", String(64)),
    # When the directory changed the officer (the event's time), not when tracking heard it.
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

history = Table(
    "history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("status", String(32), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("note", String(1000)),
)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

RECORD_COLUMNS = [f.name for f in fields(AppealRecord) if f.name != "appeal_id"]


async def lock_record(session: AsyncSession, appeal_id: UUID) -> AppealRecord:
    """The record, locked for this transaction; created empty if tracking has not seen it.
    Insert-then-lock makes two events of one appeal, handled at once, take turns."""
    await session.execute(
        insert(appeals)
        .values(appeal_id=appeal_id)
        .on_conflict_do_nothing(index_elements=["appeal_id"])
    )
    row = (
        await session.execute(
            select(appeals).where(appeals.c.appeal_id == appeal_id).with_for_update()
        )
    ).one()
    values: dict[str, Any] = {name: getattr(row, name) for name in RECORD_COLUMNS}
    values["status"] = None if row.status is None else AppealStatus(row.status)
    values["classified_by"] = dict(row.classified_by)
    values["submissions"] = tuple(submission_from_json(s) for s in row.submissions)
    values["assistant_officer_ids"] = tuple(row.assistant_officer_ids)
    decision = row.last_return_decision
    values["last_return_decision"] = None if decision is None else decision_from_json(decision)
    return AppealRecord(appeal_id=str(appeal_id), **values)


def decision_to_json(d: ReturnDecision) -> dict[str, Any]:
    return {
        "officer_id": d.officer_id,
        "decision": d.decision,
        "decided_by": d.decided_by,
        "automatic": d.automatic,
        "note": d.note,
        "decided_at": d.decided_at.isoformat(),
    }


def decision_from_json(data: dict[str, Any]) -> ReturnDecision:
    return ReturnDecision(
        officer_id=data["officer_id"],
        decision=data["decision"],
        decided_by=data["decided_by"],
        automatic=bool(data.get("automatic", False)),
        note=data.get("note", ""),
        decided_at=datetime.fromisoformat(data["decided_at"]),
    )


def submission_to_json(s: Submission) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "channel": s.channel,
        "external_id": s.external_id,
        "at": s.at.isoformat(),
        "score": s.score,
        "reason": s.reason,
    }


def submission_from_json(data: dict[str, Any]) -> Submission:
    return Submission(
        kind=data["kind"],
        channel=data["channel"],
        external_id=data["external_id"],
        at=datetime.fromisoformat(data["at"]),
        score=data.get("score"),
        reason=data.get("reason"),
    )


async def save_record(session: AsyncSession, record: AppealRecord) -> None:
    # Field by field, not asdict(): submissions go to JSONB as plain JSON (ISO times).
    values: dict[str, Any] = {name: getattr(record, name) for name in RECORD_COLUMNS}
    values["classified_by"] = dict(record.classified_by)
    values["submissions"] = [submission_to_json(s) for s in record.submissions]
    values["assistant_officer_ids"] = list(record.assistant_officer_ids)
    decision = record.last_return_decision
    values["last_return_decision"] = None if decision is None else decision_to_json(decision)
    await session.execute(
        appeals.update()
        .where(appeals.c.appeal_id == UUID(record.appeal_id))
        .values(**values, updated_at=func.now())
    )


async def append_history(
    session: AsyncSession,
    *,
    appeal_id: UUID,
    event_id: UUID,
    kind: str,
    status: AppealStatus,
    occurred_at: Any,
    actor: str,
    note: str | None,
) -> None:
    await session.execute(
        insert(history)
        .values(
            appeal_id=appeal_id,
            event_id=event_id,
            kind=kind,
            status=status,
            occurred_at=occurred_at,
            actor=actor,
            note=note,
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )


async def history_of(session: AsyncSession, appeal_id: UUID) -> list[Any]:
    # Ordered by when things happened, not when tracking heard of them: the same for any
    # arrival order.
    return list(
        (
            await session.execute(
                select(history)
                .where(history.c.appeal_id == appeal_id)
                .order_by(history.c.occurred_at, history.c.id)
            )
        ).all()
    )


async def save_officer(
    session: AsyncSession,
    *,
    officer_id: str,
    name: str,
    role: str,
    unit: str,
    supervisor_id: str | None,
    changed_at: datetime,
) -> None:
    """Upserts the officer as of `changed_at`; an older change heard late is ignored."""
    values = {
        "name": name,
        "role": role,
        "unit": unit,
        "supervisor_id": supervisor_id,
        "updated_at": changed_at,
    }
    statement = insert(officers).values(officer_id=officer_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["officer_id"],
            set_={column: statement.excluded[column] for column in values},
            where=officers.c.updated_at <= statement.excluded.updated_at,
        )
    )


async def unit_of(session: AsyncSession, officer_id: str | None) -> str | None:
    """The officer's unit as tracking last heard it from the directory; None if unknown."""
    if officer_id is None:
        return None
    return await session.scalar(select(officers.c.unit).where(officers.c.officer_id == officer_id))
