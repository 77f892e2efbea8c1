"""Intake's lifecycle changes kept back for a batch (lifecycle/store.py): reduced per appeal,
then applied as the one UPDATE applies them, they leave what applying each change as it is
heard leaves, whatever the order and the ties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from services.intake.lifecycle.store import LifecycleChanges
from shared.vocabulary import AppealStatus

T0 = datetime(2026, 11, 27, 9, tzinfo=UTC)
Row = tuple[str | None, datetime | None, datetime | None]  # status, status_changed_at, closed_at


def one_at_a_time(row: Row, changes: list[tuple[AppealStatus, datetime]]) -> Row:
    """What the handler did before batches: record_status, then mark_closed, per change."""
    status, changed_at, closed_at = row
    for to, at in changes:
        if changed_at is None or changed_at <= at:
            status, changed_at = to.value, at
        if to == AppealStatus.CLOSED and closed_at is None:
            closed_at = at
    return status, changed_at, closed_at


def as_the_update_does(row: Row, status: str, at: datetime, closed: datetime | None) -> Row:
    kept_status, changed_at, closed_at = row
    if changed_at is None or changed_at <= at:
        kept_status, changed_at = status, at
    return kept_status, changed_at, closed_at if closed_at is not None else closed


def test_a_reduced_batch_leaves_what_one_change_at_a_time_leaves() -> None:
    rng = random.Random(7)
    statuses = list(AppealStatus)
    for _ in range(2000):
        start: Row = rng.choice(
            [
                ("received", None, None),
                ("assigned", T0 + timedelta(minutes=rng.randrange(6)), None),
                ("closed", T0 + timedelta(minutes=3), T0 + timedelta(minutes=3)),
            ]
        )
        changes = [
            (rng.choice(statuses), T0 + timedelta(minutes=rng.randrange(6)))
            for _ in range(rng.randrange(1, 7))
        ]
        appeal = uuid4()
        batch = LifecycleChanges(session=None)  # type: ignore[arg-type]
        for to, at in changes:
            batch.record(appeal, to, at)
        latest = batch._appeals[appeal]
        applied = as_the_update_does(
            start, latest.status.value, latest.changed_at, latest.closed_at
        )
        assert applied == one_at_a_time(start, changes), (start, changes)


def test_each_appeal_is_reduced_on_its_own() -> None:
    a, b = UUID(int=1), UUID(int=2)
    batch = LifecycleChanges(session=None)  # type: ignore[arg-type]
    batch.record(a, AppealStatus.CLOSED, T0)
    batch.record(b, AppealStatus.ASSIGNED, T0 + timedelta(minutes=1))
    batch.record(a, AppealStatus.REOPENED, T0)
    assert set(batch._appeals) == {a, b}
    assert batch._appeals[a].status is AppealStatus.REOPENED
    assert batch._appeals[a].closed_at == T0
    assert batch._appeals[b].closed_at is None
