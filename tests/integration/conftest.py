"""Fixtures for tests that talk to the real NATS and PostgreSQL of the session."""

import pytest

from mnemo.bus import Publisher, connect, ensure_streams
from mnemo.contracts import Topology
from mnemo.eventlog import connect as connect_db
from mnemo.eventlog import migrate_eventlog
from mnemo.telemetry import configure_tracing


@pytest.fixture(scope="session", autouse=True)
def tracing():
    """A real tracer provider (no exporter), so spans have ids to propagate."""
    configure_tracing("tests")


@pytest.fixture
async def nc(nats_url):
    client = await connect(nats_url, name="mnemo-tests")
    yield client
    await client.close()


@pytest.fixture
async def topology(nc, bus_root):
    topo = Topology(root=bus_root)
    await ensure_streams(nc.jetstream(), topo)
    yield topo
    js = nc.jetstream()
    for stream in (topo.cmd_stream, topo.evt_stream, topo.ops_stream):
        try:
            await js.delete_stream(stream)
        except Exception:
            pass


@pytest.fixture
def publisher(nc, topology):
    return Publisher(nc, topology, "tests")


@pytest.fixture
async def log_pool(fresh_database):
    pool = await connect_db(fresh_database, max_size=10)
    async with pool.acquire() as conn:
        await migrate_eventlog(conn)
    yield pool
    await pool.close()
