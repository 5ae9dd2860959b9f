"""The Postgres event log: migrations, append/read, and the outbox relay.

Exports `EventStore` (append with optimistic concurrency and idempotency, read by
global position), `Relay` (publishes the log in commit-safe order), `migrate_eventlog`
and `migrate` (versioned SQL per component), `connect` (a pool with sane settings),
and the errors.
"""

from mnemo.eventlog.coalescing import CoalescedCompaction
from mnemo.eventlog.compaction import compact, schema_tables, silenced_by, worth_compacting
from mnemo.eventlog.errors import (
    EventLogError,
    IdempotencyConflict,
    SubjectKeyChanged,
    WrongExpectedVersion,
)
from mnemo.eventlog.migrations import migrate, migrate_eventlog
from mnemo.eventlog.pool import connect
from mnemo.eventlog.relay import EventPublisher, Relay
from mnemo.eventlog.store import ANY, NO_STREAM, Ended, EventStore

__all__ = [
    "ANY",
    "NO_STREAM",
    "CoalescedCompaction",
    "Ended",
    "EventLogError",
    "EventPublisher",
    "EventStore",
    "IdempotencyConflict",
    "Relay",
    "SubjectKeyChanged",
    "WrongExpectedVersion",
    "compact",
    "connect",
    "migrate",
    "migrate_eventlog",
    "schema_tables",
    "silenced_by",
    "worth_compacting",
]
