"""`make run` gives each service a metrics port of its own, from MNEMO_METRICS_PORT up."""

from mnemo.runtime.services import SERVICES
from mnemo.runtime.supervisor import service_metrics_env


def test_each_service_gets_the_next_port() -> None:
    env = {"MNEMO_METRICS_PORT": "9464", "MNEMO_NATS_URL": "nats://x"}
    ports = [service_metrics_env(env, s)["MNEMO_METRICS_PORT"] for s in SERVICES]
    assert ports == ["9464", "9465", "9466", "9467", "9468"]
    assert service_metrics_env(env, "gateway")["MNEMO_NATS_URL"] == "nats://x"


def test_no_metrics_port_means_none_for_any_service() -> None:
    assert "MNEMO_METRICS_PORT" not in service_metrics_env({}, "ingest")
