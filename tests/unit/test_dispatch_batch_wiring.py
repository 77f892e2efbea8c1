"""Dispatch's consumer of received appeals loads each batch once: its consumer has a `prepare`,
and every message of a batch reaches the same repository (the one its unit of work holds), so
what the batch loaded serves them all and is written once, at the end."""

from __future__ import annotations

from typing import Any

from services.dispatch.app import build, ownership_in
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, APPEALS_LIFECYCLE
from shared.unit_of_work import Flushing, UnitOfWork


def test_received_appeals_are_prepared_per_batch() -> None:
    settings = Settings(dev_mode=True, tracking_code_key="test-tracking-code-key")
    [consumer] = build(settings).state.runtime.consumers
    assert consumer.topics == (APPEALS_IMMEDIATE, APPEALS_LIFECYCLE)
    assert consumer.subscription(APPEALS_IMMEDIATE).prepare is not None
    # Closures, returns and reassignments write through, one appeal at a time.
    assert consumer.subscription(APPEALS_LIFECYCLE).prepare is None


def test_one_repository_per_unit_of_work_flushed_at_its_end() -> None:
    session: Any = object()  # never used: nothing is loaded or written here
    outbox: Any = object()
    first, second = (UnitOfWork(session, outbox, producer="dispatch") for _ in range(2))
    repository = ownership_in(first).assignments
    assert ownership_in(first).assignments is repository
    assert ownership_in(second).assignments is not repository
    assert isinstance(repository, Flushing)
