"""EventConsumer.process() and process_batch(): exactly one outcome per message, with
in-memory fakes for the database (transactional: nothing sticks unless the transaction
commits), the inbox and the DLQ."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

import shared.consumer
from shared.consumer import Delivery, EventConsumer, Route, Subscription
from shared.deadletter import Origin
from shared.envelope import Envelope
from shared.events import AppealAssigned
from shared.outbox import OutboxRow
from shared.unit_of_work import UnitOfWork, UnitsOfWork

TOPIC = "appeals.assignments"
GROUP = "jiban.tracking.appeals.assignments"
ORIGIN = Origin(TOPIC, partition=2, offset=77, key=b"k", group=GROUP)


# --- fakes ---------------------------------------------------------------------------------


class FakeSession:
    def __init__(self) -> None:
        self.on_commit: list[Callable[[], None]] = []
        self.inbox: set[uuid.UUID] = set()  # inbox rows written in this transaction


class FakeDatabase:
    """Each transaction commits its session's pending changes on a clean exit; `fail_commits`
    makes the next N commits raise ConnectionRefusedError (and roll back) instead."""

    def __init__(self, fail_commits: int = 0) -> None:
        self.fail_commits = fail_commits
        self.opened = 0
        self.commits = 0

    @asynccontextmanager
    async def transaction(self, *, snapshot: bool = False) -> AsyncIterator[FakeSession]:
        self.opened += 1
        session = FakeSession()
        yield session
        if self.fail_commits > 0:
            self.fail_commits -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        self.commits += 1
        for apply in session.on_commit:
            apply()


class FakeInbox:
    def __init__(self) -> None:
        self.seen: set[uuid.UUID] = set()

    async def record_new(
        self, session: FakeSession, envelopes: list[Envelope], topics: list[str]
    ) -> set[uuid.UUID]:
        assert topics == [TOPIC] * len(envelopes)
        new = {e.event_id for e in envelopes} - self.seen - session.inbox
        session.inbox |= new
        session.on_commit.append(lambda: self.seen.update(new))
        return set(new)


class FakeOutbox:
    """What a handler's `uow.publish` puts: kept only once its transaction commits."""

    def __init__(self) -> None:
        self.published: list[str] = []

    async def put_all(self, session: FakeSession, rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            session.on_commit.append(lambda t=row.envelope.type: self.published.append(t))


class FakeDeadLetters:
    def __init__(self, fail_sends: int = 0) -> None:
        self.fail_sends = fail_sends
        self.sent: list[tuple[Origin, bytes, str]] = []

    async def send(self, origin: Origin, body: bytes, error: str) -> None:
        if self.fail_sends > 0:
            self.fail_sends -= 1
            raise ConnectionRefusedError(111, "broker down")
        self.sent.append((origin, body, error))


class Projection:
    """The handler under test: its effect sticks only when the transaction commits."""

    def __init__(self, fail_with: Exception | None = None, only_for: str | None = None) -> None:
        self.fail_with = fail_with
        self.only_for = only_for  # fail only for this officer id
        self.calls = 0
        self.officers: list[str] = []

    async def __call__(self, uow: UnitOfWork, envelope: Envelope, event: Any) -> None:
        self.calls += 1
        if self.fail_with is not None and self.only_for in (None, event.officer_id):
            raise self.fail_with
        session: FakeSession = uow.session  # type: ignore[assignment]
        session.on_commit.append(lambda: self.officers.append(event.officer_id))
        # Like a real handler, it causes an event: the relay is woken once it is committed.
        await uow.publish(event, correlation_id=envelope.correlation_id)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(shared.consumer.asyncio, "sleep", sleep)
    return slept


def make_consumer(
    handler: Projection,
    *,
    db: FakeDatabase | None = None,
    dead_letters: FakeDeadLetters | None = None,
    max_attempts: int = 3,
    unwrap: Callable[[bytes, Origin], Envelope] | None = None,
) -> EventConsumer:
    """`consumer.after_commit` lists what the units of work call once a commit published
    something (in a service: the relay's wake)."""
    hooks: list[Callable[[], None]] = []

    def after_commit() -> None:
        for hook in hooks:
            hook()

    units = UnitsOfWork(
        db or FakeDatabase(),  # type: ignore[arg-type]
        FakeOutbox(),  # type: ignore[arg-type]
        producer="tracking",
        after_commit=after_commit,
    )
    consumer = EventConsumer(
        service="tracking",
        topic=TOPIC,
        group=GROUP,
        units=units,
        inbox=FakeInbox(),  # type: ignore[arg-type]
        dead_letters=dead_letters or FakeDeadLetters(),  # type: ignore[arg-type]
        max_attempts=max_attempts,
        max_backoff_s=0.01,
    )
    routes = {AppealAssigned.TYPE: Route(AppealAssigned, handler)}
    consumer.subscribe_to(TOPIC, Subscription(routes, unwrap=unwrap))
    consumer.after_commit = hooks  # type: ignore[attr-defined]
    return consumer


def assigned_envelope(officer_id: str = "cw-dw01-1") -> Envelope:
    event = AppealAssigned(
        appeal_id=uuid.uuid4(),
        officer_id=officer_id,
        reason_code="least_loaded_handler",
        reason="在岗办理人员中在办诉求最少（0 件）：李社工",
        assigned_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        tracking_code="JB261127-7K3Q9X",
    )
    return event.envelope(correlation_id="req-1", producer="dispatch")


# --- bad messages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b'{"type": "AppealAssigned"}', b"\xff\xfe", b"[]"],
    ids=["not_json", "missing_fields", "not_utf8", "not_an_object"],
)
async def test_invalid_envelope_is_dead_lettered(body: bytes) -> None:
    handler, db, dlq = Projection(), FakeDatabase(), FakeDeadLetters()
    consumer = make_consumer(handler, db=db, dead_letters=dlq)

    assert await consumer.process(body, ORIGIN) == "dead_lettered"

    ((origin, sent_body, error),) = dlq.sent
    assert (origin, sent_body) == (ORIGIN, body)
    assert "invalid envelope" in error
    assert (handler.calls, db.opened) == (0, 0)


async def test_invalid_payload_is_dead_lettered_naming_type_and_field() -> None:
    envelope = assigned_envelope()
    payload = {k: v for k, v in envelope.payload.items() if k != "officer_id"}
    body = envelope.model_copy(update={"payload": payload}).to_bytes()
    handler, dlq = Projection(), FakeDeadLetters()
    consumer = make_consumer(handler, dead_letters=dlq)

    assert await consumer.process(body, ORIGIN) == "dead_lettered"

    ((_, sent_body, error),) = dlq.sent
    assert sent_body == body
    assert "invalid AppealAssigned payload" in error
    assert "officer_id" in error
    assert handler.calls == 0


async def test_unknown_type_is_skipped_without_dead_letter() -> None:
    body = assigned_envelope().model_copy(update={"type": "AppealEscalated"}).to_bytes()
    handler, db, dlq = Projection(), FakeDatabase(), FakeDeadLetters()
    consumer = make_consumer(handler, db=db, dead_letters=dlq)

    assert await consumer.process(body, ORIGIN) == "skipped_unknown_type"

    assert dlq.sent == []
    assert (handler.calls, db.opened) == (0, 0)


async def test_dead_letter_publish_is_retried_until_it_succeeds() -> None:
    dlq = FakeDeadLetters(fail_sends=3)
    consumer = make_consumer(Projection(), dead_letters=dlq)

    assert await consumer.process(b"garbage", ORIGIN) == "dead_lettered"

    assert len(dlq.sent) == 1


# --- handling and duplicates ---------------------------------------------------------------


async def test_first_delivery_is_handled_once() -> None:
    handler, db, dlq = Projection(), FakeDatabase(), FakeDeadLetters()
    consumer = make_consumer(handler, db=db, dead_letters=dlq)

    assert await consumer.process(assigned_envelope().to_bytes(), ORIGIN) == "handled"

    assert handler.calls == 1
    assert handler.officers == ["cw-dw01-1"]
    assert db.commits == 1
    assert dlq.sent == []


async def test_same_event_again_is_a_duplicate_and_not_handled_again() -> None:
    handler = Projection()
    consumer = make_consumer(handler)
    body = assigned_envelope().to_bytes()

    assert await consumer.process(body, ORIGIN) == "handled"
    assert await consumer.process(body, ORIGIN) == "duplicate"

    assert handler.calls == 1
    assert handler.officers == ["cw-dw01-1"]


async def test_different_events_are_each_handled() -> None:
    handler = Projection()
    consumer = make_consumer(handler)

    for _ in range(3):
        assert await consumer.process(assigned_envelope().to_bytes(), ORIGIN) == "handled"

    assert handler.officers == ["cw-dw01-1"] * 3


# --- retries -------------------------------------------------------------------------------


async def test_transient_failures_are_retried_and_do_not_count_as_attempts(
    no_backoff: list[float],
) -> None:
    handler, db, dlq = Projection(), FakeDatabase(fail_commits=2), FakeDeadLetters()
    consumer = make_consumer(handler, db=db, dead_letters=dlq, max_attempts=2)

    assert await consumer.process(assigned_envelope().to_bytes(), ORIGIN) == "handled"

    assert dlq.sent == []
    assert handler.calls == 3  # ran in each transaction, two of which rolled back
    assert handler.officers == ["cw-dw01-1"]  # ... so the effect is there exactly once
    assert db.commits == 1
    assert len(no_backoff) == 2


async def test_backoff_doubles_up_to_max_backoff_with_jitter(no_backoff: list[float]) -> None:
    consumer = make_consumer(Projection(), db=FakeDatabase(fail_commits=6))
    consumer.max_backoff_s = 0.4

    assert await consumer.process(assigned_envelope().to_bytes(), ORIGIN) == "handled"

    schedule = [0.1, 0.2, 0.4, 0.4, 0.4, 0.4]
    assert len(no_backoff) == len(schedule)
    for slept, backoff in zip(no_backoff, schedule, strict=True):
        assert 0.5 * backoff <= slept <= 1.5 * backoff


@pytest.mark.parametrize("max_attempts", [1, 3, 5])
async def test_handler_error_is_dead_lettered_after_max_attempts(max_attempts: int) -> None:
    handler = Projection(fail_with=ValueError("officer unknown"))
    db, dlq = FakeDatabase(), FakeDeadLetters()
    consumer = make_consumer(handler, db=db, dead_letters=dlq, max_attempts=max_attempts)
    body = assigned_envelope().to_bytes()

    assert await consumer.process(body, ORIGIN) == "dead_lettered"

    assert handler.calls == max_attempts
    ((origin, sent_body, error),) = dlq.sent
    assert (origin, sent_body) == (ORIGIN, body)
    assert error == "ValueError: officer unknown"
    assert db.commits == 0


async def test_dead_lettered_event_was_not_recorded_in_the_inbox() -> None:
    handler = Projection(fail_with=ValueError("boom"))
    consumer = make_consumer(handler, max_attempts=1)
    envelope = assigned_envelope()

    await consumer.process(envelope.to_bytes(), ORIGIN)

    assert envelope.event_id not in consumer.inbox.seen  # type: ignore[attr-defined]


# --- waking the relay after a commit -------------------------------------------------------


async def test_after_commit_hooks_run_only_when_handled() -> None:
    woken: list[str] = []
    consumer = make_consumer(Projection())
    consumer.after_commit.append(lambda: woken.append("relay"))
    body = assigned_envelope().to_bytes()

    assert await consumer.process(body, ORIGIN) == "handled"
    assert woken == ["relay"]

    assert await consumer.process(body, ORIGIN) == "duplicate"
    unknown = assigned_envelope().model_copy(update={"type": "AppealEscalated"}).to_bytes()
    assert await consumer.process(unknown, ORIGIN) == "skipped_unknown_type"
    assert await consumer.process(b"{}", ORIGIN) == "dead_lettered"
    assert woken == ["relay"]


async def test_after_commit_hooks_do_not_run_when_handler_keeps_failing() -> None:
    woken: list[str] = []
    consumer = make_consumer(Projection(fail_with=KeyError("x")), max_attempts=2)
    consumer.after_commit.append(lambda: woken.append("relay"))

    assert await consumer.process(assigned_envelope().to_bytes(), ORIGIN) == "dead_lettered"
    assert woken == []


async def test_after_commit_hooks_run_after_the_commit() -> None:
    db = FakeDatabase()
    commits_seen: list[int] = []
    consumer = make_consumer(Projection(), db=db)
    consumer.after_commit.append(lambda: commits_seen.append(db.commits))

    await consumer.process(assigned_envelope().to_bytes(), ORIGIN)

    assert commits_seen == [1]


def test_payload_round_trips_through_json() -> None:
    # Guards the fixture: the envelope the tests feed in is real JSON.
    assert json.loads(assigned_envelope().to_bytes())["type"] == "AppealAssigned"


# --- batches -------------------------------------------------------------------------------


def deliveries(*bodies: bytes) -> list[Delivery]:
    return [
        Delivery(body, Origin(TOPIC, partition=1, offset=10 + i, key=b"k", group=GROUP))
        for i, body in enumerate(bodies)
    ]


async def test_a_batch_is_handled_in_one_transaction() -> None:
    db, handler, woken = FakeDatabase(), Projection(), []
    consumer = make_consumer(handler, db=db)
    consumer.after_commit.append(lambda: woken.append("relay"))
    batch = [assigned_envelope(f"cw-{i}").to_bytes() for i in range(5)]

    assert await consumer.process_batch(deliveries(*batch)) == ["handled"] * 5

    assert (db.opened, db.commits) == (1, 1)
    assert sorted(handler.officers) == [f"cw-{i}" for i in range(5)]
    assert woken == ["relay"]


async def test_a_batch_is_handled_in_subject_order_keeping_each_subjects_order() -> None:
    # Same lock order in every transaction (no deadlocks); one appeal's events stay in order.
    handler = Projection()
    consumer = make_consumer(handler)
    late, early = uuid.UUID(int=2), uuid.UUID(int=1)

    def for_appeal(appeal: uuid.UUID, officer: str) -> bytes:
        envelope = assigned_envelope(officer)
        payload = {**envelope.payload, "appeal_id": str(appeal)}
        return envelope.model_copy(
            update={"subject_id": str(appeal), "payload": payload}
        ).to_bytes()

    batch = [for_appeal(late, "late-1"), for_appeal(early, "early-1"), for_appeal(late, "late-2")]

    assert await consumer.process_batch(deliveries(*batch)) == ["handled"] * 3
    assert handler.officers == ["early-1", "late-1", "late-2"]


async def test_bad_and_unknown_messages_in_a_batch_do_not_hold_up_the_good_ones() -> None:
    handler, dlq = Projection(), FakeDeadLetters()
    consumer = make_consumer(handler, dead_letters=dlq)
    unknown = assigned_envelope().model_copy(update={"type": "AppealEscalated"}).to_bytes()
    batch = deliveries(
        assigned_envelope("cw-a").to_bytes(),
        b"garbage",
        unknown,
        assigned_envelope("cw-b").to_bytes(),
    )

    outcomes = await consumer.process_batch(batch)

    assert outcomes == ["handled", "dead_lettered", "skipped_unknown_type", "handled"]
    assert sorted(handler.officers) == ["cw-a", "cw-b"]
    assert [(origin.offset, body) for origin, body, _ in dlq.sent] == [(11, b"garbage")]


async def test_the_same_event_twice_in_one_batch_is_handled_once() -> None:
    handler = Projection()
    consumer = make_consumer(handler)
    body = assigned_envelope().to_bytes()

    assert await consumer.process_batch(deliveries(body, body)) == ["handled", "duplicate"]
    assert handler.officers == ["cw-dw01-1"]


async def test_a_failing_handler_in_a_batch_is_isolated_and_the_rest_applied_once() -> None:
    handler, dlq, db = (
        Projection(KeyError("boom"), only_for="cw-bad"),
        FakeDeadLetters(),
        FakeDatabase(),
    )
    consumer = make_consumer(handler, db=db, dead_letters=dlq, max_attempts=2)
    batch = [assigned_envelope(o).to_bytes() for o in ("cw-a", "cw-bad", "cw-c")]

    outcomes = await consumer.process_batch(deliveries(*batch))

    assert outcomes == ["handled", "dead_lettered", "handled"]
    # The failed batch was rolled back, so the good effects happened exactly once.
    assert sorted(handler.officers) == ["cw-a", "cw-c"]
    assert len(dlq.sent) == 1 and "KeyError" in dlq.sent[0][2]
    assert dlq.sent[0][0].offset == 11


async def test_a_transient_failure_retries_the_whole_batch_without_doubling() -> None:
    handler, db = Projection(), FakeDatabase(fail_commits=2)
    consumer = make_consumer(handler, db=db, max_attempts=1)
    batch = [assigned_envelope(o).to_bytes() for o in ("cw-a", "cw-b")]

    assert await consumer.process_batch(deliveries(*batch)) == ["handled", "handled"]
    assert sorted(handler.officers) == ["cw-a", "cw-b"]
    assert (db.opened, db.commits) == (3, 1)


class FakeRecord:
    def __init__(self, partition: int, offset: int) -> None:
        self.topic, self.partition, self.offset, self.key = TOPIC, partition, offset, b"k"
        self.headers: list[tuple[str, bytes]] = []


class FakeKafkaConsumer:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def seek(self, partition: Any, offset: int) -> None:
        self.log.append(f"seek {partition.partition}@{offset}")


class FakeMessage:
    """What FastStream hands a batch subscriber: the records, ack() for the whole poll, and the
    aiokafka consumer (whose position ack() commits)."""

    def __init__(self, records: tuple[FakeRecord, ...], log: list[str]) -> None:
        self.raw_message = records
        self.log = log
        self.consumer = FakeKafkaConsumer(log)

    async def ack(self) -> None:
        self.log.append("ack")


async def test_the_poll_is_acked_once_after_every_message_has_its_outcome() -> None:
    events: list[str] = []
    dlq = FakeDeadLetters()
    consumer = make_consumer(Projection(), dead_letters=dlq)
    consumer.after_commit.append(lambda: events.append("committed"))
    records = (FakeRecord(3, 40), FakeRecord(3, 41))
    bodies = [assigned_envelope().to_bytes(), b"nope"]

    await consumer(bodies, FakeMessage(records, events))  # type: ignore[arg-type]

    assert events == ["committed", "ack"]
    assert [(o.partition, o.offset) for o, _, _ in dlq.sent] == [(3, 41)]
    assert consumer.health.handled == 2 and consumer.health.busy_since is None


# --- messages that cannot even be unwrapped ------------------------------------------------


def unwrap_or_raise(body: bytes, origin: Origin) -> Envelope:
    """Like intake's unwrap of adapters' native payloads: what it raises depends on the body."""
    if body == b"value-error":
        raise ValueError("no channel for this topic")
    if body == b"deep":
        json.loads("[" * 100_000 + "]" * 100_000)  # RecursionError
    if body == b"long-key":
        return Envelope(type="AppealAssigned", subject_id="k" * 300, correlation_id="c", payload={})
    if body == b"broker-down":
        raise ConnectionRefusedError(111, "Connection refused")
    return Envelope.model_validate_json(body)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"value-error", "ValueError: no channel for this topic"),
        (b"deep", "RecursionError"),
        (b"long-key", "subject_id"),
    ],
    ids=["value_error", "recursion_error", "validation_error"],
)
async def test_a_message_the_unwrap_fails_on_is_dead_lettered_and_the_next_handled(
    body: bytes, error: str
) -> None:
    events: list[str] = []
    handler, dlq = Projection(), FakeDeadLetters()
    consumer = make_consumer(handler, dead_letters=dlq, unwrap=unwrap_or_raise)
    consumer.after_commit.append(lambda: events.append("committed"))
    records = (FakeRecord(3, 40), FakeRecord(3, 41))
    bodies = [body, assigned_envelope("cw-next").to_bytes()]

    await consumer(bodies, FakeMessage(records, events))  # type: ignore[arg-type]

    ((origin, sent_body, sent_error),) = dlq.sent
    assert (origin.offset, sent_body) == (40, body)
    assert error in sent_error
    assert handler.officers == ["cw-next"]
    assert events == ["committed", "ack"]


async def test_a_transient_failure_while_unwrapping_rewinds_the_batch_instead_of_acking(
    no_backoff: list[float],
) -> None:
    events: list[str] = []
    handler, dlq = Projection(), FakeDeadLetters()
    unwrap = [unwrap_or_raise]  # the broker comes back below
    consumer = make_consumer(handler, dead_letters=dlq, unwrap=lambda b, o: unwrap[0](b, o))
    records = (FakeRecord(3, 40), FakeRecord(3, 41), FakeRecord(5, 7), FakeRecord(3, 42))
    bodies = [b"garbage", b"broker-down", assigned_envelope().to_bytes(), b"x"]

    await consumer(bodies, FakeMessage(records, events))  # type: ignore[arg-type]

    # Not acked, and the position is back at each partition's first message of the batch, so
    # the next poll's ack cannot commit past them: they come again.
    assert events == ["seek 3@40", "seek 5@7"]
    assert handler.calls == 0
    assert len(no_backoff) == 1
    assert consumer.health.retrying is None and consumer.health.busy_since is None

    unwrap[0] = lambda body, _origin: Envelope.model_validate_json(body)
    await consumer(bodies, FakeMessage(records, events))  # type: ignore[arg-type]
    assert events[-1] == "ack"


async def test_anything_escaping_a_batch_rewinds_it_and_cancellation_still_propagates(
    no_backoff: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared.consumer.random, "random", lambda: 0.5)  # no jitter
    events: list[str] = []
    consumer = make_consumer(Projection())
    records = (FakeRecord(1, 5), FakeRecord(1, 6))
    bodies = [assigned_envelope().to_bytes()] * 2

    async def bug(deliveries: list[Delivery]) -> list[str]:
        raise AssertionError("a bug")

    consumer.process_batch = bug  # type: ignore[method-assign]
    await consumer(bodies, FakeMessage(records, events))  # type: ignore[arg-type]
    await consumer(bodies, FakeMessage(records, events))  # type: ignore[arg-type]
    assert events == ["seek 1@5", "seek 1@5"]
    # Backing off, not spinning: each rewind waits, the second no less than the first.
    assert 0 < no_backoff[0] <= no_backoff[1]

    async def cancelled(deliveries: list[Delivery]) -> list[str]:
        raise asyncio.CancelledError

    consumer.process_batch = cancelled  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await consumer(bodies, FakeMessage(records, events))  # type: ignore[arg-type]
    assert events[-1] == "seek 1@5" and len(no_backoff) == 2


async def test_a_poll_that_found_nothing_is_not_followed_by_a_pause() -> None:
    from faststream.kafka import KafkaBroker

    subscriber = KafkaBroker("localhost:1").subscriber(
        "t",
        group_id="g",
        batch=True,
        ack_policy=shared.consumer.AckPolicy.MANUAL,
        batch_timeout_ms=60_000,
        max_records=7,
    )
    shared.consumer._poll_without_pausing(subscriber)
    asked: list[tuple[int, int]] = []

    class Polled:
        async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
            asked.append((timeout_ms, max_records))
            return {"p0": ["a", "b"], "p1": ["c"]} if len(asked) > 1 else {}

    # FastStream's own would sleep 60 s after the empty poll; this asks again at once.
    nothing = await asyncio.wait_for(subscriber.get_msg(Polled()), 1)
    some = await asyncio.wait_for(subscriber.get_msg(Polled()), 1)
    assert nothing == ()
    assert some == ("a", "b", "c")
    assert asked == [(60_000, 7), (60_000, 7)]
