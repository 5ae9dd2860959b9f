"""What retrieval says once a batch is indexed: one signal per tenant, each memory named
with its own request's ids."""

from datetime import timedelta

import msgspec

from mnemo.contracts import Envelope, MemoriesIndexed, MemoryRecorded, derived_id, new_id, utcnow
from mnemo.retrieval.handlers import indexed_signals


def recording(tenant: str, correlation: str) -> Envelope:
    now = utcnow()
    return Envelope(
        event_id=new_id(), event_type="memory.recorded", tenant_id=tenant, stream_id="s",
        stream_version=0, global_position=1, occurred_at=now,
        recorded_at=now - timedelta(milliseconds=250), correlation_id=correlation,
        causation_id=new_id(), actor="test", service="ingest",
        data=MemoryRecorded(memory_id=new_id(), user_id="u1", content="words"),
    )  # fmt: skip


def memory_id(envelope: Envelope) -> str:
    assert isinstance(envelope.data, MemoryRecorded)
    return envelope.data.memory_id


def test_one_signal_per_tenant_of_the_batch_names_each_memory():
    batch = [recording("t1", "req-1"), recording("t2", "req-2"), recording("t1", "req-3")]
    signals = indexed_signals(batch, utcnow())
    assert [(s.tenant_id, s.signal_type) for s in signals] == [
        ("t1", "memories.indexed"),
        ("t2", "memories.indexed"),
    ]
    named = msgspec.convert(signals[0].data, MemoriesIndexed).memories
    assert [(m.memory_id, m.event_id, m.correlation_id) for m in named] == [
        (memory_id(e), e.event_id, e.correlation_id) for e in (batch[0], batch[2])
    ]
    assert all(m.lag_ms >= 250 for m in named)
    # Several requests' memories: the message is a step of its own.
    assert signals[0].correlation_id == signals[0].causation_id == signals[0].signal_id
    # Its id follows what it names: a redelivered batch is the same message.
    ids = (batch[0].event_id, batch[2].event_id)
    assert signals[0].signal_id == derived_id(*ids, "memories.indexed")


def test_a_batch_of_one_request_carries_its_ids():
    batch = [recording("t1", "req-1"), recording("t1", "req-1")]
    [signal] = indexed_signals(batch, utcnow())
    assert (signal.correlation_id, signal.causation_id) == ("req-1", batch[0].event_id)
