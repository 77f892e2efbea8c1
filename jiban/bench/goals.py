"""The performance issue's goals against what a run measured: met, not met, or not measured (a
fixed-rate run finds no capacity; the direct mode has no HTTP accept). Reported, never asserted.
The RSS goal is judged at the end of the generation of topics that carried the most appeals
(generations.py), and says how many. Also the idle cost, the CPU the services spend with no load,
as a share of one core."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from jiban.bench.resources import Usage

CAPACITY_SHARE_OF_FRAMEWORK = 0.25
HALF_LOAD_P99_ASSIGNED_MS = 500.0
HALF_LOAD_P99_HTTP_ACCEPT_MS = 50.0
SERVICE_RSS_MB = 150.0
IDLE_SERVICES_PERCENT = 5.0


@dataclass(frozen=True)
class Goal:
    what: str
    target: str
    measured: str
    met: bool | None  # None: not measured in this run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def verdict(self) -> str:
        return {True: "met", False: "not met", None: "not measured"}[self.met]


def idle_cost(
    before: Mapping[str, Usage], after: Mapping[str, Usage], seconds: float
) -> dict[str, float]:
    """CPU between the snapshots as % of one core, per process watched at both."""
    if seconds <= 0:
        return {}
    return {
        name: round(max(0.0, end.cpu_s - before[name].cpu_s) / seconds * 100, 2)
        for name, end in after.items()
        if name in before
    }


def services_sum(per_process: Mapping[str, float | None], services: tuple[str, ...]) -> float:
    """The services' figures summed (Postgres, the broker and the bench left out)."""
    return round(sum(per_process.get(s) or 0.0 for s in services), 2)


def goals(
    *,
    capacity: float | None,
    framework_per_s: float | None,
    half_p99_assigned_ms: float | None,
    half_p99_http_accept_ms: float | None,
    mode: str,
    rss_mb: Mapping[str, float],
    idle_services_percent: float | None,
    rss_after_appeals: int | None = None,
) -> list[Goal]:
    """The rows, in the issue's order. `rss_mb`: the services' RSS at the end of a generation of
    topics, after `rss_after_appeals` appeals (when known)."""
    rows: list[Goal] = []
    if capacity is not None and framework_per_s:
        share = capacity / framework_per_s
        rows.append(
            Goal(
                "capacity",
                f"≥ {CAPACITY_SHARE_OF_FRAMEWORK * 100:g} % of the framework ceiling",
                f"{share * 100:.1f} % ({capacity:g} of {framework_per_s:.0f}/s)",
                share >= CAPACITY_SHARE_OF_FRAMEWORK,
            )
        )
    else:
        why = "no capacity found" if capacity is None else "no framework ceiling"
        rows.append(
            Goal(
                "capacity",
                f"≥ {CAPACITY_SHARE_OF_FRAMEWORK * 100:g} % of the framework ceiling",
                why,
                None,
            )
        )
    rows.append(
        _below(
            "half load: p99 accepted → assigned",
            half_p99_assigned_ms,
            HALF_LOAD_P99_ASSIGNED_MS,
            "ms",
        )
    )
    if mode == "http":
        rows.append(
            _below(
                "half load: p99 HTTP accept",
                half_p99_http_accept_ms,
                HALF_LOAD_P99_HTTP_ACCEPT_MS,
                "ms",
            )
        )
    else:
        rows.append(
            Goal(
                "half load: p99 HTTP accept",
                f"< {HALF_LOAD_P99_HTTP_ACCEPT_MS:g} ms",
                f"n/a ({mode} mode)",
                None,
            )
        )
    if rss_mb:
        worst = max(rss_mb, key=lambda n: rss_mb[n])
        after = f" after {rss_after_appeals:,} appeals" if rss_after_appeals is not None else ""
        rows.append(
            Goal(
                "RSS of each service",
                f"< {SERVICE_RSS_MB:g} MB",
                f"max {rss_mb[worst]:.0f} MB ({worst}){after}",
                all(v < SERVICE_RSS_MB for v in rss_mb.values()),
            )
        )
    else:
        rows.append(Goal("RSS of each service", f"< {SERVICE_RSS_MB:g} MB", "not measured", None))
    rows.append(
        _below(
            "idle: services' CPU, summed",
            idle_services_percent,
            IDLE_SERVICES_PERCENT,
            "% of one core",
        )
    )
    return rows


def _below(what: str, value: float | None, bound: float, unit: str) -> Goal:
    target = f"< {bound:g} {unit}"
    if value is None:
        return Goal(what, target, "not measured", None)
    return Goal(what, target, f"{value:.1f} {unit}", value < bound)
