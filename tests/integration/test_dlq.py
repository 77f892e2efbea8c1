"""`jiban dlq list` and `jiban dlq replay`, run as the operator runs them (the command line,
the broker and the topic prefix from the environment): a message dead-lettered for want of a
fix goes back on its origin topic once the fix is in, is handled, and replaying again sends
nothing twice. And what cannot even be unwrapped is dead-lettered, never skipped."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from factories import envelope_of, received, small_directory
from sqlalchemy import select

from jiban.cli import main
from jiban.dlq import list_dead_letters
from jiban.setup import load_demo_directory
from shared.signing import kafka_signature_headers
from shared.topics import (
    APPEALS_ASSIGNMENTS,
    APPEALS_IMMEDIATE,
    INBOUND_RECEIPTS,
    dlq_of,
    inbound_topic,
)

pytestmark = pytest.mark.integration


async def test_dlq_replay_on_the_command_line_puts_dead_letters_back_once(
    settings, run_service, topics, db, wait_until, monkeypatch, capsys
):
    from services.dispatch.tables import assignments

    async def assigned_ids() -> list[object]:
        async with db.transaction() as session:
            return list(await session.scalars(select(assignments.c.appeal_id)))

    appeal = received()
    env = envelope_of(appeal)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("JIBAN_TOPIC_PREFIX", settings.topic_prefix)
    monkeypatch.setenv(
        "JIBAN_CONSUMER_SESSION_TIMEOUT_MS", str(settings.consumer_session_timeout_ms)
    )

    async with run_service("dispatch"):
        # No directory yet: routing finds nobody, the message is dead-lettered.
        trace = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
        await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key, trace)

        async def dead():
            return await list_dead_letters(settings, APPEALS_IMMEDIATE)

        (letter,) = await wait_until(dead)
        assert "NoOfficerAvailable" in letter.error
        assert letter.origin_topic == APPEALS_IMMEDIATE
        assert letter.key == env.key and letter.body == env.to_bytes()
        assert await assigned_ids() == []
        assert await asyncio.to_thread(main, ["dlq", "list", APPEALS_IMMEDIATE]) == 0
        assert "1 dead letters" in capsys.readouterr().out

        await load_demo_directory(settings, small_directory())  # the fix
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["dlq", "replay", APPEALS_IMMEDIATE]) == 0
        assert capsys.readouterr().out == f"replayed 1 dead letters onto {APPEALS_IMMEDIATE}\n"

        # Back on the origin topic: the same key and body, marked with where it was replayed from.
        on_origin = await topics.read(APPEALS_IMMEDIATE, at_least=2)
        assert [(r.key, r.value) for r in on_origin] == [(env.key, env.to_bytes())] * 2
        original, replayed = sorted(on_origin, key=lambda r: r.offset)
        assert "x-replayed-from" not in original.headers
        assert replayed.headers["x-replayed-from"] == (
            f"{topics.name(dlq_of(APPEALS_IMMEDIATE))}:{letter.partition}:{letter.offset}"
        )
        # With its own headers (its trace) and none of the dead letter's.
        assert replayed.headers["traceparent"] == trace["traceparent"]
        assert not {"x-error", "x-origin-topic", "x-failed-at"} & set(replayed.headers)

        # …and handled: the appeal is assigned, once.
        async def assigned():
            return await assigned_ids() == [appeal.appeal_id]

        await wait_until(assigned)
        (event,) = await topics.read(APPEALS_ASSIGNMENTS, at_least=1)
        assert event.json()["payload"]["appeal_id"] == str(appeal.appeal_id)

        # A second replay remembers where the first stopped: nothing is sent again.
        assert await asyncio.to_thread(main, ["dlq", "replay", APPEALS_IMMEDIATE]) == 0
        assert capsys.readouterr().out == f"replayed 0 dead letters onto {APPEALS_IMMEDIATE}\n"
        assert len(await topics.read(APPEALS_IMMEDIATE, at_least=3, timeout_s=2)) == 2
        assert len(await list_dead_letters(settings, APPEALS_IMMEDIATE)) == 1  # kept, not moved
        assert await assigned_ids() == [appeal.appeal_id]


async def test_inbound_messages_that_cannot_be_unwrapped_are_dead_lettered_not_skipped(
    run_service, topics
):
    # Neither is something intake's unwrap foresaw: a key too long for an envelope's subject
    # (pydantic refuses it), JSON nested too deep for json.loads (RecursionError). Both must
    # land on the DLQ, and the next message on the partition must still be handled.
    hotline = inbound_topic("hotline_12345")
    order_no = f"ZQ12345-{uuid.uuid4().hex[:12]}"
    good = {
        "order_no": order_no,
        "caller_name": "李女士",
        "caller_phone": f"139{uuid.uuid4().int % 10**8:08d}",
        "type_code": "03",
        "category_code": "02",
        "urgency_flag": "0",
        "content": "江南小区门口的路灯坏了一个多星期，晚上出入很不安全，请派人维修。",
        "address": "肇庆高新区江南小区",
        "accepted_at": "2026-11-27 09:15:00",
        "operator_id": "hw-017",
    }
    long_key = b"k" * 300
    deep = b"[" * 100_000 + b"]" * 100_000

    async with run_service("intake"):
        other = {**good, "order_no": f"ZQ12345-{uuid.uuid4().hex[:12]}"}
        await topics.send(hotline, json.dumps(other).encode(), long_key)
        # Same key as the good one: the same partition, right before it.
        await topics.send(hotline, deep, order_no.encode())
        value = json.dumps(good, ensure_ascii=False).encode()
        signed = kafka_signature_headers(
            "dev-hotline_12345", "dev-secret-hotline_12345", hotline, value, time.time()
        )
        await topics.send(hotline, value, order_no.encode(), signed)
        receipts = await topics.read(INBOUND_RECEIPTS, at_least=1)
        dead = await topics.read(dlq_of(hotline), at_least=2)

    by_key = {d.key: d for d in dead}
    assert len(dead) == 2 and set(by_key) == {long_key, order_no.encode()}
    assert "subject_id" in by_key[long_key].headers["x-error"]
    assert "RecursionError" in by_key[order_no.encode()].headers["x-error"]
    assert by_key[order_no.encode()].value == deep
    (receipt,) = [r.json()["payload"] for r in receipts]
    assert (receipt["external_id"], receipt["status"]) == (order_no, "received")
