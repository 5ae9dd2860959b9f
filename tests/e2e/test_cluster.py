"""Mnemo on a 3-node NATS JetStream cluster with replicated services, under load, while
NATS nodes and service replicas are killed (-9): nothing acknowledged is lost or stored
twice, every item is searchable and its request's chain audited, every event reaches the
event stream once and in order, the relay has one leader at a time, and every replica is
ready again at the end. `tests/e2e/cluster.py` says what runs; the table of latencies per
phase is printed (`-s`), never asserted.

`make test` runs the short form; `make test-cluster` the long one (more load, longer
outages)."""

import asyncio

import pytest

from .cluster import LONG, SHORT, Plan, report, run


def _scenario(plan: Plan, root, database_url) -> None:
    outcome = asyncio.run(run(plan, root, database_url))
    print("\n" + report(plan, outcome), flush=True)
    assert outcome.acked > 0, outcome
    assert not outcome.problems(), "\n".join(outcome.problems())
    # The relay's leadership moved when its leader was killed (the survivor took it).
    assert len(outcome.leaders) >= 2, outcome.leaders


@pytest.mark.timeout(900)
def test_cluster_short(tmp_path, database_url):
    _scenario(SHORT, tmp_path, database_url)


@pytest.mark.cluster
@pytest.mark.timeout(1800)
def test_cluster_long(tmp_path, database_url):
    _scenario(LONG, tmp_path, database_url)
