"""Stream and consumer settings from the environment (issue #19), on a real JetStream: what
a full stream does, and what a restart with other settings does to existing streams."""

import pytest
from nats.js.api import DiscardPolicy
from nats.js.errors import NotFoundError

from mnemo.bus import (
    Consumer,
    ConsumerSpec,
    Publisher,
    StreamConfigRefused,
    StreamFull,
    connect,
    ensure_streams,
    key_value,
)
from mnemo.contracts import Topology
from mnemo.settings import JetStreamSettings, SettingsError

from .test_bus import command

SMALL = 4096  # bytes: a handful of commands


@pytest.fixture
async def js_of(nats_url, bus_root):
    """A connection and a topology of this test alone; its streams deleted afterwards."""
    nc = await connect(nats_url, name="stream-settings-test")
    topology = Topology(root=bus_root)
    yield nc, topology
    js = nc.jetstream()
    for name in (topology.cmd_stream, topology.evt_stream, topology.ops_stream):
        try:
            await js.delete_stream(name)
        except NotFoundError:
            pass
    try:
        await js.delete_stream(topology.dlq_stream)
    except NotFoundError:
        pass
    await nc.close()


async def test_a_full_command_stream_refuses_at_once_and_keeps_every_acknowledged_one(js_of):
    nc, topology = js_of
    await ensure_streams(nc.jetstream(), topology, JetStreamSettings(cmd_max_bytes=SMALL))
    # A long ack timeout: a refusal must come back as a refusal, not as a time-out.
    publisher = Publisher(nc, topology, "tests", ack_timeout=30.0)
    acknowledged = 0
    with pytest.raises(StreamFull, match="maximum bytes exceeded"):
        for _ in range(1000):
            await publisher.publish_command(command(), correlation_id="c", causation_id="c")
            acknowledged += 1
    assert acknowledged > 0
    info = await publisher.js.stream_info(topology.cmd_stream)
    # discard "new": nothing acknowledged was dropped to make room, nothing refused stored.
    assert info.config.discard == DiscardPolicy.NEW
    assert info.state.messages == acknowledged
    with pytest.raises(StreamFull):
        await publisher.publish_command(command(), correlation_id="c", causation_id="c")
    assert (await publisher.js.stream_info(topology.cmd_stream)).state.messages == acknowledged


async def test_a_restart_with_other_settings_updates_streams_and_consumers(js_of):
    nc, topology = js_of
    js = nc.jetstream()
    await ensure_streams(js, topology)  # today's defaults
    publisher = Publisher(nc, topology, "tests")
    spec = ConsumerSpec(
        durable="settings-test", stream=topology.cmd_stream, filter_subjects=[topology.cmd_all]
    )
    await Consumer(publisher, spec, _never).ensure()
    before = await js.consumer_info(topology.cmd_stream, "settings-test")
    assert (before.config.ack_wait, before.config.max_ack_pending) == (30.0, 1000)

    changed = JetStreamSettings(
        evt_max_age=3 * 86400,
        evt_max_bytes=64 * 1024 * 1024,
        ops_discard="new",
        stream_duplicate_window=120.0,
        consumer_ack_wait=90.0,
        consumer_max_ack_pending=200,
    )
    await ensure_streams(js, topology, changed)
    await Consumer(publisher, spec, _never, settings=changed).ensure()

    evt = (await js.stream_info(topology.evt_stream)).config
    assert (evt.max_age, evt.max_bytes, evt.duplicate_window) == (3 * 86400, 64 * 1024**2, 120)
    assert (await js.stream_info(topology.ops_stream)).config.discard == DiscardPolicy.NEW
    after = await js.consumer_info(topology.cmd_stream, "settings-test")
    assert (after.config.ack_wait, after.config.max_ack_pending) == (90.0, 200)


async def test_settings_jetstream_cannot_apply_stop_the_service_with_the_reason(js_of):
    nc, topology = js_of
    # One server: more than one replica is refused, for a new stream and an existing one.
    with pytest.raises(StreamConfigRefused, match=r"stream .*_CMD.*replicas") as refused:
        await ensure_streams(nc.jetstream(), topology, JetStreamSettings(stream_replicas=3))
    # A configuration error: `mnemo.host.run` ends the service with it, no traceback.
    assert isinstance(refused.value, SettingsError)
    await ensure_streams(nc.jetstream(), topology)
    with pytest.raises(StreamConfigRefused, match="replicas"):
        await ensure_streams(nc.jetstream(), topology, JetStreamSettings(stream_replicas=3))


async def test_an_existing_bucket_takes_the_new_settings(js_of):
    nc, topology = js_of
    js = nc.jetstream()
    bucket = f"{topology.root.upper()}_SETTINGS"
    kv = await key_value(js, bucket)
    await kv.put("k", b"v")
    try:
        kv = await key_value(js, bucket, ttl=3600)  # a create would fail: it exists
        assert (await js.stream_info(f"KV_{bucket}")).config.max_age == 3600
        assert (await kv.get("k")).value == b"v"
        with pytest.raises(StreamConfigRefused, match="replicas"):
            await key_value(js, bucket, replicas=3)
    finally:
        await js.delete_key_value(bucket)


async def _never(_delivery) -> None:
    raise AssertionError("nothing is consumed here")
