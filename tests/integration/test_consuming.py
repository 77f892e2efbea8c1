"""Consumers against a real broker and Postgres: redelivery, order, poison messages."""

from __future__ import annotations

import uuid

import pytest
from factories import ENTERPRISE, assigned, envelope_of, received, small_directory
from harness import count
from sqlalchemy import select

from jiban.setup import load_demo_directory
from shared.db import Database
from shared.envelope import Envelope
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, APPEALS_LIFECYCLE, dlq_of

pytestmark = pytest.mark.integration


async def test_redelivered_event_changes_nothing(settings, run_service, topics, wait_until):
    from services.dispatch.tables import assignments, inbox

    await load_demo_directory(settings, small_directory())
    event = received(
        appellant={"name": "张先生", "phone": "13600000001", "enterprise_credit_code": ENTERPRISE}
    )
    envelope = envelope_of(event)
    async with run_service("dispatch"):
        for _ in range(3):  # the same event, delivered three times
            await topics.send(APPEALS_IMMEDIATE, envelope.to_bytes(), envelope.key)
        # ... and republished under a new event id (a relay that crashed before deleting it)
        again = envelope.model_copy(update={"event_id": uuid.uuid4()})
        await topics.send(APPEALS_IMMEDIATE, again.to_bytes(), again.key)
        await wait_until(lambda: _inbox_has(settings, inbox, 2))
    published = await topics.read(APPEALS_ASSIGNMENTS, at_least=1)
    assert len(published) == 1
    payload = published[0].json()["payload"]
    assert payload["officer_id"] == "cso-1"
    assert payload["reason_code"] == "enterprise_cso"
    assert await count(settings, assignments) == 1


async def _inbox_has(settings, inbox, n: int) -> bool:
    return await count(settings, inbox) >= n


async def test_community_workers_share_residents_appeals(settings, run_service, topics, wait_until):
    from services.dispatch.tables import assignments

    await load_demo_directory(settings, small_directory())
    async with run_service("dispatch"):
        for _ in range(4):
            env = envelope_of(received())
            await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)
        await wait_until(lambda: _has(settings, assignments, 4))
    published = await topics.read(APPEALS_ASSIGNMENTS, at_least=4)
    officers = sorted(r.json()["payload"]["officer_id"] for r in published)
    # The two workers of the residents' community share four appeals, least loaded first.
    assert officers == ["cw-1", "cw-1", "cw-2", "cw-2"]


async def _has(settings, table, n: int) -> bool:
    return await count(settings, table) >= n


async def test_events_in_either_order_converge(settings, run_service, topics, wait_until):
    normal_id, reversed_id = uuid.uuid4(), uuid.uuid4()
    async with run_service("tracking") as tracking:
        for appeal_id, order in ((normal_id, "normal"), (reversed_id, "reversed")):
            rec = envelope_of(received(appeal_id, tracking_code=f"JB261127-{order[:6].upper()}"))
            asg = envelope_of(assigned(appeal_id, "cw-7"))
            sends = [(APPEALS_IMMEDIATE, rec), (APPEALS_ASSIGNMENTS, asg)]
            if order == "reversed":
                sends.reverse()
            for topic, env in sends:
                await topics.send(topic, env.to_bytes(), env.key)

        async def both_complete():
            views = []
            for appeal_id in (normal_id, reversed_id):
                r = await tracking.get(f"/v1/appeals/{appeal_id}")
                if r.status_code != 200 or len(moves(r.json())) < 2:
                    return None
                views.append(r.json())
            return views

        normal, reverse = await wait_until(both_complete)
        queue = (await tracking.get("/v1/officers/cw-7/queue")).json()
        first = (await tracking.get("/v1/officers/cw-7/queue", params={"limit": 1})).json()
        second = (
            await tracking.get(
                "/v1/officers/cw-7/queue", params={"limit": 1, "cursor": first["next_cursor"]}
            )
        ).json()

    for view in (normal, reverse):
        assert view["status"] == "assigned"
        assert view["officer_id"] == "cw-7"
        assert view["tracking_code"].startswith("JB261127-")
        assert view["channel"] == "hotline_12345"
        assert [(h["from_status"], h["to_status"]) for h in moves(view)] == [
            (None, "received"),
            ("received", "assigned"),
        ]
        # Besides: the deadlines set on receipt, whatever the order.
        assert [h["kind"] for h in view["history"]].count("deadlines_set") == 1
    assert {item["appeal_id"] for item in queue["items"]} == {str(normal_id), str(reversed_id)}
    # Keyset pages (by assignment time, then id) hand out each appeal once.
    assert first["next_cursor"] and second["next_cursor"] is None
    paged = [first["items"][0]["appeal_id"], second["items"][0]["appeal_id"]]
    assert paged == [item["appeal_id"] for item in queue["items"]]


async def test_poison_messages_go_to_the_dlq_and_the_partition_keeps_flowing(
    settings, run_service, topics, wait_until
):
    from services.dispatch.tables import assignments

    await load_demo_directory(settings, small_directory())
    key = b"same-key-same-partition"
    good = envelope_of(received())
    unknown = Envelope(type="AppealTeleported", subject_id="x", correlation_id="c", payload={})
    bad_payload = envelope_of(received()).model_copy(update={"payload": {"appeal_id": "nope"}})
    poison = [
        b"{this is not json",
        b'{"event_id": "not-a-uuid", "type": 5}',
        bad_payload.to_bytes(),
    ]
    async with run_service("dispatch"):
        for body in poison:
            await topics.send(APPEALS_IMMEDIATE, body, key)
        await topics.send(APPEALS_IMMEDIATE, unknown.to_bytes(), key)
        await topics.send(APPEALS_IMMEDIATE, good.to_bytes(), key)
        await wait_until(lambda: _has(settings, assignments, 1))
    dead = await topics.read(dlq_of(APPEALS_IMMEDIATE), at_least=3)
    assert [d.value for d in dead] == poison
    physical = topics.name(APPEALS_IMMEDIATE)
    source = await topics.read(APPEALS_IMMEDIATE, at_least=5)
    offsets = {r.value: r.offset for r in source}
    for d in dead:
        assert d.headers["x-origin-topic"] == APPEALS_IMMEDIATE
        assert physical.endswith(d.headers["x-origin-topic"])
        assert d.headers["x-origin-offset"] == str(offsets[d.value])
        assert d.headers["x-origin-partition"] == str(source[0].partition)
        assert d.headers["x-error"]
        assert d.key == key
    assert "invalid envelope" in dead[0].headers["x-error"]
    assert "invalid AppealReceived payload" in dead[2].headers["x-error"]
    assert "appeal_id" in dead[2].headers["x-error"]
    # The unknown type was skipped, not dead-lettered; the good message was handled.
    assert len(dead) == 3
    assert await count(settings, assignments) == 1


async def test_readiness_reports_each_consumer(settings, run_service, topics, wait_until):
    await load_demo_directory(settings, small_directory())
    async with run_service("dispatch") as dispatch:
        env = envelope_of(received())
        await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)

        async def handled_one():
            body = (await dispatch.get("/readyz")).json()
            consumers = body["checks"]["consumers"]
            return body if consumers and consumers[0]["handled"] >= 1 else None

        ready = await wait_until(handled_one)
    assert ready["status"] == "ready"
    # The service's one group, reading both its topics.
    [consumer] = ready["checks"]["consumers"]
    assert consumer["group"] == settings.topic_prefix + "jiban.dispatch"
    assert consumer["topics"] == [APPEALS_IMMEDIATE, APPEALS_LIFECYCLE]
    assert consumer["handled_by_topic"] == {APPEALS_IMMEDIATE: 1}
    assert consumer["stuck"] is False and consumer["retrying"] is None


async def test_inbox_records_a_batch_in_one_statement_and_reports_only_new_events(settings):
    from services.tracking.tables import inbox as table
    from shared.inbox import Inbox

    a, b, c = (envelope_of(received()) for _ in range(3))
    inbox, db = Inbox(table), Database(settings)
    try:
        async with db.transaction() as session:
            # The same event twice in one batch: recorded once, new once.
            first = await inbox.record_new(
                session, [a, a, b], [APPEALS_IMMEDIATE, APPEALS_IMMEDIATE, APPEALS_ASSIGNMENTS]
            )
        async with db.transaction() as session:
            second = await inbox.record_new(session, [b, c], [APPEALS_IMMEDIATE] * 2)
        async with db.transaction() as session:
            rows = dict((await session.execute(select(table.c.event_id, table.c.topic))).all())
    finally:
        await db.dispose()
    assert first == {a.event_id, b.event_id}
    assert second == {c.event_id}
    # Each row names the topic its event came on (first seen: b came on assignments).
    assert rows == {
        a.event_id: APPEALS_IMMEDIATE,
        b.event_id: APPEALS_ASSIGNMENTS,
        c.event_id: APPEALS_IMMEDIATE,
    }


def moves(view: dict) -> list[dict]:
    """The history without the deadlines set on receipt (tracking's own entry)."""
    return [h for h in view["history"] if h["kind"] != "deadlines_set"]
