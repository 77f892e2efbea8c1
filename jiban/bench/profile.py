"""`--profile`: py-spy samples each service's process during the measured run, without pausing it
(--nonblocking), and writes a flame graph (SVG) and the raw collapsed stacks per service.

Two recorders per service, one per format: py-spy writes one format per run, and its SVG cannot
be made from the raw stacks without flamegraph.pl. They cost the services a little CPU (reading
their memory 100 times a second): a profiled run's figures are not the unprofiled ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jiban.dev import say

SAMPLES_PER_S = 100
FORMATS = {"flamegraph": ".svg", "raw": ".txt"}
# py-spy writes its files when the duration is over; past this much more, it is stuck.
FINISH_GRACE_S = 30.0


def find_py_spy() -> str | None:
    """py-spy next to this interpreter (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def command(py_spy: str, pid: int, seconds: float, fmt: str, out: Path) -> list[str]:
    return [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(SAMPLES_PER_S),
        "--duration",
        str(max(1, round(seconds))),
        "--format",
        fmt,
        "--output",
        str(out),
        "--nonblocking",
    ]


@dataclass
class Profiler:
    """Records every service in `pids` for `seconds`; `finish` waits and says what was written."""

    folder: Path
    py_spy: str
    recorders: dict[tuple[str, str], tuple[subprocess.Popen[bytes], Path]] = field(
        default_factory=dict
    )

    def start(self, pids: Mapping[str, int], seconds: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            for fmt, suffix in FORMATS.items():
                out = self.folder / f"{name}{suffix}"
                log = (self.folder / f"{name}.{fmt}.log").open("wb")
                with log:
                    child = subprocess.Popen(
                        command(self.py_spy, pid, seconds, fmt, out),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                self.recorders[(name, fmt)] = (child, out)

    def finish(self, seconds: float) -> dict[str, dict[str, str | None]]:
        """{service: {"flamegraph": path or None, "raw": path or None}}; a recorder that failed
        is reported with its log's path, not raised."""
        written: dict[str, dict[str, str | None]] = {}
        for (name, fmt), (child, out) in self.recorders.items():
            try:
                child.wait(seconds + FINISH_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            ok = child.returncode == 0 and out.is_file()
            log = self.folder / f"{name}.{fmt}.log"
            if ok:
                log.unlink(missing_ok=True)  # only py-spy's banner: kept when it failed
            else:
                say(f"py-spy {fmt} for {name} failed (exit {child.returncode}): see {log}")
            written.setdefault(name, {})[fmt] = str(out) if ok else None
        self.recorders.clear()
        return written


def profiler(folder: Path) -> Profiler | None:
    """A Profiler, or None (said once) when py-spy is not installed."""
    py_spy = find_py_spy()
    if py_spy is None:
        say(
            "--profile: py-spy is not installed (pip install py-spy, in the venv); "
            "going on without profiles"
        )
        return None
    return Profiler(folder, py_spy)
