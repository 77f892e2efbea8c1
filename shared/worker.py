"""A background loop that works in rounds: woken at once after a commit that gave it work,
otherwise polling; a full round means more is waiting, so it goes again without pausing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

from shared.failures import is_transient
from shared.unit_of_work import UnitsOfWork

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


class PollingWorker(ABC):
    name: str = "worker"

    def __init__(self, *, batch_size: int, poll_interval_s: float, max_backoff_s: float) -> None:
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @abstractmethod
    async def round(self) -> int:
        """Does up to `batch_size` items of work; returns how many it did."""

    def on_error(self, exc: Exception) -> None:  # noqa: B027 - optional hook
        """Called when a round failed (for metrics); the round is retried after a backoff."""

    def stopping(self) -> bool:
        """`stop()` was called (the loop ends at its next check); a call, so that it is read
        afresh after each await."""
        return self._stopping

    def wake(self) -> None:
        """Called after a commit that gave the worker something to do: act now, not at the next
        poll."""
        self._wake.set()

    async def run(self) -> None:
        backoff = self.poll_interval_s
        while not self.stopping():
            try:
                while await self.round() >= self.batch_size:
                    pass
                backoff = self.poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.stopping():
                    # A cancel that landed inside a database call can come out as that driver's
                    # "connection is closed": it is still the stop, not a round to retry.
                    return
                self.on_error(exc)
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(
                    level,
                    "%s round failed; will retry",
                    self.name,
                    exc_info=True,
                    extra={"retry_in_s": round(backoff, 2)},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
            self._wake.clear()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            # Bounded: a round stuck in a library that swallows cancellation must not hang the
            # shutdown (the process is going away; the outbox keeps what was not done).
            await asyncio.wait({self._task}, timeout=STOP_TIMEOUT_S)
            self._task = None


class StateWorker(PollingWorker):
    """A background worker that changes its service's state (the deadline scheduler, the
    delivery worker, the monthly jobs): every change it makes goes through a unit of work from
    `self.units`, so what it publishes commits with it and the relay is woken after."""

    def __init__(
        self,
        units: UnitsOfWork,
        *,
        batch_size: int,
        poll_interval_s: float,
        max_backoff_s: float,
    ) -> None:
        super().__init__(
            batch_size=batch_size, poll_interval_s=poll_interval_s, max_backoff_s=max_backoff_s
        )
        self.units = units
