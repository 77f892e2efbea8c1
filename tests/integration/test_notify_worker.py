"""Notify's delivery worker on a real Postgres, its clock in the test's hands: a deferred message
goes when its time comes, and a claimed one that was never recorded (a crash between sending
and recording) is sent again under the same delivery id once its lease runs out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.notify import tables
from services.notify.deliveries import store
from services.notify.deliveries.retry import RetryPolicy
from services.notify.deliveries.worker import LEASE, DeliveryWorker
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

    async def send(self, session: Any, delivery: Delivery) -> None:
        self.sent.append(delivery)


def worker(db: Database, clock: Clock, providers: dict[Medium, Provider]) -> DeliveryWorker:
    return DeliveryWorker(
        UnitsOfWork.of(db, tables.metadata, producer="notify"),
        providers,
        retry=RetryPolicy(max_attempts=3, base_s=1, max_s=2),
        clock=clock,
    )


async def add(db: Database, medium: Medium, **values: Any) -> uuid.UUID:
    async with db.transaction() as session:
        await store.add_notification(
            session,
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
        return await session.scalar(
            select(tables.notifications.c.notification_id).order_by(
                tables.notifications.c.created_at.desc()
            )
        )


async def row(db: Database, notification_id: uuid.UUID) -> Any:
    async with db.transaction() as session:
        return await store.notification(session, notification_id)


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
    hooks = Webhooks()
    crashed = worker(db, clock, {Medium.WEBHOOK: hooks})
    # The first replica claims and sends, then dies before recording.
    recorded, [claimed] = await crashed._claim()
    assert recorded == 0
    await crashed._send(claimed)
    assert [d.delivery_id for d in hooks.sent] == [notification_id]

    other = worker(db, clock, {Medium.WEBHOOK: hooks})
    assert await other.round() == 0  # leased: nobody else sends it meanwhile
    clock.now = T0 + LEASE + timedelta(seconds=1)
    assert await other.round() == 1
    # Sent twice, under one delivery id: the receiver drops the repeat.
    assert [d.delivery_id for d in hooks.sent] == [notification_id, notification_id]
    assert [d.attempt for d in hooks.sent] == [1, 1]
    done = await row(db, notification_id)
    assert (done.status, done.attempts) == (NotificationStatus.SENT, 1)
    assert await other.round() == 0  # and never again
