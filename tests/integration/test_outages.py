"""A consumer whose database goes away retries without committing or dead-lettering, and carries
on by itself when it comes back. The test cuts a proxy it owns, never the shared server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from factories import envelope_of, received
from harness import CuttableProxy, running
from sqlalchemy import func, select

from jiban.setup import load_demo_directory
from services.dispatch.app import build
from shared.db import Database
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, dlq_of

pytestmark = pytest.mark.integration


async def test_consumer_rides_out_a_database_outage(settings, topics, wait_until):
    from services.dispatch.tables import assignments

    await load_demo_directory(settings)
    url = urlsplit(settings.database_url)
    proxy = await CuttableProxy(url.hostname or "127.0.0.1", url.port or 5432).start()
    via_proxy = settings.model_copy(
        update={
            "database_url": settings.database_url.replace(
                url.netloc, f"postgres@127.0.0.1:{proxy.port}"
            )
        }
    )
    app = build(via_proxy)
    try:
        async with running(app) as dispatch:
            proxy.cut()
            events = [envelope_of(received()) for _ in range(3)]
            for env in events:
                await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)

            async def retrying():
                body = (await dispatch.get("/readyz")).json()
                return body if body["checks"]["consumers"][0]["retrying"] == "transient" else None

            during = await wait_until(retrying)
            assert during["checks"]["database"].startswith("unavailable")
            proxy.restore()

            db = Database(settings)
            try:

                async def all_assigned():
                    async with db.transaction() as session:
                        n = await session.scalar(select(func.count()).select_from(assignments))
                    return n == len(events)

                await wait_until(all_assigned, timeout_s=30)
            finally:
                await db.dispose()
            after = (await dispatch.get("/readyz")).json()
            # While the service still runs: its relay may be in a backoff from the outage.
            published = await topics.read(APPEALS_ASSIGNMENTS, at_least=3)
    finally:
        await proxy.stop()
    assert after["status"] == "ready"
    assert len(published) == 3
    assert await topics.read(dlq_of(APPEALS_IMMEDIATE), at_least=1, timeout_s=1) == []
