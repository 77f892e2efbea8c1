"""What tracking keeps time by: the deadline policy, the working-day calendar, and the pace of the
acknowledgement reminders, read once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.tracking.deadlines.policy import DeadlinePolicy
from services.tracking.deadlines.working_days import WorkingCalendar
from shared.settings import Settings


@dataclass(frozen=True)
class Timekeeping:
    policy: DeadlinePolicy
    calendar: WorkingCalendar
    reminder_every: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Timekeeping:
        return cls(
            policy=DeadlinePolicy.from_file(settings.deadline_policy_path),
            calendar=WorkingCalendar.from_file(settings.working_days_overrides_path),
            reminder_every=timedelta(minutes=settings.acknowledge_reminder_every_minutes),
        )
