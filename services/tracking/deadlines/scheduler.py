"""The deadline scheduler: a background worker in every tracking replica that asks the workflow
to fire what has fallen due (the rules are in deadlines/alarms.py and appeals/appeal.py).

Safe with several replicas: a round locks the appeals it takes with `FOR UPDATE SKIP LOCKED`, so
each is fired by one replica, and what it fired is marked in the same commit as the events it
puts in the outbox, so it never fires twice. It survives restarts (deadlines are rows, not timers
in memory) and catches up at start on everything that fell due while no replica was running."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.tracking.appeals.workflow import AppealWorkflow
from shared.clock import utcnow
from shared.unit_of_work import UnitsOfWork
from shared.worker import StateWorker


class DeadlineScheduler(StateWorker):
    name = "deadline-scheduler"

    def __init__(
        self,
        units: UnitsOfWork,
        workflow: AppealWorkflow,
        *,
        batch_size: int,
        poll_interval_s: float,
        max_backoff_s: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            units,
            batch_size=batch_size,
            poll_interval_s=poll_interval_s,
            max_backoff_s=max_backoff_s,
        )
        self.workflow = workflow
        self.clock = clock

    async def round(self) -> int:
        async with self.units.begin() as uow:
            return await self.workflow.fire_due(uow, self.clock(), self.batch_size)
