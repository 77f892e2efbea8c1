"""Small fakes for tracking's workflow: appeals kept in a dict instead of Postgres, and a unit of
work that collects what it publishes. The workflow, its rules and these run with no I/O, so the
closed loop's rules are tested as fast tables (tests/unit/test_appeal_workflow.py) beside the
integration tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from services.tracking.appeals.appeal import Appeal, Change
from services.tracking.appeals.workflow import AppealWorkflow
from services.tracking.deadlines.policy import DeadlinePolicy
from services.tracking.deadlines.timekeeping import Timekeeping
from services.tracking.deadlines.working_days import WorkingCalendar
from shared.envelope import Envelope
from shared.events import Event


class FakeSession:
    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        yield


@dataclass
class FakeUnitOfWork:
    session: FakeSession = field(default_factory=FakeSession)
    published: list[tuple[Event, str]] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        kept = len(self.published)
        try:
            yield
        except BaseException:
            del self.published[kept:]
            raise

    async def publish(self, event: Event, *, correlation_id: str) -> None:
        self.published.append((event, correlation_id))

    def events(self, kind: type[Event] | None = None) -> list[Any]:
        return [e for e, _ in self.published if kind is None or isinstance(e, kind)]


@dataclass
class FakeAppeals:
    """The repository, in a dict: what `save` stored is what `lock` gives back."""

    reminder_every: timedelta = timedelta(hours=4)
    appeals: dict[UUID, Appeal] = field(default_factory=dict)
    waiting: dict[UUID, list[tuple[str, Envelope]]] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    extension_ids: int = 0

    async def lock(self, appeal_id: UUID, *, create: bool) -> Appeal | None:
        if appeal_id not in self.appeals:
            if not create:
                return None
            self.appeals[appeal_id] = Appeal.unknown(appeal_id)
        return self.appeals[appeal_id]

    async def load(self, appeal_ids: Collection[UUID]) -> None:
        for appeal_id in appeal_ids:
            self.appeals.setdefault(appeal_id, Appeal.unknown(appeal_id))

    async def save(self, change: Change) -> None:
        self.changes.append(change)
        self.appeals[change.after.appeal_id] = change.after

    async def park(self, appeal_id: UUID, topic: str, envelope: Envelope) -> None:
        self.waiting.setdefault(appeal_id, []).append((topic, envelope))

    async def unpark(self, appeal_id: UUID) -> list[tuple[str, Envelope]]:
        return self.waiting.pop(appeal_id, [])

    async def next_extension_id(self) -> int:
        self.extension_ids += 1
        return self.extension_ids

    async def due(self, now: datetime, limit: int) -> list[UUID]:
        return [
            appeal_id
            for appeal_id, appeal in self.appeals.items()
            if any(
                (at := d.next_fire_at(appeal.state.status, self.reminder_every)) is not None
                and at <= now
                for d in appeal.deadlines.values()
            )
        ][:limit]

    async def set_aside(self, appeal_id: UUID, now: datetime, until: datetime) -> None:
        raise AssertionError("no alarm should fail in the tests")


def timekeeping() -> Timekeeping:
    return Timekeeping(
        policy=DeadlinePolicy.default(),
        calendar=WorkingCalendar(),
        reminder_every=timedelta(hours=4),
    )


def fake_workflow(clock: Callable[[], datetime]) -> tuple[AppealWorkflow, FakeAppeals]:
    appeals = FakeAppeals()
    return AppealWorkflow(timekeeping(), appeals=lambda _uow: appeals, clock=clock), appeals
