"""Small builders shared by the integration tests (fresh ids every call)."""

from typing import Any

import msgspec

from mnemo.bus import Delivery
from mnemo.contracts import Envelope, EventData, MemoryRecorded, NewEvent, new_id, utcnow


def new_event(data: EventData, tenant: str = "t1", event_id: str | None = None) -> NewEvent:
    """An event of `data` as a test writes it (its own cause and correlation)."""
    return NewEvent(
        event_id=event_id or new_id(),
        tenant_id=tenant,
        occurred_at=utcnow(),
        correlation_id=new_id(),
        causation_id=new_id(),
        actor="test",
        service="test",
        data=data,
    )


def memory_event(
    tenant: str = "t1", content: str = "hello", event_id: str | None = None
) -> NewEvent:
    data = MemoryRecorded(memory_id=new_id(), user_id="u1", content=content)
    return new_event(data, tenant, event_id)


async def stream_messages(js, stream: str, subject: str, *, expect: int, timeout: float = 15.0):
    """Every message on `subject` in `stream`, in stream order, once `expect` have arrived."""
    import asyncio

    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        sub = await js.pull_subscribe(
            subject,
            stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
        )
        got = []
        try:
            while True:
                try:
                    got.extend(await sub.fetch(100, timeout=0.5))
                except Exception:
                    break
        finally:
            await sub.unsubscribe()
        if len(got) >= expect or loop.time() > deadline:
            return got
        await asyncio.sleep(0.2)


def as_delivery(envelope: Envelope) -> Delivery:
    """A stored event as a consumer receives it from the event stream, first delivery."""
    return Delivery(
        subject=f"evt.{envelope.event_type}",
        data=msgspec.json.encode(envelope),
        headers={},
        msg_id=envelope.event_id,
        tenant_id=envelope.tenant_id,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.causation_id,
        num_delivered=1,
        stream_sequence=envelope.global_position,
    )


def delivery(
    payload: Any, subject: str, tenant: str, msg_id: str, sequence: int, stream: str
) -> Delivery:
    """`payload` (a command or an envelope) as a consumer hands it to its handler."""
    return Delivery(
        subject=subject,
        data=msgspec.json.encode(payload),
        headers={},
        msg_id=msg_id,
        tenant_id=tenant,
        correlation_id="c",
        causation_id="c",
        num_delivered=1,
        stream_sequence=sequence,
        stream=stream,
    )
