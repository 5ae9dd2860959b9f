"""After a forget: erase the subject from the bus, and the shredded keys from the disk.

The forget itself (a request/reply) shreds the subject's keys and appends
`memory.forgotten`; this durable consumer of that event does the rest, at least once
whatever crashes meanwhile: it erases every message about the subject from the streams
(`mnemo.bus.erasure`), rewrites the key table so the shredded keys' bytes leave its files
and retires the WAL that held them (`mnemo.eventlog.compaction`; not when the forget
shredded nothing), then says so with a `subject.erased` signal, which puts the erasure in
the forget's audit chain.
"""

import asyncpg

from mnemo.bus import Delivery, Publisher, erase_subject
from mnemo.contracts import Envelope, MemoryForgotten, Signal, derived_id, utcnow
from mnemo.eventlog import compact, silenced_by, worth_compacting
from mnemo.eventlog.keyring import KeyRing
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "ingest"
KEY_TABLES = ("mnemo.subject_keys",)


class Eraser:
    def __init__(self, pool: asyncpg.Pool, publisher: Publisher) -> None:
        self._pool = pool
        self._publisher = publisher

    async def forgotten(self, delivery: Delivery) -> None:
        envelope: Envelope = delivery.decode(Envelope)
        if not isinstance(envelope.data, MemoryForgotten):
            return
        topology = self._publisher.topology
        # Where the forgotten past ends on each stream: the commands the forget found
        # accepted (a later one is a memory accepted after it answered: the user's new
        # life), and the forget's own event (those after it were recorded after it).
        through = {topology.evt_stream: delivery.stream_sequence}
        subject = (envelope.tenant_id, envelope.data.user_id)
        async with self._pool.acquire() as conn:
            marks = await KeyRing().forgotten_through(conn, [subject])
        if marks.get(subject):
            through[topology.cmd_stream] = marks[subject]
        erased = await erase_subject(
            self._publisher.js, topology, envelope.tenant_id, envelope.data.user_id, through
        )
        # A forget that shredded no key (a retry, the user forgotten again) left none in
        # the table's files: nothing to rewrite.
        if worth_compacting(silenced_by(envelope.data)):
            await compact(self._pool, KEY_TABLES)
        await self._publisher.publish_signal(
            Signal(
                signal_id=derived_id(envelope.event_id, "subject.erased"),
                signal_type="subject.erased",
                tenant_id=envelope.tenant_id,
                service=SERVICE,
                occurred_at=utcnow(),
                correlation_id=envelope.correlation_id,
                causation_id=envelope.event_id,
                data={"erased": erased},
            )
        )
