"""The JetStream streams of one topology, created (or updated) idempotently at start."""

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from mnemo.contracts import Topology

DAY = 24 * 3600.0


def stream_configs(topology: Topology) -> list[StreamConfig]:
    """CMD keeps commands 7 days, EVT 30 days (the log is the truth), OPS 7 days.

    CMD uses limits retention, not work-queue retention: work-queue semantics come from
    each service's shared durable consumer, and a second durable (the audit's) can then
    read every command too, which a work-queue stream forbids.
    """
    common = {
        "storage": StorageType.FILE,
        "discard": DiscardPolicy.OLD,
        "duplicate_window": 600.0,  # Nats-Msg-Id dedupe: retries within 10 min are dropped
    }
    return [
        StreamConfig(
            name=topology.cmd_stream,
            subjects=[topology.cmd_all],
            retention=RetentionPolicy.LIMITS,
            max_age=7 * DAY,
            **common,
        ),
        StreamConfig(
            name=topology.evt_stream,
            subjects=[topology.evt_all],
            retention=RetentionPolicy.LIMITS,
            max_age=30 * DAY,
            **common,
        ),
        StreamConfig(
            name=topology.ops_stream,
            subjects=[topology.ops_all],
            retention=RetentionPolicy.LIMITS,
            max_age=7 * DAY,
            **common,
        ),
    ]


async def ensure_streams(js: JetStreamContext, topology: Topology) -> None:
    """Create the topology's streams, or bring existing ones to the current config."""
    for config in stream_configs(topology):
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
