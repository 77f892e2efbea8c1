"""Notify's delivery worker on a real Postgres, its clock in the test's hands: a deferred message
goes when its time comes; a claimed one that was never recorded (a crash between sending and
recording) is sent again under the same delivery id once its lease runs out; the lease outlasts
the slowest send a provider allows, and every send is held to that bound; an outcome recorded
after its row was leased again, resent or recorded is dropped, and the rest of its batch stands."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.notify import tables
from services.notify.deliveries import store
from services.notify.deliveries.retry import RetryPolicy
from services.notify.deliveries.worker import DeliveryWorker
from services.notify.providers.base import Delivery, Provider
from services.notify.providers.recording import RecordingProvider
from shared.db import Database
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Medium, NotificationStatus

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Webhooks(Provider):
    """A provider that only counts what it was asked to send (the receiver's side of it)."""

    medium = Medium.WEBHOOK
    name = "webhook"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Delivery] = []

    @property
    def max_send_s(self) -> float:
        return 5.0

    async def send(self, session: Any, delivery: Delivery) -> None:
        self.sent.append(delivery)


class Gated(Webhooks):
    """A provider whose sends all wait until the test opens the gate."""

    def __init__(self, max_send_s: float) -> None:
        super().__init__()
        self.bound_s = max_send_s
        self.gate = asyncio.Event()

    @property
    def max_send_s(self) -> float:
        return self.bound_s

    async def send(self, session: Any, delivery: Delivery) -> None:
        await super().send(session, delivery)
        await self.gate.wait()


class Stubborn(Gated):
    """A provider that takes its time and will not be cancelled (a library that swallows it)."""

    def __init__(self, max_send_s: float, takes_s: float) -> None:
        super().__init__(max_send_s)
        self.takes_s = takes_s
        self.finished = asyncio.Event()

    async def send(self, session: Any, delivery: Delivery) -> None:
        self.sent.append(delivery)
        try:
            await asyncio.shield(asyncio.sleep(self.takes_s))
        except asyncio.CancelledError:
            await asyncio.sleep(self.takes_s)
        finally:
            self.finished.set()


def worker(
    db: Database, clock: Clock, providers: dict[Medium, Provider], batch_size: int = 50
) -> DeliveryWorker:
    return DeliveryWorker(
        UnitsOfWork.of(db, tables.metadata, producer="notify"),
        providers,
        retry=RetryPolicy(max_attempts=3, base_s=1, max_s=2),
        batch_size=batch_size,
        clock=clock,
    )


async def add(db: Database, medium: Medium, **values: Any) -> uuid.UUID:
    async with db.transaction() as session:
        queued = store.NotificationQueue(session)
        queued.add(
            event_id=uuid.uuid4(),
            appeal_id=uuid.uuid4(),
            recipient="channel:hotline_12345" if medium == Medium.WEBHOOK else "appellant",
            medium=medium,
            kind="status_callback" if medium == Medium.WEBHOOK else "appeal_received",
            language="zh-CN",
            subject=None,
            body="{}",
            address=None,
            **values,
        )
        await queued.flush()
        return await session.scalar(
            select(tables.notifications.c.notification_id).order_by(
                tables.notifications.c.created_at.desc()
            )
        )


async def row(db: Database, notification_id: uuid.UUID) -> Any:
    async with db.transaction() as session:
        return await store.notification(session, notification_id)


async def attempts_of(db: Database, notification_id: uuid.UUID) -> list[Any]:
    async with db.transaction() as session:
        return (await store.attempts_of(session, [notification_id]))[notification_id]


async def announced(db: Database) -> list[str]:
    """The notification ids of the NotificationSent / NotificationFailed events in the outbox."""
    async with db.transaction() as session:
        values = await session.scalars(select(tables.outbox.c.value))
        return [json.loads(value)["payload"]["notification_id"] for value in values]


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def stalled_round(
    db: Database, clock: Clock, sends: int
) -> tuple[DeliveryWorker, Gated, asyncio.Task[int]]:
    """A replica's round that claimed and began `sends` sends, and stalls until its provider's
    gate opens (the provider allows 30 s, the test's clock says how long it has been)."""
    stalled = Gated(max_send_s=30)
    replica = worker(db, clock, {Medium.WEBHOOK: stalled})
    sending = asyncio.create_task(replica.round())
    await until(lambda: len(stalled.sent) == sends)
    return replica, stalled, sending


async def test_a_deferred_message_goes_when_its_time_comes(db):
    morning = T0 + timedelta(hours=9)
    notification_id = await add(
        db,
        Medium.RECORD,
        quiet_hours=True,
        status=NotificationStatus.DEFERRED,
        not_before=morning,
    )
    clock = Clock(T0)
    delivery = worker(db, clock, {Medium.RECORD: RecordingProvider()})
    assert await delivery.round() == 0
    assert (await row(db, notification_id)).status == NotificationStatus.DEFERRED

    clock.now = morning + timedelta(seconds=1)
    assert await delivery.round() == 1
    sent = await row(db, notification_id)
    assert (sent.status, sent.attempts) == (NotificationStatus.SENT, 1)
    async with db.transaction() as session:
        recorded = await session.scalar(
            select(tables.recorded_messages.c.notification_id).where(
                tables.recorded_messages.c.notification_id == notification_id
            )
        )
    assert recorded == notification_id


async def test_a_claim_never_recorded_is_sent_again_under_the_same_id_after_its_lease(db):
    notification_id = await add(db, Medium.WEBHOOK, not_before=T0)
    clock = Clock(T0)
    hooks = Gated(max_send_s=5)
    crashed = worker(db, clock, {Medium.WEBHOOK: hooks})
    # The first replica claims and sends, then dies before recording.
    dying = asyncio.create_task(crashed.round())
    await until(lambda: len(hooks.sent) == 1)
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying
    assert [d.delivery_id for d in hooks.sent] == [notification_id]
    hooks.gate.set()

    other = worker(db, clock, {Medium.WEBHOOK: hooks})
    assert await other.round() == 0  # leased: nobody else sends it meanwhile
    clock.now = T0 + other.lease + timedelta(seconds=1)
    assert await other.round() == 1
    # Sent twice, under one delivery id: the receiver drops the repeat.
    assert [d.delivery_id for d in hooks.sent] == [notification_id, notification_id]
    assert [d.attempt for d in hooks.sent] == [1, 1]
    done = await row(db, notification_id)
    assert (done.status, done.attempts) == (NotificationStatus.SENT, 1)
    assert await other.round() == 0  # and never again


async def test_the_lease_outlasts_the_providers_bound_so_a_slow_send_is_not_sent_twice(db):
    notification_id = await add(db, Medium.WEBHOOK, not_before=T0)
    clock = Clock(T0)
    slow = Gated(max_send_s=90)  # slower than a fixed 60 s lease would allow
    first = worker(db, clock, {Medium.WEBHOOK: slow})
    sending = asyncio.create_task(first.round())
    await until(lambda: len(slow.sent) == 1)

    # 91 s later the send may still be going (its provider allows 90 s): nobody takes the row.
    clock.now = T0 + timedelta(seconds=91)
    hooks = Webhooks()
    other = worker(db, clock, {Medium.WEBHOOK: hooks})
    assert await other.round() == 0
    assert hooks.sent == []
    leased = await row(db, notification_id)
    assert leased.next_attempt_at > T0 + timedelta(seconds=90)

    slow.gate.set()
    assert await sending == 1
    done = await row(db, notification_id)
    assert (done.status, done.attempts) == (NotificationStatus.SENT, 1)


async def test_a_send_is_cut_at_the_providers_bound_whatever_the_provider_does(db):
    notification_id = await add(db, Medium.WEBHOOK, not_before=T0)
    stubborn = Stubborn(max_send_s=0.3, takes_s=1.5)
    delivery = worker(db, Clock(T0), {Medium.WEBHOOK: stubborn})
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await delivery.round() == 1
    assert loop.time() - started < 1.2  # did not wait for the provider
    given_up = await row(db, notification_id)
    assert (given_up.status, given_up.attempts) == (NotificationStatus.PENDING, 1)
    assert "0.3 s" in given_up.last_error
    assert [a.outcome for a in await attempts_of(db, notification_id)] == ["retry"]
    assert given_up.next_attempt_at >= T0 + timedelta(seconds=0.5)  # the retry policy's wait
    await asyncio.wait_for(stubborn.finished.wait(), 5)


async def test_an_outcome_after_its_row_was_leased_again_is_dropped_and_the_batch_stands(db):
    ids = [await add(db, Medium.WEBHOOK, not_before=T0) for _ in range(2)]
    clock = Clock(T0)
    first, stalled, sending = await stalled_round(db, clock, sends=2)

    # The first replica stalls past its lease; another takes one row again, sends and records it.
    clock.now = T0 + timedelta(hours=1)
    hooks = Webhooks()
    other = worker(db, clock, {Medium.WEBHOOK: hooks}, batch_size=1)
    assert await other.round() == 1
    [retaken] = [d.delivery_id for d in hooks.sent]
    [kept] = [i for i in ids if i != retaken]
    assert sorted(d.delivery_id for d in stalled.sent) == sorted(ids)

    # The stalled replica comes back: its outcome for the retaken row is dropped, without
    # undoing its outcome for the other.
    stalled.gate.set()
    await sending
    for notification_id in ids:
        done = await row(db, notification_id)
        assert (done.status, done.attempts) == (NotificationStatus.SENT, 1)
        assert [a.attempt for a in await attempts_of(db, notification_id)] == [1]
    # The kept row was sent by the stalled replica alone: its outcome is that replica's.
    assert (await row(db, kept)).status == NotificationStatus.SENT
    assert sorted(await announced(db)) == sorted(str(i) for i in ids)  # one event each
    assert await other.round() == 0 and await first.round() == 0


async def test_an_outcome_after_its_row_failed_and_was_resent_is_dropped(db):
    notification_id = await add(db, Medium.WEBHOOK, not_before=T0)
    clock = Clock(T0)
    _, stalled, sending = await stalled_round(db, clock, sends=1)

    # Meanwhile another replica finds no provider for it (failed at once) and ops resend it.
    clock.now = T0 + timedelta(hours=1)
    assert await worker(db, clock, {}).round() == 1
    assert (await row(db, notification_id)).status == NotificationStatus.FAILED
    async with db.transaction() as session:
        await store.resend(session, notification_id, clock.now)

    stalled.gate.set()
    await sending
    resent = await row(db, notification_id)
    # The stale success is not taken for the resent one's: it waits to be sent again.
    assert (resent.status, resent.attempts) == (NotificationStatus.PENDING, 1)
    assert [a.outcome for a in await attempts_of(db, notification_id)] == ["failed"]
    hooks = Webhooks()
    assert await worker(db, clock, {Medium.WEBHOOK: hooks}).round() == 1
    assert [d.delivery_id for d in hooks.sent] == [notification_id]
    done = await row(db, notification_id)
    assert (done.status, done.attempts) == (NotificationStatus.SENT, 2)


class Slow(Webhooks):
    """Takes `takes_s` for each send, within a bound of its own."""

    def __init__(self, max_send_s: float, takes_s: float) -> None:
        super().__init__()
        self.bound_s, self.takes_s = max_send_s, takes_s

    @property
    def max_send_s(self) -> float:
        return self.bound_s

    async def send(self, session: Any, delivery: Delivery) -> None:
        await asyncio.sleep(self.takes_s)
        await super().send(session, delivery)


async def test_two_workers_racing_send_and_record_each_notification_once(db):
    ids = {await add(db, Medium.WEBHOOK) for _ in range(12)}
    providers = [Slow(max_send_s=0.5, takes_s=0.2) for _ in range(2)]
    workers = [
        DeliveryWorker(
            UnitsOfWork.of(db, tables.metadata, producer="notify"),
            {Medium.WEBHOOK: provider},
            retry=RetryPolicy(max_attempts=3, base_s=1, max_s=2),
            batch_size=3,
            poll_interval_s=0.05,
        )
        for provider in providers
    ]
    for each in workers:
        each.start()
    try:
        await until(lambda: sum(len(p.sent) for p in providers) >= len(ids), timeout_s=20)

        async def all_recorded() -> bool:
            async with db.transaction() as session:
                statuses = await session.scalars(select(tables.notifications.c.status))
                return set(statuses) == {NotificationStatus.SENT}

        async with asyncio.timeout(10):
            while not await all_recorded():
                await asyncio.sleep(0.05)
    finally:
        for each in workers:
            await each.stop()
    sent = [d.delivery_id for p in providers for d in p.sent]
    assert sorted(sent) == sorted(ids)  # each once, by one worker or the other
    assert all(p.sent for p in providers)  # both took part
    for notification_id in ids:
        assert [a.attempt for a in await attempts_of(db, notification_id)] == [1]
    assert sorted(await announced(db)) == sorted(str(i) for i in ids)
