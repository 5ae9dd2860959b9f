"""The log's events into the audit, read from the log rather than delivered by the bus.

The audit follows the log as the relay does (mnemo.eventlog.Relay: commit-safe order, a
checkpoint of its own in mnemo.checkpoints, one replica at a time under an advisory lock,
woken by the log's NOTIFY), writing each batch of events as audit rows. Taken from the
bus, each event cost a delivery and its ack through nats-server and a consumer's span and
bookkeeping in this process: 2.8 events per ingested memory, the most of any consumer.
Commands and signals are not in the log; they still come from their streams.
"""

from collections.abc import Sequence
from typing import Any

import asyncpg

from mnemo.audit.entries import INSERT, event_row, shredded_event_row
from mnemo.contracts import Envelope, Topology
from mnemo.eventlog import Relay
from mnemo.telemetry.metrics import AUDITED_FROM_LOG

# The audit's checkpoint in mnemo.checkpoints (and its advisory lock).
FOLLOWER = "audit"
# Once woken by an append, the follower waits this long for more before it reads: the
# audit is nobody's answer, and each read costs a few transactions whatever it finds.
LINGER = 0.25
# The durable that delivered events to the audit before it followed the log.
RETIRED_DURABLE = "audit-events"


class LogEvents:
    """Writes the events the follower reads as audit rows (idempotent: an event audited
    before, from the bus or by a follower that stopped before its checkpoint, adds none)."""

    def __init__(self, pool: asyncpg.Pool, topology: Topology) -> None:
        self._pool = pool
        self._topology = topology

    async def publish_events(self, events: Sequence[Envelope], appends: Sequence[str]) -> None:
        rows = [event_row(e, self._topology.evt_subject(e.tenant_id, e.event_type)) for e in events]
        async with self._pool.acquire() as conn:
            await conn.executemany(INSERT, rows)

    async def publish_shredded(self, stored: Sequence[Any]) -> None:
        """Events whose words were shredded before the follower read them (a memory deleted
        or a user forgotten within its lag): audited from what the log keeps in clear, so
        that the request's chain still shows each step it caused, as the bus delivered it."""
        rows = [
            shredded_event_row(r, self._topology.evt_subject(r["tenant_id"], r["event_type"]))
            for r in stored
        ]
        async with self._pool.acquire() as conn:
            await conn.executemany(INSERT, rows)


def follower(pool: asyncpg.Pool, topology: Topology, batch_size: int = 500) -> Relay:
    """The audit's follower of the log."""
    return Relay(
        pool,
        LogEvents(pool, topology),
        name=FOLLOWER,
        batch_size=batch_size,
        counted=AUDITED_FROM_LOG,
        linger=LINGER,
    )
