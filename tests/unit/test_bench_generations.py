"""Generations of topics: when the bench moves the services to fresh topics, what it records of
each generation, and that every process it started stays in the dict the bench stops."""

from __future__ import annotations

import itertools
import subprocess
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from jiban.bench import run as bench
from jiban.bench.generations import (
    EMBEDDED_FRESH_AFTER,
    JUDGED_PHASES,
    Generation,
    default_fresh_after,
    most_carried,
    needs_fresh,
)
from jiban.bench.load import Offered
from jiban.bench.pipeline import Run
from jiban.bench.report import Samples, summarize
from shared.migrations import ALL_SERVICES
from shared.settings import Settings


def test_fresh_topics_once_the_run_would_cross_the_threshold() -> None:
    assert not needs_fresh(offered=400, runs=2, coming=100, fresh_after=500)  # 500: not past it
    assert needs_fresh(offered=400, runs=2, coming=101, fresh_after=500)
    assert needs_fresh(offered=600, runs=3, coming=1, fresh_after=500)


def test_a_judged_run_starts_on_fresh_topics_below_the_threshold_too() -> None:
    assert needs_fresh(offered=10, runs=1, coming=10, fresh_after=500, judged=True)
    assert not needs_fresh(offered=10, runs=1, coming=10, fresh_after=500, judged=False)
    # Not when nothing ran on the current topics yet, nor when fresh topics are off.
    assert not needs_fresh(offered=0, runs=0, coming=10, fresh_after=500, judged=True)
    assert not needs_fresh(offered=10, runs=1, coming=10, fresh_after=0, judged=True)
    assert JUDGED_PHASES == {"sustain", "half", "fixed"}


def test_never_before_a_generations_first_run_nor_with_zero() -> None:
    # A run bigger than the threshold runs alone on fresh topics, not on none.
    assert not needs_fresh(offered=0, runs=0, coming=10_000, fresh_after=500)
    assert not needs_fresh(offered=10**6, runs=40, coming=10_000, fresh_after=0)


def test_fresh_topics_by_default_on_tansu_only() -> None:
    assert default_fresh_after(embedded_broker=True) == EMBEDDED_FRESH_AFTER == 15_000
    assert default_fresh_after(embedded_broker=False) == 0


def test_a_generation_records_its_runs_and_the_rss_goal_takes_the_fullest() -> None:
    first = Generation(1, "bencha.")
    first.carried("search", 40.0, 320)
    first.carried("search", 60.0, 480)
    first.ended({"intake": 90.0})
    second = Generation(2, "benchb.")
    second.carried("sustain", 54.5, 545)
    second.ended({"intake": 95.0})
    assert first.as_dict() == {
        "prefix": "bencha.",
        "appeals": 800,
        "runs": ["search@40", "search@60"],
        "rss_mb": {"intake": 90.0},
    }
    assert second.runs == ["sustain@54.5"]
    assert most_carried([first, second]) is first
    third = Generation(3, "benchc.")
    third.carried("half", 27.2, 5000)  # interrupted: no RSS recorded, not judged
    assert most_carried([first, second, third]) is first
    assert most_carried([]) is None


def _run(phase: str, rate: float, seconds: float) -> Run:
    n = int(rate * seconds)
    samples = Samples(
        accepted={f"{phase}{rate}-{i}": 100.0 + i / rate for i in range(n)},
        assigned={f"{phase}{rate}-{i}": 100.2 + i / rate for i in range(n)},
        done={f"{phase}{rate}-{i}": 100.3 + i / rate for i in range(n)},
    )
    return Run(
        phase=phase,
        rate=rate,
        seconds=seconds,
        offered=Offered(ids=set(samples.accepted), sent=n, failed=0, seconds=seconds),
        summary=summarize(samples),
        through_in_drain=n,
        through_per_s=rate,
        emptied=True,
        resources={},
        commits_per_appeal=None,
    )


class _Process:
    """A started service as far as the bench sees it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.stopped = False

    def poll(self) -> int | None:
        return 0 if self.stopped else None


class _Pipeline:
    opened: ClassVar[list[str]] = []

    def __init__(self, settings: Settings, mode: str, watched: Any, children: Any) -> None:
        self.prefix = settings.topic_prefix
        self.children = children

    async def __aenter__(self) -> _Pipeline:
        self.opened.append(self.prefix)
        return self

    async def __aexit__(self, *_: object) -> None:
        pass

    async def warm_up(self) -> None:
        pass

    async def idle(self, seconds: float) -> dict[str, float]:
        return {}

    async def load(self, phase: str, rate: float, seconds: float, **_: Any) -> Run:
        return _run(phase, rate, seconds)


class _Watched:
    def __init__(self, children: dict[str, _Process]) -> None:
        self.children = children

    def snapshot(self) -> dict[str, Any]:
        from jiban.bench.resources import Usage

        usage = {n: Usage(1.0, (80 + c.pid % 100) * 2**20) for n, c in self.children.items()}
        return {**usage, "broker": Usage(1.0, 500 * 2**20)}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """The bench's session with every process and server faked: what it started, stopped,
    deleted and created, in order."""
    done: dict[str, list[Any]] = {"events": [], "started": []}
    pids = iter(range(1000, 2000))

    def start_services(env: dict[str, str], children: dict[str, Any]) -> dict[str, Any]:
        for name in ALL_SERVICES:
            children[name] = _Process(next(pids))
            done["started"].append(children[name])
        done["events"].append(("start", env["JIBAN_TOPIC_PREFIX"]))
        return children

    def stop_services(children: dict[str, Any]) -> None:
        for child in children.values():
            child.stopped = True
        done["events"].append(("stop",))

    async def delete_topics(settings: Settings) -> None:
        done["events"].append(("delete", settings.topic_prefix))

    async def ensure_topics(settings: Settings) -> list[str]:
        done["events"].append(("create", settings.topic_prefix))
        return []

    monkeypatch.setattr(bench, "start_services", start_services)
    monkeypatch.setattr(bench, "stop_services", stop_services)
    monkeypatch.setattr(bench, "delete_topics", delete_topics)
    monkeypatch.setattr(bench, "ensure_topics", ensure_topics)
    monkeypatch.setattr(bench, "wait_ready", lambda urls, children: None)
    monkeypatch.setattr(bench, "watch", lambda children, db, kafka: _Watched(children))
    monkeypatch.setattr(bench, "Pipeline", _Pipeline)
    _Pipeline.opened = []
    return done


async def test_the_search_moves_to_fresh_topics_and_keeps_every_process_stoppable(
    fake: dict[str, list[Any]],
) -> None:
    args = bench.parse_args(
        [
            "--start-rate", "40", "--factor", "1.5", "--bisections", "0", "--max-rate", "90",
            "--step-s", "8", "--sustain-s", "10", "--sustain-attempts", "1", "--half-s", "6",
            "--fresh-after", "500",
        ]
    )  # fmt: skip
    children: dict[str, subprocess.Popen[bytes]] = {}
    settings = Settings(database_url="postgresql+asyncpg://db/x", topic_prefix="bench000000.")
    session = bench.Session(settings, args, children)
    session.start()
    measured = await bench.measure(session, args, None)

    # search@40 (320), search@60 (480: 800 > 500, fresh), search@90 (720: fresh), then
    # sustain@90 (900: fresh) and half@45 (270 after 900: fresh).
    runs = [g.runs for g in measured.generations]
    assert runs == [["search@40"], ["search@60"], ["search@90"], ["sustain@90"], ["half@45"]]
    assert [g.appeals for g in measured.generations] == [320, 480, 720, 900, 270]
    prefixes = [g.prefix for g in measured.generations]
    assert prefixes[0] == "bench000000." and len(set(prefixes)) == 5
    assert _Pipeline.opened == prefixes  # each generation's observer reads its own topics
    events = fake["events"]
    assert events[:1] == [("start", prefixes[0])]
    for old, new in itertools.pairwise(prefixes):
        i = events.index(("delete", old))
        assert events[i - 1] == ("stop",)
        assert events[i + 1 : i + 3] == [("create", new), ("start", new)]
    # Every generation's RSS is recorded (the services only); the last is also at the end.
    assert all(set(g.rss_mb) == set(ALL_SERVICES) for g in measured.generations)
    assert measured.rss_mb["broker"] == 500.0
    # The dict the bench's `finally` stops holds the processes now running, the only ones left.
    running = [p for p in fake["started"] if not p.stopped]
    assert sorted(id(p) for p in children.values()) == sorted(id(p) for p in running)

    result = bench.build_result(args, datetime.now(UTC), measured, {}, machine={}, rev=None)
    assert result["config"]["fresh_after"] == 500
    assert [g["appeals"] for g in result["generations"]] == [320, 480, 720, 900, 270]
    rss_goal = next(g for g in result["goals"] if g["what"] == "RSS of each service")
    assert rss_goal["measured"].endswith("after 900 appeals")  # the fullest generation


async def _measured(argv: list[str]) -> Any:
    args = bench.parse_args(argv)
    session = bench.Session(Settings(topic_prefix="bench000000."), args, {})
    session.start()
    return await bench.measure(session, args, None)


async def test_the_search_shares_topics_and_each_judged_run_has_its_own(
    fake: dict[str, list[Any]],
) -> None:
    measured = await _measured(
        ["--start-rate", "40", "--bisections", "0", "--max-rate", "90", "--fresh-after", "100000"]
    )
    assert [g.runs for g in measured.generations] == [
        ["search@40", "search@60", "search@90"],
        ["sustain@90"],
        ["half@45"],
    ]
    assert len({g.prefix for g in measured.generations}) == 3


async def test_a_fixed_rate_run_first_on_its_topics_is_not_moved(
    fake: dict[str, list[Any]],
) -> None:
    measured = await _measured(["--rate", "20", "--seconds", "5", "--fresh-after", "100000"])
    # Judged, but the first run of the generation: nothing to move away from.
    assert [g.runs for g in measured.generations] == [["fixed@20"]]


async def test_without_a_threshold_one_generation_carries_everything(
    fake: dict[str, list[Any]],
) -> None:
    measured = await _measured(
        ["--start-rate", "40", "--bisections", "0", "--max-rate", "90", "--fresh-after", "0"]
    )
    assert len(measured.generations) == 1
    assert measured.generations[0].runs == [
        "search@40",
        "search@60",
        "search@90",
        "sustain@90",
        "half@45",
    ]
    assert ("stop",) not in fake["events"] and ("delete", "bench000000.") not in fake["events"]


async def test_an_interrupted_refresh_leaves_the_started_services_to_the_finally(
    fake: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_ready(urls: dict[str, str], children: dict[str, Any]) -> None:
        if len(fake["started"]) > len(ALL_SERVICES):  # the second generation's services
            raise KeyboardInterrupt

    monkeypatch.setattr(bench, "wait_ready", not_ready)
    args = bench.parse_args(
        ["--rate", "40", "--seconds", "8", "--against", "HEAD~1", "--against-rate", "40",
         "--against-seconds", "8", "--fresh-after", "100"]
    )  # fmt: skip
    children: dict[str, subprocess.Popen[bytes]] = {}
    session = bench.Session(Settings(topic_prefix="bench000000."), args, children)
    session.start()
    with pytest.raises(KeyboardInterrupt):
        await bench.measure(session, args, None)
    second = fake["started"][len(ALL_SERVICES) :]
    assert second and all(not p.stopped for p in second)
    assert sorted(id(p) for p in children.values()) == sorted(id(p) for p in second)
