"""Prometheus's configuration, the alert rules and the Grafana dashboard: they parse, promtool
accepts them and passes the rules' own tests, each alert is documented and tested both ways, and
the queries treat the metrics as they are (tests/integration/test_alert_metrics.py checks the
metrics they name against what the services really emit)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from observability_files import (
    ALERT_TESTS,
    ALERTS,
    DASHBOARD,
    GRAFANA_DIR,
    PROMETHEUS_DIR,
    ROOT,
    alert_rules,
    concrete,
    dashboard,
    load_yaml,
    panels,
    parse_query,
    promtool_or_skip,
    queries,
)

from shared.migrations import ALL_SERVICES

# Gauges read from the database: every replica reports the same value, so only max() is right.
DATABASE_GAUGES = (
    "jiban_outbox_backlog",
    "jiban_outbox_oldest_seconds",
    "jiban_appeals_open",
    "jiban_appeals_overdue",
    "jiban_appeals_escalated",
    "jiban_notifications",
    "jiban_scheduler_due_backlog",
    "jiban_scheduler_oldest_due_seconds",
    "jiban_appeal_events_waiting",
    "jiban_appeal_events_waiting_oldest_seconds",
)


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_or_skip(), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_tokenizer_finds_metrics_matchers_and_grouping_labels():
    query = parse_query(
        "example",
        'sum by (service, le) (rate(a_bucket{route!~"/x|/y", s="5.."}[5m])) / ignoring(le) '
        "max(b offset 10m) > 0.5 and on (service) c_total",
    )
    assert [s.metric for s in query.selectors] == ["a_bucket", "b", "c_total"]
    assert query.selectors[0].matchers == (("route", "!~", "/x|/y"), ("s", "=", "5.."))
    assert query.grouping == {"service", "le"}


def test_prometheus_scrapes_every_replica_of_every_service_and_loads_the_rules():
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in ALL_SERVICES:
        # A DNS A lookup of the compose name answers one address per replica (--scale).
        (discovery,) = jobs[name]["dns_sd_configs"]
        assert discovery["names"] == [name]
        assert (discovery["type"], discovery["port"]) == ("A", 8000)
        # The services label their series `service`: a target label of that name would clash.
        assert "relabel_configs" not in jobs[name]


def test_promtool_accepts_the_configuration_and_the_rules():
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"{len(alert_rules())} rules found" in rules.stdout


def test_the_alert_rules_pass_their_tests():
    tested = promtool("test", "rules", ALERT_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_tested_where_it_fires_and_where_it_must_not():
    fires: set[str] = set()
    silent: set[str] = set()
    for case in load_yaml(ALERT_TESTS)["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fires == set(), "never shown firing"
    assert names - silent == set(), "never shown quiet"


def test_every_alert_waits_has_a_severity_and_says_what_to_do():
    readme = (ROOT / "deploy" / "README.md").read_text()
    alerts_section = readme.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    anchors = {github_anchor(h) for h in re.findall(r"^### (.+)$", alerts_section, re.M)}
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        path, anchor = annotations["runbook_url"].split("#")
        assert path == "deploy/README.md" and anchor == name.lower(), name
        assert anchor in anchors, f"deploy/README.md has no '### {name}' under '## Alerts'"


def test_the_issue_s_alerts_are_all_there():
    metrics_alerted = {
        s.metric for q in queries() if q.where.startswith("alert") for s in q.selectors
    }
    assert {
        "up",
        "jiban_http_requests_total",
        "jiban_dead_letters_total",
        "jiban_consumer_lag",
        "jiban_outbox_oldest_seconds",
        "jiban_notifications",
        "jiban_appeals_overdue",
    } <= metrics_alerted


@pytest.mark.parametrize("metric", DATABASE_GAUGES)
def test_gauges_from_the_database_are_taken_at_their_max_over_replicas(metric):
    uses = 0
    for query in queries():
        for match in re.finditer(rf"\b{metric}\b(?!_)", query.expr):
            uses += 1
            before = query.expr[: match.start()].rstrip()
            assert re.search(r"\bmax(\s+by\s*\([^()]*\))?\s*\($", before), (
                f"{query.where}: {metric} summed or used per replica, not max(): {query.expr}"
            )
    assert uses, f"{metric} is neither alerted on nor charted"


def test_consumer_lag_is_counted_once_per_partition():
    for query in queries():
        for match in re.finditer(r"\bjiban_consumer_lag\b", query.expr):
            before = query.expr[: match.start()].rstrip()
            assert re.search(r"max by \([^()]*\bpartition\b[^()]*\) \($", before), query.where


def test_grafana_provisions_prometheus_and_the_dashboard():
    (source,) = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")[
        "datasources"
    ]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")
    (provider,) = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "jiban.yml")["providers"]
    compose = load_yaml(ROOT / "docker-compose.yml")
    mounts = {
        target: source
        for source, target, *_ in (
            volume.split(":") for volume in compose["services"]["grafana"]["volumes"]
        )
    }
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    board = dashboard()
    assert board["uid"] == "jiban"
    for panel in panels():
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]


def test_the_dashboard_s_panels_have_unique_ids_and_do_not_overlap():
    all_panels = dashboard()["panels"]
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in all_panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} covers {cells.get((x, y))}"
                cells[(x, y)] = panel["title"]


def test_the_dashboard_shows_the_golden_signals_and_the_pipeline():
    charted = {s.metric for q in queries() if q.where.startswith("panel") for s in q.selectors}
    assert {
        # traffic, errors, latency
        "jiban_http_requests_total",
        "jiban_http_request_seconds_bucket",
        # saturation
        "jiban_consumer_lag",
        "jiban_outbox_backlog",
        "jiban_outbox_oldest_seconds",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        # the pipeline
        "jiban_messages_total",
        "jiban_appeals_open",
        "jiban_appeals_overdue",
        "jiban_appeals_escalated",
        "jiban_notifications",
        "jiban_dead_letters_total",
    } <= charted
    variable = dashboard()["templating"]["list"][0]
    assert variable["name"] == "service"
    assert set(variable["query"].split(",")) == set(ALL_SERVICES)


def test_every_dashboard_query_is_valid_promql(tmp_path):
    # promtool checks expressions inside rule files: each query becomes a recording rule.
    records = [
        {"record": f"dashboard:query_{i}", "expr": concrete(target["expr"])}
        for i, target in enumerate(t for p in panels() for t in p["targets"])
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    checked = promtool("check", "rules", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_files_parse():
    for path in [*PROMETHEUS_DIR.glob("*.yml"), *GRAFANA_DIR.rglob("*.yml")]:
        assert load_yaml(path), path
    assert dashboard()["panels"]
    assert ALERTS.exists() and DASHBOARD.exists()


def test_a_missing_promtool_skips_or_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import observability_files

    monkeypatch.setattr(observability_files.shutil, "which", lambda _name: None)
    monkeypatch.delenv("JIBAN_REQUIRE_PROMTOOL", raising=False)
    with pytest.raises(pytest.skip.Exception, match="prometheus package"):
        promtool_or_skip()
    monkeypatch.setenv("JIBAN_REQUIRE_PROMTOOL", "1")
    with pytest.raises(pytest.fail.Exception, match="JIBAN_REQUIRE_PROMTOOL=1"):
        promtool_or_skip()
