"""What the fault tests share: the load size, time limits that grow with it, a cuttable proxy on
its own thread, and waiting on the services' readiness reports."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable, Set
from typing import Any

import httpx
from harness import CuttableProxy
from ledger import Facts, Ledger, problems
from load import Load
from stack import Stack

from shared.settings import Settings
from shared.topics import APPEALS_DEADLINES, APPEALS_FOLLOW_UPS, CSO_MONTHLY, VISITS_LOGGED

# Consumed topics the load never feeds: their consumers have nothing to show.
QUIET_TOPICS = frozenset({APPEALS_FOLLOW_UPS, VISITS_LOGGED, APPEALS_DEADLINES, CSO_MONTHLY})

# `make test` runs each scenario with a few hundred appeals; `make chaos` with 2,000.
APPEALS = int(os.environ.get("JIBAN_CHAOS_APPEALS", "300"))
RATE = float(os.environ.get("JIBAN_CHAOS_RATE", "40"))  # appeals a second, offered steadily


def time_limit(base_s: float) -> float:
    """A test's timeout: its fixed costs (processes, group joins) plus room for the load and the
    backlog it leaves on a busy 2-core machine."""
    return base_s + APPEALS / RATE * 4


def drain_limit() -> float:
    return 90 + APPEALS / RATE * 3


class ThreadedProxy:
    """A CuttableProxy on its own thread and event loop, so the test's load generator and its
    checks never delay the services' database traffic (and vice versa)."""

    def __init__(self, host: str, port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._proxy = CuttableProxy(host, port)

    @property
    def port(self) -> int:
        return self._proxy.port

    def start(self) -> ThreadedProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._proxy.start(), self._loop).result(10)
        return self

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(self._proxy.cut)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(self._proxy.restore)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._proxy.stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


async def readiness(http: httpx.AsyncClient, stack: Stack, name: str) -> tuple[int, Any]:
    """(status code, body) of /readyz; (0, error name) when the process does not answer."""
    try:
        response = await http.get(stack.url(name) + "/readyz", timeout=5)
    except httpx.HTTPError as exc:
        return 0, type(exc).__name__
    return response.status_code, response.json()


async def wait_handling(stack: Stack, names: Iterable[str], timeout_s: float = 90) -> None:
    """Until each instance reports every one of its consumers has handled a message since it
    started: it is in its groups with partitions and doing work, so a fault now hits work.
    (Under heavy load /readyz may say 503 for a moment, e.g. a slow ping; its report counts.)"""
    pending = set(names)
    last: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                status, body = await readiness(http, stack, name)
                last[name] = (status, body)
                consumers = body["checks"]["consumers"] if isinstance(body, dict) else None
                loaded = [c for c in consumers or [] if c["topic"] not in QUIET_TOPICS]
                if loaded and all(c["handled"] > 0 for c in loaded):
                    pending.discard(name)
            if pending:  # not once all are: a fault timed on this comes at once
                await asyncio.sleep(0.2)
    assert not pending, f"not handling messages after {timeout_s}s: {last}"


async def handled(http: httpx.AsyncClient, stack: Stack, name: str) -> dict[str, int]:
    """How many messages each of the instance's consumers (by topic) has handled since it
    started, from its /readyz report; {} while it does not answer."""
    _status, body = await readiness(http, stack, name)
    consumers = body["checks"]["consumers"] if isinstance(body, dict) else []
    return {c["topic"]: c["handled"] for c in consumers}


async def wait_handled(
    stack: Stack, name: str, topics: Iterable[str], timeout_s: float = 90
) -> dict[str, int]:
    """Until the instance has handled a message from each of `topics` since it started (it got
    partitions of those groups and worked on them); returns its counts."""
    wanted = set(topics)
    counts: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            counts = await handled(http, stack, name)
            if all(counts.get(topic, 0) > 0 for topic in wanted):
                return counts
            await asyncio.sleep(0.2)
    raise AssertionError(f"{name} handled nothing from some of {sorted(wanted)}: {counts}")


def assert_faults_under_load(load: Load) -> None:
    """Every fault the test marked (`load.mark`) came while appeals were still arriving: after
    the first submission was sent and before the last one was."""
    print(load.timeline())  # shown when the test fails, or with `pytest -s`
    assert load.marks, "no fault was marked"
    late = load.not_under_load()
    assert not late, f"not under load: {late}\n{load.timeline()}"


async def settle(
    settings: Settings, load: Load, *, also: Set[str] = frozenset()
) -> tuple[Facts, dict[str, int]]:
    """Waits until nothing is in flight, then asserts that every appeal intake acknowledged
    was handled exactly once everywhere (`also`: appeals the test put on the topics itself).
    Returns what it counted and the dead-letter counts, for the test to judge."""
    assert not load.problems(), load.problems()[:20]
    async with Ledger(settings) as ledger:
        await ledger.drained(drain_limit())
        facts = await ledger.facts()
        dead = await ledger.dead_letters()
    found = problems(facts, load.accepted_ids(), also=also)
    assert not found, f"{len(found)} problems, e.g. {found[:20]}"
    assert len(load.accepted_ids()) == load.total
    return facts, dead
