"""Scenario 5: consumer-group members join and leave under load (rebalances). Dispatch and
tracking run as two processes each (same groups, own HTTP ports); while appeals stream in, a third
dispatch and a third tracking join, and once each works, one dispatch is killed -9 and one tracking
leaves gracefully. Every change comes, and each newcomer handles appeals, before the last appeal
is sent."""

from __future__ import annotations

import asyncio
import signal

import pytest
from faults import (
    APPEALS,
    RATE,
    assert_faults_under_load,
    settle,
    time_limit,
    wait_handled,
    wait_handling,
)
from load import Load

from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, APPEALS_LIFECYCLE

pytestmark = pytest.mark.chaos

LOAD_S = 20.0  # how long the appeals keep coming (at most RATE a second)
# What a member that joins must get partitions of and handle: the topics the load feeds.
FED = {
    "dispatch": (APPEALS_IMMEDIATE, APPEALS_LIFECYCLE),
    "tracking": (APPEALS_IMMEDIATE, APPEALS_ASSIGNMENTS),
}


@pytest.mark.timeout(time_limit(240))
async def test_members_leaving_and_joining_under_load_change_no_count(new_settings, stacks):
    settings = await new_settings()
    stack = stacks(settings)
    for service in ("intake", "notify", "dispatch", "tracking"):
        stack.start(service)
    stack.start("dispatch", name="dispatch-2")
    stack.start("tracking", name="tracking-2")
    await asyncio.to_thread(stack.wait_ready)

    # A member started under load takes ~10 s here to handle its first message (its process
    # starts slowly on a busy machine, then its groups rebalance), so the load lasts long enough
    # for the newcomers to work, and the members to leave after that, while appeals arrive.
    load = Load(stack.url("intake"), APPEALS, min(RATE, max(15.0, APPEALS / LOAD_S)))
    running = asyncio.create_task(load.run())

    def join(service: str, name: str) -> asyncio.Task[None]:
        """Starts another member of `service`'s groups: done once it has handled messages from
        each topic the load feeds (it got partitions of them)."""
        stack.start(service, name=name)
        load.mark(f"{name} joins")

        async def handling() -> None:
            await wait_handled(stack, name, FED[service])
            load.mark(f"{name} handles appeals")

        return asyncio.create_task(handling())

    await load.reached(APPEALS // 20)
    dispatch_3 = join("dispatch", "dispatch-3")  # the partitions are shared out again
    await load.reached(APPEALS * 2 // 20)
    tracking_3 = join("tracking", "tracking-3")
    # Each one leaves once the newcomer works, and its partitions move to the members left.
    await load.reached(APPEALS * 2 // 5)
    await wait_handling(stack, ["dispatch"])
    await dispatch_3
    stack.kill("dispatch")  # leaves without a word: its partitions move once its session expires
    load.mark("dispatch killed")
    await load.reached(APPEALS * 3 // 5)
    await wait_handling(stack, ["tracking"])
    await tracking_3
    load.mark("tracking leaves")
    # Leaves cleanly: the group rebalances at once. (In a thread: the load keeps its pace.)
    await asyncio.to_thread(stack.terminate, "tracking")
    await running
    # Every member came or went, and each newcomer handled appeals, while appeals were arriving.
    assert_faults_under_load(load)

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
