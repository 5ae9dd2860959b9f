"""The audit records a fetched batch: each message once, field by field (a redelivered one,
or one twice in a batch, is not recorded again)."""

import msgspec

from mnemo.audit.bootstrap import SQL
from mnemo.audit.handlers import AuditHandlers
from mnemo.bus import Delivery
from mnemo.contracts import Headers, Signal, utcnow
from mnemo.eventlog import migrate


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
