"""Scenario 5: consumer-group members join and leave under load (rebalances). Dispatch and
tracking run as two processes each (same groups, own HTTP ports); while appeals stream in, a third
dispatch joins, one dispatch is killed -9, one tracking leaves gracefully and another joins."""

from __future__ import annotations

import asyncio
import signal

import pytest
from faults import APPEALS, RATE, settle, time_limit, wait_handling
from load import Load

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(time_limit(240))
async def test_members_leaving_and_joining_under_load_change_no_count(new_settings, stacks):
    settings = await new_settings()
    stack = stacks(settings)
    for service in ("intake", "notify", "dispatch", "tracking"):
        stack.start(service)
    stack.start("dispatch", name="dispatch-2")
    stack.start("tracking", name="tracking-2")
    await asyncio.to_thread(stack.wait_ready)

    load = Load(stack.url("intake"), APPEALS, RATE)
    running = asyncio.create_task(load.run())
    steps = 4

    await load.reached(APPEALS * 1 // (steps + 1))
    stack.start("dispatch", name="dispatch-3")  # joins: the partitions are shared out again
    await load.reached(APPEALS * 2 // (steps + 1))
    await wait_handling(stack, ["dispatch"])
    stack.kill("dispatch")  # leaves without a word: its partitions move once its session expires
    await load.reached(APPEALS * 3 // (steps + 1))
    await wait_handling(stack, ["tracking"])
    stack.terminate("tracking")  # leaves cleanly: the group rebalances at once
    await load.reached(APPEALS * 4 // (steps + 1))
    stack.start("tracking", name="tracking-3")
    await running

    await asyncio.to_thread(stack.wait_ready, None, 120)
    assert sorted(stack.running()) == [
        "dispatch-2",
        "dispatch-3",
        "intake",
        "notify",
        "tracking-2",
        "tracking-3",
    ]
    _facts, dead = await settle(settings, load)
    assert stack.instances["dispatch"].exits == [-9]
    # uvicorn re-raises SIGTERM once shut down: -15 after a clean stop, not the -9 fallback.
    assert stack.instances["tracking"].exits == [-signal.SIGTERM]
    assert "Application shutdown complete" in stack.full_log("tracking")
    assert not any(dead.values()), dead
