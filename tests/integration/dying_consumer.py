"""A consumer process that records the message in the log and dies before it acks.

Run by test_bus.py: `python dying_consumer.py NATS_URL DSN BUS_ROOT DURABLE`.
"""

import asyncio
import os
import sys

from mnemo.bus import Consumer, ConsumerSpec, Delivery, Publisher, connect
from mnemo.contracts import MemoryRecorded, NewEvent, Topology, derived_id, utcnow
from mnemo.eventlog import EventStore
from mnemo.eventlog import connect as connect_db


async def main(nats_url: str, dsn: str, root: str, durable: str) -> None:
    nc = await connect(nats_url, name="dying-consumer")
    pool = await connect_db(dsn)
    topology = Topology(root=root)
    store = EventStore(pool)

    async def handle(delivery: Delivery) -> None:
        await store.append(f"s-{delivery.msg_id}", [event_for(delivery)])
        print("committed, dying before ack", flush=True)
        os._exit(17)

    spec = ConsumerSpec(
        durable=durable,
        stream=topology.cmd_stream,
        filter_subjects=[topology.cmd_all],
        ack_wait=2.0,
    )
    await Consumer(Publisher(nc, topology, "dying"), spec, handle).run()


def event_for(delivery: Delivery) -> NewEvent:
    return NewEvent(
        event_id=derived_id(delivery.msg_id, "memory.recorded"),
        tenant_id=delivery.tenant_id,
        occurred_at=utcnow(),
        correlation_id=delivery.correlation_id,
        causation_id=delivery.msg_id,
        actor="test",
        service="test",
        data=MemoryRecorded(memory_id=delivery.msg_id, user_id="u", content="c"),
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
