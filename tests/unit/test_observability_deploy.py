"""deploy/grafana/mnemo.json and deploy/prometheus/: they parse, hold what Grafana and
Prometheus need, and use only metrics Mnemo defines (mnemo.telemetry.metrics). The e2e
test checks the same names against a real scrape of the running services."""

import yaml
from prometheus_client import REGISTRY

import mnemo.telemetry.metrics as catalogue
from tests.deploy_files import (
    DEPLOY,
    dashboard,
    dashboard_expressions,
    metric_names,
    rule_expressions,
    rules,
)


def _defined() -> set[str]:
    """The series names the catalogue defines: counters' _total, histograms' parts, gauges."""
    names = {"up"} | set(catalogue.LIVE_GAUGES)
    for value in vars(catalogue).values():
        if hasattr(value, "_type") and hasattr(value, "_name"):
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
            names.update(value._name + s for s in suffixes.get(value._type, [""]))
    return names


def _balanced(expr: str) -> bool:
    depth = {"(": 0, "{": 0, "[": 0}
    closing = {")": "(", "}": "{", "]": "["}
    for char in expr:
        if char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            if depth[closing[char]] < 0:
                return False
    return not any(depth.values())


def test_the_dashboard_is_grafana_json_with_a_query_in_every_panel() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    graphs = [p for p in panels if p["type"] != "row"]
    assert graphs
    for panel in graphs:
        assert panel["targets"], panel["title"]
        assert all(t["expr"] and t["refId"] for t in panel["targets"]), panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])


def test_every_alert_has_an_expression_a_severity_and_a_summary() -> None:
    found = rules()
    assert len({r["alert"] for r in found}) == len(found)
    for rule in found:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    # What the issue asks alerts for: lag growing, dead letters, 5xx, a dependency down.
    names = {r["alert"] for r in found}
    assert {
        "MnemoConsumerLagGrowing",
        "MnemoRelayLagGrowing",
        "MnemoDeadLetters",
        "MnemoHigh5xxRate",
        "MnemoDependencyDown",
        "MnemoServiceDown",
    } <= names


def test_every_expression_is_balanced_and_uses_defined_metrics_only() -> None:
    expressions = dashboard_expressions() + rule_expressions()
    assert all(_balanced(e) for e in expressions)
    used = {name for e in expressions for name in metric_names(e)}
    assert used - _defined() == set()
    # And every metric Mnemo defines is on the dashboard, or it would go unseen.
    shown = {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_total") for n in used}
    families = {m.name for m in REGISTRY.collect() if m.name.startswith("mnemo_")}
    families |= set(catalogue.LIVE_GAUGES)
    assert families - shown - {"mnemo_embedded_texts", "mnemo_log_head_position"} == set()


def test_prometheus_scrapes_every_service_and_loads_the_rules() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {f"mnemo-{s}" for s in ("gateway", "ingest", "synthesis", "retrieval", "audit")}
    assert config["rule_files"] == ["alerts.yml"]
