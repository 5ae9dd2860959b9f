"""The capacity model's arithmetic (bench/capacity_model.py): figures in, node counts out.

The figures are round on purpose, so that each expected count can be worked by hand.
"""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from capacity_model import (
    DAY_S,
    Assumptions,
    Load,
    Measured,
    bottlenecks,
    one_node,
    plan,
    sustains,
)

MEASURED = Measured(
    cpu_ms_per_memory={
        "gateway": 0.5,
        "ingest": 1.5,
        "synthesis": 2.0,
        "retrieval": 10.0,
        "audit": 1.0,
        "nats-server": 0.8,
        "postgresql": 2.0,
    },
    cpu_ms_per_search={"gateway": 1.0, "retrieval": 5.0, "audit": 0.5, "postgresql": 1.0},
    relay_ms_per_memory=0.5,
    pg_bytes_per_memory={"mnemo.events": 1000.0, "audit": 500.0},
    pg_bytes_per_search={"audit": 200.0},
    wal_bytes_per_memory=3000.0,
    wal_bytes_per_search=1000.0,
    qdrant_bytes_per_memory=2000.0,
    nats_bytes_per_memory={"MNEMO_CMD": 1000.0, "MNEMO_EVT": 2000.0},
    nats_bytes_per_search={"MNEMO_OPS": 100.0},
    log_bytes_per_memory=500.0,
    log_bytes_per_search=50.0,
)
# Half of two cores per service node: 1 core each; a peak twice the mean.
ASSUMED = Assumptions(
    service_cores=2.0,
    utilization=0.5,
    peak_factor=2.0,
    relay_cores=1.0,
    nats_cores=2.0,
    nats_disk_bytes=1e12,
    nats_replicas=3,
    nats_retention_days=7.0,
    pg_primary_cores=16.0,
    pg_primary_disk_bytes=1e12,
    horizon_days=10.0,
    qdrant_node_bytes=1e12,
    qdrant_replicas=2,
)
# 1,000 memories/s on average (2,000/s at peak) and 100 searches/s.
LOAD = Load(memories_per_day=1000 * DAY_S, searches_per_s=100)


def test_one_node_sustains_its_cores_at_the_utilization_over_the_cost_of_a_unit() -> None:
    per_node = one_node(MEASURED, ASSUMED)
    assert per_node["ingest"] == pytest.approx((2 * 0.5 * 1000 / 1.5, math.inf))
    assert per_node["retrieval"] == pytest.approx((100.0, 200.0))
    assert per_node["postgresql"] == pytest.approx((16 * 0.5 * 1000 / 2.0, 8000.0))
    assert per_node["relay"][0] == pytest.approx(1000.0)
    assert sustains(0.0, 2.0, ASSUMED) == math.inf


def test_services_are_sized_for_the_peak_of_ingest_plus_the_searches() -> None:
    p = plan(MEASURED, ASSUMED, LOAD)
    # ingest: 2,000/s x 1.5 ms = 3 cores, one per node: exactly 3 (no node for rounding)
    assert p.cores["ingest"] == pytest.approx(3.0)
    assert p.nodes["ingest"] == 3
    # retrieval: 2,000 x 10 ms + 100 x 5 ms = 20.5 cores: 21 nodes
    assert p.cores["retrieval"] == pytest.approx(20.5)
    assert p.nodes["retrieval"] == 21
    # gateway: 2,000 x 0.5 + 100 x 1 = 1.1 cores: 2 nodes
    assert p.nodes["gateway"] == 2
    # the relay: 2,000 x 0.5 ms = 1 core, half of one leader's: 2 (so it must be split)
    assert p.nodes["relay"] == 2


def test_stores_are_sized_by_what_they_keep_and_for_how_long() -> None:
    p = plan(MEASURED, ASSUMED, LOAD)
    memories, searches = 1000 * DAY_S, 100 * DAY_S
    assert p.pg_bytes_per_day == pytest.approx(memories * 1500 + searches * 200)
    assert p.pg_bytes_held == pytest.approx(p.pg_bytes_per_day * 10)
    # 1.31 TB in 10 days on disks of 1 TB: two primaries (the CPU needs 5 of 8 cores of one)
    assert p.cores["postgresql"] == pytest.approx(2000 * 2.0 / 1000 + 100 * 1.0 / 1000)
    assert p.nodes["postgresql"] == 2
    assert p.wal_bytes_per_s == pytest.approx(2000 * 3000 + 100 * 1000)
    # NATS keeps 7 days on 3 replicas: 5.46 TB on disks of 1 TB, 6 nodes (CPU alone: 3)
    assert p.nats_bytes_held == pytest.approx((memories * 3000 + searches * 100) * 7 * 3)
    assert p.nodes["nats-server"] == 6
    # Qdrant: 1.73 TB of points in 10 days, two copies on nodes of 1 TB: 4 nodes
    assert p.qdrant_bytes_held == pytest.approx(memories * 10 * 2000)
    assert p.nodes["qdrant"] == 4
    assert p.log_bytes_per_day == pytest.approx(memories * 500 + searches * 50)


def test_no_load_needs_the_least_of_each_kind() -> None:
    p = plan(MEASURED, ASSUMED, Load())
    assert p.nodes == {
        "gateway": 1,
        "ingest": 1,
        "synthesis": 1,
        "retrieval": 1,
        "audit": 1,
        "relay": 1,
        "nats-server": 3,
        "postgresql": 1,
        "qdrant": 2,
    }
    assert p.pg_bytes_held == 0 and p.nats_bytes_held == 0 and p.qdrant_bytes_held == 0


def test_the_first_bottleneck_is_the_component_existing_once_that_fills_first() -> None:
    limits = bottlenecks(MEASURED, ASSUMED)
    names = [name for name, _ in limits]
    assert names[0].startswith("the relay")
    # relay: 1 core x 0.5 / 0.5 ms = 1,000/s at peak, 43.2M a day at a peak twice the mean
    assert limits[0][1] == pytest.approx(1000 * DAY_S / 2)
    by_name = dict(limits)
    assert by_name[
        "one NATS node's CPU (at 3 replicas each node holds every stream)"
    ] == pytest.approx(1250 * DAY_S / 2)
    # 1 TB over 10 days at 1,500 bytes a memory
    assert by_name["the PostgreSQL primary's disk (10 days of memories)"] == pytest.approx(
        1e12 / 1500 / 10
    )
    assert by_name["the PostgreSQL primary's CPU"] == pytest.approx(4000 * DAY_S / 2)
    assert [v for _, v in limits] == sorted(v for _, v in limits)
