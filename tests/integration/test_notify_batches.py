"""Notify's consumers and delivery worker by the batch, on a real Postgres: a batch of events
(several about one appeal, a status change heard before its receipt, a duplicate) leaves the
same copies and notifications as the same events one at a time, and costs the same handful of
statements whatever its size; a delivery round records all its notifications in one statement
per table."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import assigned, received
from sqlalchemy import event, select

from services.notify import tables
from services.notify.decisions import handlers as decisions
from services.notify.decisions.service import Notifier
from services.notify.deliveries import store
from services.notify.deliveries.quiet_hours import QuietHours
from services.notify.deliveries.retry import RetryPolicy
from services.notify.deliveries.worker import RATE_LIMITED_WAIT, DeliveryWorker
from services.notify.directory import store as directory
from services.notify.providers.base import Delivery as ProviderDelivery
from services.notify.providers.base import Provider, RateLimiter
from services.notify.providers.recording import RecordingProvider
from shared.consumer import Delivery, EventConsumer, Route, Subscription
from shared.db import Database
from shared.deadletter import Origin
from shared.events import (
    AppealEscalated,
    AppealReassigned,
    AppealStatusChanged,
    AssistantsChanged,
    DeadlineWarning,
    Event,
)
from shared.inbox import Inbox
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import AppealStatus, Medium, NotificationStatus

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 in the zone: not quiet


class NoDeadLetters:
    async def send(self, origin: Origin, body: bytes, error: str) -> None:
        raise AssertionError(f"dead-lettered: {error}")


class Gate:
    """Holds a status change's batch open after its handler ran, until the test says."""

    def __init__(self) -> None:
        self.reached, self.opened = asyncio.Event(), asyncio.Event()


def consumer(db: Database, gate: Gate | None = None) -> EventConsumer:
    """One consumer for every appeal event notify hears, each topic with its routes, as the
    service's one group reads them (a batch may mix them). With `gate`, a status change's
    batch does not commit before the gate opens."""
    notifier = Notifier(
        language="zh-CN",
        quiet=None,
        available=frozenset({Medium.RECORD}),
        clock=lambda: T0,
    )
    consumer = EventConsumer(
        service="notify",
        topic="appeals.all",
        group="notify-tests",
        units=UnitsOfWork.of(db, tables.metadata, producer="notify"),
        inbox=Inbox(tables.inbox),
        dead_letters=NoDeadLetters(),  # type: ignore[arg-type]
    )
    for topic, topic_routes in decisions.routes(notifier).items():
        routes = dict(topic_routes)
        if gate is not None and AppealStatusChanged.TYPE in routes:
            routes[AppealStatusChanged.TYPE] = Route(
                AppealStatusChanged, _held(routes[AppealStatusChanged.TYPE].handler, gate)
            )
        consumer.subscribe_to(topic, Subscription(routes, prepare=decisions.prepare))
    return consumer


def _held(status: Any, gate: Any) -> Any:
    async def held(uow: Any, envelope: Any, event: Any) -> None:
        await status(uow, envelope, event)
        gate.reached.set()
        await gate.opened.wait()

    return held


def delivery(event_: Event, *, envelope: Any = None) -> Delivery:
    env = envelope or event_.envelope(correlation_id="tests", producer="tests")
    return Delivery(env.to_bytes(), Origin(event_.TOPIC, 0, 0, env.key, "notify-tests", ()))


async def seed_directory(db: Database) -> None:
    async with db.transaction() as session:
        changes = directory.DirectoryWrites(session)
        for officer_id, role, values in (
            ("sup-1", "supervisor", {"email": "sup1@example.org"}),
            ("cw-7", "community_worker", {"phone": "13700000007", "supervisor_id": "sup-1"}),
            ("cw-8", "community_worker", {"phone": "13700000008", "supervisor_id": "sup-1"}),
        ):
            changes.officer(
                T0 - timedelta(days=1),
                officer_id=officer_id,
                name=officer_id,
                role=role,
                unit="大旺社区",
                **values,
            )
        await changes.flush()


def story(appeal_id: uuid.UUID, tracking_code: str) -> list[Event]:
    """An appeal's events as notify may hear them: its acceptance before its receipt, then an
    assignment, an older one heard late, assistants, an escalation, a deadline warning."""
    return [
        AppealStatusChanged(
            appeal_id=appeal_id,
            from_status=AppealStatus.ASSIGNED,
            to_status=AppealStatus.ACCEPTED,
            officer_id="cw-7",
            changed_at=T0,
            tracking_code=tracking_code,
        ),
        received(appeal_id, tracking_code=tracking_code, external_id="GD-1"),
        assigned(appeal_id, "cw-7", assigned_at=T0 + timedelta(minutes=2)),
        AppealReassigned(
            appeal_id=appeal_id,
            from_officer_id="cw-8",
            officer_id="cw-8",
            reason_code="community",
            reason="older",
            cause="manual",
            reassigned_at=T0 + timedelta(minutes=1),
        ),
        AssistantsChanged(
            appeal_id=appeal_id,
            lead_officer_id="cw-7",
            assistant_officer_ids=["cw-8"],
            changed_by="sup-1",
            changed_at=T0 + timedelta(minutes=3),
        ),
        AppealEscalated(
            appeal_id=appeal_id,
            officer_id="cw-7",
            supervisor_id=None,
            unit="大旺社区",
            reason="reopened_again",
            reopen_count=2,
            escalated_at=T0 + timedelta(minutes=4),
        ),
        DeadlineWarning(
            appeal_id=appeal_id,
            stage="resolve",
            officer_id=None,  # the appeal's own officer, from notify's copy
            due_at=T0 + timedelta(days=3),
            rule="complaint: 15 working days",
            fired_at=T0 + timedelta(minutes=5),
        ),
    ]


async def outcome(db: Database, appeal_id: uuid.UUID, tracking_code: str) -> dict[str, Any]:
    """What the events left for the appeal, with its own ids and code taken out."""
    async with db.transaction() as session:
        copy = (
            await session.execute(
                select(tables.appeals).where(tables.appeals.c.appeal_id == appeal_id)
            )
        ).first()
        notes = (
            await session.execute(
                select(tables.notifications).where(tables.notifications.c.appeal_id == appeal_id)
            )
        ).all()
        waiting = await session.scalars(
            select(tables.waiting_events.c.seq).where(
                tables.waiting_events.c.appeal_id == appeal_id
            )
        )
        left = list(waiting)

    def plain(text: str | None) -> str | None:
        return None if text is None else text.replace(tracking_code, "<code>")

    skip = {"appeal_id", "updated_at", "tracking_code"}
    return {
        "copy": None if copy is None else {k: v for k, v in copy._mapping.items() if k not in skip},
        "notifications": sorted(
            (n.recipient, n.kind, n.medium, n.status, plain(n.subject), plain(n.body))
            for n in notes
        ),
        "waiting": left,
    }


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The statements sent to Postgres inside the block (an executemany counts once)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_batch_leaves_what_one_message_at_a_time_leaves(db):
    await seed_directory(db)
    one, together = uuid.uuid4(), uuid.uuid4()
    handling = consumer(db)

    for each in story(one, "JB-ONE"):
        assert await handling.process_batch([delivery(each)]) == ["handled"]
    assert (
        await handling.process_batch([delivery(e) for e in story(together, "JB-TOGETHER")])
        == ["handled"] * 7
    )

    alone = await outcome(db, one, "JB-ONE")
    batched = await outcome(db, together, "JB-TOGETHER")
    assert batched == alone
    # And it is what the events say: the newer assignment kept, the older one heard late not.
    assert (alone["copy"]["officer_id"], alone["copy"]["assistant_officer_ids"]) == (
        "cw-7",
        ["cw-8"],
    )
    assert {(recipient, kind) for recipient, kind, *_ in alone["notifications"]} == {
        ("appellant", "appeal_received"),
        ("appellant", "appeal_accepted"),  # parked until the receipt, then decided
        ("officer:cw-7", "new_assignment"),
        ("officer:cw-8", "new_assignment"),
        ("officer:sup-1", "escalation"),
        ("officer:cw-7", "deadline_warning"),
    }
    assert alone["waiting"] == []


async def test_a_status_parked_in_an_earlier_batch_is_decided_by_the_receipts_batch(db):
    appeal_id = uuid.uuid4()
    early, *later = story(appeal_id, "JB-PARKED")[:3]
    handling = consumer(db)
    assert await handling.process_batch([delivery(early)]) == ["handled"]
    assert (await outcome(db, appeal_id, "JB-PARKED"))["waiting"] != []

    assert await handling.process_batch([delivery(e) for e in later]) == ["handled"] * 2
    found = await outcome(db, appeal_id, "JB-PARKED")
    assert found["waiting"] == []
    assert ("appellant", "appeal_accepted") in {(r, k) for r, k, *_ in found["notifications"]}


async def test_a_receipt_heard_while_its_status_change_is_being_parked_still_decides_it(db):
    # Two consumers (the lifecycle topic's and the receipts'), two transactions: the status
    # change is parked by a batch that has not committed when the receipt's batch comes. The
    # receipt waits for that batch (they share the appeal's row), then takes what it parked.
    appeal_id = uuid.uuid4()
    status, receipt = story(appeal_id, "JB-RACE")[:2]
    gate = Gate()
    lifecycle, receipts = consumer(db, gate), consumer(db)
    parking = asyncio.create_task(lifecycle.process_batch([delivery(status)]))
    receiving: asyncio.Task[list[str]] | None = None
    try:
        await asyncio.wait_for(gate.reached.wait(), 10)  # parked, not committed
        receiving = asyncio.create_task(receipts.process_batch([delivery(receipt)]))
        await asyncio.sleep(0.5)
        assert not receiving.done()  # waiting for the parking batch, not deciding without it
    finally:
        gate.opened.set()
        async with asyncio.timeout(10):
            assert await parking == ["handled"]
            assert receiving is None or await receiving == ["handled"]
    found = await outcome(db, appeal_id, "JB-RACE")
    assert found["waiting"] == []
    assert ("appellant", "appeal_accepted") in {(r, k) for r, k, *_ in found["notifications"]}


async def test_a_duplicate_in_a_batch_is_ignored_and_so_is_a_redelivery(db):
    receipt = received()
    envelope = receipt.envelope(correlation_id="tests", producer="tests")
    handling = consumer(db)
    twice = [delivery(receipt, envelope=envelope)] * 2
    assert await handling.process_batch(twice) == ["handled", "duplicate"]
    assert await handling.process_batch([delivery(receipt, envelope=envelope)]) == ["duplicate"]
    async with db.transaction() as session:
        kinds = list(
            await session.scalars(
                select(tables.notifications.c.kind).where(
                    tables.notifications.c.appeal_id == receipt.appeal_id
                )
            )
        )
    assert kinds == ["appeal_received"]


async def test_a_batch_costs_the_same_statements_whatever_its_size(db):
    await seed_directory(db)
    handling = consumer(db)

    async def cost(appeals: int) -> int:
        batch = []
        for _ in range(appeals):
            receipt = received()
            batch += [delivery(receipt), delivery(assigned(receipt.appeal_id, "cw-7"))]
        with statements(db) as seen:
            assert set(await handling.process_batch(batch)) == {"handled"}
        return len(seen)

    # The inbox, the appeals read, what waited taken, the officers read, the receipts' and the
    # assignments' copies written, the notifications added.
    assert await cost(1) == await cost(20) == 7


async def add(db: Database, how_many: int, **values: Any) -> list[uuid.UUID]:
    """Queues `how_many` notifications due at T0; returns every notification's id."""
    medium = values.pop("medium", Medium.RECORD)
    async with db.transaction() as session:
        queued = store.NotificationQueue(session)
        for _ in range(how_many):
            queued.add(
                event_id=uuid.uuid4(),
                appeal_id=uuid.uuid4(),
                recipient="appellant",
                medium=medium,
                kind="appeal_received",
                language="zh-CN",
                subject=None,
                body="{}",
                address=None,
                not_before=T0,
                **values,
            )
        await queued.flush()
    async with db.transaction() as session:
        return list(await session.scalars(select(tables.notifications.c.notification_id)))


async def test_a_delivery_round_records_its_notifications_set_based(db):
    ids = await add(db, 30)
    worker = DeliveryWorker(
        UnitsOfWork.of(db, tables.metadata, producer="notify"),
        {Medium.RECORD: RecordingProvider()},
        retry=RetryPolicy(),
        batch_size=50,
        clock=lambda: T0 + timedelta(seconds=1),
    )
    with statements(db) as seen:
        assert await worker.round() == 30
    # Claim, record the messages, record the attempts (and log them), the events: not one per
    # notification.
    assert len(seen) == 4, seen
    async with db.transaction() as session:
        rows = (await session.execute(select(tables.notifications))).all()
        attempts = (await session.execute(select(tables.notification_attempts))).all()
        recorded = list(await session.scalars(select(tables.recorded_messages.c.notification_id)))
        announced = list(await session.scalars(select(tables.outbox.c.event_id)))
    assert {(r.status, r.attempts, r.lease_id) for r in rows} == {
        (NotificationStatus.SENT, 1, None)
    }
    assert sorted((a.notification_id, a.attempt, a.outcome) for a in attempts) == sorted(
        (i, 1, "sent") for i in ids
    )
    assert sorted(recorded) == sorted(ids)
    assert len(announced) == 30
    assert await worker.round() == 0


class Hooks(Provider):
    """A webhook receiver that takes everything, at most `rate` a second."""

    medium = Medium.WEBHOOK
    name = "webhook"

    def __init__(self, rate: float) -> None:
        super().__init__(rate_limit=RateLimiter(rate, int(rate)))
        self.sent: list[uuid.UUID] = []

    @property
    def max_send_s(self) -> float:
        return 5.0

    async def send(self, session: Any, delivery: ProviderDelivery) -> None:
        self.sent.append(delivery.delivery_id)


async def test_a_round_sends_records_and_holds_back_each_as_one_at_a_time_did(db):
    night = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 23:00 in the zone: quiet
    quiet = await add(db, 3, quiet_hours=True)
    loud = set(await add(db, 4)) - set(quiet)
    hooked = set(await add(db, 5, medium=Medium.WEBHOOK)) - set(quiet) - loud
    hooks = Hooks(rate=2)
    worker = DeliveryWorker(
        UnitsOfWork.of(db, tables.metadata, producer="notify"),
        {Medium.RECORD: RecordingProvider(), Medium.WEBHOOK: hooks},
        retry=RetryPolicy(),
        quiet=QuietHours.parse("22:00-08:00"),
        clock=lambda: night,
    )
    assert await worker.round() == 4 + 2  # recorded here, and leased and sent
    async with db.transaction() as session:
        rows = {r.notification_id: r for r in await session.execute(select(tables.notifications))}
    morning = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # 08:00 in the zone
    assert {(rows[i].status, rows[i].next_attempt_at, rows[i].attempts) for i in quiet} == {
        (NotificationStatus.DEFERRED, morning, 0)
    }
    assert {(rows[i].status, rows[i].attempts) for i in loud} == {(NotificationStatus.SENT, 1)}
    assert len(hooks.sent) == 2 and set(hooks.sent) <= hooked
    assert {(rows[i].status, rows[i].attempts) for i in hooks.sent} == {
        (NotificationStatus.SENT, 1)
    }
    held = hooked - set(hooks.sent)
    assert {(rows[i].status, rows[i].next_attempt_at, rows[i].attempts) for i in held} == {
        (NotificationStatus.DEFERRED, night + RATE_LIMITED_WAIT, 0)
    }
