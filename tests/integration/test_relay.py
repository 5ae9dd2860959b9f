"""The outbox relay over real PostgreSQL and NATS: order, gap safety, outages."""

import asyncio
import contextlib

import asyncpg
import msgspec

from mnemo.bus import Publisher, connect, ensure_streams
from mnemo.contracts import Envelope, Headers, Topology
from mnemo.eventlog import EventStore, Relay
from mnemo.eventlog.codec import encode_data, encode_metadata
from mnemo.runtime.nats_server import NatsServer
from mnemo.settings.jetstream import JetStreamSettings

from .helpers import memory_event, stream_messages


async def test_relay_publishes_in_order_with_msg_id_and_checkpoints(log_pool, publisher, topology):
    store = EventStore(log_pool)
    events = [memory_event(tenant="acme", content=f"m{i}") for i in range(5)]
    for event in events:
        await store.append(f"s-{event.event_id}", [event])
    relay = Relay(log_pool, publisher)
    assert await relay.pump() == 5
    assert await relay.pump() == 0  # the checkpoint holds: nothing is published twice
    msgs = await stream_messages(
        publisher.js, topology.evt_stream, topology.evt_subject("acme", "memory.recorded"), expect=5
    )
    assert [m.headers[Headers.MSG_ID] for m in msgs] == [e.event_id for e in events]
    decoded = [msgspec.json.decode(m.data, type=Envelope) for m in msgs]
    assert [d.data.content for d in decoded] == [f"m{i}" for i in range(5)]
    assert all(
        m.headers[Headers.CORRELATION] == e.correlation_id
        for m, e in zip(msgs, events, strict=True)
    )


async def test_relay_never_skips_a_position_committed_late(
    log_pool, fresh_database, publisher, topology
):
    """Position 1 is taken by a transaction committing after position 2's: both arrive, 1 first."""
    late = memory_event(tenant="gap", content="late")
    early = memory_event(tenant="gap", content="early")
    conn = await asyncpg.connect(fresh_database)
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(
            """INSERT INTO mnemo.events (event_id, stream_id, stream_version, event_type,
                   tenant_id, data, metadata, occurred_at)
               VALUES ($1, $2, 0, 'memory.recorded', 'gap', $3::jsonb, $4::jsonb, now())""",
            late.event_id,
            "s-late",
            encode_data(late).decode(),
            encode_metadata(late),
        )
        stored = await EventStore(log_pool).append("s-early", [early])
        relay = Relay(log_pool, publisher)
        assert await relay.pump() == 0, "nothing may pass a transaction still in flight"
        await tx.commit()
    finally:
        await conn.close()
    assert await relay.pump() == 2
    msgs = await stream_messages(
        publisher.js, topology.evt_stream, topology.evt_subject("gap", "memory.recorded"), expect=2
    )
    positions = [msgspec.json.decode(m.data, type=Envelope).global_position for m in msgs]
    assert positions[1] == stored[0].global_position
    assert positions[0] < positions[1]


async def test_relay_orders_transactions_by_number_not_by_their_digits(
    log_pool, fresh_database, publisher, topology
):
    """Transactions 99, 100 and 101 with a batch of 2: 99 comes first (as text, '100' and
    '101' sort before '99', and a checkpoint at 101 would skip 99 for ever)."""
    events = [memory_event(tenant="digits", content=f"x{xid}") for xid in (99, 100, 101)]
    conn = await asyncpg.connect(fresh_database)
    try:
        for xid, event in zip((99, 100, 101), events, strict=True):
            await conn.execute(
                """INSERT INTO mnemo.events (transaction_id, event_id, stream_id, stream_version,
                       event_type, tenant_id, data, metadata, occurred_at)
                   VALUES ($1::text::xid8, $2, $3, 0, 'memory.recorded', 'digits', $4::jsonb,
                       $5::jsonb, now())""",
                str(xid),
                event.event_id,
                f"s-{event.event_id}",
                encode_data(event).decode(),
                encode_metadata(event),
            )
    finally:
        await conn.close()
    relay = Relay(log_pool, publisher, batch_size=2)
    assert await relay.pump() == 3
    msgs = await stream_messages(
        publisher.js,
        topology.evt_stream,
        topology.evt_subject("digits", "memory.recorded"),
        expect=3,
    )
    assert [m.headers[Headers.MSG_ID] for m in msgs] == [e.event_id for e in events]


async def test_events_committed_while_nats_is_down_are_published_after(log_pool, tmp_path):
    nats = NatsServer(tmp_path / "nats")
    url = nats.start()
    topo = Topology(root="outage")
    nc = await connect(url, name="relay-outage-test")
    relay_task = None
    try:
        publisher = Publisher(nc, topo, "ingest", ack_timeout=1.0)
        await ensure_streams(publisher.js, topo)
        relay = Relay(log_pool, publisher, poll_interval=0.2, max_backoff=0.5)
        relay_task = asyncio.create_task(relay.run())
        store = EventStore(log_pool)
        await store.append("s-before", [memory_event(tenant="o")])
        await _until(lambda: relay.published == 1)

        nats.stop()
        during = [memory_event(tenant="o", content=f"during {i}") for i in range(3)]
        for event in during:
            await store.append(f"s-{event.event_id}", [event])
        await asyncio.sleep(1.0)
        assert relay.published == 1, "nothing can be published while NATS is down"

        nats.start()
        await _until(lambda: relay.published == 4, timeout=30)
        msgs = await stream_messages(
            nc.jetstream(), topo.evt_stream, topo.evt_subject("o", "memory.recorded"), expect=4
        )
        assert [m.headers[Headers.MSG_ID] for m in msgs][1:] == [e.event_id for e in during]
    finally:
        if relay_task:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
        await nc.close()
        nats.stop()


async def _until(condition, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_leader_connection_that_dies_mid_cleanup_does_not_stop_the_relay(
    log_pool, publisher, monkeypatch
):
    """Leadership ends because the connection is gone, and the cleanup on the dead
    connection raises too (asyncpg's InternalClientError, as once seen when PostgreSQL went
    down and stopped ingest): the relay must wait and lead again, not crash its service."""
    relay = Relay(log_pool, publisher, poll_interval=0.1, max_backoff=0.2)
    led: list[int] = []

    async def follow(leader):
        led.append(1)
        if len(led) == 1:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed mid-operation")
        await asyncio.Event().wait()  # leads on

    async def dead(self, *args, **kwargs):
        raise asyncpg.InternalClientError("cannot switch to state 15; another operation")

    monkeypatch.setattr(relay, "_follow", follow)
    monkeypatch.setattr(asyncpg.Connection, "remove_listener", dead)
    task = asyncio.create_task(relay.run())
    try:
        await _until(lambda: len(led) == 2 or task.done())
        assert not task.done(), task
        assert len(led) == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_relay_that_cannot_publish_says_so_until_it_can(log_pool, nc, bus_root):
    """The event stream full (it refuses new messages): the relay retried for ever and
    ingest's health said "ok", while everything downstream waited (a forget's erasing
    too). `stalled` names it once publishing has failed for long enough, and clears once
    an operator has made room."""
    topo = Topology(root=bus_root)
    await ensure_streams(nc.jetstream(), topo, JetStreamSettings(evt_max_bytes=4096))
    publisher = Publisher(nc, topo, "ingest", ack_timeout=2.0)
    relay = Relay(log_pool, publisher, poll_interval=0.2, max_backoff=0.5)
    relay_task = asyncio.create_task(relay.run())
    try:
        store = EventStore(log_pool)
        for i in range(12):
            event = memory_event(tenant="full", content=f"words {i} " + "x" * 600)
            await store.append(f"s-{event.event_id}", [event])
        await _until(lambda: relay.stalled(after=0.5) is not None, timeout=30)
        assert "unpublished" in (relay.stalled(after=0.5) or "")
        assert relay.published < 12
        await ensure_streams(nc.jetstream(), topo, JetStreamSettings(evt_max_bytes=-1))
        await _until(lambda: relay.published == 12, timeout=30)
        assert relay.stalled(after=0.0) is None
    finally:
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task
        for stream in (topo.cmd_stream, topo.evt_stream, topo.ops_stream):
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_stream(stream)
