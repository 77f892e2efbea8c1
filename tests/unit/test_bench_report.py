"""The bench's arithmetic and outputs: percentiles, throughput, buckets, ratios, JSON, chart."""

from __future__ import annotations

import json

import pytest

from jiban.bench.report import (
    PNG_SIGNATURE,
    Samples,
    bucket_counts,
    bucket_latencies,
    percentiles,
    quantile,
    ratios,
    summarize,
    table,
    throughput,
    write_chart,
    write_json,
)
from jiban.bench.resources import Usage, per_thousand


def test_percentiles_interpolate_between_ranks() -> None:
    values = list(range(1, 101))  # 1..100
    p = percentiles(reversed(values))  # order does not matter
    assert p == {"p50": 50.5, "p95": 95.05, "p99": 99.01, "n": 100}


def test_percentiles_of_one_and_of_none() -> None:
    assert percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0, "n": 1}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None, "n": 0}
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_throughput_counts_finished_over_first_start_to_last_finish() -> None:
    # 10 started over 0..9 s, each finished 1 s later: 10 in 10 s.
    assert throughput([float(i) for i in range(10)], [i + 1.0 for i in range(10)]) == 1.0
    # A backlog draining after the load stopped lowers it.
    assert throughput([0.0, 0.0], [1.0, 4.0]) == 0.5
    assert throughput([], [1.0]) == 0.0
    assert throughput([1.0], []) == 0.0


def test_bucket_counts_per_second_from_the_origin() -> None:
    assert bucket_counts(100.0, [100.0, 100.9, 101.0, 103.5, 99.0]) == [2, 1, 0, 1]
    assert bucket_counts(0.0, []) == []
    assert bucket_counts(0.0, [0.1, 0.6, 1.2], width_s=0.5) == [1, 1, 1]


def test_bucket_latencies_group_by_start_time() -> None:
    buckets = bucket_latencies(10.0, [(10.1, 5.0), (10.5, 15.0), (12.2, 30.0)])
    assert [b["n"] for b in buckets] == [2, 0, 1]
    assert buckets[0]["p50"] == 10.0
    assert buckets[1]["p50"] is None
    assert buckets[2]["p99"] == 30.0


def test_ratios_to_each_ceiling() -> None:
    assert ratios(20.0, {"broker": 2000.0, "framework": 200.0, "database": None}) == {
        "broker": 0.01,
        "framework": 0.1,
        "database": None,
    }


def test_samples_only_keeps_the_measured_appeals() -> None:
    samples = Samples(accepted={"a": 1.0, "warm": 0.5}, done={"a": 2.0, "warm": 0.9})
    kept = samples.only({"a"})
    assert kept.accepted == {"a": 1.0} and kept.done == {"a": 2.0}


def test_cpu_per_thousand_appeals_and_rss_at_the_end() -> None:
    before = {"intake": Usage(1.0, 0), "gone": Usage(1.0, 0)}
    after = {"intake": Usage(3.0, 50 * 2**20), "new": Usage(9.0, 0)}
    assert per_thousand(before, after, 500) == {
        "intake": {"cpu_s": 2.0, "cpu_s_per_1000": 4.0, "rss_mb": 50.0}
    }
    assert per_thousand(before, after, 0)["intake"]["cpu_s_per_1000"] is None


def sample_result() -> dict:
    samples = Samples(
        accepted={"a": 100.0, "b": 100.5, "c": 101.2},
        assigned={"a": 100.3, "b": 100.9, "c": 101.6},
        first_notified={"a": 100.1, "b": 100.6},
        done={"a": 100.4, "b": 101.0},
        http_accept_ms=[10.0, 12.0, 30.0],
    )
    return {
        "config": {"mode": "http", "rate": 20.0, "seconds": 20.0},
        "pipeline": {"offered": 3, "offered_seconds": 1.5, "failed": 0, **summarize(samples)},
        "ceilings": {
            "broker": {"what": "raw", "count": 3, "seconds": 0.01, "unit": "msg/s", "per_s": 300.0}
        },
        "ratios": {"broker": 0.01},
        "resources": {"intake": {"cpu_s": 1.0, "cpu_s_per_1000": 500.0, "rss_mb": 80.0}},
        "database_transactions_per_appeal": 9.5,
    }


def test_summary_shape() -> None:
    pipeline = sample_result()["pipeline"]
    assert pipeline["accepted"] == 3
    assert pipeline["completed"] == 2
    assert pipeline["incomplete"] == 1
    assert pipeline["throughput_per_s"] == 2.0  # 2 done between 100.0 and 101.0
    latency = pipeline["latency_ms"]
    assert set(latency) == {"http_accept", "accepted_to_assigned", "accepted_to_first_notification"}
    assert latency["accepted_to_assigned"]["n"] == 3
    assert latency["accepted_to_first_notification"]["n"] == 2
    assert latency["http_accept"]["p50"] == 12.0
    timeline = pipeline["timeline"]
    assert timeline["accepted"] == [2, 1]
    assert timeline["completed"] == [1, 1]
    assert [b["n"] for b in timeline["accepted_to_assigned_ms"]] == [2, 1]


def test_json_round_trips(tmp_path) -> None:
    result = sample_result()
    path = write_json(tmp_path / "bench" / "run.json", result)
    assert json.loads(path.read_text()) == result


def test_table_names_every_figure() -> None:
    text = table(sample_result())
    for needle in (
        "2.0 appeals/s",
        "HTTP accept",
        "accepted → assigned",
        "broker",
        "intake",
        "9.5",
    ):
        assert needle in text


def test_chart_is_a_png(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    path = write_chart(tmp_path / "run.png", sample_result())
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_the_bench_runs_the_services_in_development_mode_unless_told_otherwise() -> None:
    from jiban.bench.run import service_env

    env = service_env({"PATH": "/bin"}, "postgresql://db", "k:9092", "bench.")
    assert env["JIBAN_DEV_MODE"] == "1" and env["PATH"] == "/bin"
    assert (env["DATABASE_URL"], env["KAFKA_BOOTSTRAP_SERVERS"]) == ("postgresql://db", "k:9092")
    assert service_env({"JIBAN_DEV_MODE": "0"}, "d", "k", "p")["JIBAN_DEV_MODE"] == "0"
