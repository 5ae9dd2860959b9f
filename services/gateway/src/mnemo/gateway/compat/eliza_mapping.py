"""ElizaOS memories to Mnemo ingest requests and back (the mapping is told in
`mnemo.gateway.compat.eliza`).

What ElizaOS keeps beside `content.text` is kept in the memory's metadata, under keys of
its own so that nothing of it clashes with Mnemo's metadata:
`metadata.content` (the other content fields), `metadata.eliza` (ElizaOS's metadata),
`metadata.worldId`, and `metadata.timestamp` (createdAt, as ISO 8601: the valid time).
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request

from mnemo.contracts import IngestMemory, MemoryView, SearchHit, derived_id
from mnemo.gateway.auth import Principal
from mnemo.gateway.compat.search_hits import written_metadata
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.ingest import IngestRequest, command_of, scoped
from mnemo.gateway.validation import as_json

# Agent, room, world, entity and memory ids are UUIDs, as ElizaOS's own server checks them
# (seed 002: 400 INVALID_ID "Invalid UUID format"). Agents made without an id are UUIDs; an
# agent given a plain name natively is not reachable through this surface.
_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Layout keys of the metadata (see above); the rest of a native memory's is its own.
_LAYOUT = ("content", "eliza", "worldId", "timestamp")
# Mnemo's field names in problems, as an ElizaOS caller knows them.
_FIELDS = {"content": "content.text", "userId": "entityId", "metadata.timestamp": "createdAt"}


class ElizaMemory(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    """A memory as ElizaOS sends it (`embedding` and `unique` are not taken: Mnemo embeds)."""

    content: dict[str, Any]
    id: str | None = None
    entity_id: str | None = None
    user_id: str | None = None  # what older ElizaOS versions call entityId
    agent_id: str | None = None
    room_id: str | None = None
    world_id: str | None = None
    metadata: dict[str, Any] = {}
    created_at: float | None = None


def check_id(value: str | None, field: str) -> str | None:
    """The id as one spelling (lower case: ElizaOS compares UUIDs whatever their case, and
    `ABC…` must not be another agent, entity or room than `abc…`, which a forget of one
    would miss); a 400 INVALID_ID naming the field if it is no UUID."""
    if value is None:
        return None
    if not _ID.match(value):
        raise Problem(
            400,
            "INVALID_ID",
            f"Invalid UUID format: {field}",
            field=field,
        )
    return value.lower()


def to_ingest(memory: ElizaMemory, agent_id: str) -> IngestRequest:
    """The native ingest request for an ElizaOS memory stored under `agent_id`."""
    text = memory.content.get("text")
    if not isinstance(text, str) or not text.strip():
        raise Problem(
            400, "INVALID_REQUEST", "content.text must be a non-empty string", field="content.text"
        )
    memory = msgspec.structs.replace(
        memory,
        id=check_id(memory.id, "id"),
        entity_id=check_id(memory.entity_id, "entityId"),
        user_id=check_id(memory.user_id, "userId"),
        room_id=check_id(memory.room_id, "roomId"),
        world_id=check_id(memory.world_id, "worldId"),
    )
    metadata: dict[str, Any] = {}
    rest = _rest(memory)
    if rest:
        metadata["content"] = rest
    if memory.metadata:
        metadata["eliza"] = memory.metadata
    if memory.world_id:
        metadata["worldId"] = memory.world_id
    if memory.created_at is not None:
        metadata["timestamp"] = _iso(memory.created_at)
    return IngestRequest(
        # An ElizaOS memory without an entity is the agent's own.
        user_id=memory.entity_id or memory.user_id or agent_id,
        content=text,
        source_type="conversation",
        # The same ElizaOS id sent to the same agent again is the same memory; sent to
        # another agent (an import), it is that agent's own copy.
        source_id=derived_id("eliza", agent_id, memory.id) if memory.id else None,
        session_id=memory.room_id,
        agent_id=agent_id,
        metadata=metadata,
    )


def _rest(memory: ElizaMemory) -> dict[str, Any]:
    """content's fields but its text: kept in the memory's metadata."""
    return {k: v for k, v in memory.content.items() if k != "text"}


def to_ingest_command(
    request: Request,
    memory: ElizaMemory,
    agent_id: str,
    principal: Principal,
    index: int | None = None,
) -> IngestMemory:
    """Validate and map the memory into the native ingest command, errors in ElizaOS's names."""
    try:
        item = scoped(to_ingest(memory, agent_id), principal)
        return command_of(request, item, principal, index)
    except Problem as problem:
        field = problem.details.get("field")
        if problem.code == "METADATA_TOO_LARGE":
            # Kept together as the memory's metadata: content's other fields and the
            # metadata sent; the larger is named (a long content field was `metadata`).
            parts = {"content": _rest(memory), "metadata": memory.metadata or {}}
            named = max(parts, key=lambda name: len(as_json(parts[name])))
            problem.details["field"] = named
            problem.detail = f"{named} is too large: content's other fields and the metadata"
            problem.detail += " are kept together, at most 64 KiB encoded as JSON"
        elif field in _FIELDS:
            problem.details["field"] = _FIELDS[field]
        raise


def _iso(millis: float) -> str:
    try:
        # Exactly (a float's division was off by microseconds far from 1970: shown back,
        # cut to its millisecond, the time was one earlier than sent).
        return (_EPOCH + timedelta(milliseconds=millis)).isoformat()
    except (ValueError, OverflowError, OSError):
        raise Problem(
            400, "INVALID_REQUEST", "createdAt must be milliseconds since 1970", field="createdAt"
        ) from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLI = timedelta(milliseconds=1)


def _millis(when: datetime) -> int:
    """A time as ElizaOS shows one (createdAt): its millisecond, cut, not rounded, in
    exact arithmetic, so that a room's `before` (ms_time) takes exactly the memories shown
    before it: one that happened at …100.9 ms was shown as …101, and `before=…101` gave it
    back again (with `limit=1`, the same page for ever)."""
    return (when - _EPOCH) // _MILLI


def ms_time(millis: int) -> datetime:
    """`millis` since 1970 as a time, exactly (a float's division was off by microseconds
    in the far future); the inverse of `_millis` on whole milliseconds."""
    return _EPOCH + millis * _MILLI


def _shape(
    memory_id: str,
    user_id: str | None,
    agent_id: str | None,
    room_id: str | None,
    text: str,
    metadata: dict[str, Any],
    created_at: datetime,
) -> dict[str, Any]:
    content = metadata.get("content")
    own = metadata.get("eliza")
    return {
        "id": memory_id,
        "entityId": user_id,
        "agentId": agent_id,
        "roomId": room_id,
        "worldId": metadata.get("worldId"),
        "content": {**(content if isinstance(content, dict) else {}), "text": text},
        "metadata": own if isinstance(own, dict) else _native(metadata),
        "createdAt": _millis(created_at),
    }


def _native(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in _LAYOUT}


def memory_json(memory: MemoryView) -> dict[str, Any]:
    """A recorded memory as ElizaOS shows one."""
    return _shape(
        memory.memory_id,
        memory.user_id,
        memory.agent_id,
        memory.session_id,
        memory.content,
        memory.metadata,
        memory.occurred_at,
    )


def hit_json(hit: SearchHit) -> dict[str, Any]:
    """A search hit (one chunk of a memory) as an ElizaOS memory with its similarity."""
    meta = hit.metadata
    # When it happened, as the listing shows it (it showed when it was recorded here, a
    # few milliseconds later, unless the client had sent createdAt).
    created = hit.occurred_at or hit.ingested_at
    if hit.occurred_at is None and isinstance(stamp := meta.get("timestamp"), str):
        try:
            created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            pass
    shaped = _shape(
        hit.memory_id,
        hit.user_id,
        meta.get("agentId"),
        meta.get("sessionId"),
        hit.content,
        written_metadata(hit),
        created,
    )
    return {**shaped, "similarity": hit.similarity}
