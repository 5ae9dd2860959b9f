"""Reading the Grafana dashboard and the Prometheus rules in deploy/: their PromQL
expressions and the metric names those use (tests/unit/test_observability_deploy.py checks
them against the metrics catalogue, tests/e2e/test_observability.py against a real scrape)."""

import json
import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "mnemo.json"
RULES = DEPLOY / "prometheus" / "alerts.yml"

# PromQL's own words, which look like metric names but are functions, keywords or labels.
_NOT_METRICS = {
    "sum", "min", "max", "avg", "count", "rate", "increase", "delta", "deriv", "by",
    "without", "and", "or", "unless", "on", "ignoring", "histogram_quantile", "le", "bool",
    "offset", "absent", "clamp_min", "clamp_max", "topk", "bottomk", "irate", "time",
}  # fmt: skip
_WORD = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    return json.loads(path.read_text())


def rules(path: Path = RULES) -> list[dict[str, Any]]:
    document = yaml.safe_load(path.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions(path: Path = DASHBOARD) -> list[str]:
    return [
        target["expr"] for panel in dashboard(path)["panels"] for target in panel.get("targets", [])
    ]


def rule_expressions(path: Path = RULES) -> list[str]:
    return [str(rule["expr"]) for rule in rules(path)]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (label matchers, strings, durations and
    PromQL's own words left out)."""
    bare = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    bare = re.sub(r'"[^"]*"', "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # ranges and subqueries
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)  # grouping labels
    return {w for w in _WORD.findall(bare) if w not in _NOT_METRICS and not w[0].isdigit()}
