"""Erasing a forgotten subject from the bus, over real NATS JetStream: every message about
the user goes from every stream (commands, events, signals, dead letters) and the
tenant's kept answers go from their bucket; other users, other tenants and the forget's
own event stay."""

import contextlib

import msgspec
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from mnemo.bus import Consumer, erasable_key_value, erase_subject, kv_stream
from mnemo.bus.dead_letters import DeadLetters
from mnemo.bus.erasure import subject_sweeps
from mnemo.contracts import (
    EntityExtracted,
    Envelope,
    ExtractedEntity,
    ExtractedFact,
    FactExtracted,
    Headers,
    IngestMemory,
    MemoryDeleted,
    MemoryForgotten,
    MemoryRecorded,
    Signal,
    new_id,
    subject_tag,
    tenant_tag,
    utcnow,
)
from mnemo.eventlog import EventStore, connect, migrate_eventlog
from mnemo.ingest.erasure import AUDIT_COMMANDS_DURABLE, DERIVED_READERS, MEMORY_DURABLE, Eraser

from .helpers import delivery, new_event
from .test_bus import spec
from .test_dead_letters import _eventually, running


def _command(tenant: str, user: str) -> IngestMemory:
    return IngestMemory(
        command_id=new_id(), tenant_id=tenant, issued_at=utcnow(), actor="test",
        memory_id=new_id(), user_id=user, content=f"what {user} said",
    )  # fmt: skip


def _event(tenant: str, data) -> Envelope:
    now = utcnow()
    return Envelope(
        event_id=new_id(), event_type=type(data).__struct_config__.tag, tenant_id=tenant,
        stream_id="s", stream_version=0, global_position=1, occurred_at=now, recorded_at=now,
        correlation_id="c", causation_id="c", actor="test", service="test", data=data,
    )  # fmt: skip


def _signal(tenant: str, user: str) -> Signal:
    return Signal(
        signal_id=new_id(), signal_type="memory.indexed", tenant_id=tenant, service="test",
        occurred_at=utcnow(), correlation_id="c", causation_id="c", data={"user_id": user},
    )  # fmt: skip


async def _headers(js, stream: str) -> list[dict[str, str]]:
    """The headers of every message left in `stream`."""
    info = await js.stream_info(stream)
    if not info.state.messages:
        return []
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, headers_only=True
    )
    sub = await js.pull_subscribe(">", stream=stream, config=config)
    found: list[dict[str, str]] = []
    try:
        while len(found) < info.state.messages:
            found.extend(dict(m.headers or {}) for m in await sub.fetch(100, timeout=5))
    finally:
        await sub.unsubscribe()
    return found


async def test_erasing_a_subject_leaves_only_others(publisher, topology):
    js = publisher.js
    forgotten, stays = subject_tag("t", "u1"), subject_tag("t", "u2")
    elsewhere = subject_tag("t2", "u1")  # the same user id in another tenant
    kv = await erasable_key_value(js, topology.idempotency_bucket, ttl=3600)
    try:
        # Dead letters first: a consumer that fails every command it gets.
        async def broken(_delivery) -> None:
            raise ValueError("never succeeds")

        consumer = Consumer(publisher, spec(topology, "er-dl", max_deliver=1), broken)
        store = DeadLetters(js, topology)
        async with running(consumer):
            for tenant, user in (("t", "u1"), ("t", "u2")):
                await publisher.publish_command(
                    _command(tenant, user), correlation_id="c", causation_id="c"
                )

            async def dead() -> bool:
                return (await store.counts()).get("er-dl") == 2

            await _eventually(dead)
        commands = [_command("t", "u1"), _command("t", "u1"), _command("t", "u2")]
        commands.append(_command("t2", "u1"))
        await publisher.publish_commands(commands, correlation_id="c", causation_id="c")
        recorded = [
            _event(tenant, MemoryRecorded(memory_id=new_id(), user_id=user, content="x"))
            for tenant, user in (("t", "u1"), ("t", "u2"), ("t2", "u1"))
        ]
        forget = _event("t", MemoryForgotten(user_id="u1", removed={}))
        await publisher.publish_events([*recorded, forget])
        await publisher.publish_signals([_signal("t", "u1"), _signal("t", "u2")])
        await kv.put(f"{tenant_tag('t')}.cred.k1", b"an answer naming what u1 said")
        await kv.put(f"{tenant_tag('t2')}.cred.k1", b"another tenant's answer")

        erased = await erase_subject(js, topology, "t", "u1")

        assert erased == {
            topology.cmd_stream: 3,  # two published here, one before it was dead-lettered
            topology.evt_stream: 1,
            topology.ops_stream: 1,
            topology.dlq_stream: 1,
            kv_stream(topology.idempotency_bucket): 1,
        }
        for stream in (topology.cmd_stream, topology.evt_stream, topology.ops_stream):
            left = await _headers(js, stream)
            tags = [h.get(Headers.SUBJECT) for h in left]
            assert (stays in tags and elsewhere in tags) or stream == topology.ops_stream
            # Only the forget's own event still names the forgotten subject.
            assert [h[Headers.TYPE] for h in left if h.get(Headers.SUBJECT) == forgotten] == (
                ["memory.forgotten"] if stream == topology.evt_stream else []
            )
        letters = [x async for x in store.entries("er-dl")]
        assert [x.headers.get(Headers.SUBJECT) for x in letters] == [stays]
        assert [k async for k in _keys(kv)] == [f"{tenant_tag('t2')}.cred.k1"]

        assert await erase_subject(js, topology, "t", "u1") == {}  # a repeat: nothing more
    finally:
        for stream in (topology.dlq_stream, kv_stream(topology.idempotency_bucket)):
            with contextlib.suppress(Exception):
                await js.delete_stream(stream)


async def _keys(kv):
    for key in sorted(await kv.keys()):
        yield key


async def test_a_kept_answers_bucket_that_denies_deletes_is_made_again(publisher, topology):
    """Buckets made before (by create_key_value) can never allow deletes: a cache is
    dropped and made erasable; its entries can then be erased."""
    js = publisher.js
    bucket = topology.idempotency_bucket
    old = await js.create_key_value(bucket=bucket, ttl=3600, history=1)
    await old.put("a.b", b"kept")
    try:
        kv = await erasable_key_value(js, bucket, ttl=3600, cache=True)
        info = await js.stream_info(kv_stream(bucket))
        assert info.config.deny_delete is False
        await kv.put("a.b", b"kept again")
        entry = await kv.get("a.b")
        assert await js.delete_msg(kv_stream(bucket), entry.revision)
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(kv_stream(bucket))


async def test_what_came_after_the_forget_stays(publisher, topology):
    """Memories accepted once the forget answered (the user's new life) are on the bus
    before the sweep runs, and still to be recorded and indexed: erasing stops where the
    forget was (the command stream's head it read, its own event)."""
    js = publisher.js
    user = "u-" + new_id()[:8]
    await publisher.publish_commands([_command("t", user)], correlation_id="c", causation_id="c")
    old = _event("t", MemoryRecorded(memory_id=new_id(), user_id=user, content="old life"))
    forget = _event("t", MemoryForgotten(user_id=user, removed={}))
    await publisher.publish_events([old, forget])
    through = {
        topology.cmd_stream: (await js.stream_info(topology.cmd_stream)).state.last_seq,
        topology.evt_stream: (await js.stream_info(topology.evt_stream)).state.last_seq,
    }
    later = _command("t", user)
    await publisher.publish_commands([later], correlation_id="c", causation_id="c")
    new = _event("t", MemoryRecorded(memory_id=new_id(), user_id=user, content="new life"))
    await publisher.publish_events([new])

    erased = await erase_subject(js, topology, "t", user, through)

    assert erased == {topology.cmd_stream: 1, topology.evt_stream: 1}
    tag = subject_tag("t", user)
    kept = {
        stream: [
            h[Headers.MSG_ID] for h in await _headers(js, stream) if h.get(Headers.SUBJECT) == tag
        ]
        for stream in (topology.cmd_stream, topology.evt_stream)
    }
    assert kept == {
        topology.cmd_stream: [later.command_id],
        topology.evt_stream: [forget.event_id, new.event_id],
    }


def test_a_dead_letter_is_erased_when_the_message_it_holds_came_before_the_forget(topology):
    [dlq] = [
        s
        for s in subject_sweeps(topology, "t", "u1", {topology.cmd_stream: 10})
        if s.stream == topology.dlq_stream
    ]

    def letter(stream: str, sequence: str, user: str = "u1") -> dict[str, str]:
        return {
            Headers.SUBJECT: subject_tag("t", user),
            Headers.TYPE: "ingest.memory",
            Headers.DEAD_STREAM: stream,
            Headers.DEAD_SEQUENCE: sequence,
        }

    assert dlq.erase(letter(topology.cmd_stream, "10"))
    assert not dlq.erase(letter(topology.cmd_stream, "11"))  # accepted after the forget
    assert not dlq.erase(letter(topology.cmd_stream, "3", user="u2"))
    # From a stream the forget gave no bound for, or from nowhere said: erased.
    assert dlq.erase(letter(topology.evt_stream, "999"))
    assert dlq.erase(letter(topology.cmd_stream, "?"))


async def test_ingests_eraser_keeps_what_was_accepted_after_the_forget(
    publisher, topology, fresh_database
):
    """The forget's own bounds, as ingest's eraser finds them: the command stream's head
    the forget recorded (in the log, with the mark) and the stream sequence of the
    `memory.forgotten` it is handling. A command accepted after the forget answered, and
    its recorded event, stay on the bus for ingest and retrieval to pick up."""
    js = publisher.js
    user = "u-" + new_id()[:8]
    pool = await connect(fresh_database, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate_eventlog(conn)
        store = EventStore(pool)
        before = _command("t", user)
        await publisher.publish_commands([before], correlation_id="c", causation_id="c")
        head = (await js.stream_info(topology.cmd_stream)).state.last_seq
        _, forget = await store.forget_and_record(
            "t",
            user,
            head,
            f"subject-{user}",
            lambda removed, keys: new_event(
                MemoryForgotten(user_id=user, removed=removed, keys=keys), "t"
            ),
        )
        await publisher.publish_events([forget])
        at = (await js.stream_info(topology.evt_stream)).state.last_seq
        after = _command("t", user)
        await publisher.publish_commands([after], correlation_id="c", causation_id="c")
        new = _event("t", MemoryRecorded(memory_id=new_id(), user_id=user, content="new life"))
        await publisher.publish_events([new])
        handed = delivery(
            forget,
            topology.evt_subject("t", "memory.forgotten"),
            "t",
            forget.event_id,
            at,
            topology.evt_stream,
        )

        await Eraser(pool, publisher).forgotten(handed)

        tag = subject_tag("t", user)
        left = {
            h[Headers.MSG_ID]
            for stream in (topology.cmd_stream, topology.evt_stream)
            for h in await _headers(js, stream)
            if h.get(Headers.SUBJECT) == tag
        }
        assert left == {after.command_id, forget.event_id, new.event_id}
    finally:
        await pool.close()


async def _deleted(publisher, topology, log_pool, memory_id: str, user: str) -> Envelope:
    """The memory's deletion published, and handed to ingest's eraser as delivered."""
    gone = _event("t", MemoryDeleted(memory_id=memory_id, user_id=user))
    await publisher.publish_events([gone])
    at = (await publisher.js.stream_info(topology.evt_stream)).state.last_seq
    handed = delivery(
        gone, topology.evt_subject("t", "memory.deleted"), "t", gone.event_id, at,
        topology.evt_stream,
    )  # fmt: skip
    await Eraser(log_pool, publisher).deleted_batch([handed])
    return gone


async def test_a_memory_deleted_without_a_mark_leaves_the_commands_ingest_has_settled(
    publisher, topology, log_pool
):
    """A memory deleted with no mark of its own in the command stream (an agent's or a run's
    memories found in the log): its command goes once ingest has settled it (at or below
    its durable's ack floor); the same memory sent again and not yet recorded (a new life)
    stays for ingest to record."""
    js = publisher.js
    user = "u-" + new_id()[:8]
    settled = _command("t", user)
    again = msgspec.structs.replace(settled, command_id=new_id(), content="a new life")
    await publisher.publish_commands([settled], correlation_id="c", causation_id="c")
    # Ingest's durable has recorded (and acked) the first, not the second; the audit's
    # has recorded it too.
    for durable, subject in (
        (MEMORY_DURABLE, topology.cmd_subject("ingest.memory", "*")),
        (AUDIT_COMMANDS_DURABLE, topology.cmd_all),
    ):
        config = ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT, filter_subject=subject
        )
        await js.add_consumer(topology.cmd_stream, config)
        sub = await js.pull_subscribe_bind(durable=durable, stream=topology.cmd_stream)
        for msg in await sub.fetch(1, timeout=5):
            await msg.ack_sync()
    await publisher.publish_commands([again], correlation_id="c", causation_id="c")
    await _deleted(publisher, topology, log_pool, settled.memory_id, user)

    left = {h[Headers.MSG_ID] for h in await _headers(js, topology.cmd_stream)}
    assert left == {again.command_id}


async def test_a_new_life_of_a_deleted_memory_between_two_deletions_stays(
    publisher, topology, log_pool
):
    """Two deletions of one user in one batch: X deleted, X recorded again (the same
    sourceId sent once more: a new life), then Y deleted. Each memory is erased up to its
    own deletion: X's new life, after X's deletion, stays for the services to pick up."""
    js = publisher.js
    user = "u-" + new_id()[:8]
    x, y = new_id(), new_id()
    first = _event("t", MemoryRecorded(memory_id=x, user_id=user, content="first life"))
    x_gone = _event("t", MemoryDeleted(memory_id=x, user_id=user))
    new_life = _event("t", MemoryRecorded(memory_id=x, user_id=user, content="new life"))
    other = _event("t", MemoryRecorded(memory_id=y, user_id=user, content="other"))
    y_gone = _event("t", MemoryDeleted(memory_id=y, user_id=user))
    at = {}
    for event in (first, x_gone, new_life, other, y_gone):
        await publisher.publish_events([event])
        at[event.event_id] = (await js.stream_info(topology.evt_stream)).state.last_seq
    handed = [
        delivery(
            e,
            topology.evt_subject("t", "memory.deleted"),
            "t",
            e.event_id,
            at[e.event_id],
            topology.evt_stream,
        )
        for e in (x_gone, y_gone)
    ]

    await Eraser(log_pool, publisher).deleted_batch(handed)

    left = {h[Headers.MSG_ID] for h in await _headers(js, topology.evt_stream)}
    assert left == {x_gone.event_id, new_life.event_id, y_gone.event_id}


async def _derived_world(publisher, topology, log_pool, taken: int | None):
    """X recorded; a fact and an entity drawn from X; a fact drawn from Y; a fact stated
    through the API replacing X's (its memory_id is X's); then X deleted and the eraser
    run. `taken`: how many of the derived events the read models' durable has acknowledged
    (None: the durable does not exist). The names of the events left in the stream."""
    js = publisher.js
    user = "u-" + new_id()[:8]
    x, y = new_id(), new_id()
    said = ExtractedFact(
        fact_id=new_id(), attribute="employer", value="Initech", statement="Works at Initech",
        kind="static", confidence=0.9, span=(0, 10),
    )  # fmt: skip
    named = ExtractedEntity(
        entity_id=new_id(), value="Initech", type="organization", relationship="employer",
        confidence=0.9,
    )  # fmt: skip
    events = {
        "recorded": MemoryRecorded(memory_id=x, user_id=user, content="I work at Initech"),
        "fact": FactExtracted(memory_id=x, user_id=user, fact=said, extractor="rules"),
        "entity": EntityExtracted(memory_id=x, user_id=user, entity=named, extractor="rules"),
        "others": FactExtracted(memory_id=y, user_id=user, fact=said, extractor="rules"),
        "stated": FactExtracted(memory_id=x, user_id=user, fact=said, extractor="api"),
    }
    sent = {name: _event("t", data) for name, data in events.items()}
    for event in sent.values():
        await publisher.publish_events([event])
    if taken is not None:
        config = ConsumerConfig(
            durable_name=DERIVED_READERS[0],
            ack_policy=AckPolicy.EXPLICIT,
            filter_subjects=[
                topology.evt_subject("*", "fact.extracted"),
                topology.evt_subject("*", "entity.extracted"),
            ],
        )
        await js.add_consumer(topology.evt_stream, config)
        sub = await js.pull_subscribe_bind(durable=DERIVED_READERS[0], stream=topology.evt_stream)
        for msg in await sub.fetch(taken, timeout=5) if taken else []:
            await msg.ack_sync()
    gone = await _deleted(publisher, topology, log_pool, x, user)

    names = {e.event_id: name for name, e in sent.items()} | {gone.event_id: "gone"}
    return {names[h[Headers.MSG_ID]] for h in await _headers(js, topology.evt_stream)}


@pytest.mark.parametrize(
    ("taken", "stays"), [(1, {"entity"}), (4, set())], ids=["fact read", "all read"]
)
async def test_what_synthesis_drew_from_a_deleted_memory_goes_once_its_readers_took_it(
    publisher, topology, log_pool, taken, stays
):
    """A fact and an entity drawn from X carry X's words (a statement, a name): deleting X
    erases them from the event stream, but only up to where the read models' durable has
    acknowledged (a fact may rest on other memories too, and a read model that has not read
    it yet would miss it): it took the fact, not yet the entity, which stays. What Y drew
    stays; so does a fact stated through the API (the caller's words, standing when the
    memory of the fact it replaced goes)."""
    left = await _derived_world(publisher, topology, log_pool, taken)
    assert left == {"others", "stated", "gone"} | stays


async def test_without_the_read_models_durable_nothing_drawn_goes(publisher, topology, log_pool):
    """The durable not there (not made yet, or made anew at an upgrade): nothing tells how
    far it has read, so what synthesis drew stays; the memory's own recording goes."""
    left = await _derived_world(publisher, topology, log_pool, taken=None)
    assert left == {"fact", "entity", "others", "stated", "gone"}
