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
# The durable that records memory commands (bootstrap).
MEMORY_DURABLE = f"{SERVICE}-memory"
# The audit's durable of the command stream (mnemo.audit.bootstrap: "audit-<kind>s").
AUDIT_COMMANDS_DURABLE = "audit-commands"
KEY_TABLES = ("mnemo.subject_keys", "mnemo.memory_keys")
# The durables that read what synthesis draws from a memory (mnemo.synthesis.bootstrap):
# a deleted memory's facts and entities leave the event stream once they have read them.
DERIVED_READERS = ("synthesis-read-models",)


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
        await self.deleted_batch([delivery])

    async def deleted_batch(self, deliveries: list[Delivery]) -> None:
        """Memories were deleted (each one's key shredded with it): erase the messages that
        carry their words, every version's, from the streams, and have the key table
        rewritten. One sweep of the streams per user of the batch, however many of the
        user's memories went (an agent's deletion, a run's: hundreds). A revision's
        deletion hands the memory on: nothing goes."""
        topology = self._publisher.topology
        cmd, evt = topology.cmd_stream, topology.evt_stream
        # Every command at or below this is recorded or dropped, and audited: those naming
        # these memories can go whatever deleted them (one memory, an agent, a run).
        floor = await self._settled_through()
        # By (tenant, user), each memory's own bounds, by stream: its deletion's event (a
        # recording of the same id after it is a new life, which stays), and on the command
        # stream the further of its deletion's mark and the floor; dead letters of commands
        # only up to the mark (a dead-lettered command was never recorded).
        gone: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        dead: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        for delivery in deliveries:
            envelope: Envelope = delivery.decode(Envelope)
            data = envelope.data
            if not isinstance(data, MemoryDeleted) or data.replaced_by:
                continue
            subject = (envelope.tenant_id, data.user_id)
            bounds = gone.setdefault(subject, {cmd: {}, evt: {}})
            dead_bounds = dead.setdefault(subject, {cmd: {}, evt: {}})
            versions = [
                data.memory_id,
                *await self._store.earlier_versions(*subject, data.memory_id),
            ]
            for memory_id in versions:
                mark = await self._store.deleted_through(envelope.tenant_id, memory_id)
                for into in (bounds, dead_bounds):
                    into[evt][memory_id] = max(
                        into[evt].get(memory_id, 0), delivery.stream_sequence
                    )
                bounds[cmd][memory_id] = max(bounds[cmd].get(memory_id, 0), mark, floor)
                dead_bounds[cmd][memory_id] = max(dead_bounds[cmd].get(memory_id, 0), mark)
        for (tenant_id, user_id), bounds in gone.items():
            await erase_memories(
                self._publisher.js,
                topology,
                tenant_id,
                user_id,
                bounds,
                dead[(tenant_id, user_id)],
                DERIVED_READERS,
            )
        if gone:
            self.key_compaction.due()

    async def _settled_through(self) -> int:
        """The command stream's sequence up to which ingest has settled every memory
        command and the audit has recorded every command (the lower of their durables' ack
        floors; 0 when one cannot be read: the marks alone)."""
        topology = self._publisher.topology
        floors = []
        for durable in (MEMORY_DURABLE, AUDIT_COMMANDS_DURABLE):
            try:
                info = await self._publisher.js.consumer_info(topology.cmd_stream, durable)
            except Exception as e:
                log.warning("ack_floor_unread", durable=durable, error=e)
                return 0
            floor = info.ack_floor
            floors.append(int(floor.stream_seq or 0) if floor is not None else 0)
        return min(floors)

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
