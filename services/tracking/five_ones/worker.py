"""The five-ones reminder: from the reminder day (a few days before the month ends, Shanghai) each
CSO who still has enterprises not contacted this month gets one FiveOnesReminder on
`cso.monthly`. Every tracking replica runs this worker; the reminder's row and its event commit
together, and only the transaction that inserted the row puts the event, so each goes once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from services.tracking.five_ones import rules as five_ones
from services.tracking.five_ones import store as five_ones_store
from services.tracking.periods import Month
from shared.clock import utcnow
from shared.events import FiveOnesReminder
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork
from shared.worker import StateWorker

log = logging.getLogger(__name__)

SERVICE = "tracking"
# Reminders are due by the day, not the second: a minute late is on time.
POLL_INTERVAL_S = 60.0
BATCH_SIZE = 100


class FiveOnesReminderWorker(StateWorker):
    name = "five-ones-reminders"

    def __init__(
        self,
        units: UnitsOfWork,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH_SIZE,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        super().__init__(
            units,
            batch_size=batch_size,
            poll_interval_s=poll_interval_s,
            max_backoff_s=max(poll_interval_s, settings.consumer_max_backoff_s),
        )
        self.days_before = settings.five_ones_remind_days_before_month_end
        self.clock = clock

    async def round(self) -> int:
        """Sends up to `batch_size` reminders; returns how many this replica sent."""
        now = self.clock()
        if not five_ones.reminder_due(now, self.days_before):
            return 0
        month = Month.of(now)
        sent = 0
        async with self.units.begin() as uow:
            session = uow.session
            people = await five_ones_store.csos(session, unreminded_in=month)
            facts = await five_ones_store.month_facts(session, people, month)
            # In officer order in every replica: two racing for the same rows wait on each other
            # in the same order, never in a cycle.
            due = [s for s in five_ones.statuses(facts) if five_ones.needs_reminder(s)]
            for status in due[: self.batch_size]:
                claimed = await five_ones_store.claim_reminder(
                    session, officer_id=status.officer_id, month=month, sent_at=now
                )
                if not claimed:
                    continue
                await uow.publish(
                    FiveOnesReminder(
                        officer_id=status.officer_id,
                        month=str(month),
                        uncontacted_credit_codes=[e.credit_code for e in status.uncontacted],
                        enterprises_total=status.enterprises_total,
                        problems_solved=status.problems_solved,
                        month_ends_on=month.last_day,
                    ),
                    correlation_id=f"five-ones:{month}:{status.officer_id}",
                )
                sent += 1
        if sent:
            log.info("five-ones reminders sent", extra={"month": str(month), "count": sent})
        return sent
