"""Where the time goes: CPU seconds and resident memory of each process taking part (the four
services, Postgres with its backends, the broker, the bench itself), read with psutil before and
after the run."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    cpu_s: float
    rss_bytes: int


def usage(root: psutil.Process, *, with_children: bool = False) -> Usage:
    """CPU (user + system) and RSS of a process, plus its children for a server that forks a
    process per connection (Postgres). Children that exited in between are not counted."""
    processes = [root]
    if with_children:
        with contextlib.suppress(psutil.Error):
            processes += root.children(recursive=True)
    cpu, rss = 0.0, 0
    for p in processes:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            cpu += times.user + times.system
            rss += p.memory_info().rss
    return Usage(cpu, rss)


def listener(port: int) -> psutil.Process | None:
    """The process listening on a local TCP port (the embedded servers), if we may see it."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for c in connections:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            with contextlib.suppress(psutil.Error):
                return psutil.Process(c.pid)
    return None


class Watched:
    """The processes to measure, by name; `with_children` for the ones that fork per client."""

    def __init__(self) -> None:
        self.processes: dict[str, tuple[psutil.Process, bool]] = {}

    def add(
        self, name: str, pid_or_process: int | psutil.Process | None, *, children: bool = False
    ) -> None:
        if pid_or_process is None:
            return
        with contextlib.suppress(psutil.Error):
            process = (
                pid_or_process
                if isinstance(pid_or_process, psutil.Process)
                else psutil.Process(pid_or_process)
            )
            self.processes[name] = (process, children)

    def snapshot(self) -> dict[str, Usage]:
        return {
            name: usage(process, with_children=children)
            for name, (process, children) in self.processes.items()
        }


def per_thousand(
    before: Mapping[str, Usage], after: Mapping[str, Usage], appeals: int
) -> dict[str, dict[str, float | None]]:
    """CPU seconds spent between the snapshots, per 1,000 appeals; RSS at the end (MB)."""
    result: dict[str, dict[str, float | None]] = {}
    for name, end in after.items():
        start = before.get(name)
        if start is None:
            continue
        cpu = max(0.0, end.cpu_s - start.cpu_s)
        result[name] = {
            "cpu_s": round(cpu, 2),
            "cpu_s_per_1000": round(cpu / appeals * 1000, 2) if appeals else None,
            "rss_mb": round(end.rss_bytes / 2**20, 1),
        }
    return result
