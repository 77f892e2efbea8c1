"""The bench's three ceilings work against real servers (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import asyncpg
import pytest

from jiban.bench import ceilings

pytestmark = pytest.mark.integration


async def test_broker_and_framework_ceilings_pass_every_message(settings):
    broker = await ceilings.broker_ceiling(settings, 20, timeout_s=30)
    assert broker.count == 20
    framework = await ceilings.framework_ceiling(settings, 10, timeout_s=30)
    assert framework.count == 10  # through both branches of the chain
    assert broker.as_dict()["per_s"] > 0 and framework.per_s > 0


async def test_database_ceiling_commits_and_cleans_up(settings):
    db = await ceilings.database_ceiling(settings.database_url, seconds=0.3, connections=2)
    assert db.count > 0 and db.unit == "tx/s"
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench_ceiling_%'"
        )
    finally:
        await conn.close()
    assert left == 0
