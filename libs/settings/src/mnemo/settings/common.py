"""Settings every service shares. Services subclass `ServiceSettings` and add their own."""

from mnemo.settings.jetstream import JetStreamSettings
from mnemo.settings.urls import HTTP, POSTGRES, check_nats_urls, check_url


class ServiceSettings(JetStreamSettings, kw_only=True, frozen=True):
    # MNEMO_NATS_URL: the NATS server with JetStream (required); a cluster's nodes may be
    # listed, comma-separated.
    nats_url: str
    # MNEMO_BUS_ROOT: root of every subject and stream name; separate roots never mix.
    bus_root: str = "mnemo"
    # MNEMO_LOG_LEVEL: debug, info, warning or error.
    log_level: str = "info"
    # MNEMO_OTLP_ENDPOINT: OTLP/HTTP traces endpoint; tracing exports nothing when unset.
    otlp_endpoint: str | None = None
    # MNEMO_METRICS_PORT: serve this process's Prometheus metrics at /metrics on this port;
    # unset: no metrics endpoint. Each process needs its own (`make run` gives each service
    # this port plus its index: ingest, synthesis, retrieval, audit, gateway).
    metrics_port: int | None = None
    # MNEMO_METRICS_HOST: the address the metrics endpoint listens on.
    metrics_host: str = "127.0.0.1"
    # MNEMO_QUERY_CONCURRENCY: how many requests each read-only query endpoint of a replica
    # runs at once (the rest queue; one queued past its asker's wait is answered 503).
    query_concurrency: int = 8
    # MNEMO_PROBE_PORT: port of this replica's own health answers for an orchestrator
    # (GET /livez, GET /readyz: mnemo.host.probes); none when unset. The gateway's are on
    # its HTTP port.
    probe_port: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nats_urls("MNEMO_NATS_URL", self.nats_url)
        if self.otlp_endpoint:
            check_url("MNEMO_OTLP_ENDPOINT", self.otlp_endpoint, HTTP)
        if not self.metrics_host.strip():
            # An empty host would listen on every address, not the default 127.0.0.1.
            raise ValueError("MNEMO_METRICS_HOST is set but empty")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("MNEMO_LOG_LEVEL must be one of debug, info, warning, error")
        if not self.bus_root.replace("_", "").replace("-", "").isalnum():
            raise ValueError("MNEMO_BUS_ROOT must be letters, digits, '-' or '_'")
        if self.metrics_port is not None and not 0 < self.metrics_port < 65536:
            raise ValueError("MNEMO_METRICS_PORT must be a TCP port (1-65535)")
        if self.query_concurrency < 1:
            raise ValueError("MNEMO_QUERY_CONCURRENCY must be at least 1")
        if self.probe_port is not None and not 0 < self.probe_port < 65536:
            raise ValueError("MNEMO_PROBE_PORT must be a port number (1-65535)")


class DatabaseSettings(ServiceSettings, kw_only=True, frozen=True):
    # MNEMO_DATABASE_URL: PostgreSQL DSN of the event log (required).
    database_url: str

    def __post_init__(self) -> None:
        super().__post_init__()
        # No host is a Unix socket (`postgresql:///mnemo?host=/run/postgresql`).
        check_url("MNEMO_DATABASE_URL", self.database_url, POSTGRES, host_required=False)
