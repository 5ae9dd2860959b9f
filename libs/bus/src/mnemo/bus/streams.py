"""The JetStream streams of one topology, created (or updated) idempotently at start.

Their replicas, ages, sizes, discard policies and duplicate window come from the settings
(mnemo.settings.JetStreamSettings; deploy/README.md explains the production values). A
stream made before with other values is updated to them. JetStream updates in place the
limits (max age, max bytes, discard, duplicate window) and, in a cluster, the replicas;
it never changes a stream's storage type or its retention to or from work-queue, and a
single server refuses more than one replica. Those refusals stop the service at start
(a configuration error) with the stream's name and the server's reason.
"""

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, BadRequestError

from mnemo.contracts import Topology
from mnemo.settings import JetStreamSettings, SettingsError


def stream_configs(
    topology: Topology, settings: JetStreamSettings | None = None
) -> list[StreamConfig]:
    """CMD (commands), EVT (events), OPS (signals) and DLQ (dead letters), as `settings`
    say (the one-machine defaults when None).

    CMD uses limits retention, not work-queue retention: work-queue semantics come from
    each service's shared durable consumer, and a second durable (the audit's) can then
    read every command too, which a work-queue stream forbids.
    """
    settings = settings or JetStreamSettings()

    def stream(kind: str, name: str, subject: str) -> StreamConfig:
        max_age, max_bytes, discard = settings.stream_limits(kind)
        return StreamConfig(
            name=name,
            subjects=[subject],
            retention=RetentionPolicy.LIMITS,
            max_age=max_age,  # 0: no age limit
            max_bytes=max_bytes,  # -1: no size limit but the server's
            storage=StorageType.FILE,
            discard=DiscardPolicy(discard),
            num_replicas=settings.stream_replicas,
            # Nats-Msg-Id dedupe: a retried publish within the window is stored once.
            duplicate_window=settings.stream_duplicate_window,
            # Several commands of one request (a batch) are stored all or none (ADR-50).
            allow_atomic=True if kind == "cmd" else None,
        )

    return [
        stream("cmd", topology.cmd_stream, topology.cmd_all),
        stream("evt", topology.evt_stream, topology.evt_all),
        stream("ops", topology.ops_stream, topology.ops_all),
        stream("dlq", topology.dlq_stream, topology.dlq_all),
    ]


class UnsupportedServer(RuntimeError):
    """The NATS server is too old for what Mnemo needs."""


class StreamConfigRefused(SettingsError):
    """JetStream refused to create or update a stream to the configured settings: a
    configuration error (a service stops at start with it, as for a malformed setting)."""


def check_server(version: tuple[int, int]) -> None:
    """Consumers filter on several subjects (NATS 2.10), a request's commands are stored
    all or none (atomic batches, 2.12), and so are the gateway's counters (2.12)."""
    if version < (2, 12):
        found = ".".join(map(str, version))
        raise UnsupportedServer(
            f"NATS server {found} is too old: Mnemo needs 2.12 or newer (atomic batch"
            " publish, counters); unset MNEMO_NATS_URL to use the bundled nats-server"
        )


async def ensure_streams(
    js: JetStreamContext, topology: Topology, settings: JetStreamSettings | None = None
) -> None:
    """Create the topology's streams, or bring existing ones to the current config."""
    server = js._nc.connected_server_version
    check_server((server.major, server.minor))
    for config in stream_configs(topology, settings):
        await ensure_stream(js, config)


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create `config`'s stream, or update the existing one to it."""
    try:
        try:
            await js.add_stream(config)
        except BadRequestError:
            # It exists with another config (err_code 10058): update what may be updated.
            await js.update_stream(config)
    except APIError as exc:
        raise StreamConfigRefused(
            f"JetStream refused the settings of stream {config.name}: {exc.description}"
            " (see deploy/README.md, 'Stream settings')"
        ) from exc
