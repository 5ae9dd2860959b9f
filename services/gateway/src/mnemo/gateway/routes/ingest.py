"""POST /v1/ingest: validate, publish an ingest command, answer 202 once JetStream has it."""

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, post

from mnemo.bus import PublishError, StreamFull
from mnemo.contracts import IngestMemory, derived_id, new_id, utcnow
from mnemo.contracts.limits import (
    MAX_CONTENT_BYTES,
    MAX_ID_CHARS,
    MAX_METADATA_BYTES,
    instant_problem,
)
from mnemo.gateway.agents_seen import ensure_agents
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.secrets import redact_text, redact_value
from mnemo.gateway.validation import as_json, check_not_wildcard, check_outbound, decode_body

SOURCE_TYPES = {
    "api_text",
    "conversation",
    "voice",
    "action",
    "agent_summary",
    "onboarding",
    "meeting",
}
# The metadata key the Mem0 surface keeps its own fields under (the id, user, agent, app,
# run and first time it shows a memory with): only that surface writes it. Sent through any
# other (a native ingest, MEMANTO, ElizaOS, Elephantasm's meta), it would show one agent's
# memory as another's, under another memory's id, to a Mem0 client.
MEM0_KEY = "mem0"
SURFACE_KEYS = frozenset({MEM0_KEY})
SOURCE_ID_PATTERN = r"^[A-Za-z0-9:_./\-\u2013]{1,256}$"
_SOURCE_ID = re.compile(SOURCE_ID_PATTERN)


class IngestRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    user_id: str
    content: str
    source_type: str = "api_text"
    source_id: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict[str, Any] = {}
    # The anansi-memory SDK's `ttl` (seconds): Mnemo keeps a memory until it is deleted or
    # its user forgotten, so a ttl is refused rather than accepted and not kept to.
    ttl: int | None = None


def validate(item: IngestRequest, surface_key: str | None = None) -> datetime | None:
    """Check the seed's limits; return the client's timestamp (valid time) if it sent one.
    `surface_key`: the one of `SURFACE_KEYS` the calling surface writes itself (the others
    are refused in the metadata)."""
    for key in sorted(SURFACE_KEYS & item.metadata.keys() - {surface_key}):
        raise Problem(
            400,
            "INVALID_REQUEST",
            f"metadata.{key} is kept for the Mem0 surface's own fields",
            field=f"metadata.{key}",
        )
    if not item.user_id or len(item.user_id) > MAX_ID_CHARS:
        raise Problem(
            400, "INVALID_REQUEST", f"userId must be 1-{MAX_ID_CHARS} characters", field="userId"
        )
    for name, value in (("sessionId", item.session_id), ("agentId", item.agent_id)):
        if value is not None and not 1 <= len(value) <= MAX_ID_CHARS:
            raise Problem(
                400, "INVALID_REQUEST", f"{name} must be 1-{MAX_ID_CHARS} characters", field=name
            )
    for name, value in (("userId", item.user_id), ("sessionId", item.session_id)):
        check_not_wildcard(value, name)
    if item.ttl is not None:
        raise Problem(
            400,
            "INVALID_REQUEST",
            "ttl is not supported: memories are kept until deleted (DELETE /v1/memories/{id})"
            " or their user is forgotten (DELETE /v1/user)",
            field="ttl",
        )
    if not item.content.strip():
        raise Problem(400, "INVALID_REQUEST", "content must not be empty", field="content")
    if len(item.content.encode()) > MAX_CONTENT_BYTES:
        raise Problem(413, "CONTENT_TOO_LARGE", "content exceeds 100 KB", field="content")
    if len(as_json(item.metadata)) > MAX_METADATA_BYTES:
        raise Problem(
            413,
            "METADATA_TOO_LARGE",
            f"metadata exceeds {MAX_METADATA_BYTES // 1024} KiB encoded as JSON",
            field="metadata",
        )
    if item.source_type not in SOURCE_TYPES:
        allowed = ", ".join(sorted(SOURCE_TYPES))
        raise Problem(
            400, "INVALID_REQUEST", f"sourceType must be one of: {allowed}", field="sourceType"
        )
    if item.source_id is not None and not _SOURCE_ID.match(item.source_id):
        raise Problem(
            400,
            "INVALID_REQUEST",
            "sourceId must be 1-256 characters of letters, digits and :_./-",
            field="sourceId",
        )
    stamp = item.metadata.get("timestamp")
    if stamp is None:
        return None
    try:
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        raise Problem(
            400,
            "INVALID_REQUEST",
            "metadata.timestamp must be ISO 8601",
            field="metadata.timestamp",
        ) from None
    if problem := instant_problem(when):
        raise Problem(
            400, "INVALID_REQUEST", f"metadata.timestamp {problem}", field="metadata.timestamp"
        )
    return when


def to_command(
    item: IngestRequest,
    tenant_id: str,
    actor: str,
    retry_key: str | None = None,
    surface_key: str | None = None,
) -> IngestMemory:
    """The ingest command of `item`. `retry_key` (from an Idempotency-Key) makes the ids of
    an item without a sourceId the same on every retry of the same request, so a retry
    after a 503 or a lost answer cannot store it twice. `surface_key`: see `validate`."""
    occurred_at = validate(item, surface_key)
    if item.source_id is not None:
        # Same tenant + user + sourceId (+ agent, when there is one): same memory and command
        # ids, so it is stored once. The agent is part of it so that one agent's sourceId
        # can never make another's memory a "duplicate" of its own (dropped, though answered
        # 202, its id the first agent's); without an agent the id is as it always was.
        scope = (item.agent_id,) if item.agent_id is not None else ()
        memory_id = derived_id("memory", tenant_id, *scope, item.user_id, item.source_id)
        # The command is this sending of it (the same on a retry with the Idempotency-Key):
        # ingest stores the memory once while it is there, and records it again once it is
        # gone (deleted, or its user forgotten); a command id of the memory's alone made
        # the bus drop the second sending as a duplicate, though answered 202.
        command_id = derived_id("ingest", memory_id, retry_key or new_id())
    elif retry_key is not None:
        # The item's own bytes too: the same key with another body is another memory.
        digest = hashlib.sha256(as_json(item)).hexdigest()
        memory_id = derived_id("memory-retry", tenant_id, retry_key, digest)
        command_id = derived_id("ingest", memory_id)
    else:
        memory_id, command_id = new_id(), new_id()
    counts: Counter[str] = Counter()
    content = redact_text(item.content, counts)
    metadata = redact_value(item.metadata, counts)
    return IngestMemory(
        command_id=command_id,
        tenant_id=tenant_id,
        issued_at=utcnow(),
        actor=actor,
        memory_id=memory_id,
        user_id=item.user_id,
        content=content,
        source_type=item.source_type,
        source_id=item.source_id,
        session_id=item.session_id,
        agent_id=item.agent_id,
        metadata=metadata,
        occurred_at=occurred_at,
        redactions=dict(counts),
    )


class BatchRequest(msgspec.Struct):
    items: list[IngestRequest]


MAX_BATCH = 50


def scoped(item: IngestRequest, principal: Principal) -> IngestRequest:
    """The item as the caller may send it: an agent key writes only as its agent."""
    agent_id = agent_scope(principal, item.agent_id)
    return item if agent_id == item.agent_id else msgspec.structs.replace(item, agent_id=agent_id)


async def publish(request: Request, commands: list[IngestMemory], field: str = "items") -> None:
    """Publish and wait for JetStream's acks: a 202 promises the items are durable. Every
    agent a memory names is an agent first (registered on first use, on every surface:
    a route that checked its own field's name already finds it known). Two items of one
    request that are one memory (the same sourceId or id) with other words are refused
    (`field`: the list they came in): the second would be answered 202 and dropped."""
    _one_memory_once(commands, field)
    deps = deps_of(request)
    state = request.scope["state"]
    for command in commands:
        check_outbound(command, deps.nc.max_payload)
    named = {c.agent_id: "agentId" for c in commands if c.agent_id is not None}
    if named:
        await ensure_agents(request, state["principal"], named)
    try:
        await deps.publisher.publish_commands(
            commands, correlation_id=state["correlation_id"], causation_id=state["request_id"]
        )
    except StreamFull as exc:
        # JetStream refused to store it (MNEMO_CMD at MNEMO_CMD_MAX_BYTES, or the server's
        # storage full): nothing is promised, and a retry fails until an operator makes room
        # or old commands age out (deploy/README.md, "When a stream is full").
        raise Problem(
            507,
            "STORAGE_FULL",
            f"the ingest could not be stored: {exc}",
            headers={"Retry-After": "60"},
        ) from None
    except PublishError as exc:
        # Not acknowledged means not accepted: the caller must retry, nothing is promised.
        raise Problem(
            503,
            "NOT_ACCEPTED",
            f"the ingest could not be queued: {exc}",
            headers={"Retry-After": "1"},
        ) from None


def _one_memory_once(commands: list[IngestMemory], field: str) -> None:
    first: dict[str, int] = {}
    for index, command in enumerate(commands):
        earlier = first.setdefault(command.memory_id, index)
        if earlier == index:
            continue
        before = commands[earlier]
        if (before.content, before.metadata, before.user_id) != (
            command.content,
            command.metadata,
            command.user_id,
        ):
            raise Problem(
                400,
                "DUPLICATE_ITEM",
                f"{field}[{index}] is the memory {field}[{earlier}] is (the same sourceId or id)"
                " with other content; send one of them",
                field=f"{field}[{index}]",
            )


def _retry_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    return f"{request.url.path}:{key}" if key else None


def command_of(
    request: Request,
    item: IngestRequest,
    principal: Principal,
    index: int | None = None,
    names: Mapping[str, str] | None = None,
    surface_key: str | None = None,
) -> IngestMemory:
    """The ingest command of an item the request sends (the `index`th, when it sends
    several), on every surface: its ids fixed by the request's Idempotency-Key, if any, so
    that a retry whose kept answer is gone (a forget erases the tenant's) stores it once.
    `names`: what the surface calls the item's fields (`sessionId` -> `session_id`), so that
    a refusal names the field as the caller sent it. `surface_key`: the metadata key of
    `SURFACE_KEYS` the calling surface writes (none other may be sent)."""
    key = _retry_key(request)
    if key is not None and index is not None:
        key = f"{key}#{index}"
    try:
        return to_command(item, principal.tenant_id, principal.actor, key, surface_key)
    except Problem as problem:
        field = problem.details.get("field")
        if not names or not isinstance(field, str):
            raise
        head, dot, rest = field.partition(".")
        if field in names:
            renamed = names[field]
        elif head in names:
            renamed = names[head] + dot + rest
        else:
            raise
        raise Problem(
            problem.status, problem.code, problem.detail.replace(field, renamed), field=renamed
        ) from None


@post("/v1/ingest", status_code=202)
async def ingest(request: Request) -> Response[bytes]:
    principal = await authorize(request, "ingest")
    item = await decode_body(request, IngestRequest, status=400)
    command = command_of(request, scoped(item, principal), principal)
    if command.agent_id is not None:
        await ensure_agents(request, principal, {command.agent_id: "agentId"})
    await publish(request, [command])
    return Response(
        as_json({"id": command.memory_id, "queued": True}),
        status_code=202,
        media_type="application/json",
    )


@post("/v1/ingest/batch", status_code=202)
async def ingest_batch(request: Request) -> Response[bytes]:
    """All items or none: one bad item refuses the batch, naming its index."""
    principal = await authorize(request, "batch")
    batch = await decode_body(request, BatchRequest, status=400)
    if not 1 <= len(batch.items) <= MAX_BATCH:
        raise Problem(
            400, "INVALID_REQUEST", f"items must hold 1 to {MAX_BATCH} entries", field="items"
        )
    commands = []
    for index, item in enumerate(batch.items):
        try:
            commands.append(command_of(request, scoped(item, principal), principal, index))
        except Problem as problem:
            field = f"items[{index}].{problem.details.get('field', '')}".rstrip(".")
            raise Problem(
                problem.status,
                problem.code,
                f"item {index}: {problem.detail}",
                field=field,
                details={"index": index},
            ) from None
    named: dict[str, str] = {}
    for index, command in enumerate(commands):
        if command.agent_id is not None:
            named.setdefault(command.agent_id, f"items[{index}].agentId")
    await ensure_agents(request, principal, named)
    # One synthesis pass per user touched: each item says which batch it is in and how
    # many items of the batch belong to its user.
    batch_id = request.scope["state"]["request_id"]
    per_user = Counter(user for user, _ in {(c.user_id, c.memory_id) for c in commands})
    commands = [
        msgspec.structs.replace(c, batch_id=batch_id, batch_user_items=per_user[c.user_id])
        for c in commands
    ]
    await publish(request, commands)
    body = {"queued": len(commands), "ids": [c.memory_id for c in commands]}
    return Response(as_json(body), status_code=202, media_type="application/json")
