"""The polling worker's loop: it retries failed rounds, and a stop always ends it, even when the
cancel comes out of a database driver as another exception."""

from __future__ import annotations

import asyncio

from shared.worker import PollingWorker


class Flaky(PollingWorker):
    name = "flaky"

    def __init__(self, *, swallow_cancel: bool) -> None:
        super().__init__(batch_size=10, poll_interval_s=0.01, max_backoff_s=0.02)
        self.swallow_cancel = swallow_cancel
        self.rounds = 0
        self.in_round = asyncio.Event()

    async def round(self) -> int:
        self.rounds += 1
        if self.rounds == 1:
            raise ConnectionError("first round fails")
        self.in_round.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.swallow_cancel:
                # What SQLAlchemy over asyncpg does when cancelled mid-query.
                raise RuntimeError("connection is closed") from None
            raise
        return 0


async def test_a_failed_round_is_retried() -> None:
    worker = Flaky(swallow_cancel=False)
    worker.start()
    await asyncio.wait_for(worker.in_round.wait(), 2)
    await worker.stop()
    assert worker.rounds == 2


async def test_stop_ends_a_round_that_turns_the_cancel_into_another_error() -> None:
    worker = Flaky(swallow_cancel=True)
    worker.start()
    await asyncio.wait_for(worker.in_round.wait(), 2)
    task = worker._task
    await asyncio.wait_for(worker.stop(), 2)
    assert task is not None and task.done()
    assert worker.rounds == 2
