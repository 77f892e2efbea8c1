"""Scenario 5: consumer-group members join and leave under load (rebalances). Dispatch and
tracking run as two processes each (same groups, own HTTP ports); while appeals stream in, a third
dispatch and a third tracking join, and once each works, one dispatch is killed -9 and one tracking
leaves gracefully. The load lasts until each newcomer has handled appeals and the members left
have handled more after the last change."""

from __future__ import annotations

import asyncio
import signal

import pytest
from faults import (
    APPEALS,
    RATE,
    assert_faults_under_load,
    handled_now,
    mark_when_handling,
    settle,
    time_limit,
    wait_handling,
)
from load import Load

pytestmark = pytest.mark.chaos

LEFT = ("dispatch-2", "dispatch-3", "tracking-2", "tracking-3")  # the members at the end


@pytest.mark.timeout(time_limit(300))
async def test_members_leaving_and_joining_under_load_change_no_count(new_settings, stacks):
    settings = await new_settings()
    stack = stacks(settings)
    for service in ("intake", "notify", "dispatch", "tracking"):
        stack.start(service)
    stack.start("dispatch", name="dispatch-2")
    stack.start("tracking", name="tracking-2")
    await asyncio.to_thread(stack.wait_ready)

    async with Load(stack.url("intake"), RATE, minimum=APPEALS) as load:

        def join(service: str, name: str) -> asyncio.Task[dict[str, dict[str, int]]]:
            """Starts another member of `service`'s groups: done once it has handled messages
            from each topic the load feeds (it got partitions of them)."""
            stack.start(service, name=name)
            load.mark(f"{name} joins")
            return mark_when_handling(load, stack, name, f"{name} handles appeals")

        await load.reached(max(APPEALS // 20, 20))
        dispatch_3 = join("dispatch", "dispatch-3")  # the partitions are shared out again
        await load.reached(max(APPEALS * 2 // 20, 40))
        tracking_3 = join("tracking", "tracking-3")
        # Each one leaves once the newcomer works, and its partitions move to the members left.
        await wait_handling(stack, ["dispatch"])
        await dispatch_3
        # Leaves without a word: its partitions move once its session expires.
        stack.kill("dispatch")
        load.mark("dispatch killed")
        await wait_handling(stack, ["tracking"])
        await tracking_3
        await wait_handling(stack, LEFT)
        load.mark("tracking leaves")
        # Leaves cleanly: the group rebalances at once. (In a thread: the load keeps its pace.)
        await asyncio.to_thread(stack.terminate, "tracking")
        # The members left share the partitions out and go on working.
        await wait_handling(stack, LEFT, beyond=await handled_now(stack, LEFT))
        load.mark("the members left handle appeals")
        await load.stop()
    # Every member came or went, and each newcomer handled appeals, while appeals were arriving.
    assert_faults_under_load(load)

    await asyncio.to_thread(stack.wait_ready, None, 120)
    assert sorted(stack.running()) == sorted(["intake", "notify", *LEFT])
    _facts, dead = await settle(settings, load)
    assert stack.instances["dispatch"].exits == [-9]
    # uvicorn re-raises SIGTERM once shut down: -15 after a clean stop, not the -9 fallback.
    assert stack.instances["tracking"].exits == [-signal.SIGTERM]
    assert "Application shutdown complete" in stack.full_log("tracking")
    assert not any(dead.values()), dead
