"""`jiban dlq list` and `jiban dlq replay`: a message dead-lettered for want of a fix is handled
once the fix is in and it is replayed, and replaying again sends nothing twice."""

from __future__ import annotations

import asyncio

import pytest
from factories import envelope_of, received, small_directory
from sqlalchemy import func, select

from jiban.cli import main
from jiban.dlq import list_dead_letters, replay
from jiban.setup import load_demo_directory
from shared.db import Database
from shared.topics import APPEALS_IMMEDIATE

pytestmark = pytest.mark.integration


async def test_dead_letters_are_listed_and_replayed_after_a_fix(
    settings, run_service, topics, wait_until, monkeypatch, capsys
):
    from services.dispatch.store import assignments

    env = envelope_of(received())
    async with run_service("dispatch"):
        # No directory yet: routing finds nobody, the handler keeps failing, the message is
        # dead-lettered and the partition moves on.
        await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)

        async def dead():
            return await list_dead_letters(settings, APPEALS_IMMEDIATE)

        (letter,) = await wait_until(dead)
        assert "NoOfficerAvailable" in letter.error
        assert letter.origin_topic == APPEALS_IMMEDIATE
        assert letter.key == env.key and letter.body == env.to_bytes()

        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
        monkeypatch.setenv("JIBAN_TOPIC_PREFIX", settings.topic_prefix)
        assert await asyncio.to_thread(main, ["dlq", "list", APPEALS_IMMEDIATE]) == 0
        assert "1 dead letters" in capsys.readouterr().out

        await load_demo_directory(settings, small_directory())  # the fix
        assert await replay(settings, APPEALS_IMMEDIATE) == 1

        db = Database(settings)
        try:

            async def assigned() -> bool:
                async with db.transaction() as session:
                    return await session.scalar(select(func.count()).select_from(assignments)) == 1

            await wait_until(assigned)
        finally:
            await db.dispose()
        assert await replay(settings, APPEALS_IMMEDIATE) == 0, "replay remembers where it was"
