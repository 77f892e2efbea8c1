"""Scenario 3: Postgres unreachable for a few seconds under load. Every service reaches it through
a TCP proxy the test owns and cuts (the server itself is never touched)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from urllib.parse import urlsplit

import httpx
import pytest
from faults import (
    APPEALS,
    RATE,
    ThreadedProxy,
    assert_faults_under_load,
    readiness,
    settle,
    time_limit,
)
from ledger import Ledger
from load import Load

from shared.migrations import SERVICES

pytestmark = pytest.mark.chaos

OUTAGE_S = 5.0
SETTLE_S = 1.0  # into the outage, what was handled before it has been acked


@pytest.mark.timeout(time_limit(240))
async def test_database_outage_under_load_503s_then_recovers_by_itself(new_settings, stacks):
    settings = await new_settings()
    url = urlsplit(settings.database_url)
    proxy = ThreadedProxy(url.hostname or "127.0.0.1", url.port or 5432).start()
    try:
        via_proxy = settings.database_url.replace(url.netloc, f"postgres@127.0.0.1:{proxy.port}")
        stack = stacks(settings, database_url=via_proxy)
        await asyncio.to_thread(stack.start_all)

        load = Load(stack.url("intake"), APPEALS, min(RATE, max(30.0, APPEALS / (OUTAGE_S + 5))))
        running = asyncio.create_task(load.run())
        await load.reached(APPEALS // 5)
        proxy.cut()
        cut_at = time.monotonic()
        load.mark("Postgres cut off")
        seen: dict[str, Counter[int]] = {name: Counter() for name in SERVICES}
        async with httpx.AsyncClient() as http, Ledger(settings) as ledger:

            async def watch(until: float) -> None:
                """Each service's own view of the outage, asked all along it."""
                while time.monotonic() < until:
                    for name in SERVICES:
                        status, _ = await readiness(http, stack, name)
                        seen[name][status] += 1
                    await asyncio.sleep(0.2)

            await watch(cut_at + SETTLE_S)
            early = await ledger.committed()
            await watch(cut_at + OUTAGE_S)
            late = await ledger.committed()
        proxy.restore()
        restored_at = time.monotonic()
        load.mark("Postgres back")
        await running
        # The outage began, and ended, while appeals were arriving.
        assert_faults_under_load(load)

        # Nobody restarts anything: every service comes back by itself.
        await asyncio.to_thread(stack.wait_ready, SERVICES, 90)
        assert stack.running() == list(SERVICES)
        assert all(instance.starts == 1 for instance in stack.instances.values())
        _facts, dead = await settle(settings, load)
    finally:
        proxy.stop()

    for name in SERVICES:
        assert seen[name][503] > 0, f"{name} never reported the outage: {seen[name]}"
    during = load.answers_between(cut_at, restored_at)
    refused = [a for a in during if a.status == 503]
    assert refused, f"intake answered nothing but {Counter(a.status for a in during)}"
    assert all(a.retry_after for a in refused)
    # 202 and 503 only (and 200 for a submission retried after a 503 that had, in fact,
    # committed as the connection broke): never a 500. (A transport error, e.g. a keep-alive
    # connection closed as it was reused, is retried like any adapter would.)
    assert {s for s in load.statuses() if isinstance(s, int)} <= {200, 202, 503}
    # Consumers retried in place: no offset moved while nothing could be stored (a message
    # handled just before the cut may be acked in its first moments), nothing dead-lettered.
    assert early == late, {k: (early.get(k), v) for k, v in late.items() if early.get(k) != v}
    assert not any(dead.values()), dead
