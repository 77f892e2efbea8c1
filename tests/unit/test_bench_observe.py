"""The bench's observer folds envelopes into milestones; the direct load makes valid events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from jiban.bench.load import appeal_received
from jiban.bench.observe import Observer
from shared.events import AppealStatusChanged, NotificationSent
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, APPEALS_LIFECYCLE, NOTIFICATIONS_SENT, TopicNames
from shared.vocabulary import AppealStatus, Medium

NAMES = TopicNames("bench1.")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def received_env(appeal_id: uuid.UUID, seconds: float) -> dict:
    env = appeal_received(1).model_copy(update={"appeal_id": appeal_id})
    return (
        env.envelope(correlation_id="c", producer="t")
        .model_copy(update={"occurred_at": at(seconds)})
        .model_dump(mode="json")
    )


def status_env(appeal_id: uuid.UUID, to: AppealStatus, seconds: float) -> dict:
    event = AppealStatusChanged(
        appeal_id=appeal_id, from_status=None, to_status=to, changed_at=at(seconds)
    )
    env = event.envelope(correlation_id="c", producer="tracking")
    return env.model_copy(update={"occurred_at": at(seconds)}).model_dump(mode="json")


def sent_env(appeal_id: uuid.UUID, kind: str, seconds: float) -> dict:
    event = NotificationSent(
        notification_id=uuid.uuid4(),
        appeal_id=appeal_id,
        recipient="appellant" if kind == "appeal_received" else "officer:cw-1",
        medium=Medium.RECORD,
        kind=kind,
        sent_at=at(seconds),
    )
    env = event.envelope(correlation_id="c", producer="notify")
    return env.model_copy(update={"occurred_at": at(seconds)}).model_dump(mode="json")


def test_milestones_and_done_from_the_envelopes() -> None:
    observer = Observer(Settings(), NAMES)
    a = uuid.uuid4()
    key = str(a)
    observer.record(NAMES.physical(APPEALS_IMMEDIATE), received_env(a, 0))
    observer.record(NAMES.physical(NOTIFICATIONS_SENT), sent_env(a, "appeal_received", 0.2))
    observer.record(NAMES.physical(APPEALS_LIFECYCLE), status_env(a, AppealStatus.RECEIVED, 0.3))
    assert key not in observer.samples.assigned
    observer.record(NAMES.physical(APPEALS_LIFECYCLE), status_env(a, AppealStatus.ASSIGNED, 0.5))
    assert key not in observer.samples.done  # the officer has not been told yet
    observer.record(NAMES.physical(NOTIFICATIONS_SENT), sent_env(a, "new_assignment", 0.7))
    # A redelivered AppealReceived changes nothing.
    observer.record(NAMES.physical(APPEALS_IMMEDIATE), received_env(a, 9))

    samples = observer.samples
    assert samples.accepted[key] == at(0).timestamp()
    assert samples.first_notified[key] == at(0.2).timestamp()
    assert samples.assigned[key] == at(0.5).timestamp()
    assert samples.done[key] == at(0.7).timestamp()


def test_done_waits_for_tracking_when_the_officer_hears_first() -> None:
    observer = Observer(Settings(), NAMES)
    a = uuid.uuid4()
    observer.record(NAMES.physical(NOTIFICATIONS_SENT), sent_env(a, "new_assignment", 0.4))
    observer.record(NAMES.physical(APPEALS_LIFECYCLE), status_env(a, AppealStatus.ASSIGNED, 0.6))
    assert observer.samples.done[str(a)] == at(0.6).timestamp()


def test_a_triaged_appeal_is_done_when_the_duty_supervisor_hears_of_it() -> None:
    observer = Observer(Settings(), NAMES)
    a, b = uuid.uuid4(), uuid.uuid4()
    for appeal, kind in ((a, "triage"), (b, "cso_copy")):
        observer.record(
            NAMES.physical(APPEALS_LIFECYCLE), status_env(appeal, AppealStatus.ASSIGNED, 0.3)
        )
        observer.record(NAMES.physical(NOTIFICATIONS_SENT), sent_env(appeal, kind, 0.8))
    assert observer.samples.done == {str(a): at(0.8).timestamp()}  # a copy is not the officer


def test_direct_load_events_are_keyed_by_appeal_id_and_reach_the_appellant() -> None:
    event = appeal_received(42)
    envelope = event.envelope(correlation_id="c", producer="bench")
    assert envelope.key == str(event.appeal_id).encode()
    assert event.appellant.phone == "13900000042"
    assert event.TOPIC == APPEALS_IMMEDIATE
