"""A request's audit signal survives NATS being away for a moment (found by the cluster
test, issue #19: while the node leading the signal stream was killed and its stream
elected a new leader, the gateway dropped the `http.request` signals of the requests it
answered, and those requests were never audited). The gateway now tries it again."""

import asyncio

from mnemo.bus import Publisher, connect, ensure_streams
from mnemo.contracts import Signal, Topology, new_id, utcnow
from mnemo.gateway import correlation

from .test_publisher_outage import _connected, _lose


async def test_a_request_signal_refused_while_nats_is_away_is_stored_once_it_is_back(own_nats):
    nc = await connect(own_nats.url, name="signal-outage-test")
    topology = Topology(root="sigout")
    js = nc.jetstream()
    await ensure_streams(js, topology)
    publisher = Publisher(nc, topology, "gateway", ack_timeout=5.0)
    signal = Signal(
        signal_id=new_id(),
        signal_type="http.request",
        tenant_id="acme",
        service="gateway",
        occurred_at=utcnow(),
        correlation_id="corr-outage",
        causation_id="corr-outage",
        data={"method": "POST", "path": "/v1/ingest", "status": 503},
    )
    try:
        await _lose(own_nats, nc)
        sending = asyncio.create_task(correlation._publish(publisher, signal, retry_for=90))
        own_nats.start()
        await _connected(nc)
        await asyncio.wait_for(sending, 90)
        stored = await js.get_last_msg(
            topology.ops_stream, topology.ops_subject("acme", "http.request")
        )
        assert stored.headers is not None
        assert stored.headers["Nats-Msg-Id"] == signal.signal_id
    finally:
        await nc.close()
