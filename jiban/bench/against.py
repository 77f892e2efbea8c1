"""`--against REV`: an earlier commit's code measured in the same run, on the same servers, at the
same fixed rate as the current code, each alone on the machine.

REV is checked out with `git worktree add --detach` into a temporary folder (removed at the end)
and runs from there: every command with cwd and PYTHONPATH set to that folder, so that
`python -m services.X` imports the old code (PYTHONPATH comes before the venv's editable install
of this repository). It gets its own database, migrated by its own migrations, its own topic
prefix, and the demo directory loaded by its own code, through its own `jiban` command line."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from jiban.dev import say
from shared.migrations import ALL_SERVICES

PREPARE_TIMEOUT_S = 300


def resolve(rev: str, repo: Path) -> str:
    """The full sha REV names (a bad REV fails here, before anything is started)."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise SystemExit(f"--against {rev}: not a commit ({found.stderr.strip()})")
    return found.stdout.strip()


@contextlib.contextmanager
def worktree(sha: str, repo: Path) -> Iterator[Path]:
    """A detached checkout of `sha`, removed (and pruned) afterwards whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix="jiban-against-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(folder), sha],
        cwd=repo,
        check=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=repo, check=False)
        subprocess.run(["git", "worktree", "prune"], cwd=repo, check=False)


def tree_env(env: Mapping[str, str], tree: Path) -> dict[str, str]:
    """`env` with the tree's code first on the import path."""
    return {**env, "PYTHONPATH": str(tree)}


def prepare(tree: Path, env: Mapping[str, str]) -> None:
    """Migrations, topics and the demo directory, by the tree's own command line (what
    `make run` does in process with the current code)."""
    for args in (["migrate"], ["topics", "create"], ["directory", "demo"]):
        done = subprocess.run(
            [sys.executable, "-m", "jiban.cli", *args],
            cwd=tree,
            env=tree_env(env, tree),
            capture_output=True,
            text=True,
            timeout=PREPARE_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"the old tree's `jiban {' '.join(args)}` failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        said = (done.stdout.strip().splitlines() or [""])[-1]
        say(f"old tree: jiban {' '.join(args)}: {said[:100]}")


def start_services(
    tree: Path, env: Mapping[str, str], children: dict[str, subprocess.Popen[bytes]]
) -> None:
    """jiban.dev.start_services, from the tree: the same commands, its code."""
    for name in ALL_SERVICES:
        if not (tree / "services" / name / "__main__.py").is_file():
            say(f"old tree: no {name} service; not started")
            continue
        children[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=tree,
            env=tree_env(env, tree),
            start_new_session=True,
        )


def compare(
    before: Mapping[str, Mapping[str, Any]],
    after: Mapping[str, Mapping[str, Any]],
    services: tuple[str, ...] = ALL_SERVICES,
) -> dict[str, Any]:
    """CPU seconds per 1,000 appeals, REV (before) and the current code (after), per process, and
    before / after: per process and summed over the services (Postgres and the broker apart).
    A ratio above 1 means the current code spends less."""

    def per(r: Mapping[str, Mapping[str, Any]], name: str) -> float | None:
        value = r.get(name, {}).get("cpu_s_per_1000")
        return float(value) if value is not None else None

    def ratio(b: float | None, a: float | None) -> float | None:
        return round(b / a, 3) if b is not None and a else None

    rows: dict[str, dict[str, float | None]] = {}
    for name in dict.fromkeys([*before, *after]):
        b, a = per(before, name), per(after, name)
        rows[name] = {"before": b, "after": a, "ratio": ratio(b, a)}
    known = [s for s in services if rows.get(s, {}).get("before") is not None]
    both = [s for s in known if rows[s]["after"] is not None]
    sum_before = round(sum(rows[s]["before"] or 0.0 for s in both), 2) if both else None
    sum_after = round(sum(rows[s]["after"] or 0.0 for s in both), 2) if both else None
    return {
        "cpu_s_per_1000": rows,
        "services_sum": {
            "services": both,
            "before": sum_before,
            "after": sum_after,
            "ratio": ratio(sum_before, sum_after),
        },
    }
