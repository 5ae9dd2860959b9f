"""Settings come from MNEMO_* variables; a missing or malformed one is named."""

import pytest

from mnemo.gateway.settings import GatewaySettings
from mnemo.ingest.settings import IngestSettings
from mnemo.settings import SettingsError, load_settings

BASE = {"MNEMO_NATS_URL": "nats://x:4222", "MNEMO_DATABASE_URL": "postgresql://x/y"}


def test_values_are_typed_and_defaults_apply():
    settings = load_settings(IngestSettings, {**BASE, "MNEMO_RELAY_BATCH": "50"})
    assert settings.relay_batch == 50
    assert settings.relay_enabled is True
    assert settings.bus_root == "mnemo"


def test_a_missing_required_setting_is_named():
    with pytest.raises(SettingsError, match="MNEMO_DATABASE_URL is required"):
        load_settings(IngestSettings, {"MNEMO_NATS_URL": "nats://x"})


def test_a_malformed_setting_is_named():
    with pytest.raises(SettingsError, match="MNEMO_RELAY_BATCH is malformed"):
        load_settings(IngestSettings, {**BASE, "MNEMO_RELAY_BATCH": "many"})


def test_an_out_of_range_port_is_named():
    with pytest.raises(SettingsError, match="MNEMO_GATEWAY_PORT"):
        load_settings(GatewaySettings, {**BASE, "MNEMO_GATEWAY_PORT": "70000"})


def test_an_empty_required_setting_is_named():
    with pytest.raises(SettingsError, match="MNEMO_NATS_URL is set but empty"):
        load_settings(GatewaySettings, {"MNEMO_NATS_URL": ""})
