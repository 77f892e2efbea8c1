"""Scenario 3: Postgres unreachable for a few seconds under load. Every service reaches it through
a TCP proxy the test owns and cuts (the server itself is never touched). The load lasts until
every service is ready and handling appeals again."""

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
    handled_now,
    readiness,
    settle,
    time_limit,
    wait_handling,
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

        seen: dict[str, Counter[int]] = {name: Counter() for name in SERVICES}
        async with Load(stack.url("intake"), RATE, minimum=APPEALS) as load:
            await load.reached(max(APPEALS // 5, 20))
            await wait_handling(stack, SERVICES)
            proxy.cut()
            cut_at = time.monotonic()
            load.mark("Postgres cut off")
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
            # Nothing can be handled without the database: what they had done by now.
            stuck = await handled_now(stack, SERVICES)
            proxy.restore()
            restored_at = time.monotonic()
            load.mark("Postgres back")
            await asyncio.to_thread(stack.wait_ready, SERVICES, 90)
            load.mark("every service ready again")
            await wait_handling(stack, SERVICES, beyond=stuck)
            load.mark("every consumer works again")
            await load.stop()
        # The outage began, and everything recovered from it, while appeals were arriving.
        assert_faults_under_load(load)

        # Nobody restarts anything: every service came back by itself.
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
