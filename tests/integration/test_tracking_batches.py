"""Tracking's consumers handle a batch in one transaction, its appeals loaded at once and its
changes written at the end: the same appeals, history, deadlines and events as one message at a
time, in whichever order the events come."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import assigned, envelope_of, merged, received
from sqlalchemy import select

from shared.consumer import Delivery, EventConsumer
from shared.deadletter import Origin
from shared.envelope import Envelope
from shared.events import AppealReassigned
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def story(appeal_id: uuid.UUID, code: str) -> dict[str, list[Envelope]]:
    """An appeal received, joined by a repeat, assigned, then reassigned: by topic."""
    at = [T0 + timedelta(minutes=m) for m in (0, 5, 1, 9)]
    return {
        APPEALS_IMMEDIATE: [
            envelope_of(
                received(appeal_id, tracking_code=code, received_at=at[0]), occurred_at=at[0]
            ),
            envelope_of(merged(appeal_id, code, merged_at=at[1]), occurred_at=at[1]),
        ],
        APPEALS_ASSIGNMENTS: [
            envelope_of(assigned(appeal_id, "cw-7", assigned_at=at[2]), occurred_at=at[2]),
            envelope_of(
                AppealReassigned(
                    appeal_id=appeal_id,
                    from_officer_id="cw-7",
                    officer_id="cw-8",
                    reason_code="manual",
                    reason="主管改派",
                    cause="manual",
                    reassigned_at=at[3],
                ),
                occurred_at=at[3],
            ),
        ],
    }


def deliveries(envelopes: list[Envelope], topic: str) -> list[Delivery]:
    return [
        Delivery(e.to_bytes(), Origin(topic, 0, n, e.key, "tests", ()))
        for n, e in enumerate(e for e in envelopes)
    ]


async def outcome(app: Any, appeal_id: uuid.UUID) -> dict[str, Any]:
    """What tracking holds of the appeal, without what differs between two appeals anyway."""
    from services.tracking.tables import appeals, deadlines, history, outbox

    runtime = app.state.runtime
    async with runtime.db.transaction() as session:
        row = (await session.execute(select(appeals).where(appeals.c.appeal_id == appeal_id))).one()
        lines = (
            await session.execute(
                select(history.c.kind, history.c.status, history.c.occurred_at, history.c.actor)
                .where(history.c.appeal_id == appeal_id)
                .order_by(history.c.occurred_at, history.c.kind)
            )
        ).all()
        stages = (
            await session.execute(
                select(deadlines.c.stage, deadlines.c.due_at, deadlines.c.next_fire_at)
                .where(deadlines.c.appeal_id == appeal_id)
                .order_by(deadlines.c.stage)
            )
        ).all()
        events = (
            await session.execute(
                select(outbox.c.value)
                .where(outbox.c.key == str(appeal_id).encode())
                .order_by(outbox.c.id)
            )
        ).scalars()
        published = [Envelope.model_validate_json(v) for v in events]
    kept = {
        k: v
        for k, v in row._mapping.items()
        if k not in ("appeal_id", "tracking_code", "created_at", "updated_at", "submissions")
    }
    return {
        "row": kept,
        "history": [tuple(line) for line in lines],
        "deadlines": [tuple(s) for s in stages],
        "events": [
            (
                e.type,
                {k: v for k, v in e.payload.items() if k not in ("appeal_id", "tracking_code")},
            )
            for e in published
        ],
    }


def consumer_of(app: Any, topic: str) -> EventConsumer:
    [consumer] = app.state.runtime.consumers  # the service's one group reads every topic
    assert topic in consumer.topics
    return consumer


@pytest.mark.parametrize("assignments_first", [False, True], ids=["in order", "assignments first"])
async def test_a_batch_ends_where_one_message_at_a_time_does(settings, assignments_first) -> None:
    from services.tracking.app import build

    app = build(settings)
    one_by_one, together = uuid.uuid4(), uuid.uuid4()
    try:
        topics = [APPEALS_IMMEDIATE, APPEALS_ASSIGNMENTS]
        if assignments_first:
            topics.reverse()  # the assignments wait for the receipt, then follow it
        single = story(one_by_one, "JB261130-AAAAAA")
        for topic in topics:
            for delivery in deliveries(single[topic], topic):
                assert await consumer_of(app, topic).process_batch([delivery]) == ["handled"]
        batch = story(together, "JB261130-AAAAAA")
        for topic in topics:
            # Twice the same event in one batch: its second copy is a duplicate.
            envelopes = [*batch[topic], batch[topic][0]]
            outcomes = await consumer_of(app, topic).process_batch(deliveries(envelopes, topic))
            assert outcomes == ["handled", "handled", "duplicate"]
        first, second = await outcome(app, one_by_one), await outcome(app, together)
    finally:
        await app.state.runtime.db.dispose()
    assert second == first
    assert second["row"]["officer_id"] == "cw-8"
    assert [kind for kind, _ in second["events"]][:1] == ["AppealStatusChanged"]
    assert len(second["history"]) >= 4


async def test_a_batch_costs_the_same_statements_whatever_its_size(settings) -> None:
    from sqlalchemy import event

    from services.tracking.app import build

    app = build(settings)
    engine = app.state.runtime.db.engine.sync_engine
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    consumer = consumer_of(app, APPEALS_IMMEDIATE)
    try:
        costs = []
        for size in (5, 20):
            envelopes = [envelope_of(received()) for _ in range(size)]
            statements.clear()
            outcomes = await consumer.process_batch(deliveries(envelopes, APPEALS_IMMEDIATE))
            assert outcomes == ["handled"] * size
            costs.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", count)
        await app.state.runtime.db.dispose()
    # Inbox, the appeals locked and loaded (four), their rows, deadlines and history, the outbox.
    assert costs[0] == costs[1] <= 10, costs
