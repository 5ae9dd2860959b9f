"""The JetStream streams of one topology, created (or updated) idempotently at start."""

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from mnemo.contracts import Topology

DAY = 24 * 3600.0


def stream_configs(topology: Topology) -> list[StreamConfig]:
    """CMD keeps commands 7 days, EVT 30 days (the log is the truth), OPS 7 days, DLQ
    (dead letters) until each is replayed or dropped.

    CMD uses limits retention, not work-queue retention: work-queue semantics come from
    each service's shared durable consumer, and a second durable (the audit's) can then
    read every command too, which a work-queue stream forbids.
    """

    def stream(name: str, subject: str, max_age: float) -> StreamConfig:
        # max_age 0: kept until replayed or dropped by an operator.
        return StreamConfig(
            name=name,
            subjects=[subject],
            retention=RetentionPolicy.LIMITS,
            max_age=max_age,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            duplicate_window=600.0,  # Nats-Msg-Id dedupe: retries within 10 min are dropped
        )

    return [
        stream(topology.cmd_stream, topology.cmd_all, 7 * DAY),
        stream(topology.evt_stream, topology.evt_all, 30 * DAY),
        stream(topology.ops_stream, topology.ops_all, 7 * DAY),
        stream(topology.dlq_stream, topology.dlq_all, 0),
    ]


class UnsupportedServer(RuntimeError):
    """The NATS server is too old for what Mnemo needs."""


def check_server(version: tuple[int, int]) -> None:
    """Consumers filter on several subjects, which NATS supports from 2.10 on."""
    if version < (2, 10):
        found = ".".join(map(str, version))
        raise UnsupportedServer(
            f"NATS server {found} is too old: Mnemo needs 2.10 or newer (multi-subject"
            " consumers); unset MNEMO_NATS_URL to use the bundled nats-server"
        )


async def ensure_streams(js: JetStreamContext, topology: Topology) -> None:
    """Create the topology's streams, or bring existing ones to the current config."""
    server = js._nc.connected_server_version
    check_server((server.major, server.minor))
    for config in stream_configs(topology):
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
