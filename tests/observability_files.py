"""The alert rules and the Grafana dashboard as data, for the tests that hold them: their PromQL
expressions, the metrics each one selects (with its label matchers) and the labels it groups by.

The expressions are the project's own, so a small tokenizer is enough: string literals, `{…}`
matchers and `[…]` ranges are read as units, grouping clauses (`by`, `on`, …) are taken out first,
and what is left that looks like a name and is not a function call or a keyword is a metric."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "alerts.test.yml"
DASHBOARD = GRAFANA_DIR / "dashboards" / "jiban.json"

REQUIRE_PROMTOOL = "JIBAN_REQUIRE_PROMTOOL"

# Series Prometheus makes itself, and the labels it adds to every scraped series.
PROMETHEUS_OWN_METRICS = frozenset({"up"})
TARGET_LABELS = frozenset({"job", "instance"})

# Grafana's variables, replaced by what Grafana would put there.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "1h",
    "$service": "intake|dispatch|tracking|notify|console",
}

_KEYWORDS = frozenset(
    {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan"}
)
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"|(?P<matchers>\{[^{}]*\})"
    r"|(?P<range>\[[^\]]*\])"
    r"|(?P<number>\d[\w.]*)"
    r"|(?P<name>[A-Za-z_:][\w:]*)"
    r"|(?P<other>\S)"
)
_MATCHER = re.compile(r"""([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)\"""")


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, value as written)


@dataclass(frozen=True)
class Query:
    where: str  # "alert JibanOutboxStale", "panel Traffic"
    expr: str
    selectors: tuple[Selector, ...]
    grouping: frozenset[str]


def parse_query(where: str, expr: str) -> Query:
    grouping = frozenset(
        label.strip()
        for labels in _GROUPING.findall(expr)
        for label in labels.split(",")
        if label.strip()
    )
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(_GROUPING.sub(" ", expr))]
    selectors = []
    for i, (kind, text) in enumerate(tokens):
        if kind != "name" or text in _KEYWORDS:
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else (None, "")
        if following == ("other", "("):
            continue  # a function or an aggregation
        matchers = ()
        if following[0] == "matchers":
            matchers = tuple(_MATCHER.findall(following[1]))
        selectors.append(Selector(text, matchers))
    return Query(where, expr, tuple(selectors), grouping)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def concrete(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def queries() -> list[Query]:
    """Every expression of the alert rules and of the dashboard's panels."""
    found = [parse_query(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    for panel in panels():
        for target in panel["targets"]:
            found.append(parse_query(f"panel {panel['title']}", concrete(target["expr"])))
    return found


def promtool_or_skip() -> str:
    """promtool (Debian's prometheus package); without it the test is skipped, or fails under
    JIBAN_REQUIRE_PROMTOOL=1 (as CI runs)."""
    found = shutil.which("promtool")
    if found:
        return found
    why = "no promtool on PATH"
    if os.environ.get(REQUIRE_PROMTOOL) == "1":
        pytest.fail(f"{why}, and {REQUIRE_PROMTOOL}=1 requires the rules' checks", pytrace=False)
    pytest.skip(f"{why}; .ci/run shows how to install it from Debian's prometheus package")
