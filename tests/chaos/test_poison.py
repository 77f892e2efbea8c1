"""Scenario 4: malformed, wrongly typed and oversized messages on every consumed topic, amid a
stream of real appeals. Each lands on `<topic>.dlq` once per consuming group, with the error and
its origin in headers; a message sent after them with the same key is still handled.

Two kinds of consumed topic: our own events in their envelope (appeals.immediate, …), and the
adapters' native payloads on `appeals.inbound.<channel>`, which intake wraps itself. There, a
JSON object of the wrong shape is not poison but a submission to refuse: it gets a `rejected`
receipt, which is what this test sends after the poison to see the partition flow."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from factories import assigned, credit_code, envelope_of, received
from faults import APPEALS, RATE, assert_faults_under_load, settle, time_limit, wait_handling
from harness import Topics, eventually
from ledger import Group, consumer_groups
from load import Load

from shared.envelope import Envelope
from shared.events import (
    AppealAssigned,
    AppealReceived,
    AppealStatusChanged,
    DeadlineWarning,
    Event,
    FiveOnesReminder,
    FollowUpRecorded,
    OfficerChanged,
    VisitLogged,
)
from shared.migrations import SERVICES
from shared.settings import Settings
from shared.signing import kafka_signature_headers
from shared.topics import INBOUND_PREFIX, INBOUND_RECEIPTS, TopicNames, all_topics, dlq_of
from shared.vocabulary import AppealStatus, Channel, OfficerRole, Satisfaction

pytestmark = pytest.mark.chaos

# A good event for each consumed envelope topic; a topic added to a service's wiring without one
# here fails the test, so the new topic gets its poison too.
GOOD: dict[str, Callable[[uuid.UUID], Event]] = {
    AppealReceived.TOPIC: lambda appeal_id: received(appeal_id),
    AppealAssigned.TOPIC: lambda appeal_id: assigned(appeal_id, "cw-dw01-1"),
    AppealStatusChanged.TOPIC: lambda appeal_id: AppealStatusChanged(
        appeal_id=appeal_id,
        from_status=None,
        to_status=AppealStatus.RECEIVED,
        changed_at=datetime.now(UTC),
    ),
    # A call-back's result for an appeal tracking never heard of: logged and skipped.
    FollowUpRecorded.TOPIC: lambda appeal_id: FollowUpRecorded(
        appeal_id=appeal_id,
        channel=Channel.HOTLINE_12345,
        contacted=True,
        solved=True,
        satisfaction=Satisfaction.SATISFIED,
        recorded_at=datetime.now(UTC),
    ),
    VisitLogged.TOPIC: lambda appeal_id: VisitLogged(
        visit_id=f"chaos-{appeal_id.hex[:12]}",
        officer_id="cso-chaos",
        enterprise_credit_code=credit_code(9),
        visited_at=datetime.now(UTC),
    ),
    # A warning about an appeal notify never heard of: its officer is told all the same.
    DeadlineWarning.TOPIC: lambda appeal_id: DeadlineWarning(
        appeal_id=appeal_id,
        stage="resolve",
        officer_id="cw-dw01-1",
        due_at=datetime.now(UTC),
        rule="complaint: 15 working days",
        fired_at=datetime.now(UTC),
    ),
    # Keyed by the CSO (made up for the test, like the officer below).
    FiveOnesReminder.TOPIC: lambda appeal_id: FiveOnesReminder(
        officer_id=f"cso-{appeal_id.hex[:12]}",
        month="2026-11",
        uncontacted_credit_codes=[credit_code(9)],
        enterprises_total=8,
        problems_solved=2,
        month_ends_on=date(2026, 11, 30),
    ),
    # Directory events are keyed by their subject (here an officer made up for the test).
    OfficerChanged.TOPIC: lambda appeal_id: OfficerChanged(
        officer_id=f"chaos-{appeal_id.hex[:12]}",
        name="混沌测试干部",
        role=OfficerRole.COMMUNITY_WORKER,
        unit="大旺社区",
        on_duty=True,
    ),
}
# The field the oversized message blows up (it must then fail validation): the appeal id for
# appeal events; for an officer, its role (any string is a valid id, but not a valid role); for
# a visit, its time; for a five-ones reminder, the month's last day.
HUGE_FIELD: dict[str, str] = {
    OfficerChanged.TOPIC: "role",
    VisitLogged.TOPIC: "visited_at",
    FiveOnesReminder.TOPIC: "month_ends_on",
}


@dataclass(frozen=True)
class Sent:
    kind: str
    body: bytes
    partition: int
    offset: int


def envelope_poison(topic: str, good: Envelope, settings: Settings) -> dict[str, tuple[bytes, str]]:
    """Bad messages for an envelope topic, each with the start of the error it should cause."""
    invalid = f"invalid {good.type} payload"
    # Every value wrapped in a list: a valid envelope whose payload has the wrong types.
    wrong = {k: [v] for k, v in good.payload.items()}
    # A real-looking event, too big to dead-letter whole (but under the broker's limit), and
    # wrong: its appeal id (or the topic's HUGE_FIELD) is half a megabyte of "x".
    field = HUGE_FIELD.get(topic, "appeal_id")
    huge = {**good.payload, field: "x" * (settings.dlq_max_body_bytes + 64 * 1024)}
    return {
        "bad_json": (b'{"event_id": "' + good.key + b'", this is not json', "invalid envelope"),
        "wrong_types": (good.model_copy(update={"payload": wrong}).to_bytes(), invalid),
        "oversized": (good.model_copy(update={"payload": huge}).to_bytes(), invalid),
    }


def native_poison(settings: Settings) -> dict[str, tuple[bytes, str]]:
    """Bad messages for an adapter's topic: not JSON, JSON but not an object, too big."""
    return {
        "bad_json": (b"{this is not json", "not JSON"),
        "wrong_types": (json.dumps(["an", "array", 1]).encode(), "not a JSON object"),
        "oversized": (b"<" * (settings.dlq_max_body_bytes + 64 * 1024), "not JSON"),
    }


def signed_as_its_adapter(topic: str, value: bytes) -> list[tuple[str, bytes]]:
    """The headers the topic's adapter signs a message with (the stack runs in development
    mode: with the channel's development key)."""
    channel = topic.removeprefix(INBOUND_PREFIX)
    key_id, secret = f"dev-{channel}", f"dev-secret-{channel}"
    headers = kafka_signature_headers(key_id, secret, topic, value, time.time())
    return [(name, text.encode()) for name, text in headers.items()]


async def in_inbox(settings: Settings, service: str, event_id: uuid.UUID) -> bool:
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        sql = f'SELECT count(*) FROM "{service}".inbox WHERE event_id = $1'
        return bool(await conn.fetchval(sql, event_id))
    finally:
        await conn.close()


@pytest.mark.timeout(time_limit(240))
async def test_poison_on_every_consumed_topic_is_dead_lettered_once_per_group(new_settings, stacks):
    settings = await new_settings()
    names = TopicNames(settings.topic_prefix)
    readers: dict[str, list[Group]] = defaultdict(list)  # topic -> the groups consuming it
    for group in consumer_groups(settings):
        for topic in group.topics:
            readers[topic].append(group)
    native = {t for t in readers if t.startswith(INBOUND_PREFIX)}
    missing = set(readers) - native - set(GOOD)
    assert not missing, f"no good event for {missing}"

    stack = stacks(settings)
    await asyncio.to_thread(stack.start_all)
    load = Load(stack.url("intake"), RATE, minimum=APPEALS)
    async with load:
        await load.reached(max(APPEALS // 3, 20))
        await wait_handling(stack, SERVICES)

        # Per topic: three bad messages, then one to be handled, all with the same key, so all four
        # share a partition and the last queues behind the bad ones.
        sent: dict[str, dict[str, Sent]] = defaultdict(dict)
        errors: dict[str, dict[str, str]] = defaultdict(dict)
        keys: dict[str, bytes] = {}
        goods: dict[str, Envelope] = {}
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, max_request_size=2 * 1024 * 1024
        )
        await producer.start()
        try:
            for topic in readers:
                if topic in native:
                    keys[topic] = f"chaos-{uuid.uuid4().hex[:12]}".encode()
                    bad = native_poison(settings)
                    # Signed, but of the wrong shape for every channel: refused with a receipt,
                    # not poison.
                    after = json.dumps({"external_id": keys[topic].decode(), "x": [1]}).encode()
                else:
                    goods[topic] = envelope_of(GOOD[topic](uuid.uuid4()))
                    keys[topic] = goods[topic].key
                    bad = envelope_poison(topic, goods[topic], settings)
                    after = goods[topic].to_bytes()
                messages = {**{k: body for k, (body, _) in bad.items()}, "after": after}
                errors[topic] = {k: error for k, (_, error) in bad.items()}
                for kind, body in messages.items():
                    signed = topic in native and kind == "after"
                    meta = await producer.send_and_wait(
                        names.physical(topic),
                        body,
                        key=keys[topic],
                        headers=signed_as_its_adapter(topic, body) if signed else None,
                    )
                    sent[topic][kind] = Sent(kind, body, meta.partition, meta.offset)
        finally:
            await producer.stop()
        load.mark("poison sent")

        async def passed() -> bool:
            """Every consuming group handled the good event behind the poison."""
            return all(
                [
                    await in_inbox(settings, group.service, envelope.event_id)
                    for topic, envelope in goods.items()
                    for group in readers[topic]
                ]
            )

        await eventually(passed, timeout_s=120, every_s=0.5)
        load.mark("every group past the poison")
        await load.stop()
    assert_faults_under_load(load)

    x = str(goods[AppealReceived.TOPIC].subject_id)  # received (dispatch then assigns it)
    y = str(goods[AppealAssigned.TOPIC].subject_id)  # only ever assigned
    w = str(goods[DeadlineWarning.TOPIC].subject_id)  # warned about, never received
    facts, dead = await settle(settings, load, also={x, y, w})

    # The messages behind the poison were handled by every group: for our events, each
    # consuming service's inbox has them, and the effects are there, once.
    for topic, envelope in goods.items():
        for group in readers[topic]:
            assert await in_inbox(settings, group.service, envelope.event_id), (topic, group)
    assert facts.notifications[w] == [("officer:cw-dw01-1", "deadline_warning", "sent", True)]
    officer = facts.assignments[x]
    assert facts.tracking[x] == ("assigned", officer)
    assert facts.history[x] == {"received": 1, "deadlines_set": 1, "assigned": 1}
    assert sorted(facts.notifications[x]) == [
        ("appellant", "appeal_received", "sent", True),
        (f"officer:{officer}", "new_assignment", "sent", True),
    ]
    assert y not in facts.assignments
    # Tracking keeps an assignment until it hears the receipt (none comes for y): the appeal's
    # row holds no status, it has no history, and the assignment waits.
    assert facts.tracking[y] == (None, None)
    assert facts.history[y] == {}
    assert facts.waiting[y] == ["AppealAssigned"]
    assert facts.notifications[y] == [("officer:cw-dw01-1", "new_assignment", "sent", True)]
    # … and for the adapters' topics, each got its `rejected` receipt.
    topics = Topics(settings)
    receipts = [r.json()["payload"] for r in await topics.read(INBOUND_RECEIPTS, at_least=1)]
    for topic in native:
        refused = [r for r in receipts if r.get("external_id") == keys[topic].decode()]
        assert [(r["channel"], r["status"]) for r in refused] == [
            (topic.removeprefix(INBOUND_PREFIX), "rejected")
        ], refused
        # For its fields, not its signature.
        assert all(e["loc"][:1] != ["header"] for e in refused[0]["errors"]), refused

    # Only the consumed topics' twins hold dead letters: three per consuming group.
    expected = {dlq_of(t): 3 * len(groups) for t, groups in readers.items()}
    assert dead == {t: expected.get(t, 0) for t in all_topics() if t.endswith(".dlq")}

    for topic, groups in readers.items():
        bad_sent = {k: s for k, s in sent[topic].items() if k != "after"}
        partition = sent[topic]["after"].partition
        assert {s.partition for s in bad_sent.values()} == {partition}
        assert all(s.offset < sent[topic]["after"].offset for s in bad_sent.values())

        letters = await topics.read(dlq_of(topic), at_least=expected[dlq_of(topic)])
        by_offset = {s.offset: s for s in bad_sent.values()}
        origins = sorted(
            (int(d.headers["x-origin-offset"]), d.headers["x-origin-group"]) for d in letters
        )
        # Once per consuming group: every (message, group) pair exactly once.
        assert origins == sorted((o, g.name) for o in by_offset for g in groups), topic
        for d in letters:
            original = by_offset[int(d.headers["x-origin-offset"])]
            assert d.headers["x-origin-topic"] == topic
            assert d.headers["x-origin-partition"] == str(partition)
            assert d.key == keys[topic]
            error = d.headers["x-error"]
            assert error.startswith(errors[topic][original.kind]), (topic, original.kind, error)
            if original.kind == "oversized":
                assert len(original.body) > settings.dlq_max_body_bytes
                assert d.headers["x-truncated-from-bytes"] == str(len(original.body))
                assert d.value == original.body[: settings.dlq_max_body_bytes]
            else:
                assert "x-truncated-from-bytes" not in d.headers
                assert d.value == original.body
