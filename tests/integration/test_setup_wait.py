"""`jiban wait` (the services' init container on Kubernetes) against the real servers: ready at
once when migrated with topics made, else one line naming what is missing when time is up."""

from __future__ import annotations

import asyncio
import time

import pytest
from alembic import command

from jiban.failures import EXIT_UNAVAILABLE, CommandError
from jiban.setup_wait import wait_ready
from shared.migrations import ALL_SERVICES, alembic_config
from shared.topics import all_topics

pytestmark = pytest.mark.integration


async def test_ready_at_once_when_migrated_and_the_topics_exist(settings):
    ready = await wait_ready(settings, timeout_s=10, poll_s=0.2)
    assert (ready.schemas, ready.topics) == (len(ALL_SERVICES), len(all_topics()))
    assert ready.seconds < 10


async def test_missing_topics_and_a_schema_behind_are_named_in_one_line(settings):
    elsewhere = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "none."})
    await asyncio.to_thread(command.downgrade, alembic_config("console", settings), "-1")
    began = time.monotonic()
    with pytest.raises(CommandError) as raised:
        await wait_ready(elsewhere, timeout_s=0.5, poll_s=0.4)
    # It gives up when the time is up, not a poll early.
    assert time.monotonic() - began >= 0.5
    message = str(raised.value)
    assert raised.value.exit_code == EXIT_UNAVAILABLE
    assert "\n" not in message and message.startswith("not ready after")
    assert "console's schema at" in message
    assert f"{len(all_topics())} topics missing ({elsewhere.topic_prefix}" in message
    assert "intake's schema" not in message
