"""Appends as wholes, over real PostgreSQL and NATS: the relay marks what of an append is
still to come, and a consumer asking for whole appends hands each one to its batch
handler in one call however its fetches cut it."""

from mnemo.bus import Consumer, ConsumerSpec, Delivery
from mnemo.contracts import Envelope, Headers
from mnemo.eventlog import EventStore, Relay

from .helpers import memory_event, stream_messages
from .test_bus import run_until


async def test_the_relay_publishes_an_append_whole_each_event_saying_what_follows(
    log_pool, publisher, topology
):
    store = EventStore(log_pool)
    first = [memory_event(tenant="ma", content=f"a{i}") for i in range(2)]
    first.append(memory_event(tenant="mb", content="b"))
    await store.append("s-first", first)
    await store.append("s-second", [memory_event(tenant="ma", content="c")])
    # A batch of 2 ends inside the first append: the relay takes the rest of it too.
    assert await Relay(log_pool, publisher, batch_size=2).pump() == 4
    msgs = await stream_messages(publisher.js, topology.evt_stream, topology.evt_all, expect=4)
    a, b = (topology.evt_subject(t, "memory.recorded") for t in ("ma", "mb"))
    assert [m.headers.get(Headers.APPEND_REST) for m in msgs] == [
        f"{a}=1 {b}=1",
        f"{b}=1",
        None,
        None,
    ]


async def test_a_consumer_of_whole_appends_gets_each_append_in_one_batch(
    log_pool, publisher, topology
):
    store = EventStore(log_pool)
    appends = []
    for n in (5, 3, 1):
        # Events of another tenant inside the append: not followed, so not waited for.
        events = [memory_event(tenant="wa", content=f"{n}-{i}") for i in range(n)]
        events.insert(1, memory_event(tenant="other", content="x"))
        events.append(memory_event(tenant="other", content="y"))
        appends.append({e.event_id for e in events if e.tenant_id == "wa"})
        await store.append(f"s-{n}", events)
    await Relay(log_pool, publisher).pump()
    batches: list[set[str]] = []

    async def one(delivery: Delivery) -> None:
        batches.append({delivery.decode(Envelope).event_id})

    async def many(deliveries: list[Delivery]) -> None:
        batches.append({d.decode(Envelope).event_id for d in deliveries})

    spec = ConsumerSpec(
        durable="whole",
        stream=topology.evt_stream,
        filter_subjects=[topology.evt_subject("wa", "memory.recorded")],
        batch=2,
        whole_appends=True,
    )
    consumer = Consumer(publisher, spec, one, many)
    await run_until(consumer, lambda: consumer.handled == 9)
    # Fetches of 2 would cut the first two appends: here none is split between batches.
    for ids in appends:
        assert any(ids <= batch for batch in batches), (ids, batches)


async def test_a_rest_that_never_comes_is_not_waited_for(publisher, topology):
    subject = topology.evt_subject("lost", "memory.recorded")
    # Says two more follow, which never do (gone from the stream, say).
    await publisher.js.publish(
        subject, b"{}", headers={Headers.MSG_ID: "lost-1", Headers.APPEND_REST: f"{subject}=2"}
    )
    seen: list[str] = []

    async def one(delivery: Delivery) -> None:
        seen.append(delivery.msg_id)

    spec = ConsumerSpec(
        durable="lost",
        stream=topology.evt_stream,
        filter_subjects=[subject],
        batch=4,
        whole_appends=True,
    )
    consumer = Consumer(publisher, spec, one, None)
    await run_until(consumer, lambda: seen == ["lost-1"])
