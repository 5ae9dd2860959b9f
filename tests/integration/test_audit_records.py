"""The audit records a fetched batch: each message once, field by field (a redelivered one,
or one twice in a batch, is not recorded again); a batch of indexed memories as a step of
each one's request."""

from datetime import timedelta

import msgspec

from mnemo.audit.bootstrap import SQL
from mnemo.audit.handlers import AuditHandlers
from mnemo.bus import Delivery
from mnemo.contracts import (
    AuditQuery,
    AuditResult,
    Envelope,
    Headers,
    MemoryRecorded,
    Signal,
    derived_id,
    new_id,
    utcnow,
)
from mnemo.eventlog import migrate
from mnemo.retrieval.handlers import indexed_signals


def indexed(i: int) -> Delivery:
    signal = Signal(
        signal_id=f"sig-{i}",
        signal_type="memory.indexed",
        tenant_id="acme",
        service="retrieval",
        occurred_at=utcnow(),
        correlation_id=f"corr-{i}",
        causation_id=f"evt-{i}",
        data={"memory_id": f"m-{i}", "lag_ms": i, "content": "withheld"},
    )
    return Delivery(
        subject="mnemo.ops.memory.indexed",
        data=msgspec.json.encode(signal),
        headers={Headers.TYPE: "memory.indexed", Headers.SERVICE: "retrieval"},
        msg_id=signal.signal_id,
        tenant_id="acme",
        correlation_id=signal.correlation_id,
        causation_id=signal.causation_id,
        num_delivered=1,
        stream_sequence=i + 1,
    )


async def test_batches_record_each_message_once_with_its_fields(log_pool):
    async with log_pool.acquire() as conn:
        await migrate(conn, "audit", SQL)
    handlers = AuditHandlers(log_pool, 100)
    deliveries = [indexed(i) for i in range(5)]
    await handlers.batch_recorder("signal")(deliveries[:3])
    # Redelivered ones, and one twice in the same batch: recorded once all the same.
    await handlers.batch_recorder("signal")([*deliveries[1:], deliveries[4]])
    await handlers.recorder("signal")(deliveries[0])
    rows = await log_pool.fetch(
        "SELECT message_id, kind, type, service, correlation_id, causation_id, subject,"
        " data->>'memory_id' AS memory_id, data ? 'content' AS has_content"
        " FROM audit.entries ORDER BY message_id"
    )
    assert [tuple(r.values()) for r in rows] == [
        (
            f"sig-{i}",
            "signal",
            "memory.indexed",
            "retrieval",
            f"corr-{i}",
            f"evt-{i}",
            "mnemo.ops.memory.indexed",
            f"m-{i}",
            False,
        )
        for i in range(5)
    ]


def signal_of(
    signal_id: str, signal_type: str, at, causation: str, actor: str | None = None
) -> Delivery:
    """A signal of chain "c1" (an http.request when `actor` acts in it)."""
    signal = Signal(
        signal_id=signal_id,
        signal_type=signal_type,
        tenant_id="acme",
        service="gateway" if actor else "retrieval",
        occurred_at=at,
        correlation_id="c1",
        causation_id=causation,
        data={"actor": actor} if actor else {},
    )
    return Delivery(
        subject=f"mnemo.ops.acme.{signal_type}",
        data=msgspec.json.encode(signal),
        headers={Headers.TYPE: signal_type},
        msg_id=signal_id,
        tenant_id="acme",
        correlation_id="c1",
        causation_id=causation,
        num_delivered=1,
        stream_sequence=1,
    )


async def test_an_agent_made_again_sees_nothing_that_followed_from_the_deleted_ones_acts(
    log_pool,
):
    """What a service did late, because of a deleted agent's request, is stamped after
    the new agent of the same id was made: the chain is followed from the acts of the
    agent since it was made, so none of it shows."""
    async with log_pool.acquire() as conn:
        await migrate(conn, "audit", SQL)
    handlers = AuditHandlers(log_pool, 100)
    made_again = utcnow()
    before, after = made_again - timedelta(minutes=5), made_again + timedelta(seconds=1)
    await handlers.batch_recorder("signal")(
        [
            signal_of("req-old", "http.request", before, "req-old", actor="agent:x/key:k1"),
            signal_of("late", "memory.indexed", after, "req-old"),
            signal_of("req-new", "http.request", after, "req-new", actor="agent:x/key:k2"),
            signal_of("step-new", "memory.indexed", after, "req-new"),
        ]
    )

    async def seen(**scope) -> list[str]:
        query = AuditQuery(tenant_id="acme", correlation_id="c1", agent_id="x", limit=100, **scope)
        result = await handlers.events(query)
        assert isinstance(result, AuditResult)
        return sorted(e.message_id for e in result.events)

    assert await seen() == ["late", "req-new", "req-old", "step-new"]
    assert await seen(agent_since=made_again) == ["req-new", "step-new"]


def recording(tenant: str, correlation: str, memory_id: str) -> Envelope:
    now = utcnow()
    return Envelope(
        event_id=new_id(), event_type="memory.recorded", tenant_id=tenant, stream_id="s",
        stream_version=0, global_position=1, occurred_at=now, recorded_at=now,
        correlation_id=correlation, causation_id=new_id(), actor="test", service="ingest",
        data=MemoryRecorded(memory_id=memory_id, user_id="u1", content="what was said"),
    )  # fmt: skip


def as_signal_delivery(signal: Signal) -> Delivery:
    """`signal` as the audit's consumer receives it from retrieval's publisher."""
    return Delivery(
        subject=f"mnemo.ops.{signal.tenant_id}.{signal.signal_type}",
        data=msgspec.json.encode(signal),
        headers={Headers.TYPE: signal.signal_type, Headers.SERVICE: signal.service},
        msg_id=signal.signal_id,
        tenant_id=signal.tenant_id,
        correlation_id=signal.correlation_id,
        causation_id=signal.causation_id,
        num_delivered=1,
        stream_sequence=1,
    )


async def test_an_indexed_batch_is_a_memory_indexed_step_in_each_requests_chain(log_pool):
    """Retrieval says once per indexed batch and tenant which memories it made searchable;
    the audit records each as the `memory.indexed` step of the request that recorded it,
    the row one signal per memory made. A batch redelivered, or the memory indexed again
    in another batch, adds none."""
    async with log_pool.acquire() as conn:
        await migrate(conn, "audit", SQL)
    handlers = AuditHandlers(log_pool, 100)
    first = [recording("acme", "req-1", "m-1"), recording("acme", "req-1", "m-2")]
    second = recording("acme", "req-2", "m-3")
    elsewhere = recording("other", "req-3", "m-4")
    signals = indexed_signals([*first, second, elsewhere], utcnow())
    assert [(s.tenant_id, s.signal_type) for s in signals] == [
        ("acme", "memories.indexed"),
        ("other", "memories.indexed"),
    ]
    await handlers.batch_recorder("signal")([as_signal_delivery(s) for s in signals])
    # Redelivered, and m-3 in a batch of its own (indexed again): nothing more.
    await handlers.recorder("signal")(as_signal_delivery(signals[0]))
    [again] = indexed_signals([second], utcnow())
    await handlers.recorder("signal")(as_signal_delivery(again))

    rows = await log_pool.fetch(
        "SELECT tenant_id, message_id, kind, type, service, correlation_id, causation_id,"
        " data::text AS data FROM audit.entries ORDER BY data->>'memory_id'"
    )
    assert [tuple(r.values())[:7] for r in rows] == [
        (e.tenant_id, derived_id(e.event_id, "memory.indexed"), "signal", "memory.indexed",
         "retrieval", e.correlation_id, e.event_id)
        for e in [*first, second, elsewhere]
    ]  # fmt: skip
    assert [sorted(msgspec.json.decode(r["data"])) for r in rows] == [["lag_ms", "memory_id"]] * 4

    async def chain(correlation: str) -> list[tuple[str, str]]:
        query = AuditQuery(tenant_id="acme", correlation_id=correlation, limit=100)
        result = await handlers.events(query)
        assert isinstance(result, AuditResult)
        return [(e.type, e.data["memory_id"]) for e in result.events]

    assert await chain("req-1") == [("memory.indexed", "m-1"), ("memory.indexed", "m-2")]
    assert await chain("req-2") == [("memory.indexed", "m-3")]
