"""The pruner of replay records: drops them once no replica could accept their signature any
more. Every replica runs one; deletes are idempotent, so they need no coordination."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from services.intake.channel_keys import store
from shared.unit_of_work import UnitsOfWork
from shared.worker import StateWorker

# Replicas' clocks differ a little: keep a replay record this long past its expiry, so a replica
# whose clock is behind still finds it.
PRUNE_GRACE_S = 60.0
PRUNE_INTERVAL_S = 60.0
PRUNE_BATCH = 5_000


class SignaturePruner(StateWorker):
    name = "signature-pruner"

    def __init__(
        self,
        units: UnitsOfWork,
        *,
        clock: Callable[[], float] = time.time,
        interval_s: float = PRUNE_INTERVAL_S,
        grace_s: float = PRUNE_GRACE_S,
        batch_size: int = PRUNE_BATCH,
    ) -> None:
        super().__init__(
            units, batch_size=batch_size, poll_interval_s=interval_s, max_backoff_s=interval_s
        )
        self.clock = clock
        self.grace_s = grace_s

    async def round(self) -> int:
        before = datetime.fromtimestamp(self.clock() - self.grace_s, UTC)
        async with self.units.begin() as uow:
            return await store.prune_signatures(uow.session, before=before, limit=self.batch_size)
