"""What the fault tests share: the load size, time limits that grow with it, a cuttable proxy on
its own thread, and waiting on the services' readiness reports."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable, Mapping, Set
from typing import Any

import httpx
from harness import CuttableProxy
from ledger import Facts, Ledger, problems
from load import Load
from stack import Stack

from shared.settings import Settings
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, APPEALS_LIFECYCLE

# The topics the load feeds all along (receipts, assignments, status changes): a consumer of
# one of them that handles nothing is not working. (Others, e.g. directory.changes, carry
# messages only now and then: a restarted consumer may never see one.)
FED = frozenset({APPEALS_IMMEDIATE, APPEALS_ASSIGNMENTS, APPEALS_LIFECYCLE})

# The load lasts as long as the faults need, and at least this many appeals: a few hundred
# under `make test`, 2,000 under `make chaos`.
APPEALS = int(os.environ.get("JIBAN_CHAOS_APPEALS", "300"))
# Appeals a second, offered steadily: 30 under `make test`, 40 under `make chaos`.
RATE = float(os.environ.get("JIBAN_CHAOS_RATE", "30"))


def time_limit(base_s: float) -> float:
    """A test's timeout: its fixed costs (processes, group joins) plus room for the load and the
    backlog it leaves on a busy 2-core machine."""
    return base_s + APPEALS / RATE * 4


def drain_limit(load: Load) -> float:
    """How long the backlog a load leaves may take to drain."""
    return 90 + load.started / RATE * 3


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


async def handled(http: httpx.AsyncClient, stack: Stack, name: str) -> dict[str, int]:
    """How many messages each of the instance's consumers of the topics the load feeds has
    handled since it started, by topic, from its /readyz report; {} while it does not answer.
    (Under heavy load /readyz may say 503 for a moment, e.g. a slow ping; its report counts.)"""
    _status, body = await readiness(http, stack, name)
    consumers = body["checks"]["consumers"] if isinstance(body, dict) else []
    return {
        topic: n
        for c in consumers
        for topic, n in c["handled_by_topic"].items()
        if topic in FED
    }


async def handled_now(stack: Stack, names: Iterable[str]) -> dict[str, dict[str, int]]:
    """What `handled` says of each instance now (to be given to `wait_handling` as `beyond`)."""
    asked = list(names)
    async with httpx.AsyncClient() as http:
        # Together: while a server is away each answer may wait out a ping's timeout.
        found = await asyncio.gather(*(handled(http, stack, name) for name in asked))
    return dict(zip(asked, found, strict=True))


async def wait_handling(
    stack: Stack,
    names: Iterable[str],
    *,
    beyond: Mapping[str, Mapping[str, int]] | None = None,
    timeout_s: float = 120,
) -> dict[str, dict[str, int]]:
    """Until each instance has handled messages from every topic the load feeds that it
    consumes: since it started, or with `beyond`, more than those counts (it works again). It
    is then in its groups with partitions and doing work, so a fault now hits work. Returns
    the counts, to be given as `beyond` later."""
    pending = set(names)
    counts: dict[str, dict[str, int]] = {}
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        counts |= await handled_now(stack, pending)
        for name in list(pending):
            before = (beyond or {}).get(name, {})
            if counts[name] and all(n > before.get(topic, 0) for topic, n in counts[name].items()):
                pending.discard(name)
        if pending:  # not once all are: a fault timed on this comes at once
            await asyncio.sleep(0.2)
    assert not pending, f"{sorted(pending)} not handling appeals after {timeout_s}s: {counts}"
    return counts


def mark_when_handling(
    load: Load, stack: Stack, name: str, what: str, **wait: Any
) -> asyncio.Task[dict[str, dict[str, int]]]:
    """Marks `what` on the load once `name` handles appeals (see `wait_handling`), in the
    background: the test goes on meanwhile, and awaits the task before it stops the load."""

    async def handling() -> dict[str, dict[str, int]]:
        counts = await wait_handling(stack, [name], **wait)
        load.mark(what)
        return counts

    return asyncio.create_task(handling())


def assert_faults_under_load(load: Load) -> None:
    """Every fault the test marked (`load.mark`), and every sign of recovery it waited for,
    came while appeals were still arriving: after the first submission was sent and before
    the last one was."""
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
        await ledger.drained(drain_limit(load))
        facts = await ledger.facts()
        dead = await ledger.dead_letters()
    found = problems(facts, load.accepted_ids(), also=also)
    assert not found, f"{len(found)} problems, e.g. {found[:20]}"
    assert len(load.accepted_ids()) == load.started >= load.minimum
    return facts, dead
