"""Scenario 2: the broker stops answering for 10 s under load (SIGSTOP of the test's own Tansu,
then SIGCONT): intake keeps accepting, its outbox holds the events, everything drains after. The
load lasts until what intake held has left its outbox and every consumer works again."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import httpx
import pytest
from faults import (
    APPEALS,
    RATE,
    assert_faults_under_load,
    handled_now,
    readiness,
    settle,
    time_limit,
    wait_handling,
)
from harness import eventually
from load import Load

from shared.migrations import SERVICES

pytestmark = pytest.mark.chaos

STALL_S = 10.0


async def held_in_intake_outbox(database_url: str) -> set[str]:
    """The appeals whose AppealReceived still waits in intake's outbox."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch("SELECT convert_from(value, 'UTF8') FROM intake.outbox")
    finally:
        await conn.close()
    return {json.loads(r[0])["subject_id"] for r in rows}


@pytest.mark.timeout(time_limit(240))
async def test_broker_stall_under_load_intake_keeps_accepting_and_all_drains(
    own_broker, new_settings, stacks
):
    settings = await new_settings(own_broker)
    stack = stacks(settings)
    await asyncio.to_thread(stack.start_all)

    async with Load(stack.url("intake"), RATE, minimum=APPEALS) as load:
        await load.reached(max(APPEALS // 10, 20))
        await wait_handling(stack, SERVICES)
        own_broker.pause()
        stalled_at = time.monotonic()
        load.mark("broker stalled (SIGSTOP)")
        try:
            # What was in flight at SIGSTOP is done by now: nothing more is handled till SIGCONT.
            await asyncio.sleep(2)
            stalled = await handled_now(stack, SERVICES)
            # The rest of the fault's length, not a wait for something.
            await asyncio.sleep(max(stalled_at + STALL_S - 1 - time.monotonic(), 0))
            async with httpx.AsyncClient() as http:
                intake_ready, _ = await readiness(http, stack, "intake")
            sampled_at = time.monotonic()
            held = await held_in_intake_outbox(settings.database_url)
        finally:
            own_broker.resume()
        resumed_at = time.monotonic()
        load.mark("broker resumed (SIGCONT)")

        async def released() -> bool:
            return not held & await held_in_intake_outbox(settings.database_url)

        await eventually(released, timeout_s=120, every_s=0.5)
        load.mark("what intake held is published")
        await wait_handling(stack, SERVICES, beyond=stalled)
        load.mark("every consumer works again")
        await load.stop()
    # The stall began, and everything recovered from it, while appeals were arriving.
    assert_faults_under_load(load)

    during = load.answers_between(stalled_at, resumed_at)
    assert during, "no appeal was answered while the broker was stalled"
    assert {a.status for a in during} == {202}, [a.status for a in during]
    assert set(load.statuses()) == {202}, load.statuses()
    assert intake_ready == 200, "intake left the load balancer over a broker outage"
    # What intake accepted meanwhile waited in its outbox: the relay could publish nothing.
    # (Skipping the first seconds: an appeal committed just before SIGSTOP may have left.)
    surely_after = {
        i
        for s in load.submissions
        for a in s.answers
        if stalled_at + 2 <= a.at <= sampled_at and a.status == 202
        for i in s.appeal_ids
    }
    assert surely_after, "no appeal accepted in the middle of the stall"
    assert surely_after <= held, surely_after - held

    await asyncio.to_thread(stack.wait_ready, SERVICES, 120)
    _facts, dead = await settle(settings, load)
    assert not any(dead.values()), dead
