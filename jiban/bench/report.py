"""Turning samples into figures: percentiles, throughput, per-second buckets, ratios to the
ceilings, and the three outputs (a JSON result, a PNG chart, a short table). Pure except for the
two writers, so the arithmetic is tested without running anything."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default; statistics' 'inclusive')."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def percentiles(values: Iterable[float]) -> dict[str, float | int | None]:
    """{"p50", "p95", "p99", "n"}; the percentiles are None when there is no sample."""
    ordered = sorted(values)
    result: dict[str, float | int | None] = {
        name: (round(quantile(ordered, q), 3) if ordered else None) for name, q in QUANTILES.items()
    }
    result["n"] = len(ordered)
    return result


def throughput(started: Iterable[float], finished: Iterable[float]) -> float:
    """Appeals fully through per second: how many finished, over the time from the first start
    to the last finish (a backlog still draining after the load stopped counts against it)."""
    starts, ends = list(started), list(finished)
    if not starts or not ends:
        return 0.0
    span = max(ends) - min(starts)
    return len(ends) / span if span > 0 else 0.0


def bucket_counts(origin: float, times: Iterable[float], width_s: float = 1.0) -> list[int]:
    """How many of `times` fall in each `width_s` bucket from `origin` (earlier ones are left
    out; the list ends at the last non-empty bucket)."""
    counts: list[int] = []
    for t in times:
        if t < origin:
            continue
        index = int((t - origin) // width_s)
        if index >= len(counts):
            counts.extend([0] * (index + 1 - len(counts)))
        counts[index] += 1
    return counts


def bucket_latencies(
    origin: float, samples: Iterable[tuple[float, float]], width_s: float = 1.0
) -> list[dict[str, float | int | None]]:
    """Percentiles of (start time, latency) samples, bucketed by start time: how latency moved
    during the run."""
    grouped: list[list[float]] = []
    for started, latency in samples:
        if started < origin:
            continue
        index = int((started - origin) // width_s)
        if index >= len(grouped):
            grouped.extend([] for _ in range(index + 1 - len(grouped)))
        grouped[index].append(latency)
    return [percentiles(values) for values in grouped]


def ratios(ours: float, ceilings: Mapping[str, float | None]) -> dict[str, float | None]:
    """Our throughput as a fraction of each ceiling (None where a ceiling was not measured)."""
    return {name: (ours / value if value else None) for name, value in ceilings.items()}


@dataclass
class Samples:
    """What one run observed, as Unix timestamps (seconds) per appeal id."""

    accepted: dict[str, float] = field(default_factory=dict)
    assigned: dict[str, float] = field(default_factory=dict)
    first_notified: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    http_accept_ms: list[float] = field(default_factory=list)

    def only(self, ids: set[str]) -> Samples:
        """The samples of these appeals (the measured ones, not the warm-up)."""

        def keep(d: dict[str, float]) -> dict[str, float]:
            return {a: t for a, t in d.items() if a in ids}

        return Samples(
            keep(self.accepted),
            keep(self.assigned),
            keep(self.first_notified),
            keep(self.done),
            list(self.http_accept_ms),
        )

    def latencies_ms(self, milestone: Mapping[str, float]) -> list[tuple[float, float]]:
        """(accepted at, milliseconds from accepted to the milestone) for each appeal with both."""
        return [
            (at, (milestone[a] - at) * 1000) for a, at in self.accepted.items() if a in milestone
        ]


def summarize(samples: Samples) -> dict[str, Any]:
    """The pipeline part of the result: counts, throughput, latency percentiles, timeline."""
    assigned = samples.latencies_ms(samples.assigned)
    notified = samples.latencies_ms(samples.first_notified)
    origin = min(samples.accepted.values(), default=0.0)
    return {
        "accepted": len(samples.accepted),
        "completed": len(samples.done),
        "incomplete": len(set(samples.accepted) - set(samples.done)),
        "throughput_per_s": round(throughput(samples.accepted.values(), samples.done.values()), 3),
        "latency_ms": {
            "http_accept": percentiles(samples.http_accept_ms),
            "accepted_to_assigned": percentiles(ms for _, ms in assigned),
            "accepted_to_first_notification": percentiles(ms for _, ms in notified),
        },
        "timeline": {
            "bucket_s": 1.0,
            "accepted": bucket_counts(origin, samples.accepted.values()),
            "completed": bucket_counts(origin, samples.done.values()),
            "accepted_to_assigned_ms": bucket_latencies(origin, assigned),
            "accepted_to_first_notification_ms": bucket_latencies(origin, notified),
        },
    }


def write_json(path: Path, result: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


def write_chart(path: Path, result: Mapping[str, Any]) -> Path:
    """Throughput (accepted and completed per second) above latency (p50/p95 per second)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    timeline = result["pipeline"]["timeline"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for name in ("accepted", "completed"):
        counts = timeline[name]
        top.step(range(len(counts)), counts, where="post", label=f"{name} / s")
    top.axhline(result["pipeline"]["throughput_per_s"], linestyle=":", color="grey")
    top.set_ylabel("appeals per second")
    top.legend(loc="upper right")
    top.set_title(_title(result))
    for key, label, color in (
        ("accepted_to_assigned_ms", "accepted → assigned", "tab:blue"),
        ("accepted_to_first_notification_ms", "accepted → first notification", "tab:green"),
    ):
        for q, style in (("p50", "-"), ("p95", "--")):
            points = [(i, b[q]) for i, b in enumerate(timeline[key]) if b[q] is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                bottom.plot(xs, ys, style, color=color, label=f"{label} {q}")
    bottom.set_xlabel("seconds since the first accepted appeal (bucketed by acceptance)")
    bottom.set_ylabel("latency (ms)")
    bottom.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def _title(result: Mapping[str, Any]) -> str:
    config = result["config"]
    return (
        f"jiban bench: {config['mode']} at {config['rate']:g}/s for {config['seconds']:g} s — "
        f"{result['pipeline']['throughput_per_s']:.1f} appeals/s"
    )


def _ms(p: Mapping[str, Any]) -> str:
    if not p["n"]:
        return "no samples"
    return f"p50 {p['p50']:8.1f}   p95 {p['p95']:8.1f}   p99 {p['p99']:8.1f}   (n={p['n']})"


def table(result: Mapping[str, Any]) -> str:
    """The short printed summary."""
    pipeline, config = result["pipeline"], result["config"]
    lines = [
        f"mode {config['mode']}: offered {pipeline['offered']} appeals in "
        f"{pipeline['offered_seconds']:.1f} s (target {config['rate']:g}/s); "
        f"accepted {pipeline['accepted']}, fully through {pipeline['completed']}, "
        f"incomplete {pipeline['incomplete']}",
        f"throughput: {pipeline['throughput_per_s']:.1f} appeals/s",
        "",
        "latency (ms)                      ",
    ]
    latency = pipeline["latency_ms"]
    for key, label in (
        ("http_accept", "HTTP accept (202)"),
        ("accepted_to_assigned", "accepted → assigned (tracking)"),
        ("accepted_to_first_notification", "accepted → first notification"),
    ):
        lines.append(f"  {label:<32}{_ms(latency[key])}")
    ceilings = result.get("ceilings") or {}
    if ceilings:
        lines += ["", "ceilings (same machine, same run)      ours as a share"]
        for name, c in ceilings.items():
            share = result["ratios"].get(name)
            shown = f"{share:7.1%}" if share is not None else "    n/a"
            lines.append(f"  {name:<10}{c['per_s']:>10.0f} {c['unit']:<16}{shown}   {c['what']}")
    resources = result.get("resources") or {}
    if resources:
        lines += ["", "resources            RSS MB   CPU s   CPU s / 1,000 appeals"]
        for name, r in resources.items():
            per = r["cpu_s_per_1000"]
            lines.append(
                f"  {name:<16}{r['rss_mb']:>9.0f}{r['cpu_s']:>8.1f}"
                f"{(f'{per:>10.1f}' if per is not None else '       n/a')}"
            )
    db = result.get("database_transactions_per_appeal")
    if db is not None:
        lines.append(f"  database commits per appeal (all, pollers included): {db:.1f}")
    return "\n".join(lines)
