"""bench/capacity_report.py: a run's result read into the model's inputs (no stack)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from capacity_report import figures, relay_ms


def result(relay: dict | None) -> dict:
    pg = {"mnemo.events": 3000.0, "audit": 4000.0, "wal": 15000.0, "events": 2.5, "memories": 1.0}
    nats = {
        "MNEMO_CMD": 1000.0,
        "MNEMO_CMD messages": 1.0,
        "MNEMO_EVT": 3000.0,
        "MNEMO_EVT messages": 2.5,
        "KV_MNEMO_KEYS": 2.0,
        "KV_MNEMO_KEYS messages": 0.1,
        "MNEMO_RATE_COUNTERS": 1.0,
        "MNEMO_RATE_COUNTERS messages": 0.1,
    }
    return {
        "cpu_ms_per_memory": {"ingest": 1.8, "retrieval": 20.0},
        "cpu_ms_per_search": {"retrieval": 9.0},
        "per_memory": {
            "postgresql": pg,
            "qdrant": {"folder": 5000.0, "segments": 2400.0, "wal": 2600.0},
            "nats": nats,
            "logs": {"files": 400.0},
        },
        "per_search": {
            "postgresql": {"audit": 500.0, "wal": 1000.0, "events": 0.0, "memories": 0.0},
            "qdrant": {"folder": 0.0},
            "nats": {"MNEMO_OPS": 800.0, "MNEMO_OPS messages": 1.0},
            "logs": {"files": 420.0},
        },
        "relay": relay,
    }


def test_the_relay_measured_alone_costs_its_ms_an_event_times_the_events_of_a_memory() -> None:
    # 0.5 CPU s for 2,500 events: 0.2 ms an event, 2.5 events a memory
    replay = {"events": 2500, "cpu_s": 0.5, "wall_s": 1.0, "batch": 500}
    assert relay_ms(result(replay)) == pytest.approx(0.5)


def test_without_the_relay_alone_all_of_ingest_stands_in() -> None:
    assert relay_ms(result(None)) == pytest.approx(1.8)
    assert relay_ms(result({"events": 0, "cpu_s": 0.0, "wall_s": 0.0, "batch": 500})) == 1.8


def test_stores_keep_what_lasts_and_count_streams_and_buckets_apart() -> None:
    m = figures(result(None))
    # Qdrant's WAL is bounded: only its segments grow with the memories kept
    assert m.qdrant_bytes_per_memory == 2400.0
    # the WAL and the counts are not tables
    assert m.pg_bytes_per_memory == {"mnemo.events": 3000.0, "audit": 4000.0}
    assert m.wal_bytes_per_memory == 15000.0
    assert m.pg_bytes_per_search == {"audit": 500.0}
    # message counts are not bytes; KV buckets and counters are one line
    assert m.nats_bytes_per_memory == {"MNEMO_CMD": 1000.0, "MNEMO_EVT": 3000.0, "KV": 3.0}
    assert m.nats_bytes_per_search == {"MNEMO_OPS": 800.0}
    assert (m.log_bytes_per_memory, m.log_bytes_per_search) == (400.0, 420.0)
