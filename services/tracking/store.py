"""Tracking's tables (schema `tracking`): appeal records and their append-only history, and its
own copy of the directory's officers (who they are, which unit), followed from
`directory.changes`: tracking never reads dispatch's tables."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
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

from services.tracking.alarms import DeadlineMarks, next_fire_at
from services.tracking.deadlines import Dimension, Limit, Rule, Stage, StageDeadline
from services.tracking.lifecycle import AppealState
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
    # Server defaults: lock_appeal inserts a bare placeholder row with only the id.
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
# The lifecycle's state besides status and officer_id (which the record carries).
STATE_COLUMNS = [f.name for f in fields(AppealState) if f.name not in ("status", "officer_id")]


@dataclass(frozen=True)
class LockedAppeal:
    record: AppealRecord
    state: AppealState
    row: Any  # the whole row (milestones and the like), as read under the lock


async def lock_appeal(session: AsyncSession, appeal_id: UUID) -> LockedAppeal:
    """The record and its lifecycle state, locked for this transaction; created empty if
    tracking has not seen the appeal. Two events of one appeal, handled at once, take turns.
    Everything that changes an appeal or its deadlines holds this lock, so the deadline
    scheduler, the consumers and the officers' actions never cross."""
    # One statement: the no-op update on conflict locks the existing row and returns it.
    statement = insert(appeals).values(appeal_id=appeal_id)
    statement = statement.on_conflict_do_update(
        index_elements=["appeal_id"], set_={"appeal_id": statement.excluded.appeal_id}
    ).returning(*appeals.c)
    row = (await session.execute(statement)).one()
    return LockedAppeal(record_from_row(row), state_from_row(row), row)


async def appeal_known(session: AsyncSession, appeal_id: UUID) -> bool:
    """Tracking has heard of the appeal (more than a placeholder)."""
    status = await session.scalar(select(appeals.c.status).where(appeals.c.appeal_id == appeal_id))
    return status is not None


def record_from_row(row: Any) -> AppealRecord:
    values: dict[str, Any] = {name: getattr(row, name) for name in RECORD_COLUMNS}
    values["status"] = None if row.status is None else AppealStatus(row.status)
    values["classified_by"] = dict(row.classified_by)
    values["submissions"] = tuple(submission_from_json(s) for s in row.submissions)
    values["assistant_officer_ids"] = tuple(row.assistant_officer_ids)
    decision = row.last_return_decision
    values["last_return_decision"] = None if decision is None else decision_from_json(decision)
    return AppealRecord(appeal_id=str(row.appeal_id), **values)


def state_from_row(row: Any) -> AppealState:
    """A placeholder row (status NULL) is an appeal that is, as far as the lifecycle goes,
    received."""
    values: dict[str, Any] = {name: getattr(row, name) for name in STATE_COLUMNS}
    values["follow_up_refs"] = tuple(row.follow_up_refs)
    before = row.status_before_return
    values["status_before_return"] = None if before is None else AppealStatus(before)
    return AppealState(
        status=AppealStatus(row.status) if row.status else AppealStatus.RECEIVED,
        officer_id=row.officer_id,
        **values,
    )


async def save_appeal(
    session: AsyncSession,
    record: AppealRecord,
    state: AppealState,
    **milestones: Any,
) -> None:
    """The record, the lifecycle's state and any milestone columns (`accepted_at=…`). The
    status and the officer are the lifecycle's: it is the one authority on them."""
    # Field by field, not asdict(): submissions go to JSONB as plain JSON (ISO times).
    values: dict[str, Any] = {name: getattr(record, name) for name in RECORD_COLUMNS}
    values["classified_by"] = dict(record.classified_by)
    values["submissions"] = [submission_to_json(s) for s in record.submissions]
    values["assistant_officer_ids"] = list(record.assistant_officer_ids)
    decision = record.last_return_decision
    values["last_return_decision"] = None if decision is None else decision_to_json(decision)
    values.update({name: getattr(state, name) for name in STATE_COLUMNS})
    values["follow_up_refs"] = list(state.follow_up_refs)
    values["status"] = state.status.value
    values["officer_id"] = state.officer_id
    await session.execute(
        appeals.update()
        .where(appeals.c.appeal_id == UUID(record.appeal_id))
        .values(**values, **milestones, updated_at=func.now())
    )


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


# --- deadlines -------------------------------------------------------------------------------
# Callers hold the appeal's lock (lock_appeal) while they change its deadlines.

OFFICER_STAGES = (Stage.ACKNOWLEDGE, Stage.FIRST_CONTACT, Stage.RESOLVE)


def marks_of(row: Any) -> DeadlineMarks:
    return DeadlineMarks(
        stage=Stage(row.stage),
        start_at=row.start_at,
        due_at=row.due_at,
        warn_at=row.warn_at,
        public_notice_at=row.public_notice_at,
        met_at=row.met_at,
        reminders_sent=row.reminders_sent,
        warned_at=row.warned_at,
        urged_at=row.urged_at,
        noticed_at=row.noticed_at,
    )


def stage_deadline_of(row: Any) -> StageDeadline:
    """Back from the row, enough to extend it (the candidates that lost are not kept)."""
    rule = Rule(Dimension(row.rule_dimension), row.rule_value, Limit.parse(row.rule_limit))
    return StageDeadline(
        stage=Stage(row.stage),
        start=row.start_at,
        start_basis=row.start_basis,
        due_at=row.due_at,
        rule=rule,
        candidates=(),
        warn_at=row.warn_at,
        public_notice_at=row.public_notice_at,
        capped_by=Stage(row.capped_by) if row.capped_by else None,
    )


async def deadlines_of(
    session: AsyncSession, appeal_id: UUID, *, due_by: datetime | None = None
) -> dict[Stage, Any]:
    query = select(deadlines).where(deadlines.c.appeal_id == appeal_id)
    if due_by is not None:
        query = query.where(deadlines.c.next_fire_at <= due_by)
    rows = (await session.execute(query.order_by(deadlines.c.due_at))).all()
    return {Stage(r.stage): r for r in rows}


async def put_deadlines(
    session: AsyncSession,
    appeal_id: UUID,
    stage_deadlines: list[StageDeadline],
    *,
    reminder_every: timedelta,
) -> None:
    """Sets (or starts afresh) stages' deadlines, in one statement: nothing met, nothing
    fired."""
    if not stage_deadlines:
        return
    rows = []
    for deadline in stage_deadlines:
        marks = DeadlineMarks(
            stage=deadline.stage,
            start_at=deadline.start,
            due_at=deadline.due_at,
            warn_at=deadline.warn_at,
            public_notice_at=deadline.public_notice_at,
        )
        rows.append(
            {
                "appeal_id": appeal_id,
                "stage": deadline.stage.value,
                "start_at": deadline.start,
                "start_basis": deadline.start_basis,
                "due_at": deadline.due_at,
                "warn_at": deadline.warn_at,
                "public_notice_at": deadline.public_notice_at,
                "rule_dimension": deadline.rule.dimension.value,
                "rule_value": deadline.rule.value,
                "rule_limit": str(deadline.rule.limit),
                "capped_by": deadline.capped_by.value if deadline.capped_by else None,
                "reason": deadline.reason[:1000],
                "extensions": [],
                "met_at": None,
                "reminders_sent": 0,
                "warned_at": None,
                "urged_at": None,
                "noticed_at": None,
                "next_fire_at": next_fire_at(marks, reminder_every),
            }
        )
    statement = insert(deadlines).values(rows)
    fresh = [k for k in rows[0] if k not in ("appeal_id", "stage")]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["appeal_id", "stage"],
            set_={**{k: statement.excluded[k] for k in fresh}, "updated_at": func.now()},
        )
    )


def officer_due(stage_deadlines: list[StageDeadline]) -> tuple[datetime | None, str | None]:
    """The nearest of the officer's stages among fresh deadlines (what refresh_due would find
    right after they were set, without asking the database)."""
    own = [d for d in stage_deadlines if d.stage in OFFICER_STAGES]
    if not own:
        return None, None
    nearest = min(own, key=lambda d: d.due_at)
    return nearest.due_at, nearest.stage.value


async def save_marks(
    session: AsyncSession, appeal_id: UUID, marks: DeadlineMarks, *, reminder_every: timedelta
) -> None:
    await session.execute(
        deadlines.update()
        .where(deadlines.c.appeal_id == appeal_id, deadlines.c.stage == marks.stage.value)
        .values(
            reminders_sent=marks.reminders_sent,
            warned_at=marks.warned_at,
            urged_at=marks.urged_at,
            noticed_at=marks.noticed_at,
            next_fire_at=next_fire_at(marks, reminder_every),
            updated_at=func.now(),
        )
    )


async def meet_deadline(session: AsyncSession, appeal_id: UUID, stage: Stage, at: datetime) -> None:
    """The stage is done (the first time counts); nothing more fires for it."""
    await session.execute(
        deadlines.update()
        .where(
            deadlines.c.appeal_id == appeal_id,
            deadlines.c.stage == stage.value,
            deadlines.c.met_at.is_(None),
        )
        .values(met_at=at, next_fire_at=None, updated_at=func.now())
    )


async def cancel_deadlines(session: AsyncSession, appeal_id: UUID) -> None:
    """A closed appeal: nothing more fires."""
    await session.execute(
        deadlines.update()
        .where(deadlines.c.appeal_id == appeal_id, deadlines.c.next_fire_at.is_not(None))
        .values(next_fire_at=None, updated_at=func.now())
    )


async def refresh_due(session: AsyncSession, appeal_id: UUID) -> None:
    """The appeal's `due_at`/`due_stage`: its officer's nearest unmet deadline (the queue sorts
    on it); none once resolved or closed."""
    nearest = (
        select(deadlines.c.due_at, deadlines.c.stage)
        .where(
            deadlines.c.appeal_id == appeal_id,
            deadlines.c.met_at.is_(None),
            deadlines.c.stage.in_([s.value for s in OFFICER_STAGES]),
        )
        .order_by(deadlines.c.due_at)
        .limit(1)
    )
    row = (await session.execute(nearest)).first()
    await session.execute(
        appeals.update()
        .where(appeals.c.appeal_id == appeal_id)
        .values(due_at=row.due_at if row else None, due_stage=row.stage if row else None)
    )


async def due_appeal_ids(session: AsyncSession, now: datetime, limit: int) -> list[UUID]:
    """Appeals with a deadline to fire by `now`, each locked for this transaction; appeals
    another transaction holds (another replica's scheduler, a consumer, an officer) are
    skipped, not waited for: they will be due again at the next round."""
    due = (
        select(deadlines.c.appeal_id)
        .where(deadlines.c.next_fire_at <= now)
        .order_by(deadlines.c.next_fire_at)
        .limit(limit)
    )
    rows = await session.execute(
        select(appeals.c.appeal_id)
        .where(appeals.c.appeal_id.in_(due.scalar_subquery()))
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


async def officer_row(session: AsyncSession, officer_id: str | None) -> Any:
    if officer_id is None:
        return None
    return (
        await session.execute(select(officers).where(officers.c.officer_id == officer_id))
    ).first()


async def extend_deadline(
    session: AsyncSession,
    appeal_id: UUID,
    extended: StageDeadline,
    *,
    extension: dict[str, Any],
    now: datetime,
    reminder_every: timedelta,
) -> None:
    """Moves a deadline (an extension granted): its instants move, what is now in the future
    may fire again, and the extension is kept with its reason."""
    row = (await deadlines_of(session, appeal_id))[extended.stage]
    marks = replace(
        marks_of(row),
        due_at=extended.due_at,
        warn_at=extended.warn_at,
        public_notice_at=extended.public_notice_at,
        warned_at=row.warned_at if extended.warn_at <= now else None,
        urged_at=row.urged_at if extended.due_at <= now else None,
        noticed_at=row.noticed_at if extended.public_notice_at <= now else None,
    )
    reason = f"{row.reason}; extended by {extension['working_days']} working days"
    await session.execute(
        deadlines.update()
        .where(deadlines.c.appeal_id == appeal_id, deadlines.c.stage == extended.stage.value)
        .values(
            due_at=marks.due_at,
            warn_at=marks.warn_at,
            public_notice_at=marks.public_notice_at,
            warned_at=marks.warned_at,
            urged_at=marks.urged_at,
            noticed_at=marks.noticed_at,
            reason=reason[:1000],
            extensions=[*row.extensions, extension],
            next_fire_at=next_fire_at(marks, reminder_every) if row.met_at is None else None,
            updated_at=func.now(),
        )
    )


async def pending_extension(session: AsyncSession, appeal_id: UUID) -> Any:
    return (
        await session.execute(
            select(extensions).where(
                extensions.c.appeal_id == appeal_id, extensions.c.status == "pending"
            )
        )
    ).first()


async def add_extension(
    session: AsyncSession,
    *,
    appeal_id: UUID,
    stage: Stage,
    working_days: int,
    reason: str,
    requested_by: str,
    requested_at: datetime,
    due_at: datetime,
) -> int:
    return int(
        await session.scalar(
            insert(extensions)
            .values(
                appeal_id=appeal_id,
                stage=stage.value,
                working_days=working_days,
                reason=reason,
                requested_by=requested_by,
                requested_at=requested_at,
                status="pending",
                previous_due_at=due_at,
            )
            .returning(extensions.c.id)
        )
    )


async def decide_extension(
    session: AsyncSession,
    extension_id: int,
    *,
    status: str,
    decided_by: str,
    decided_at: datetime,
    note: str,
    new_due_at: datetime,
) -> None:
    await session.execute(
        extensions.update()
        .where(extensions.c.id == extension_id)
        .values(
            status=status,
            decided_by=decided_by,
            decided_at=decided_at,
            note=note,
            new_due_at=new_due_at,
        )
    )
