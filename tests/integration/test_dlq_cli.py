"""`jiban dlq replay TOPIC` run as the operator runs it, through the command line: it reads the
broker and the topic prefix from the environment, puts the dead letter back on its origin topic
(where the service handles it, now that the fix is in), says how many it replayed, and a second
run sends nothing."""

from __future__ import annotations

import asyncio

import pytest
from factories import envelope_of, received, small_directory
from sqlalchemy import select

from jiban.cli import main
from jiban.dlq import list_dead_letters
from jiban.setup import load_demo_directory
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, dlq_of

pytestmark = pytest.mark.integration


async def test_dlq_replay_on_the_command_line_puts_dead_letters_back_once(
    settings, run_service, topics, db, wait_until, monkeypatch, capsys
):
    from services.dispatch.store import assignments

    async def assigned_ids() -> list[object]:
        async with db.transaction() as session:
            return list(await session.scalars(select(assignments.c.appeal_id)))

    appeal = received()
    env = envelope_of(appeal)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("JIBAN_TOPIC_PREFIX", settings.topic_prefix)

    async with run_service("dispatch"):
        # No directory yet: routing finds nobody, the message is dead-lettered.
        await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)

        async def dead():
            return await list_dead_letters(settings, APPEALS_IMMEDIATE)

        (letter,) = await wait_until(dead)
        assert "NoOfficerAvailable" in letter.error
        assert await assigned_ids() == []

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
