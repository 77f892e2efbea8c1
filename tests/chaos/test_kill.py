"""Scenario 1: kill -9 each service in turn while appeals stream in, then restart it. The load
lasts until every restarted service handles appeals again."""

from __future__ import annotations

import asyncio
import time

import pytest
from faults import (
    APPEALS,
    RATE,
    assert_faults_under_load,
    mark_when_handling,
    settle,
    time_limit,
    wait_handling,
)
from load import Load

from shared.migrations import SERVICES

pytestmark = pytest.mark.chaos

# Intake first: its outage must fall inside the load (the adapter retries meanwhile); the
# consumers' outages leave a backlog that their restarts must pick up.
ORDER = ("intake", "dispatch", "tracking", "notify")
DOWN_S = 1.0  # how long a killed service stays down before it is started again
# Appeals between two kills (at least), so each fault hits a stream that is flowing.
BETWEEN = max(APPEALS // (len(ORDER) + 2), 20)


@pytest.mark.timeout(time_limit(300))
async def test_kill_9_each_service_under_load_loses_and_doubles_nothing(new_settings, stacks):
    assert set(ORDER) == set(SERVICES)
    settings = await new_settings()
    stack = stacks(settings)
    await asyncio.to_thread(stack.start_all)

    async with Load(stack.url("intake"), RATE, minimum=APPEALS) as load:
        recovered = []
        for name in ORDER:
            await load.reached(load.started + BETWEEN)
            # A service must be in its groups and working when it dies, or this tests nothing.
            await wait_handling(stack, [name])
            stack.kill(name)
            load.mark(f"kill -9 {name}")
            await asyncio.sleep(DOWN_S)  # the fault's length, not a wait for something
            # Started again at once; it rejoins its groups while the next one is killed (a
            # rejoin after kill -9 takes ~20 s on Tansu: the dead member's session has to
            # expire first). The load goes on until it handles appeals again.
            restarted_at = time.monotonic()
            stack.restart(name)
            load.mark(f"restart {name}")
            recovered.append(mark_when_handling(load, stack, name, f"restarted {name} handles"))
            if name == "intake":
                await load.accepted_after(restarted_at)
                load.mark("restarted intake accepts appeals")
        await asyncio.gather(*recovered)
        await load.stop()
    # Each service died, came back, and worked again, while appeals were still arriving.
    assert_faults_under_load(load)
    await asyncio.to_thread(stack.wait_ready, SERVICES, 120)
    _facts, dead = await settle(settings, load)

    for name in ORDER:
        assert stack.instances[name].exits == [-9], f"{name} was not running when killed"
    # The adapter saw intake go away and kept the same submissions until they were accepted.
    unreachable = [s for s in load.statuses() if isinstance(s, str)]
    assert unreachable, f"intake's outage was not felt: {load.statuses()}"
    assert not any(dead.values()), dead
