"""The capacity model: figures measured on one machine in, node counts out.

The one place the derivation is done (bench/capacity.py measures and prints it; the unit
test checks the arithmetic). Nothing here reads a process, a file or the network.

Each kind of node does work in proportion to what passes through it: CPU milliseconds
per ingested memory and per search, measured per component, so a node of `cores` cores
kept at `utilization` sustains `cores * utilization * 1000 / ms` memories (or searches) a
second. Ingest is sized for its peak (`peak_factor` times the day's mean rate); searches
per second are taken as given (already a peak). Stores are sized by what they keep: the
PostgreSQL log, read models and audit, and the Qdrant index keep every memory (for
`horizon_days`), NATS keeps its streams for `nats_retention_days`. Three components exist
once however many nodes run: the relay (one leader), the PostgreSQL primary (its CPU and
its disk), and a NATS node (at three replicas every node stores every stream, so more nodes
do not share a stream's work); the smallest of their limits is the first bottleneck.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

DAY_S = 86_400
GIB = 1024**3
TIB = 1024**4
# The loads the model is asked about (issue #19).
MEMORIES_PER_DAY = (10_000, 1_000_000, 100_000_000)
SEARCHES_PER_S = 1_000
# Components whose CPU the model sizes: each service, and the two servers.
SERVICE_KINDS = ("gateway", "ingest", "synthesis", "retrieval", "audit")
SERVER_KINDS = ("nats-server", "postgresql")


@dataclass(frozen=True)
class Measured:
    """What bench/capacity.py measured, per ingested memory and per search."""

    cpu_ms_per_memory: Mapping[str, float]  # component -> CPU ms (user + system, net of idle)
    cpu_ms_per_search: Mapping[str, float]
    relay_ms_per_memory: float  # the relay's CPU per memory (measured alone, with a backlog)
    pg_bytes_per_memory: Mapping[str, float]  # schema -> pg_total_relation_size growth
    pg_bytes_per_search: Mapping[str, float]
    wal_bytes_per_memory: float
    wal_bytes_per_search: float
    qdrant_bytes_per_memory: float  # the vector store's segments on disk
    nats_bytes_per_memory: Mapping[str, float]  # stream -> stored bytes
    nats_bytes_per_search: Mapping[str, float]
    log_bytes_per_memory: float  # the services' log files
    log_bytes_per_search: float


@dataclass(frozen=True)
class Assumptions:
    """What a node is and how hard it is run; printed with every table."""

    service_cores: float = 2.0  # a replica's node: the measured machine's size
    utilization: float = 0.6  # headroom for bursts and for a lost node's share
    peak_factor: float = 3.0  # the busiest hour's ingest rate over the day's mean
    relay_cores: float = 1.0  # the relay is one leader, one Python thread
    nats_cores: float = 2.0
    nats_disk_bytes: float = 90 * GIB  # JetStream file store (deploy/k8s/nats/values.yaml)
    nats_replicas: int = 3  # MNEMO_STREAM_REPLICAS in production
    nats_retention_days: float = 7.0  # MNEMO_CMD/EVT/OPS_MAX_AGE in production
    pg_primary_cores: float = 16.0  # a large but ordinary primary
    pg_primary_disk_bytes: float = 4 * TIB
    horizon_days: float = 365.0  # memories are kept: stores sized for a year of them
    qdrant_node_bytes: float = 64 * GIB  # collection data one node holds in memory
    qdrant_replicas: int = 2  # replication_factor (deploy/k8s/qdrant/values.yaml)


@dataclass(frozen=True)
class Load:
    memories_per_day: float = 0.0
    searches_per_s: float = 0.0

    def peak_memories_per_s(self, a: Assumptions) -> float:
        return self.memories_per_day / DAY_S * a.peak_factor

    @property
    def searches_per_day(self) -> float:
        return self.searches_per_s * DAY_S


@dataclass(frozen=True)
class Plan:
    """Nodes of each kind a load needs, and what the stores hold."""

    nodes: dict[str, int] = field(default_factory=dict)
    cores: dict[str, float] = field(default_factory=dict)  # CPU cores each kind needs
    pg_bytes_per_day: float = 0.0  # one copy; the log, read models and audit
    pg_bytes_held: float = 0.0  # over the horizon, one copy
    wal_bytes_per_s: float = 0.0  # at peak: what every standby replays
    qdrant_bytes_held: float = 0.0  # over the horizon, one copy
    nats_bytes_held: float = 0.0  # over the retention, every replica
    log_bytes_per_day: float = 0.0


def node_cores(kind: str, a: Assumptions) -> float:
    if kind == "nats-server":
        return a.nats_cores
    if kind == "postgresql":
        return a.pg_primary_cores
    if kind == "relay":
        return a.relay_cores
    return a.service_cores


def sustains(ms: float, cores: float, a: Assumptions) -> float:
    """Units (memories or searches) a second that `cores` at the target utilization
    sustain at `ms` CPU milliseconds each; infinite when the unit costs nothing."""
    return cores * a.utilization * 1000 / ms if ms > 0 else math.inf


def one_node(m: Measured, a: Assumptions) -> dict[str, tuple[float, float]]:
    """(memories/s, searches/s) one node of each kind sustains, each load alone."""
    out = {}
    for kind in (*SERVICE_KINDS, *SERVER_KINDS):
        cores = node_cores(kind, a)
        out[kind] = (
            sustains(m.cpu_ms_per_memory.get(kind, 0.0), cores, a),
            sustains(m.cpu_ms_per_search.get(kind, 0.0), cores, a),
        )
    out["relay"] = (sustains(m.relay_ms_per_memory, a.relay_cores, a), math.inf)
    return out


def _count(cores_needed: float, cores: float, a: Assumptions, least: int = 1) -> int:
    # A hair of rounding must not add a node: 3.0000000001 nodes is 3.
    return max(least, math.ceil(round(cores_needed / (cores * a.utilization), 9)))


def plan(m: Measured, a: Assumptions, load: Load) -> Plan:
    peak = load.peak_memories_per_s(a)
    searches = load.searches_per_day
    cores = {
        kind: (
            peak * m.cpu_ms_per_memory.get(kind, 0.0)
            + load.searches_per_s * m.cpu_ms_per_search.get(kind, 0.0)
        )
        / 1000
        for kind in (*SERVICE_KINDS, *SERVER_KINDS)
    }
    cores["relay"] = peak * m.relay_ms_per_memory / 1000
    pg_day = load.memories_per_day * sum(m.pg_bytes_per_memory.values()) + searches * sum(
        m.pg_bytes_per_search.values()
    )
    nats_day = load.memories_per_day * sum(m.nats_bytes_per_memory.values()) + searches * sum(
        m.nats_bytes_per_search.values()
    )
    pg_held = pg_day * a.horizon_days
    nats_held = nats_day * a.nats_retention_days * a.nats_replicas
    qdrant_held = load.memories_per_day * a.horizon_days * m.qdrant_bytes_per_memory

    nodes = {kind: _count(cores[kind], a.service_cores, a) for kind in SERVICE_KINDS}
    nodes["relay"] = _count(cores["relay"], a.relay_cores, a)
    nodes["nats-server"] = max(
        _count(cores["nats-server"], a.nats_cores, a, least=a.nats_replicas),
        math.ceil(nats_held / a.nats_disk_bytes),
    )
    # More than one primary means the log is split (per-tenant shards): see `bottlenecks`.
    nodes["postgresql"] = max(
        _count(cores["postgresql"], a.pg_primary_cores, a),
        math.ceil(pg_held / a.pg_primary_disk_bytes),
    )
    nodes["qdrant"] = max(
        a.qdrant_replicas, math.ceil(qdrant_held * a.qdrant_replicas / a.qdrant_node_bytes)
    )
    return Plan(
        nodes=nodes,
        cores=cores,
        pg_bytes_per_day=pg_day,
        pg_bytes_held=pg_held,
        wal_bytes_per_s=peak * m.wal_bytes_per_memory
        + load.searches_per_s * m.wal_bytes_per_search,
        qdrant_bytes_held=qdrant_held,
        nats_bytes_held=nats_held,
        log_bytes_per_day=load.memories_per_day * m.log_bytes_per_memory
        + searches * m.log_bytes_per_search,
    )


def bottlenecks(m: Measured, a: Assumptions) -> list[tuple[str, float]]:
    """Memories a day at which each component that exists once is full (ingest alone),
    smallest first: the first is the first bottleneck."""

    def per_day(per_s: float) -> float:
        return per_s * DAY_S / a.peak_factor

    pg_bytes = sum(m.pg_bytes_per_memory.values())
    limits = [
        (
            "the relay (one leader, one core)",
            per_day(sustains(m.relay_ms_per_memory, a.relay_cores, a)),
        ),
        (
            "the PostgreSQL primary's CPU",
            per_day(sustains(m.cpu_ms_per_memory.get("postgresql", 0.0), a.pg_primary_cores, a)),
        ),
        (
            f"the PostgreSQL primary's disk ({a.horizon_days:g} days of memories)",
            a.pg_primary_disk_bytes / (pg_bytes * a.horizon_days) if pg_bytes > 0 else math.inf,
        ),
        (
            "one NATS node's CPU (at 3 replicas each node holds every stream)",
            per_day(sustains(m.cpu_ms_per_memory.get("nats-server", 0.0), a.nats_cores, a)),
        ),
    ]
    return sorted(limits, key=lambda kv: kv[1])
