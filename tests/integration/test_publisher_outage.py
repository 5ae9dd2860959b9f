"""A long NATS outage under load leaves the publisher working (issue #13, found by `make
chaos`): thousands of publishes refused while NATS is away must not use up nats-py's
window of unacknowledged publishes, else every publish after the outage waits for ever."""

import asyncio

import pytest

from mnemo.bus import Publisher, PublishError, connect, ensure_streams
from mnemo.contracts import Topology

from .test_bus import command

# More refused publishes than nats-py's default window (4000).
REFUSED = 4500


async def _connected(nc) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not nc.is_connected:
        assert loop.time() < deadline, "the client never reconnected"
        await asyncio.sleep(0.1)


async def _lose(own_nats, nc) -> None:
    """Kill the server, and wait until the client has noticed it is gone."""
    assert own_nats._proc is not None
    own_nats._proc.kill()
    own_nats._proc.wait()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while nc.is_connected:
        assert loop.time() < deadline, "the client never noticed the server was gone"
        await asyncio.sleep(0.05)


async def test_publishing_works_again_after_thousands_were_refused(own_nats):
    nc = await connect(own_nats.url, name="outage-test")
    topology = Topology(root="pubout")
    await ensure_streams(nc.jetstream(), topology)
    publisher = Publisher(nc, topology, "tests", ack_timeout=5.0)
    try:
        await publisher.publish_command(command(), correlation_id="c", causation_id="c")
        await _lose(own_nats, nc)
        for _ in range(REFUSED):
            with pytest.raises(PublishError):
                await publisher.publish_command(command(), correlation_id="c", causation_id="c")

        own_nats.start()
        await _connected(nc)
        await asyncio.wait_for(
            publisher.publish_command(command(), correlation_id="c", causation_id="c"), 30
        )
    finally:
        await nc.close()


async def test_what_was_queued_when_the_connection_broke_is_never_sent_later(own_nats):
    """A publish the client had queued but not written when NATS died is dropped, not
    written on the next connection: its sender already saw it fail (no ack: the gateway
    answered 503, or its Idempotency-Key claim failed), so a late copy would store what was
    refused, or leave a claim no request holds. The queueing is done by hand: in service it
    is a race between the client's writer and its reader noticing the broken socket."""
    nc = await connect(own_nats.url, name="unsent-test")
    topology = Topology(root="unsent")
    js = nc.jetstream()
    await ensure_streams(js, topology)
    publisher = Publisher(nc, topology, "tests", ack_timeout=5.0)
    try:
        await publisher.publish_command(command(), correlation_id="c", causation_id="c")
        subject = topology.cmd_subject("ingest", "acme")
        # What nats-py's publish appends to its outgoing queue, before its writer runs.
        late = f"PUB {subject} 4\r\nlate\r\n".encode()
        nc._pending.append(late)
        nc._pending_data_size += len(late)
        await _lose(own_nats, nc)
        own_nats.start()
        await _connected(nc)
        # Acknowledged, so whatever the new connection carried before it has reached the
        # server too.
        await asyncio.wait_for(
            publisher.publish_command(command(), correlation_id="c", causation_id="c"), 30
        )
        info = await js.stream_info(topology.cmd_stream)
        assert info.state.messages == 2, "a publish queued before the outage was sent after it"
    finally:
        await nc.close()
