"""Settings come from MNEMO_* variables; a missing or malformed one is named."""

import pytest

from mnemo.audit.settings import AuditSettings
from mnemo.gateway.settings import GatewaySettings
from mnemo.ingest.settings import IngestSettings
from mnemo.retrieval.settings import RetrievalSettings
from mnemo.settings import SettingsError, load_settings
from mnemo.synthesis.settings import SynthesisSettings

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


@pytest.mark.parametrize(
    ("cls", "name", "value", "named"),
    [
        # Not finite: float() takes them, no setting means them.
        (GatewaySettings, "MNEMO_QUERY_TIMEOUT", "nan", "must be a finite number"),
        (GatewaySettings, "MNEMO_ANSWER_TIMEOUT", "inf", "must be a finite number"),
        (IngestSettings, "MNEMO_CMD_MAX_AGE", "inf", "must be a finite number"),
        (IngestSettings, "MNEMO_CONSUMER_ACK_WAIT", "nan", "must be a finite number"),
        # Out of what works: each stopped a pipeline or a route while the stack said ok.
        (GatewaySettings, "MNEMO_QUERY_TIMEOUT", "-1", "above 0"),
        (GatewaySettings, "MNEMO_QUERY_TIMEOUT", "0", "above 0"),
        (GatewaySettings, "MNEMO_MAX_BODY_BYTES", "0", "at least 1"),
        (IngestSettings, "MNEMO_RELAY_BATCH", "-1", "at least 1"),
        (IngestSettings, "MNEMO_CHUNK_MAX_CHARS", "0", "at least 1"),
        (IngestSettings, "MNEMO_CHUNK_OVERLAP_CHARS", "5000", "less than MNEMO_CHUNK_MAX_CHARS"),
        (AuditSettings, "MNEMO_AUDIT_MAX_CHAIN", "0", "at least 1"),
        (RetrievalSettings, "MNEMO_EMBEDDING_DIM", "-3", "at least 1"),
        (SynthesisSettings, "MNEMO_QUERY_TIMEOUT", "0", "more than 0"),
        # A misspelt action would limit nothing.
        (GatewaySettings, "MNEMO_RATE_LIMITS", "serach=1", "no action 'serach'"),
        (GatewaySettings, "MNEMO_MONTHLY_QUOTAS", "nosuch=5", "no action 'nosuch'"),
        (GatewaySettings, "MNEMO_FORWARDED_ALLOW_IPS", "not-an-ip", "addresses or networks"),
    ],
)
def test_a_value_that_cannot_work_stops_the_service_naming_it(cls, name, value, named):
    with pytest.raises(SettingsError, match=name) as refused:
        load_settings(cls, {**BASE, name: value})
    assert named in str(refused.value)


def test_rate_limits_set_override_the_defaults_one_by_one():
    spec = load_settings(GatewaySettings, {**BASE, "MNEMO_RATE_LIMITS": "search=5"}).limit_spec()
    assert spec.per_minute["search"] == 5
    # The entries not set keep their defaults: setting one no longer lifts every other.
    assert spec.per_minute["ingest"] == 6000 and spec.per_minute["default"] == 6000
    forwarded = {**BASE, "MNEMO_FORWARDED_ALLOW_IPS": "10.0.0.1, 192.168.0.0/16, *"}
    load_settings(GatewaySettings, forwarded)


@pytest.mark.parametrize(
    ("cls", "name", "value", "named"),
    [
        # Without a scheme: looked up for ever ("http" as a NATS host), a bare traceback
        # (asyncpg, the embedding server), traces never sent.
        (IngestSettings, "MNEMO_NATS_URL", "http://127.0.0.1:4222", "must start with nats://"),
        (IngestSettings, "MNEMO_NATS_URL", "nats://a:4222,nats://b:99999", "server 2 of 2"),
        (IngestSettings, "MNEMO_DATABASE_URL", "localhost:5432/mnemo", "postgresql://"),
        (IngestSettings, "MNEMO_DATABASE_URL", "abc", "postgresql://"),
        (AuditSettings, "MNEMO_DATABASE_URL", "postgresql://u:pw@h:99999/db", "valid port"),
        (AuditSettings, "MNEMO_DATABASE_URL", "postgresql://h/d b", "spaces"),
        (AuditSettings, "MNEMO_DATABASE_URL", "postgresql://h1:5432,h2:99999/db", "valid port"),
        (AuditSettings, "MNEMO_DATABASE_URL", "postgresql://u:pw@h:0/db", "valid port"),
        (IngestSettings, "MNEMO_NATS_URL", "nats://h:0", "valid port"),
        (AuditSettings, "MNEMO_OTLP_ENDPOINT", "collector:4318/v1/traces", "http://"),
        (RetrievalSettings, "MNEMO_QDRANT_URL", "localhost:6333", "http://"),
        (RetrievalSettings, "MNEMO_EMBEDDING_URL", "localhost:1/v1", "http://"),
        (SynthesisSettings, "MNEMO_LLM_URL", "http://h:0x/v1", "valid port"),
        # Empty: every address, or the current folder.
        (GatewaySettings, "MNEMO_GATEWAY_HOST", "", "set but empty"),
        (GatewaySettings, "MNEMO_METRICS_HOST", " ", "set but empty"),
        (RetrievalSettings, "MNEMO_QDRANT_PATH", "", "set but empty"),
    ],
)
def test_a_url_or_address_that_cannot_work_is_refused_at_start(cls, name, value, named):
    env = {**BASE, name: value}
    if name == "MNEMO_EMBEDDING_URL":
        env |= {"MNEMO_EMBEDDER": "openai", "MNEMO_EMBEDDING_MODEL": "m"}
    if name == "MNEMO_LLM_URL":
        env["MNEMO_LLM_MODEL"] = "m"
    with pytest.raises(SettingsError, match=name) as refused:
        load_settings(cls, env)
    assert named in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_refused_url_is_never_quoted():
    for name, value in [
        ("MNEMO_DATABASE_URL", "postgresql://mnemo:TopSecret1@db:99999/mnemo"),
        ("MNEMO_NATS_URL", "http://user:TopSecret1@nats:4222"),
        ("MNEMO_QDRANT_URL", "qdrant://k:TopSecret1@q:6333"),
    ]:
        with pytest.raises(SettingsError) as refused:
            load_settings(RetrievalSettings, {**BASE, name: value})
        assert "TopSecret1" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MNEMO_NATS_URL", "nats://a:4222, nats://b:4222,tls://c"),
        ("MNEMO_NATS_URL", "nats-0.nats:4222"),
        ("MNEMO_NATS_URL", "nats://user:pass@a:4222"),
        ("MNEMO_DATABASE_URL", "postgres://u:p@db:5432/mnemo?sslmode=require"),
        ("MNEMO_DATABASE_URL", "postgresql:///mnemo?host=/run/postgresql"),
        # Several hosts, tried in turn by asyncpg as by libpq (a primary and its standby).
        ("MNEMO_DATABASE_URL", "postgresql://u:p@db1:5432,db2:5433/mnemo"),
        ("MNEMO_DATABASE_URL", "postgresql://u:p@[::1]:5432,[::2]:5433/mnemo"),
        ("MNEMO_NATS_URL", "nats://user:pass@[::1]:4222"),
        ("MNEMO_QDRANT_URL", "https://qdrant.example:6333"),
        ("MNEMO_OTLP_ENDPOINT", "http://127.0.0.1:4318/v1/traces"),
    ],
)
def test_the_urls_that_work_are_taken(name, value):
    load_settings(RetrievalSettings, {**BASE, name: value})
