"""One running copy of the system under measurement: the load generator, the observer reading the
topics all along (one from start to end, so no run waits for a reader to catch up), the processes
watched; and what can be done with it: the warm-up, the idle cost, and load runs.

A load run offers a rate for a while, gives the pipeline a short drain (what got through by then
decides whether a capacity step held), then waits until every appeal offered is through or given
up, so the next run starts on an empty system and one run's backlog does not spoil the next."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from jiban.bench import database, report
from jiban.bench.capacity import Outcome, completion_rate
from jiban.bench.goals import idle_cost
from jiban.bench.load import DirectLoad, HttpLoad, Offered
from jiban.bench.observe import Observer
from jiban.bench.profile import Profiler
from jiban.bench.resources import Usage, Watched, per_thousand
from jiban.dev import say
from shared.settings import Settings
from shared.topics import TopicNames

WARM_UP_APPEALS = 5
# After the warm-up, before the idle clock: the last warm-up work (the appellant's notices,
# outbox relays) is over.
SETTLE_S = 3.0
# However slow the pipeline, a run's emptying ends within a quarter hour.
EMPTY_CAP_S = 900.0


@dataclass
class Run:
    """One load run's figures."""

    phase: str  # search, sustain, half, fixed, against
    rate: float
    seconds: float
    offered: Offered
    summary: dict[str, Any]
    through_in_drain: int
    through_per_s: float | None
    emptied: bool
    resources: dict[str, dict[str, float | None]]
    commits_per_appeal: float | None
    why_not: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return self.why_not is None

    def outcome(self) -> Outcome:
        return Outcome(
            rate=self.rate,
            sent=self.offered.sent,
            late_s=self.offered.late_s,
            failed=self.offered.sent - len(self.offered.ids),
            through_in_drain=self.through_in_drain,
            through_per_s=self.through_per_s,
            p99_assigned_ms=self.summary["latency_ms"]["accepted_to_assigned"]["p99"],
        )

    def pipeline(self) -> dict[str, Any]:
        """The `pipeline` part of a result, as the fixed-rate bench always wrote it."""
        return {
            "offered": self.offered.sent,
            "offered_seconds": round(self.offered.seconds, 3),
            "failed": self.offered.failed,
            **self.summary,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "rate": self.rate,
            "seconds": self.seconds,
            "through_in_drain": self.through_in_drain,
            "generator_late_s": round(self.offered.late_s, 3),
            "through_per_s": round(self.through_per_s, 3) if self.through_per_s else None,
            "held": self.held,
            "why_not": self.why_not,
            "emptied": self.emptied,
            "pipeline": self.pipeline(),
            "resources": self.resources,
            "database_transactions_per_appeal": self.commits_per_appeal,
            **self.extra,
        }


class Pipeline:
    """`async with Pipeline(...) as p:` keeps the observer reading until the block ends."""

    def __init__(
        self,
        settings: Settings,
        mode: str,
        watched: Watched,
        children: Mapping[str, subprocess.Popen[bytes]],
    ) -> None:
        self.settings = settings
        names = TopicNames(settings.topic_prefix)
        intake_url = f"http://127.0.0.1:{settings.port_for('intake')}"
        self.generator = HttpLoad(intake_url) if mode == "http" else DirectLoad(settings, names)
        self.observer = Observer(settings, names)
        self.watched = watched
        self.children = children
        self._watcher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Pipeline:
        self._watcher = asyncio.create_task(self.observer.run())
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.observer.stop()
        if self._watcher is not None:
            await self._watcher

    def check_alive(self) -> None:
        """A service that exited spoils every figure after it: stop here, saying which."""
        for name, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode} during the bench")

    async def warm_up(self) -> None:
        """A few appeals first: every consumer group joins (seconds on Tansu) before the clock."""
        began = time.monotonic()
        warm = await self.generator.offer(WARM_UP_APPEALS / 0.5, 0.5)
        if not await self.observer.wait_done(warm.ids, stall_s=90, cap_s=120):
            raise RuntimeError("warm-up appeals did not get through the pipeline in time")
        say(f"warm-up: {len(warm.ids)} appeals through in {time.monotonic() - began:.1f} s")

    async def idle(self, seconds: float) -> dict[str, float]:
        """CPU as % of one core per process over `seconds` with no load."""
        await asyncio.sleep(SETTLE_S)
        before = self.watched.snapshot()
        began = time.monotonic()
        await asyncio.sleep(seconds)
        after = self.watched.snapshot()
        return idle_cost(before, after, time.monotonic() - began)

    async def load(
        self,
        phase: str,
        rate: float,
        seconds: float,
        *,
        drain_s: float,
        stall_s: float,
        profile: Profiler | None = None,
    ) -> Run:
        self.check_alive()
        commits_before = await database.commits(self.settings.database_url)
        before: dict[str, Usage] = self.watched.snapshot()
        if profile is not None:
            pids = {n: c.pid for n, c in self.children.items() if c.poll() is None}
            profile.start(pids, seconds)
        say(f"{phase}: {rate:g} appeals/s for {seconds:g} s")
        offered = await self.generator.offer(rate, seconds)
        await self.observer.wait_done(offered.ids, stall_s=drain_s, cap_s=drain_s)
        through_in_drain = len(offered.ids & self.observer.samples.done.keys())
        emptied = through_in_drain == len(offered.ids) or await self.observer.wait_done(
            offered.ids, stall_s=stall_s, cap_s=EMPTY_CAP_S
        )
        after = self.watched.snapshot()
        await asyncio.sleep(1.0)  # backends publish their statistics about once a second
        commits_after = await database.commits(self.settings.database_url)

        samples = self.observer.samples.only(offered.ids)
        samples.http_accept_ms = offered.http_accept_ms
        summary = report.summarize(samples)
        completed = summary["completed"]
        if not emptied:
            say(f"{summary['incomplete']} appeals did not get through (stalled or cap reached)")
        commits = (
            round((commits_after - commits_before) / completed, 2)
            if completed and commits_before is not None and commits_after is not None
            else None
        )
        run = Run(
            phase=phase,
            rate=rate,
            seconds=seconds,
            offered=offered,
            summary=summary,
            through_in_drain=through_in_drain,
            through_per_s=completion_rate(samples.done.values()),
            emptied=emptied,
            resources=per_thousand(before, after, completed),
            commits_per_appeal=commits,
        )
        if profile is not None:
            run.extra["profile"] = profile.finish(seconds)
        return run
