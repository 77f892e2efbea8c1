"""Appeals in Postgres. `PostgresAppeals` is the repository the workflow loads appeals from and
stores their changes through: the one writer of an appeal's row, its history, its deadlines and
its extension requests (tables.py), and of the events waiting for an appeal's receipt. The module's
plain functions are the reads the views make."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import and_, any_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from services.tracking.appeals.appeal import (
    Appeal,
    Change,
    ExtensionChange,
    Milestones,
    OfficerInfo,
    PendingExtension,
)
from services.tracking.appeals.lifecycle import AppealState
from services.tracking.appeals.record import AppealRecord, ReturnDecision, Submission
from services.tracking.deadlines.alarms import Deadline
from services.tracking.deadlines.policy import Dimension, Limit, Rule, Stage, StageDeadline
from services.tracking.five_ones.store import record_appeal_contact
from services.tracking.tables import (
    appeals,
    deadlines,
    extensions,
    history,
    officers,
    waiting_events,
)
from shared.envelope import Envelope
from shared.vocabulary import AppealStatus

RECORD_COLUMNS = [f.name for f in fields(AppealRecord) if f.name != "appeal_id"]
# The lifecycle's state besides status and officer_id (which the record carries).
STATE_COLUMNS = [f.name for f in fields(AppealState) if f.name not in ("status", "officer_id")]
MILESTONE_COLUMNS = [f.name for f in fields(Milestones)]


class AppealRepository(Protocol):
    """Where the workflow keeps appeals (Postgres here, a dict in the unit tests)."""

    async def lock(self, appeal_id: UUID, *, create: bool) -> Appeal | None:
        """The appeal, locked for this transaction (two changes of one appeal take turns).
        `create`: an appeal not heard of is made (a bare row to lock: an event about it may come
        before its receipt); otherwise None."""

    async def load(self, appeal_ids: Collection[UUID]) -> None:
        """Locks and loads a batch's appeals at once (bare rows made for those not heard of);
        from then on `lock` answers them from memory and `save` keeps their changes for
        `flush`, which writes them in one statement per table."""

    async def save(self, change: Change) -> None:
        """Stores what `change` did: the appeal, its history, deadlines and extensions."""

    async def park(self, appeal_id: UUID, topic: str, envelope: Envelope) -> None:
        """Keeps an event heard before the appeal's receipt."""

    async def unpark(self, appeal_id: UUID) -> list[tuple[str, Envelope]]:
        """The events kept for the appeal, in the order they came, and forgets them."""

    async def next_extension_id(self) -> int: ...

    async def due(self, now: datetime, limit: int) -> list[UUID]:
        """Appeals with an alarm due by `now`, locked; those another transaction holds are
        skipped (due again next round)."""

    async def set_aside(self, appeal_id: UUID, now: datetime, until: datetime) -> None:
        """The appeal's due alarms wait until `until` (they failed to fire)."""


# --- statements for a batch, built once ---------------------------------------------------------

_IDS = bindparam("ids", type_=ARRAY(PgUUID(as_uuid=True)))
_LEAD = (
    officers.c.supervisor_id.label("lead_supervisor_id"),
    officers.c.unit.label("lead_unit"),
)


def _lock_many() -> Executable:
    # The no-op update on conflict locks the rows that exist and returns them; the ids come
    # sorted, so two transactions lock shared rows in the same order.
    upsert = insert(appeals).from_select(["appeal_id"], select(func.unnest(_IDS)))
    locked = (
        upsert.on_conflict_do_update(
            index_elements=["appeal_id"], set_={"appeal_id": upsert.excluded.appeal_id}
        )
        .returning(*appeals.c)
        .cte("locked")
    )
    return select(locked, *_LEAD).outerjoin(officers, officers.c.officer_id == locked.c.officer_id)


LOCK_MANY = _lock_many()
DEADLINES_OF_MANY = select(deadlines).where(deadlines.c.appeal_id == any_(_IDS))
PENDING_OF_MANY = select(extensions).where(
    extensions.c.appeal_id == any_(_IDS), extensions.c.status == "pending"
)
WAITING_OF_MANY = (
    select(waiting_events.c.id, waiting_events.c.appeal_id, waiting_events.c.topic)
    .add_columns(waiting_events.c.envelope)
    .where(waiting_events.c.appeal_id == any_(_IDS))
    .order_by(waiting_events.c.id)
)
UNPARK_MANY = delete(waiting_events).where(
    waiting_events.c.id == any_(bindparam("ids", type_=ARRAY(waiting_events.c.id.type)))
)
PARK = insert(waiting_events)
HISTORY = insert(history).on_conflict_do_nothing(index_elements=["event_id"])
OFFICER = select(officers.c.supervisor_id, officers.c.unit).where(
    officers.c.officer_id == bindparam("officer_id")
)


@cache
def _update_appeal(columns: tuple[str, ...]) -> Executable:
    return (
        appeals.update()
        .where(appeals.c.appeal_id == bindparam("b_appeal_id"))
        .values({**{c: bindparam(c) for c in columns}, "updated_at": func.now()})
    )


@cache
def _upsert_deadlines(columns: tuple[str, ...]) -> Executable:
    statement = insert(deadlines)
    fresh = [c for c in columns if c not in ("appeal_id", "stage")]
    return statement.on_conflict_do_update(
        index_elements=["appeal_id", "stage"],
        set_={**{c: statement.excluded[c] for c in fresh}, "updated_at": func.now()},
    )


@dataclass
class _Batch:
    """What a batch loaded and what its changes wrote, until `flush`."""

    appeals: dict[UUID, Appeal] = field(default_factory=dict)
    # Each appeal's waiting events, in the order they came: (row id or None when parked in
    # this batch, topic, envelope).
    waiting: dict[UUID, list[tuple[int | None, str, Envelope]]] = field(default_factory=dict)
    rows: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    deadlines: dict[tuple[UUID, str], dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    parked: list[dict[str, Any]] = field(default_factory=list)
    unparked: list[int] = field(default_factory=list)


class PostgresAppeals:
    """Writes through, one statement per part of a change (routes, the scheduler); after
    `load` (a consumer's batch), keeps the batch's appeals in memory and writes their changes
    at `flush`, one statement per table for the whole batch."""

    def __init__(self, session: AsyncSession, *, reminder_every: timedelta) -> None:
        self.session = session
        self.reminder_every = reminder_every
        self._batch: _Batch | None = None

    # -- a batch

    async def load(self, appeal_ids: Collection[UUID]) -> None:
        batch = self._batch = self._batch or _Batch()
        ids = sorted(set(appeal_ids) - set(batch.appeals))
        if not ids:
            return
        rows = (await self.session.execute(LOCK_MANY, {"ids": ids})).all()
        stages: dict[UUID, dict[Stage, Deadline]] = {}
        for r in await self.session.execute(DEADLINES_OF_MANY, {"ids": ids}):
            stages.setdefault(r.appeal_id, {})[Stage(r.stage)] = deadline_of(r)
        pending = {
            r.appeal_id: pending_of(r)
            for r in await self.session.execute(PENDING_OF_MANY, {"ids": ids})
        }
        for r in await self.session.execute(WAITING_OF_MANY, {"ids": ids}):
            batch.waiting.setdefault(r.appeal_id, []).append(
                (r.id, r.topic, Envelope.model_validate(r.envelope))
            )
        for row in rows:
            batch.appeals[row.appeal_id] = appeal_of(
                row, stages.get(row.appeal_id, {}), pending.get(row.appeal_id)
            )

    async def flush(self) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            await self._write(batch)

    async def _write(self, writes: _Batch) -> None:
        """What a batch (or, writing through, one change) left to write: one statement per
        table."""
        if writes.rows:
            columns = tuple(next(iter(writes.rows.values())))
            rows = [{"b_appeal_id": k, **v} for k, v in writes.rows.items()]
            await self.session.execute(_update_appeal(columns), rows)
        if writes.deadlines:
            rows = list(writes.deadlines.values())
            await self.session.execute(_upsert_deadlines(tuple(rows[0])), rows)
        if writes.history:
            await self.session.execute(HISTORY, writes.history)
        if writes.parked:
            await self.session.execute(PARK, writes.parked)
        if writes.unparked:
            await self.session.execute(UNPARK_MANY, {"ids": writes.unparked})

    async def _officer(self, appeal: Appeal) -> Appeal:
        """An appeal whose lead changed earlier in the batch, with the new lead's directory
        entry (what a fresh lock would have joined)."""
        officer_id = appeal.state.officer_id
        if officer_id is None or (appeal.officer and appeal.officer.officer_id == officer_id):
            return appeal
        row = (await self.session.execute(OFFICER, {"officer_id": officer_id})).first()
        info = OfficerInfo(officer_id, row.supervisor_id, row.unit) if row else None
        return replace(appeal, officer=info) if info is not None else appeal

    # -- loading

    async def lock(self, appeal_id: UUID, *, create: bool) -> Appeal | None:
        batch = self._batch
        if batch is not None:
            if appeal_id not in batch.appeals:
                if not create:
                    # Nothing of this batch has written it: the database says what it is.
                    appeal = await self._lock_one(appeal_id, create=False)
                    if appeal is not None:
                        batch.appeals[appeal_id] = appeal
                    return appeal
                await self.load([appeal_id])
            batch.appeals[appeal_id] = await self._officer(batch.appeals[appeal_id])
            return batch.appeals[appeal_id]
        return await self._lock_one(appeal_id, create=create)

    async def _lock_one(self, appeal_id: UUID, *, create: bool) -> Appeal | None:
        lead = _LEAD
        if create:
            # One statement: the no-op update on conflict locks the existing row and returns it.
            upsert = insert(appeals).values(appeal_id=appeal_id)
            locked = (
                upsert.on_conflict_do_update(
                    index_elements=["appeal_id"], set_={"appeal_id": upsert.excluded.appeal_id}
                )
                .returning(*appeals.c)
                .cte("locked")
            )
            query = select(locked, *lead).outerjoin(
                officers, officers.c.officer_id == locked.c.officer_id
            )
        else:
            query = (
                select(appeals, *lead)
                .outerjoin(officers, officers.c.officer_id == appeals.c.officer_id)
                .where(appeals.c.appeal_id == appeal_id)
                .with_for_update(of=appeals)
            )
        row = (await self.session.execute(query)).first()
        if row is None:
            return None
        stages = await self.session.execute(
            select(deadlines).where(deadlines.c.appeal_id == appeal_id)
        )
        pending = (
            await self.session.execute(
                select(extensions).where(
                    extensions.c.appeal_id == appeal_id, extensions.c.status == "pending"
                )
            )
        ).first()
        return appeal_of(
            row,
            {Stage(r.stage): deadline_of(r) for r in stages},
            None if pending is None else pending_of(pending),
        )

    # -- storing

    async def save(self, change: Change) -> None:
        before, after = change.before, change.after
        appeal_id = after.appeal_id
        due_at, due_stage = after.due()
        row = None
        if (
            after.record != before.record
            or after.state != before.state
            or after.milestones != before.milestones
            or (due_at, due_stage) != before.due()
        ):
            row = {
                **appeal_values(after),
                "due_at": due_at,
                "due_stage": None if due_stage is None else due_stage.value,
            }
        status, was = after.state.status, before.state.status
        rows = []
        for stage, deadline in after.deadlines.items():
            old = before.deadlines.get(stage)
            fires = deadline.next_fire_at(status, self.reminder_every)
            if old == deadline and (old.next_fire_at(was, self.reminder_every) == fires):
                continue
            rows.append(deadline_values(appeal_id, deadline, fires))
        lines = [
            {
                "appeal_id": appeal_id,
                "event_id": line.entry_id,
                "kind": line.kind,
                "status": line.status.value,
                "occurred_at": line.at,
                "actor": line.actor,
                "note": line.note,
            }
            for line in change.history
        ]
        # In a batch, the last change of each row wins and the history keeps every line; writing
        # through, the change is a batch of its own.
        writes = self._batch or _Batch()
        writes.appeals[appeal_id] = after
        if row is not None:
            writes.rows[appeal_id] = row
        for values in rows:
            writes.deadlines[(appeal_id, values["stage"])] = values
        writes.history.extend(lines)
        if self._batch is None:
            await self._write(writes)
        await self._save_rest(appeal_id, change)

    async def _save_rest(self, appeal_id: UUID, change: Change) -> None:
        """Extensions and CSO contacts, rare: written at once in either mode."""
        for extension in change.extensions:
            await self._save_extension(appeal_id, extension)
        for contact in change.cso_contacts:
            await record_appeal_contact(
                self.session,
                ref=contact.ref,
                officer_id=contact.officer_id,
                credit_code=contact.credit_code,
                contacted_at=contact.contacted_at,
            )

    async def _save_extension(self, appeal_id: UUID, change: ExtensionChange) -> None:
        request = change.request
        if change.status == "pending":
            await self.session.execute(
                insert(extensions).values(
                    id=request.extension_id,
                    appeal_id=appeal_id,
                    stage=request.stage.value,
                    working_days=request.working_days,
                    reason=request.reason,
                    requested_by=request.requested_by,
                    requested_at=request.requested_at,
                    status="pending",
                    previous_due_at=request.previous_due_at,
                )
            )
            return
        await self.session.execute(
            extensions.update()
            .where(extensions.c.id == request.extension_id)
            .values(
                status=change.status,
                decided_by=change.decided_by,
                decided_at=change.decided_at,
                note=change.note,
                new_due_at=change.new_due_at,
            )
        )

    async def park(self, appeal_id: UUID, topic: str, envelope: Envelope) -> None:
        values = {
            "appeal_id": appeal_id,
            "topic": topic,
            "envelope": envelope.model_dump(mode="json"),
        }
        if self._batch is not None:
            self._batch.waiting.setdefault(appeal_id, []).append((None, topic, envelope))
            self._batch.parked.append(values)
            return
        await self.session.execute(PARK, [values])

    async def unpark(self, appeal_id: UUID) -> list[tuple[str, Envelope]]:
        batch = self._batch
        if batch is not None and appeal_id in batch.appeals:
            waited = batch.waiting.pop(appeal_id, [])
            batch.unparked.extend(row_id for row_id, _, _ in waited if row_id is not None)
            batch.parked = [p for p in batch.parked if p["appeal_id"] != appeal_id]
            return [(topic, envelope) for _, topic, envelope in waited]
        rows = await self.session.execute(
            delete(waiting_events)
            .where(waiting_events.c.appeal_id == appeal_id)
            .returning(waiting_events.c.id, waiting_events.c.topic, waiting_events.c.envelope)
        )
        return [
            (r.topic, Envelope.model_validate(r.envelope)) for r in sorted(rows, key=lambda r: r.id)
        ]

    async def next_extension_id(self) -> int:
        return int(
            await self.session.scalar(
                text("SELECT nextval(pg_get_serial_sequence('tracking.extensions', 'id'))")
            )
        )

    async def due(self, now: datetime, limit: int) -> list[UUID]:
        due = (
            select(deadlines.c.appeal_id)
            .where(deadlines.c.next_fire_at <= now)
            .order_by(deadlines.c.next_fire_at)
            .limit(limit)
        )
        rows = await self.session.execute(
            select(appeals.c.appeal_id)
            .where(appeals.c.appeal_id.in_(due.scalar_subquery()))
            .with_for_update(skip_locked=True)
        )
        return list(rows.scalars())

    async def set_aside(self, appeal_id: UUID, now: datetime, until: datetime) -> None:
        await self.session.execute(
            update(deadlines)
            .where(deadlines.c.appeal_id == appeal_id, deadlines.c.next_fire_at <= now)
            .values(next_fire_at=until)
        )


# --- rows ↔ the appeal -------------------------------------------------------------------------


def appeal_of(row: Any, stages: dict[Stage, Deadline], pending: PendingExtension | None) -> Appeal:
    """The appeal from its locked row (with its lead's directory entry), deadlines and pending
    extension."""
    officer = (
        OfficerInfo(row.officer_id, row.lead_supervisor_id, row.lead_unit)
        if row.officer_id is not None
        else None
    )
    return Appeal(
        appeal_id=row.appeal_id,
        record=record_from_row(row),
        state=state_from_row(row),
        milestones=Milestones(**{name: getattr(row, name) for name in MILESTONE_COLUMNS}),
        deadlines=stages,
        pending_extension=pending,
        officer=officer,
    )


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
    """A bare row (status NULL) is an appeal that is, as far as the lifecycle goes, received."""
    values: dict[str, Any] = {name: getattr(row, name) for name in STATE_COLUMNS}
    values["follow_up_refs"] = tuple(row.follow_up_refs)
    before = row.status_before_return
    values["status_before_return"] = None if before is None else AppealStatus(before)
    return AppealState(
        status=AppealStatus(row.status) if row.status else AppealStatus.RECEIVED,
        officer_id=row.officer_id,
        **values,
    )


def appeal_values(appeal: Appeal) -> dict[str, Any]:
    """The row's columns (field by field, not asdict(): JSONB gets plain JSON, ISO times)."""
    record, state = appeal.record, appeal.state
    values: dict[str, Any] = {name: getattr(record, name) for name in RECORD_COLUMNS}
    values["classified_by"] = dict(record.classified_by)
    values["submissions"] = [submission_to_json(s) for s in record.submissions]
    values["assistant_officer_ids"] = list(record.assistant_officer_ids)
    decision = record.last_return_decision
    values["last_return_decision"] = None if decision is None else decision_to_json(decision)
    values.update({name: getattr(state, name) for name in STATE_COLUMNS})
    values["follow_up_refs"] = list(state.follow_up_refs)
    values["status"] = state.status.value if appeal.received else None
    values["officer_id"] = state.officer_id
    values.update({name: getattr(appeal.milestones, name) for name in MILESTONE_COLUMNS})
    return values


def deadline_of(row: Any) -> Deadline:
    """Back from the row (the candidates that lost are not kept: the reason says them)."""
    rule = Rule(Dimension(row.rule_dimension), row.rule_value, Limit.parse(row.rule_limit))
    due = StageDeadline(
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
    return Deadline(
        due=due,
        reason=row.reason,
        extensions=tuple(row.extensions),
        met_at=row.met_at,
        reminders_sent=row.reminders_sent,
        warned_at=row.warned_at,
        urged_at=row.urged_at,
        noticed_at=row.noticed_at,
    )


def deadline_values(
    appeal_id: UUID, deadline: Deadline, next_fire_at: datetime | None
) -> dict[str, Any]:
    due = deadline.due
    return {
        "appeal_id": appeal_id,
        "stage": due.stage.value,
        "start_at": due.start,
        "start_basis": due.start_basis,
        "due_at": due.due_at,
        "warn_at": due.warn_at,
        "public_notice_at": due.public_notice_at,
        "rule_dimension": due.rule.dimension.value,
        "rule_value": due.rule.value,
        "rule_limit": str(due.rule.limit),
        "capped_by": due.capped_by.value if due.capped_by else None,
        "reason": deadline.reason[:1000],
        "extensions": list(deadline.extensions),
        "met_at": deadline.met_at,
        "reminders_sent": deadline.reminders_sent,
        "warned_at": deadline.warned_at,
        "urged_at": deadline.urged_at,
        "noticed_at": deadline.noticed_at,
        "next_fire_at": next_fire_at,
    }


def pending_of(row: Any) -> PendingExtension:
    return PendingExtension(
        extension_id=row.id,
        stage=Stage(row.stage),
        working_days=row.working_days,
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        previous_due_at=row.previous_due_at,
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


# --- reads for the views -----------------------------------------------------------------------


async def appeal_row(session: AsyncSession, appeal_id: UUID) -> Any:
    """The appeal's row, or None (a bare row of an appeal not received yet counts as none)."""
    row = (await session.execute(select(appeals).where(appeals.c.appeal_id == appeal_id))).first()
    return None if row is None or row.status is None else row


async def history_of(session: AsyncSession, appeal_id: UUID) -> Sequence[Any]:
    # Ordered by when things happened, not when tracking heard of them: the same for any
    # arrival order.
    return (
        await session.execute(
            select(history)
            .where(history.c.appeal_id == appeal_id)
            .order_by(history.c.occurred_at, history.c.id)
        )
    ).all()


async def deadline_rows(session: AsyncSession, appeal_id: UUID) -> Sequence[Any]:
    return (
        await session.execute(select(deadlines).where(deadlines.c.appeal_id == appeal_id))
    ).all()


async def extension_rows(session: AsyncSession, appeal_id: UUID) -> Sequence[Any]:
    return (
        await session.execute(
            select(extensions)
            .where(extensions.c.appeal_id == appeal_id)
            .order_by(extensions.c.requested_at, extensions.c.id)
        )
    ).all()


# --- figures for the metrics -------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    open: int
    overdue: int
    escalated: int
    # Deadline alarms due by now that the scheduler has not fired yet (what `due` takes), and
    # how long the oldest of them has waited (0 when none is due).
    due_alarms: int
    oldest_due_s: float
    # Events heard before their appeal's receipt (parked by the workflow), and the oldest's age:
    # a receipt that never comes (lost upstream, dead-lettered) leaves them here.
    events_waiting: int
    oldest_waiting_s: float


async def figures(session: AsyncSession, now: datetime) -> Figures:
    """Open appeals (received, not closed), those of them overdue (the officer's nearest
    deadline, `due_at`, passed unmet) and escalated; the scheduler's backlog; the events waiting
    for their appeal's receipt. One pass over the appeals, one index range over the deadlines,
    and the waiting events (only what came early, until its receipt does)."""
    is_open = and_(appeals.c.status.is_not(None), appeals.c.status != AppealStatus.CLOSED.value)
    row = (
        await session.execute(
            select(
                func.count().filter(is_open),
                func.count().filter(is_open, appeals.c.due_at < now),
                func.count().filter(is_open, appeals.c.escalated.is_(True)),
            ).select_from(appeals)
        )
    ).one()
    due, oldest = (
        await session.execute(
            select(func.count(), func.min(deadlines.c.next_fire_at))
            .select_from(deadlines)
            .where(deadlines.c.next_fire_at <= now)
        )
    ).one()
    parked, first_parked = (
        await session.execute(
            select(func.count(), func.min(waiting_events.c.parked_at)).select_from(waiting_events)
        )
    ).one()
    return Figures(
        int(row[0]),
        int(row[1]),
        int(row[2]),
        int(due or 0),
        _age(now, oldest),
        int(parked or 0),
        _age(now, first_parked),
    )


def _age(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0
