"""The delivery worker: sends pending notifications through their medium's provider.

Deciding (in the consumer) and sending (here) are apart, so a slow or failing provider never
holds up the topic. Several notify replicas share the work: each claims rows with SKIP LOCKED."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.notify import store
from services.notify.providers import Delivery, Provider
from shared.db import Database
from shared.failures import is_transient
from shared.vocabulary import Medium, NotificationStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        providers: dict[Medium, Provider],
        *,
        batch_size: int = 100,
        poll_interval_s: float = 0.25,
    ) -> None:
        self.db = db
        self.providers = providers
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def deliver_once(self) -> int:
        async with self.db.transaction() as session:
            rows = await store.claim_pending(session, self.batch_size)
            for row in rows:
                provider = self.providers.get(Medium(row.medium))
                delivery = Delivery(row.notification_id, row.recipient, row.kind, row.body)
                try:
                    if provider is None:
                        raise LookupError(f"no provider for medium {row.medium}")
                    async with session.begin_nested():
                        await provider.send(session, delivery)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    failed = row.attempts + 1 >= MAX_ATTEMPTS
                    await store.mark(
                        session,
                        row.notification_id,
                        NotificationStatus.FAILED if failed else NotificationStatus.PENDING,
                        f"{type(exc).__name__}: {exc}"[:500],
                    )
                    log.warning(
                        "delivery failed",
                        extra={
                            "notification_id": str(row.notification_id),
                            "medium": row.medium,
                            "attempt": row.attempts + 1,
                            "final": failed,
                        },
                    )
                    continue
                await store.mark(session, row.notification_id, NotificationStatus.SENT)
        return len(rows)

    async def run(self) -> None:
        while True:
            try:
                while await self.deliver_once() == self.batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("delivery round failed; will retry", exc_info=True)
                await asyncio.sleep(1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
            self._wake.clear()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="notify-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
