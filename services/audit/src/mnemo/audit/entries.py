"""Turning bus messages into audit entries, and audit entries into a causal chain."""

from datetime import datetime
from typing import Any

import msgspec

from mnemo.bus import Delivery
from mnemo.contracts import (
    COMMAND_TYPES,
    MEMORIES_INDEXED,
    MEMORY_INDEXED,
    AuditEntry,
    Envelope,
    Headers,
    MemoriesIndexed,
    utcnow,
    wire_names,
)
from mnemo.eventlog.sealing import CLEAR_FIELDS
from mnemo.telemetry import trace_id_of

# Content never goes into the audit: it says what happened, not what was said; nor do the
# digests of API keys. Nor what is drawn from what was said: whom a fact is about (the
# speaker's name, from metadata), an entity's relationship (a model's words), a pack's
# query. Nor the client's own names for a memory's conversation and source (`session_id`:
# a Mem0 run_id, an Elephantasm session; `source_id`: a file name, an email's subject),
# which the log seals with the content and a forget erases from the bus. The audit is
# never erased by a forget, so nothing here may name what a user said: it keeps no more of
# a memory than the ids the log keeps in clear (tenant, user, agent, memory).
_WITHHELD = {
    "content", "statement", "value", "digest", "metadata", "about", "relationship", "query",
    "session_id", "source_id",
}  # fmt: skip

# Positions in a stream every tenant shares (an event's global position, a dead letter's
# sequence in the command or event stream): counted over every tenant's messages, two of a
# tenant's would tell it how many of other tenants' came between. Never kept.
POSITIONS = frozenset({"global_position", "stream_sequence"})

# Positions in a stream every agent of a tenant shares (a user's facts, entities, passes
# and profile are kept per user, whichever agent's memory they came from): kept, and shown
# to the tenant's master key, but not to an agent key, which would read in the jump between
# two of its own how many memories and facts the tenant's other agents gave the same user.
AGENT_POSITIONS = frozenset({"stream_version"})

# One entry per message (its kind and id): a message delivered again, or read again from
# the log, is not recorded twice.
INSERT = """
INSERT INTO audit.entries (tenant_id, message_id, kind, type, service, correlation_id,
                           causation_id, subject, "timestamp", trace_id, data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
ON CONFLICT DO NOTHING
"""

_TIME_FIELD = {"command": "issued_at", "event": "recorded_at", "signal": "occurred_at"}


def _summary(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _summary(v) for k, v in value.items() if k not in _WITHHELD and k not in POSITIONS
        }
    return value


def _command_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fields its contract gives a command, and no other: one published to the bus
    without the gateway (it is then dead-lettered, and audited) may carry anything."""
    contract = COMMAND_TYPES.get(str(body.get("type")))
    known = {name for _, name in wire_names(contract)} if contract else set()
    return {k: v for k, v in body.items() if k in known and k not in {"type", "tenant_id"}}


def entry_rows(kind: str, delivery: Delivery) -> list[tuple[Any, ...]]:
    """The audit rows for one message: its own, or for a `memories.indexed` signal one
    `memory.indexed` step per memory, each in its own request's chain."""
    body = msgspec.json.decode(delivery.data)
    if not isinstance(body, dict):
        body = {}
    if kind == "signal" and body.get("signal_type") == MEMORIES_INDEXED:
        try:
            return indexed_rows(delivery, body)
        except (msgspec.ValidationError, TypeError, ValueError):
            pass  # not the contract's shape: kept as the message it is, as any other
    return [entry_row(kind, delivery, body)]


def indexed_rows(delivery: Delivery, body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One `memory.indexed` row per memory of a `memories.indexed` signal: the rows one
    signal per memory made (its id, its request's correlation and trace, its cause the
    recording), so a chain reads as it did and a redelivered batch adds none."""
    batch = msgspec.convert(body.get("data"), MemoriesIndexed)
    stamp = body.get("occurred_at")
    timestamp = datetime.fromisoformat(stamp) if isinstance(stamp, str) else utcnow()
    service = delivery.headers.get(Headers.SERVICE, "unknown")
    return [
        (
            delivery.tenant_id,
            memory.step_id,
            "signal",
            MEMORY_INDEXED,
            service,
            memory.correlation_id,
            memory.event_id,
            delivery.subject,
            timestamp,
            trace_id_of(memory.traceparent),
            msgspec.json.encode({"memory_id": memory.memory_id, "lag_ms": memory.lag_ms}).decode(),
        )
        for memory in batch.memories
    ]


def entry_row(kind: str, delivery: Delivery, body: dict[str, Any] | None = None) -> tuple[Any, ...]:
    """The audit row for one message: (tenant, id, kind, type, service, ...); `body`, its
    payload when decoded already."""
    if body is None:
        decoded = msgspec.json.decode(delivery.data)
        body = decoded if isinstance(decoded, dict) else {}
    if kind == "signal" and body.get("signal_type") == "http.request":
        kind = "request"
    stamp = body.get(_TIME_FIELD["signal" if kind == "request" else kind])
    timestamp = datetime.fromisoformat(stamp) if isinstance(stamp, str) else utcnow()
    msg_type = delivery.headers.get(Headers.TYPE) or body.get("type") or "unknown"
    if kind == "event":
        # Not the event's global position: counted over every tenant's events, it would
        # tell a tenant how many other tenants' events came between two of its own.
        data = {
            key: body.get(key) for key in ("stream_id", "stream_version", "actor", "occurred_at")
        }
        data["data"] = _summary(body.get("data") or {})
    elif kind in ("signal", "request"):
        data = _summary(body.get("data") or {})
    else:
        data = _summary(_command_fields(body))
    causation = delivery.causation_id if delivery.causation_id != delivery.msg_id else None
    return (
        delivery.tenant_id,
        delivery.msg_id,
        kind,
        msg_type,
        delivery.headers.get(Headers.SERVICE, "unknown"),
        delivery.correlation_id,
        causation,
        delivery.subject,
        timestamp,
        trace_id_of(delivery.headers.get(Headers.TRACEPARENT)),
        msgspec.json.encode(data).decode(),
    )


def event_row(event: Envelope, subject: str) -> tuple[Any, ...]:
    """The audit row for an event read from the log: the row its delivery on `subject` (as
    the relay publishes it) made when the audit took events from the bus."""
    body = msgspec.to_builtins(event)
    data = {key: body.get(key) for key in ("stream_id", "stream_version", "actor", "occurred_at")}
    data["data"] = _summary(body.get("data") or {})
    return (
        event.tenant_id,
        event.event_id,
        "event",
        event.event_type,
        event.service,
        event.correlation_id,
        event.causation_id if event.causation_id != event.event_id else None,
        subject,
        event.recorded_at,
        trace_id_of(event.traceparent),
        msgspec.json.encode(data).decode(),
    )


def shredded_event_row(stored: Any, subject: str) -> tuple[Any, ...]:
    """The audit row for an event of the log whose sealed part can no longer be opened (its
    key shredded): `event_row`'s, from the row's columns and the fields kept in clear
    beside the sealed ones (type, user, agent and memory ids)."""
    meta = msgspec.json.decode(stored["metadata"])
    kept = msgspec.json.decode(stored["data"])
    clear = {k: v for k, v in kept.items() if k in CLEAR_FIELDS} if isinstance(kept, dict) else {}
    data = {
        "stream_id": stored["stream_id"],
        "stream_version": stored["stream_version"],
        "actor": meta.get("actor"),
        "occurred_at": msgspec.to_builtins(stored["occurred_at"]),
        "data": _summary(clear),
    }
    causation = meta.get("causation_id")
    return (
        stored["tenant_id"],
        stored["event_id"],
        "event",
        stored["event_type"],
        meta.get("service", ""),
        meta.get("correlation_id"),
        causation if causation != stored["event_id"] else None,
        subject,
        stored["recorded_at"],
        trace_id_of(meta.get("traceparent")),
        msgspec.json.encode(data).decode(),
    )


def causal_order(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Causes before effects; siblings (and unrelated roots) by time."""
    by_id = {e.message_id: e for e in entries}
    children: dict[str | None, list[AuditEntry]] = {}
    for entry in entries:
        parent = entry.causation_id if entry.causation_id in by_id else None
        children.setdefault(parent, []).append(entry)
    ordered: list[AuditEntry] = []
    seen: set[str] = set()

    def visit(parent: str | None) -> None:
        for entry in sorted(children.get(parent, []), key=lambda e: (e.timestamp, e.kind)):
            if entry.message_id in seen:
                continue
            seen.add(entry.message_id)
            ordered.append(entry)
            visit(entry.message_id)

    visit(None)
    # Anything left is in a cycle (should not happen); keep it, by time, rather than drop it.
    ordered.extend(
        sorted((e for e in entries if e.message_id not in seen), key=lambda e: e.timestamp)
    )
    return ordered
