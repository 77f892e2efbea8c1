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
    Boolean,
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
    # The appellant's name and phone: the officers on the appeal must call back. Every read of
    # them through the API is written to access_log. Empty when anonymous.
    Column("appellant_name", String(100)),
    Column("appellant_phone", String(32)),
    # The lifecycle's state (lifecycle.AppealState), besides `status` and `officer_id`.
    Column("anonymous", Boolean, nullable=False, server_default=text("false")),
    Column("contacted", Boolean, nullable=False, server_default=text("false")),
    Column("resolution", String(2000)),
    Column("reopen_count", Integer, nullable=False, server_default=text("0")),
    Column("escalated", Boolean, nullable=False, server_default=text("false")),
    Column("status_before_return", String(32)),
    Column("follow_up_refs", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("unreachable_count", Integer, nullable=False, server_default=text("0")),
    Column("closed_reason", String(16)),
    # When each step last happened (the rates and the queue read these).
    Column("accepted_at", DateTime(timezone=True)),
    Column("first_contacted_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    # The last conclusive follow-up (回访): the appellant answered (not `unreachable`).
    Column("followed_up_at", DateTime(timezone=True)),
    Column("follow_up_solved", Boolean),
    Column("follow_up_satisfaction", String(24)),
    # 不合理诉求: judged unreasonable after review, so left out of the rates.
    Column("unreasonable_at", DateTime(timezone=True)),
    Column("unreasonable_by", String(100)),
    Column("unreasonable_reason", String(1000)),
    # The officer's nearest unmet deadline (acknowledge, first contact or resolve): the queue
    # sorts on it. NULL when the officer has none (resolved, closed).
    Column("due_at", DateTime(timezone=True)),
    Column("due_stage", String(20)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_appeals_officer_queue", "officer_id", "assigned_at", "appeal_id"),
    Index("ix_appeals_assistants", "assistant_officer_ids", postgresql_using="gin"),
    Index("ix_appeals_received_at", "received_at"),
)

# One row per (appeal, stage): when it is due, by which rule, what has fired. The scheduler
# takes rows whose next_fire_at has come (FOR UPDATE SKIP LOCKED: with several replicas each
# row is fired by one), fires what is due and moves next_fire_at on, in one transaction.
deadlines = Table(
    "deadlines",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("stage", String(20), primary_key=True),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("start_basis", String(20), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("warn_at", DateTime(timezone=True), nullable=False),
    Column("public_notice_at", DateTime(timezone=True), nullable=False),
    Column("rule_dimension", String(16), nullable=False),
    Column("rule_value", String(40)),
    Column("rule_limit", String(40), nullable=False),
    Column("capped_by", String(20)),
    # For the history: "emergency: 2 hours (stricter than complaint: 15 working days)".
    Column("reason", String(1000), nullable=False),
    Column("extensions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("met_at", DateTime(timezone=True)),
    # What has fired; each fires once.
    Column("reminders_sent", Integer, nullable=False, server_default=text("0")),
    Column("warned_at", DateTime(timezone=True)),
    Column("urged_at", DateTime(timezone=True)),
    Column("noticed_at", DateTime(timezone=True)),
    # The next instant something fires; NULL when nothing is left (met, or all fired).
    Column("next_fire_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(
        "ix_deadlines_next_fire_at",
        "next_fire_at",
        postgresql_where=text("next_fire_at IS NOT NULL"),
    ),
)

# Extension requests (延期) and their rulings.
extensions = Table(
    "extensions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("stage", String(20), nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # pending, granted, refused
    Column("decided_by", String(100)),
    Column("decided_at", DateTime(timezone=True)),
    Column("note", String(1000)),
    Column("previous_due_at", DateTime(timezone=True)),
    Column("new_due_at", DateTime(timezone=True)),
    # One pending request per appeal.
    Index(
        "uq_extensions_pending",
        "appeal_id",
        unique=True,
        postgresql_where=text("status = 'pending'"),
    ),
)

# Who read an appellant's personal data (name, phone), when, of which appeal.
access_log = Table(
    "access_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("subject", String(100), nullable=False),  # the token's `sub`
    Column("roles", JSONB, nullable=False),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("fields", JSONB, nullable=False),  # ["name", "phone"]
    Column("route", String(200), nullable=False),
)

# The directory's enterprises and their chief service officers (EnterpriseChanged), for the
# monthly "five ones" (五个一).
enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("community", String(100)),
    Column("cso_officer_id", String(64), index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A CSO's contacts with an enterprise: visits (VisitLogged) and contacts recorded on appeals
# from that enterprise. `ref` makes each counted once.
cso_contacts = Table(
    "cso_contacts",
    metadata,
    Column("ref", String(100), primary_key=True),
    Column("officer_id", String(64), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("contacted_at", DateTime(timezone=True), nullable=False),
    Column("source", String(16), nullable=False),  # visit, appeal
    Index("ix_cso_contacts_officer_month", "officer_id", "contacted_at"),
)

# Five-ones reminders sent, one per CSO and month.
five_ones_reminders = Table(
    "five_ones_reminders",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),  # 2026-11
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

# Reports CSOs gave to the zone's party committee (who has reported this cycle), and the four
# proposed each month.
cso_reports = Table(
    "cso_reports",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
cso_proposals = Table(
    "cso_proposals",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("officer_ids", JSONB, nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
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
