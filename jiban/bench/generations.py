"""Generations of topics: the services run on one topic prefix at a time, and the bench moves them
to fresh topics (a new prefix, the old topics deleted, the database kept) once a load run would
take a generation past --fresh-after appeals. Tansu's memory storage lists every record batch of
a partition on each fetch, so its CPU per appeal grows with what the topics hold; on fresh topics
a late run costs the broker what an early one did. The runs the goals are judged on (the
confirming runs, the half-load run, a fixed-rate run) start on fresh topics whatever the
generation holds: after a 60 s confirmation the topics hold about 10,000 appeals, which nearly
doubles the broker's CPU per appeal in the half-load run, and the services' latency pays for it
on the shared cores. Kafka finds an offset through its index and needs none of this
(--fresh-after 0). Pure, so the decision is tested without running anything."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# On the embedded Tansu, a generation carries at most about this many appeals (a few search steps,
# or one or two confirming runs): its fetches stay close to what they cost on fresh topics.
EMBEDDED_FRESH_AFTER = 15_000
# The runs the goals are judged on: each starts on topics no earlier run has filled.
JUDGED_PHASES = frozenset({"sustain", "half", "fixed"})


def default_fresh_after(embedded_broker: bool) -> int:
    """The threshold when --fresh-after is not given: fresh topics on Tansu, never on Kafka."""
    return EMBEDDED_FRESH_AFTER if embedded_broker else 0


def needs_fresh(
    *, offered: int, runs: int, coming: float, fresh_after: int, judged: bool = False
) -> bool:
    """Whether to move to fresh topics before a run offering `coming` appeals, when the current
    generation's `runs` load runs offered `offered`: past the threshold, or before a `judged`
    run (JUDGED_PHASES); never before a generation's first run (a run bigger than the threshold
    still runs, alone), never with 0."""
    return fresh_after > 0 and runs > 0 and (judged or offered + coming > fresh_after)


@dataclass
class Generation:
    """One topic prefix's share of the session: the appeals its load runs offered, which runs
    (`phase@rate`), and the services' RSS (MB) when it ended."""

    number: int
    prefix: str
    appeals: int = 0
    runs: list[str] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)

    def carried(self, phase: str, rate: float, offered: int) -> None:
        self.runs.append(f"{phase}@{rate:g}")
        self.appeals += offered

    def ended(self, rss_mb: Mapping[str, float]) -> None:
        self.rss_mb = dict(rss_mb)

    def as_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "appeals": self.appeals,
            "runs": list(self.runs),
            "rss_mb": dict(self.rss_mb),
        }


def most_carried(generations: list[Generation]) -> Generation | None:
    """The generation that carried the most appeals (the first of equals), with its RSS known:
    the one the RSS goal is judged on."""
    measured = [g for g in generations if g.rss_mb]
    return max(measured, key=lambda g: g.appeals, default=None)
