"""`make run` gives each service a metrics port of its own, from MNEMO_METRICS_PORT up."""

import pytest

from mnemo.runtime.services import SERVICES
from mnemo.runtime.settings import load_run_settings
from mnemo.runtime.supervisor import service_metrics_env
from mnemo.settings import SettingsError


def test_each_service_gets_the_next_port() -> None:
    env = {"MNEMO_METRICS_PORT": "9464", "MNEMO_NATS_URL": "nats://x"}
    ports = [service_metrics_env(env, s)["MNEMO_METRICS_PORT"] for s in SERVICES]
    assert ports == ["9464", "9465", "9466", "9467", "9468"]
    assert service_metrics_env(env, "gateway")["MNEMO_NATS_URL"] == "nats://x"


def test_no_metrics_port_means_none_for_any_service() -> None:
    assert "MNEMO_METRICS_PORT" not in service_metrics_env({}, "ingest")


@pytest.mark.parametrize("value", ["65532", "65535", "0", "-5", "nine"])
def test_a_first_port_whose_five_do_not_fit_stops_mnemo_run_before_anything_starts(value):
    # 65534 gave the gateway 65536: it stopped on a port the operator never set, after
    # NATS, PostgreSQL and four services had been started.
    with pytest.raises(SettingsError, match="MNEMO_METRICS_PORT"):
        load_run_settings({"MNEMO_METRICS_PORT": value})


def test_the_last_first_port_that_fits_is_taken():
    assert load_run_settings({"MNEMO_METRICS_PORT": "65531"}).metrics_port == 65531
