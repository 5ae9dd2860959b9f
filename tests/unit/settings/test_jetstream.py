"""Stream and consumer settings (issue #19): the defaults are the one-machine values, and
a bad value is refused at start with its variable's name."""

import pytest
from nats.js.api import DiscardPolicy

from mnemo.bus import stream_configs
from mnemo.contracts import Topology
from mnemo.ingest.settings import IngestSettings
from mnemo.settings import JetStreamSettings, SettingsError, load_settings

BASE = {"MNEMO_NATS_URL": "nats://x:4222", "MNEMO_DATABASE_URL": "postgresql://x/y"}
DAY = 86400


def test_the_defaults_keep_one_machine_as_it_was():
    by_name = {c.name: c for c in stream_configs(Topology(root="mnemo"))}
    assert {n: c.max_age for n, c in by_name.items()} == {
        "MNEMO_CMD": 7 * DAY,
        "MNEMO_EVT": 30 * DAY,
        "MNEMO_OPS": 7 * DAY,
        "MNEMO_DLQ": 0,
    }
    for config in by_name.values():
        assert (config.num_replicas, config.max_bytes, config.duplicate_window) == (1, -1, 600)
    # Without a byte limit the discard policy never acts; with one, commands, events and
    # dead letters are refused rather than dropped.
    assert by_name["MNEMO_CMD"].discard == DiscardPolicy.NEW
    assert by_name["MNEMO_OPS"].discard == DiscardPolicy.OLD


def test_the_environment_sets_every_stream_and_consumer_value():
    env = {
        **BASE,
        "MNEMO_STREAM_REPLICAS": "3",
        "MNEMO_CMD_MAX_BYTES": "1073741824",
        "MNEMO_EVT_MAX_AGE": "86400",
        "MNEMO_OPS_DISCARD": "new",
        "MNEMO_STREAM_DUPLICATE_WINDOW": "300",
        "MNEMO_CONSUMER_ACK_WAIT": "60",
        "MNEMO_CONSUMER_MAX_ACK_PENDING": "500",
    }
    settings = load_settings(IngestSettings, env)
    by_name = {c.name: c for c in stream_configs(Topology(root="mnemo"), settings)}
    assert {c.num_replicas for c in by_name.values()} == {3}
    assert by_name["MNEMO_CMD"].max_bytes == 2**30
    assert by_name["MNEMO_EVT"].max_age == DAY
    assert by_name["MNEMO_OPS"].discard == DiscardPolicy.NEW
    assert by_name["MNEMO_DLQ"].duplicate_window == 300
    assert (settings.consumer_ack_wait, settings.consumer_max_ack_pending) == (60, 500)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MNEMO_STREAM_REPLICAS", "0"),
        ("MNEMO_STREAM_REPLICAS", "7"),
        ("MNEMO_CMD_DISCARD", "oldest"),
        ("MNEMO_EVT_MAX_BYTES", "0"),
        ("MNEMO_OPS_MAX_AGE", "-1"),
        ("MNEMO_CMD_MAX_AGE", "60"),  # shorter than the duplicate window
        ("MNEMO_CONSUMER_ACK_WAIT", "0"),
        ("MNEMO_CONSUMER_MAX_ACK_PENDING", "0"),
        ("MNEMO_PROBE_PORT", "70000"),
        # Past what JetStream holds (int64 nanoseconds, int64): a consumer's was refused as
        # JSON it could not read, a bare traceback and exit 1.
        ("MNEMO_CONSUMER_ACK_WAIT", "99999999999999"),
        ("MNEMO_CONSUMER_MAX_ACK_PENDING", "99999999999999999999"),
        ("MNEMO_STREAM_DUPLICATE_WINDOW", "9223372037"),
        ("MNEMO_EVT_MAX_AGE", "99999999999999999999"),
        ("MNEMO_DLQ_MAX_BYTES", "9223372036854775808"),
    ],
)
def test_a_bad_value_is_named(variable, value):
    with pytest.raises(SettingsError, match=variable):
        load_settings(IngestSettings, {**BASE, variable: value})


def test_every_service_reads_them():
    assert issubclass(IngestSettings, JetStreamSettings)


def test_the_most_jetstream_holds_is_taken():
    most = {
        "MNEMO_CONSUMER_ACK_WAIT": "9223372036",
        "MNEMO_CONSUMER_MAX_ACK_PENDING": "9223372036854775807",
        "MNEMO_CMD_MAX_AGE": "9223372036",
    }
    settings = load_settings(IngestSettings, {**BASE, **most})
    assert settings.consumer_max_ack_pending == 2**63 - 1
