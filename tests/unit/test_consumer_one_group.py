"""A service's one consumer group reads several topics: each message goes to its own topic's
routes, unwrap and prepare; topics sharing a prepare are prepared together, once per batch; and
one subject's messages from several topics are handled in the order the topics were subscribed
(the pipeline's), whatever order the poll returned them in. With the fakes of test_consumer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.consumer import Delivery, EventConsumer, PoisonMessage, Route, Subscription
from shared.deadletter import Origin
from shared.envelope import Envelope
from shared.events import AppealAssigned, AppealReceived
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from tests.factories import received as received_event
from tests.unit.test_consumer import FakeDatabase, FakeDeadLetters, FakeOutbox

IMMEDIATE, ASSIGNMENTS, NATIVE = "appeals.immediate", "appeals.assignments", "appeals.inbound.web"


class Inbox:
    def __init__(self) -> None:
        self.seen: set[uuid.UUID] = set()

    async def record_new(self, _session: Any, envelopes: list[Envelope], _topics: Any) -> set[Any]:
        new = {e.event_id for e in envelopes} - self.seen
        self.seen |= new
        return new


class Journal:
    """What the handlers and prepares saw, in order."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, str]] = []  # (which handler, subject)
        self.prepared: list[tuple[str, list[str]]] = []  # (which prepare, event types)

    def handler(self, name: str) -> Any:
        async def handle(_uow: UnitOfWork, envelope: Envelope, _event: Any) -> None:
            self.handled.append((name, envelope.subject_id))

        return handle

    def prepare(self, name: str) -> Any:
        async def prepare(_uow: UnitOfWork, pairs: list[tuple[Envelope, Any]]) -> None:
            self.prepared.append((name, sorted(e.type for e, _ in pairs)))

        return prepare


def received(appeal_id: uuid.UUID | None = None) -> Envelope:
    return received_event(appeal_id).envelope(correlation_id="req-1", producer="intake")


def assigned(appeal_id: uuid.UUID) -> Envelope:
    event = AppealAssigned(
        appeal_id=appeal_id,
        officer_id="cw-dw01-1",
        reason_code="least_loaded_handler",
        reason="在岗办理人员中在办诉求最少（0 件）",
        assigned_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        tracking_code="JB261127-7K3Q9X",
    )
    return event.envelope(correlation_id="req-1", producer="dispatch")


def one_group(journal: Journal, unwrap: Any = None) -> EventConsumer:
    consumer = EventConsumer(
        service="tracking",
        topic="*",
        group="jiban.tracking",
        units=UnitsOfWork(FakeDatabase(), FakeOutbox(), producer="tracking"),  # type: ignore[arg-type]
        inbox=Inbox(),  # type: ignore[arg-type]
        dead_letters=FakeDeadLetters(),  # type: ignore[arg-type]
        max_backoff_s=0.01,
    )
    shared_prepare = journal.prepare("appeals")
    consumer.subscribe_to(
        IMMEDIATE,
        Subscription(
            {AppealReceived.TYPE: Route(AppealReceived, journal.handler("received"))},
            prepare=shared_prepare,
        ),
    )
    consumer.subscribe_to(
        ASSIGNMENTS,
        Subscription(
            {AppealAssigned.TYPE: Route(AppealAssigned, journal.handler("assigned"))},
            prepare=shared_prepare,
        ),
    )
    if unwrap is not None:
        consumer.subscribe_to(
            NATIVE,
            Subscription(
                {AppealReceived.TYPE: Route(AppealReceived, journal.handler("native"))},
                unwrap=unwrap,
            ),
        )
    return consumer


def delivery(topic: str, envelope: Envelope, offset: int = 0) -> Delivery:
    return Delivery(envelope.to_bytes(), Origin(topic, 0, offset, envelope.key, "g", ()))


async def test_each_topic_has_its_routes_and_shared_prepares_run_once_per_batch() -> None:
    journal = Journal()
    consumer = one_group(journal)
    first, second = received(), received()
    batch = [
        delivery(IMMEDIATE, first),
        delivery(ASSIGNMENTS, assigned(uuid.uuid4())),
        delivery(IMMEDIATE, second, 1),
    ]
    outcomes = await consumer.process_batch(batch)
    assert outcomes == ["handled"] * 3
    assert sorted(name for name, _ in journal.handled) == ["assigned", "received", "received"]
    # One prepare serves both topics: called once, with all three.
    assert journal.prepared == [
        ("appeals", sorted([AppealReceived.TYPE, AppealReceived.TYPE, AppealAssigned.TYPE]))
    ]
    assert consumer.topics == (IMMEDIATE, ASSIGNMENTS)


async def test_an_event_on_a_topic_whose_routes_lack_it_is_skipped_not_misrouted() -> None:
    journal = Journal()
    consumer = one_group(journal)
    # AppealReceived has a route on appeals.immediate, none on appeals.assignments.
    outcomes = await consumer.process_batch([delivery(ASSIGNMENTS, received())])
    assert outcomes == ["skipped_unknown_type"]
    assert journal.handled == []


async def test_one_subjects_messages_go_topic_by_topic_in_the_pipelines_order() -> None:
    journal = Journal()
    consumer = one_group(journal)
    receipt = received()
    appeal_id = uuid.UUID(receipt.subject_id)
    # The poll returned the assignment's partition first.
    outcomes = await consumer.process_batch(
        [delivery(ASSIGNMENTS, assigned(appeal_id)), delivery(IMMEDIATE, receipt)]
    )
    assert outcomes == ["handled", "handled"]
    assert journal.handled == [("received", str(appeal_id)), ("assigned", str(appeal_id))]


async def test_unwrap_is_the_topics_own() -> None:
    journal = Journal()
    receipt = received()

    def unwrap(body: bytes, origin: Origin) -> Envelope:
        assert origin.topic == NATIVE
        if body != b"native form":
            raise PoisonMessage("not a form")
        return receipt

    consumer = one_group(journal, unwrap)
    outcomes = await consumer.process_batch(
        [
            Delivery(b"native form", Origin(NATIVE, 0, 0, None, "g", ())),
            # An envelope on a topic without unwrap is read as one.
            delivery(IMMEDIATE, received()),
        ]
    )
    assert outcomes == ["handled", "handled"]
    assert sorted(name for name, _ in journal.handled) == ["native", "received"]


def test_a_topic_subscribed_twice_is_refused() -> None:
    consumer = one_group(Journal())
    with pytest.raises(ValueError, match=r"appeals\.immediate twice"):
        consumer.subscribe_to(IMMEDIATE, Subscription({}))


def test_a_service_reads_its_topics_in_one_group_in_the_pipelines_order() -> None:
    from services.tracking.app import build
    from shared.settings import Settings

    settings = Settings(dev_mode=True, tracking_code_key="test-tracking-code-key")
    runtime = build(settings).state.runtime
    [consumer] = runtime.consumers
    assert consumer.group == "jiban.tracking"
    assert consumer.topics == (
        "appeals.immediate",
        "appeals.assignments",
        "appeals.follow-ups",
        "directory.changes",
        "visits.logged",
    )
    # Each topic's offsets come from the group that read it alone before.
    assert runtime.earlier_groups == {t: f"jiban.tracking.{t}" for t in consumer.topics}
    # One subscriber for all of them: one group member per replica.
    [subscriber] = runtime.broker.subscribers
    assert [t.name for t in subscriber.topics] == list(consumer.topics)
    with pytest.raises(RuntimeError, match=r"before app\(\)"):
        runtime.consume("appeals.lifecycle", {})


def test_intakes_channel_topics_hand_over_from_their_one_shared_group() -> None:
    from services.intake.app import build
    from shared.settings import Settings

    settings = Settings(dev_mode=True, tracking_code_key="test-tracking-code-key")
    runtime = build(settings).state.runtime
    inbound = {t: g for t, g in runtime.earlier_groups.items() if t.startswith("appeals.inbound.")}
    assert inbound and set(inbound.values()) == {"jiban.intake.appeals.inbound"}
    assert runtime.earlier_groups["appeals.lifecycle"] == "jiban.intake.appeals.lifecycle"
