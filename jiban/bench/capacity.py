"""The capacity search's decisions, pure so they are tested without running anything: whether a
step held, which rate to offer next, which rate to confirm, and the headline.

A step offers a rate for a while (open loop). It holds when the pipeline kept up: the rate was
offered in full (the load generator shares the cores), every appeal offered was accepted and got
through (assigned in tracking, the officer's notification recorded) within a short drain after
the load stopped, they came through about as fast as they were offered (no growing backlog),
and the p99 from accepted to assigned stayed under the bound.

The search raises the rate by a factor while steps hold, then bisects between the highest rate
that held and the lowest that failed, a few times. The highest rate that held is then confirmed
over a longer run, stepping down when it does not sustain; the capacity is the rate that did."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Completions per second at least this share of the rate offered: below it, a backlog grows.
THROUGH_SHARE = 0.9
# A send that started later than this after its time: the load generator (on the same cores)
# fell behind, and the rate was not offered as such.
LATE_S = 1.0


@dataclass(frozen=True)
class Search:
    """How the search moves: start, growth while steps hold, bisections after the first failure."""

    start: float = 10.0
    factor: float = 1.5
    bisections: int = 3  # steps once there is a bracket (a rate that held, one that failed)
    max_rate: float = 1000.0
    # Below this, halving after a failed start stops: the system is broken, not slow.
    min_rate: float = 1.0
    # Bisection stops early when the bracket is this narrow (relative to its lower end).
    resolution: float = 0.05


@dataclass(frozen=True)
class Sustain:
    """Confirming the highest rate that held: step down by `step_down` after each failure."""

    attempts: int = 3
    step_down: float = 0.85


@dataclass(frozen=True)
class Outcome:
    """What one step measured, as far as the verdict needs it."""

    rate: float  # offered per second (the target)
    sent: int
    late_s: float  # how late the latest send started
    failed: int  # offered but not accepted (HTTP errors or refusals, failed sends)
    through_in_drain: int  # through by the end of the drain after the load
    through_per_s: float | None  # completion rate (see completion_rate)
    p99_assigned_ms: float | None


@dataclass(frozen=True)
class Tried:
    """A rate tried and whether it held."""

    rate: float
    held: bool


def completion_rate(done_at: Iterable[float]) -> float | None:
    """Appeals through per second while they came through: (n - 1) over the time from the first
    to the last, the rate of n evenly spaced completions. Unlike the throughput from the first
    accepted appeal, it does not count the pipeline's latency against the rate, so a short step
    that kept up reads as its offered rate. None with fewer than two."""
    times = sorted(done_at)
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def why_not(outcome: Outcome, *, latency_bound_ms: float, drain_s: float) -> str | None:
    """None when the step held, else why not (every reason found, in one line)."""
    reasons: list[str] = []
    if outcome.sent == 0:
        return "nothing offered"
    if outcome.late_s > LATE_S:
        reasons.append(f"the load generator fell behind (a send {outcome.late_s:.1f} s late)")
    if outcome.failed:
        reasons.append(f"{outcome.failed} not accepted")
    accepted = outcome.sent - outcome.failed
    if outcome.through_in_drain < accepted:
        reasons.append(
            f"{accepted - outcome.through_in_drain} not through {drain_s:g} s after the load"
        )
    through = outcome.through_per_s
    if through is not None and through < THROUGH_SHARE * outcome.rate:
        reasons.append(f"through {through:.1f}/s < {THROUGH_SHARE * 100:g} % of offered")
    p99 = outcome.p99_assigned_ms
    if p99 is None:
        reasons.append("no appeal assigned")
    elif p99 >= latency_bound_ms:
        reasons.append(f"p99 assigned {p99:.0f} ms ≥ {latency_bound_ms:g} ms")
    return "; ".join(reasons) or None


def _round(rate: float) -> float:
    return round(rate, 1)


def _bracket(tried: Sequence[Tried]) -> tuple[float, float] | None:
    """(highest rate that held under the lowest failure, that failure), once both exist."""
    failed = [t.rate for t in tried if not t.held]
    if not failed:
        return None
    low_fail = min(failed)
    below = [t.rate for t in tried if t.held and t.rate < low_fail]
    return (max(below), low_fail) if below else None


def next_rate(tried: Sequence[Tried], search: Search) -> float | None:
    """The rate of the next step given the steps so far, None when the search is over.

    - nothing failed yet: the last rate times the factor (None past `max_rate`);
    - nothing held under the lowest failure: half of it (None below `min_rate`);
    - else the middle of the bracket (the highest that held under the lowest failure, that
      failure), `bisections` times once there is a bracket, or until it is narrow."""
    if not tried:
        return _round(search.start)
    failed = [t.rate for t in tried if not t.held]
    if not failed:
        rate = _round(max(t.rate for t in tried) * search.factor)
        return rate if rate <= search.max_rate else None
    bracket = _bracket(tried)
    if bracket is None:
        rate = _round(min(failed) / 2)
        return rate if rate >= search.min_rate else None
    high_held, low_fail = bracket
    bisected = sum(1 for i in range(len(tried)) if _bracket(tried[:i]) is not None)
    if bisected >= search.bisections or low_fail - high_held <= search.resolution * high_held:
        return None
    rate = _round((high_held + low_fail) / 2)
    # Rounding can land on a bracket's end (a bracket of 0.2/s): nothing left to learn.
    return rate if high_held < rate < low_fail else None


def highest_held(tried: Sequence[Tried]) -> float | None:
    """The highest rate that held below every failure (a rate that held above one is noise)."""
    failed = [t.rate for t in tried if not t.held]
    ceiling = min(failed, default=float("inf"))
    return max((t.rate for t in tried if t.held and t.rate < ceiling), default=None)


def sustain_rate(candidate: float, failures: int, sustain: Sustain) -> float | None:
    """The rate of the next confirming run after `failures` failed ones, None when out of tries."""
    if failures >= sustain.attempts:
        return None
    return _round(candidate * sustain.step_down**failures)


def half_load_rate(capacity: float) -> float:
    return _round(capacity / 2)


def rate_text(rate: float) -> str:
    """An integer when it is one, else one decimal."""
    rounded = round(rate, 1)
    return f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded:.1f}"


def headline(capacity: float | None, framework_per_s: float | None) -> str:
    """`capacity: N appeals/s (P % of the framework ceiling)`."""
    if capacity is None:
        return "capacity: not found (no rate sustained)"
    if not framework_per_s:
        return f"capacity: {rate_text(capacity)} appeals/s (framework ceiling not measured)"
    share = capacity / framework_per_s * 100
    return f"capacity: {rate_text(capacity)} appeals/s ({share:.1f} % of the framework ceiling)"
