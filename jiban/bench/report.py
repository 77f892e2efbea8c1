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

from jiban.bench.capacity import THROUGH_SHARE

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
    """The printed summary: a capacity search's, or a fixed-rate run's."""
    if "steps" in result:
        return capacity_table(result)
    pipeline, config = result["pipeline"], result["config"]
    lines = [
        f"mode {config['mode']}: offered {pipeline['offered']} appeals in "
        f"{pipeline['offered_seconds']:.1f} s (target {config['rate']:g}/s); "
        f"accepted {pipeline['accepted']}, fully through {pipeline['completed']}, "
        f"incomplete {pipeline['incomplete']}",
        f"throughput: {pipeline['throughput_per_s']:.1f} appeals/s",
        *_servers_lines(result),
        "",
        "latency (ms)                      ",
        *_latency_lines(pipeline["latency_ms"]),
    ]
    lines += _ceiling_lines(result, "ours as a share")
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
    lines += _generation_lines(result) + _idle_lines(result) + _goal_lines(result)
    lines += _against_lines(result) + _profile_lines(result)
    return "\n".join(lines)


def _latency_lines(latency: Mapping[str, Any]) -> list[str]:
    return [
        f"  {label:<32}{_ms(latency[key])}"
        for key, label in (
            ("http_accept", "HTTP accept (202)"),
            ("accepted_to_assigned", "accepted → assigned (tracking)"),
            ("accepted_to_first_notification", "accepted → first notification"),
        )
    ]


def _servers_lines(result: Mapping[str, Any]) -> list[str]:
    machine = result.get("machine") or {}
    postgres = machine.get("postgres")
    if not isinstance(postgres, Mapping):
        return []
    return [f"postgres: {postgres['described']}; broker: {machine.get('broker')}"]


def _ceiling_lines(result: Mapping[str, Any], share_header: str) -> list[str]:
    ceilings = result.get("ceilings") or {}
    if not ceilings:
        return []
    lines = ["", f"ceilings (same machine, same run)      {share_header}"]
    for name, c in ceilings.items():
        share = result["ratios"].get(name)
        shown = f"{share:7.1%}" if share is not None else "    n/a"
        lines.append(f"  {name:<10}{c['per_s']:>10.0f} {c['unit']:<16}{shown}   {c['what']}")
    return lines


def _idle_lines(result: Mapping[str, Any]) -> list[str]:
    idle = result.get("idle")
    if not idle:
        return []
    per = idle["cpu_percent_of_one_core"]
    lines = ["", f"idle, no load for {idle['seconds']:g} s        % of one core"]
    lines += [f"  {name:<16}{value:>8.2f}" for name, value in per.items()]
    lines.append(f"  {'services, summed':<16}{idle['services_percent']:>8.2f}")
    return lines


def _goal_lines(result: Mapping[str, Any]) -> list[str]:
    goals = result.get("goals") or []
    if not goals:
        return []
    lines = ["", f"goals  {'':<36}{'target':<36}{'measured':<44}"]
    for g in goals:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[g["met"]]
        lines.append(f"  {g['what']:<41}{g['target']:<36}{g['measured']:<44}{verdict}")
    return lines


def _generation_lines(result: Mapping[str, Any]) -> list[str]:
    """One line per generation of topics: its prefix, the appeals it carried, the largest RSS
    at its end, its runs."""
    generations = result.get("generations") or []
    if not generations:
        return []
    fresh_after = (result.get("config") or {}).get("fresh_after")
    when = f"fresh after {fresh_after:,} appeals" if fresh_after else "never fresh"
    lines = [
        "",
        f"generations of topics ({when})",
        f"  {'':<4}{'prefix':<16}{'appeals':>9}   {'largest RSS at its end':<24}runs",
    ]
    for number, g in enumerate(generations, 1):
        rss = g["rss_mb"]
        worst = max(rss, key=lambda n: rss[n]) if rss else None
        largest = f"{rss[worst]:.0f} MB ({worst})" if worst is not None else "n/a"
        lines.append(
            f"  {number:<4}{g['prefix']:<16}{g['appeals']:>9,}   {largest:<24}"
            f"{len(g['runs'])}: {', '.join(g['runs'])}"
        )
    return lines


def _against_lines(result: Mapping[str, Any]) -> list[str]:
    against = result.get("against")
    if not against:
        return []
    lines = [
        "",
        f"against {against['rev']} ({against['sha'][:10]}), {against['mode']} at "
        f"{against['rate']:g}/s for {against['seconds']:g} s, each alone:",
    ]
    for label, run in (("before (REV)", against["before"]), ("after (now)", against["after"])):
        p = run["pipeline"]
        p99 = p["latency_ms"]["accepted_to_assigned"]["p99"]
        lines.append(
            f"  {label:<14}through {p['completed']}/{p['offered']}, "
            f"{p['throughput_per_s']:.1f}/s, p99 accepted → assigned "
            + (f"{p99:.0f} ms" if p99 is not None else "n/a")
        )
    lines.append(f"  {'CPU s / 1,000 appeals':<24}{'before':>9}{'after':>9}{'before/after':>14}")
    compared = against["compared"]

    def cell(v: float | None, width: int = 9, spec: str = ".1f") -> str:
        return f"{v:>{width}{spec}}" if v is not None else f"{'n/a':>{width}}"

    for name, row in compared["cpu_s_per_1000"].items():
        lines.append(
            f"  {name:<24}{cell(row['before'])}{cell(row['after'])}{cell(row['ratio'], 14, '.2f')}"
        )
    total = compared["services_sum"]
    lines.append(
        f"  {'services, summed':<24}{cell(total['before'])}{cell(total['after'])}"
        f"{cell(total['ratio'], 14, '.2f')}"
    )
    return lines


def _profile_lines(result: Mapping[str, Any]) -> list[str]:
    profile = result.get("profile")
    if profile is None:
        return []
    if not profile.get("files"):
        return ["", f"profile: {profile.get('note', 'none written')}"]
    lines = ["", f"profile ({profile['run']}): flame graph, raw collapsed stacks"]
    for name, files in profile["files"].items():
        lines.append(f"  {name:<10}{files.get('flamegraph') or '—'}   {files.get('raw') or '—'}")
    return lines


def _run_row(label: str, run: Mapping[str, Any]) -> str:
    p = run["pipeline"]
    p99 = p["latency_ms"]["accepted_to_assigned"]["p99"]
    through = run["through_per_s"]
    verdict = "held" if run["held"] else f"not held: {run['why_not']}"
    if not run["emptied"]:
        verdict += " (not emptied: gave up waiting)"
    return (
        f"  {label:<12}{run['rate']:>9.1f}{p['offered']:>7}"
        f"{(f'{through:>10.1f}' if through is not None else '       n/a')}"
        f"{(f'{p99:>11.0f} ms' if p99 is not None else '        n/a')}   {verdict}"
    )


def capacity_table(result: Mapping[str, Any]) -> str:
    """The capacity search's summary: the headline, every run, the half-load latencies, the
    idle cost, resources, the generations of topics, ceilings with shares, the goals."""
    config = result["config"]
    lines = [result["headline"], *_servers_lines(result), f"mode {config['mode']}", ""]
    lines.append(
        f"  {'run':<12}{'offered/s':>9}{'sent':>7}{'through/s':>10}{'p99 assigned':>14}   result"
    )
    counts: dict[str, int] = {}
    for run in result["steps"]:
        counts[run["phase"]] = counts.get(run["phase"], 0) + 1
        lines.append(_run_row(f"{run['phase']} {counts[run['phase']]}", run))
    lines.append(
        "  (through/s: completions per second while they came through. Held: the rate offered"
    )
    lines.append(
        f"   on time, all through {config['drain_s']:g} s after the load, through/s ≥ "
        f"{THROUGH_SHARE * 100:g} % of offered, p99 assigned < {config['latency_bound_ms']:g} ms)"
    )
    half = result.get("half_load")
    if half:
        lines += [
            "",
            f"half load ({half['rate']:g}/s for {half['seconds']:g} s), latency (ms)",
            *_latency_lines(half["pipeline"]["latency_ms"]),
        ]
    sustained = result.get("sustained")
    if sustained:
        lines += [
            "",
            f"sustained ({sustained['rate']:g}/s for {sustained['seconds']:g} s), latency (ms)",
            *_latency_lines(sustained["pipeline"]["latency_ms"]),
        ]
    lines += _idle_lines(result)
    resources = (sustained or {}).get("resources") or {}
    half_resources = (half or {}).get("resources") or {}
    rss = result.get("rss_mb_at_end") or {}
    if resources or rss:
        lines += [
            "",
            f"resources {'':<14}{'CPU s / 1,000 appeals:':>24}{'':>12}{'RSS MB':>10}",
            f"  {'':<22}{'sustained':>14}{'half load':>12}{'at the end':>12}",
        ]

        def cell(v: float | None, width: int, spec: str = ".1f") -> str:
            return f"{v:>{width}{spec}}" if v is not None else f"{'n/a':>{width}}"

        for name in dict.fromkeys([*resources, *rss]):
            lines.append(
                f"  {name:<22}{cell(resources.get(name, {}).get('cpu_s_per_1000'), 14)}"
                f"{cell(half_resources.get(name, {}).get('cpu_s_per_1000'), 12)}"
                f"{cell(rss.get(name), 12, '.0f')}"
            )

        def db(run: Mapping[str, Any] | None) -> str:
            value = (run or {}).get("database_transactions_per_appeal")
            return f"{value:.1f}" if value is not None else "n/a"

        lines.append(
            f"  database commits per appeal (all, pollers included): sustained {db(sustained)}, "
            f"half load {db(half)}"
        )
    lines += _generation_lines(result)
    lines += _ceiling_lines(result, "capacity as a share")
    lines += _goal_lines(result) + _against_lines(result) + _profile_lines(result)
    return "\n".join(lines)


def write_capacity_chart(path: Path, result: Mapping[str, Any]) -> Path:
    """Per run of the search: offered and through (held or not) above accepted → assigned p50
    and p99 with the bound."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    runs = result["steps"]
    xs = list(range(1, len(runs) + 1))
    labels = [f"{r['phase']}\n{r['rate']:g}" for r in runs]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    top.plot(xs, [r["rate"] for r in runs], "o-", color="grey", label="offered / s")
    for held, marker, color in ((True, "o", "tab:green"), (False, "x", "tab:red")):
        points = [
            (x, r["through_per_s"])
            for x, r in zip(xs, runs, strict=True)
            if r["held"] == held and r["through_per_s"] is not None
        ]
        if points:
            px, py = zip(*points, strict=True)
            top.scatter(
                px,
                py,
                marker=marker,
                color=color,
                zorder=3,
                label=f"through / s ({'held' if held else 'not held'})",
            )
    capacity = result.get("capacity_per_s")
    if capacity:
        top.axhline(capacity, linestyle=":", color="tab:blue", label=f"capacity {capacity:g}/s")
    top.set_ylabel("appeals per second")
    top.legend(loc="upper left", fontsize="small")
    top.set_title(result["headline"])
    for q, style in (("p50", "s--"), ("p99", "o-")):
        points = [
            (x, r["pipeline"]["latency_ms"]["accepted_to_assigned"][q])
            for x, r in zip(xs, runs, strict=True)
            if r["pipeline"]["latency_ms"]["accepted_to_assigned"][q]
        ]
        if points:
            px, py = zip(*points, strict=True)
            bottom.plot(px, py, style, label=f"accepted → assigned {q}")
    bottom.axhline(
        result["config"]["latency_bound_ms"], linestyle=":", color="tab:red", label="bound"
    )
    bottom.set_ylim(bottom=0)
    bottom.set_ylabel("latency (ms)")
    bottom.set_xticks(xs, labels, fontsize="small")
    bottom.set_xlabel("run (phase, offered per second)")
    bottom.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path
