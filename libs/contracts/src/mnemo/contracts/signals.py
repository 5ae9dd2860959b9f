"""Operational signals (mnemo.ops.<tenant>.<signal_type>): what services did, for the audit."""

from datetime import datetime
from typing import Any

import msgspec

from mnemo.contracts.ids import derived_id


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """A step a service took that is not a domain event: an HTTP request, an index, a failure."""

    signal_id: str
    signal_type: str
    tenant_id: str
    service: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str
    data: dict[str, Any] = {}


MEMORY_INDEXED = "memory.indexed"
MEMORIES_INDEXED = "memories.indexed"


class IndexedMemory(msgspec.Struct, frozen=True, kw_only=True):
    """One memory a `memories.indexed` signal made searchable, with the ids of the request
    that recorded it: the audit keeps it as that request's `memory.indexed` step."""

    memory_id: str
    # The `memory.recorded` event indexed: the step's cause.
    event_id: str
    correlation_id: str
    # The span that handled the event: the step belongs to the request's trace.
    traceparent: str | None = None
    # From the event's recorded_at to the signal.
    lag_ms: int

    @property
    def step_id(self) -> str:
        """The id of its `memory.indexed` step: one per recording, whatever batch said so."""
        return derived_id(self.event_id, MEMORY_INDEXED)


class MemoriesIndexed(msgspec.Struct, frozen=True, kw_only=True):
    """The data of a `memories.indexed` signal: one per indexed batch and tenant, rather
    than a message (and an audit delivery, each with its ack) per memory."""

    memories: list[IndexedMemory]


SIGNAL_TYPES: dict[str, str] = {
    "http.request": "the gateway received an HTTP request (method, path, status, request_id)",
    MEMORIES_INDEXED: (
        "retrieval made a batch of recorded memories searchable (data: MemoriesIndexed); the"
        " audit records a memory.indexed step for each, in its own request's chain"
    ),
    MEMORY_INDEXED: (
        "retrieval made a recorded memory searchable (one message per memory, as published"
        " before memories.indexed; the audit still records one met in the stream)"
    ),
    "message.dead_lettered": "a message exhausted its deliveries or failed permanently",
    "subject.erased": "a forgotten subject's messages were erased from the streams (by stream)",
}
