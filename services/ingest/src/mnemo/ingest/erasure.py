"""After a forget: erase the subject from the bus, and the shredded keys from the disk.
After a memory's deletion: erase its words from the bus, and its shredded key from the
disk (the key table's rewrite coalesced over the deletions of a few seconds).

The forget itself (a request/reply) shreds the subject's keys and appends
`memory.forgotten`; this durable consumer of that event does the rest, at least once
whatever crashes meanwhile: it erases every message about the subject from the streams
(`mnemo.bus.erasure`), rewrites the key table so the shredded keys' bytes leave its files
and retires the WAL that held them (`mnemo.eventlog.compaction`; not when the forget
shredded nothing), then says so with a `subject.erased` signal, which puts the erasure in
the forget's audit chain.
"""

import asyncpg

from mnemo.bus import Delivery, Publisher, erase_memories, erase_subject
from mnemo.contracts import (
    Envelope,
    MemoryDeleted,
    MemoryForgotten,
    Signal,
    derived_id,
    utcnow,
)
from mnemo.eventlog import CoalescedCompaction, EventStore, compact, silenced_by, worth_compacting
from mnemo.eventlog.keyring import KeyRing
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "ingest"
KEY_TABLES = ("mnemo.subject_keys", "mnemo.memory_keys")


class Eraser:
    def __init__(self, pool: asyncpg.Pool, publisher: Publisher) -> None:
        self._pool = pool
        self._publisher = publisher
        self._store = EventStore(pool)
        # The memory keys' table, rewritten after deletions (a service's background task).
        self.key_compaction = CoalescedCompaction(
            lambda: compact(self._pool, ("mnemo.memory_keys",))
        )

    async def deleted(self, delivery: Delivery) -> None:
        """A memory was deleted (its key shredded with it): erase the messages that carry
        its words, every version's, from the streams, and have the key table rewritten.
        A revision's deletion hands the memory on: nothing goes."""
        envelope: Envelope = delivery.decode(Envelope)
        gone = envelope.data
        if not isinstance(gone, MemoryDeleted) or gone.replaced_by:
            return
        tenant_id, topology = envelope.tenant_id, self._publisher.topology
        versions = [
            gone.memory_id,
            *await self._store.earlier_versions(tenant_id, gone.user_id, gone.memory_id),
        ]
        # The deletion's mark in the command stream (`_delete`): a command naming one of
        # them at or below it is in the log or will be dropped, never recorded anew.
        marks = [await self._store.deleted_through(tenant_id, m) for m in versions]
        through = {topology.evt_stream: delivery.stream_sequence}
        if max(marks):
            through[topology.cmd_stream] = max(marks)
        await erase_memories(
            self._publisher.js, topology, tenant_id, gone.user_id, versions, through
        )
        self.key_compaction.due()

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
