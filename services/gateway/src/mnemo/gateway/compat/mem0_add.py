"""Mem0's add (`/v3/memories/add/`).

Each message is recorded as a memory of the scope's user (or of the agent, sent without a
user), its role and name where synthesis reads who is speaking, in one batch (one
synthesis pass). `infer` true (Mem0's default) lets synthesis draw facts from it, which
are then the Mem0 memories (mem0_facts); false stores each message as a Mem0 memory. The
messages are queued, and readable once ingest has them (`status: PENDING`).
"""

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, post

from mnemo.contracts.limits import MAX_ID_CHARS
from mnemo.gateway.agents_seen import ensure_agents
from mnemo.gateway.auth import agent_scope, authorize
from mnemo.gateway.compat.mem0_shapes import (
    ENTITY_FIELDS,
    MEM0_KEY,
    MEM0_NAMES,
    Stored,
    memory_json,
    ok,
    scope_of,
)
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.ingest import IngestRequest, command_of, publish
from mnemo.gateway.validation import object_body

MAX_MESSAGES = 50


def _messages(value: Any) -> list[tuple[str, str, str | None]]:
    """(role, content, name) of each message; a string is one user message."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_MESSAGES:
        raise Problem(
            400, "INVALID_REQUEST", f"messages must hold 1 to {MAX_MESSAGES}", field="messages"
        )
    found = []
    for i, message in enumerate(value):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise Problem(
                400,
                "INVALID_REQUEST",
                "each message needs text content",
                field=f"messages[{i}].content",
            )
        role, name = message.get("role", "user"), message.get("name")
        # Each is kept in the memory's metadata: one too long was refused as a metadata
        # too large, though none was sent.
        for label, text in (("role", role), ("name", name)):
            if label == "name" and text is None:
                continue
            if not isinstance(text, str) or len(text) > MAX_ID_CHARS:
                raise Problem(
                    400,
                    "INVALID_REQUEST",
                    f"{label} is text of at most {MAX_ID_CHARS} characters",
                    field=f"messages[{i}].{label}",
                )
        found.append((role, content, name))
    return found


def _refuse_unsupported(body: dict[str, Any]) -> None:
    # Each would be a promise Mnemo does not keep yet (an expiry, a lock on updates).
    for name in ("expiration_date", "immutable"):
        if body.get(name):
            raise Problem(400, "UNSUPPORTED", f"{name} is not supported here", field=name)


@post("/v3/memories/add", status_code=200)
async def add(request: Request) -> Response[bytes]:
    principal = await authorize(request, "ingest")
    body = await object_body(request)
    _refuse_unsupported(body)
    messages = _messages(body.get("messages"))
    scope = scope_of(body, body.get("filters"))
    infer = body.get("infer", True)
    metadata = {} if body.get("metadata") is None else body["metadata"]
    if not isinstance(infer, bool):
        raise Problem(400, "INVALID_REQUEST", "infer must be true or false", field="infer")
    if not isinstance(metadata, dict) or MEM0_KEY in metadata:
        raise Problem(
            400, "INVALID_REQUEST", f"metadata must be an object without {MEM0_KEY!r}",
            field="metadata",
        )  # fmt: skip
    agent_id = agent_scope(principal, scope.agent_id, "agent_id")
    user_id = scope.user_id or agent_id
    if user_id is None:
        raise Problem(400, "INVALID_REQUEST", "user_id or agent_id is required", field="user_id")
    stamp = body.get("timestamp")
    if stamp is not None:
        if not isinstance(stamp, int) or isinstance(stamp, bool) or not 0 <= stamp < 2**35:
            raise Problem(400, "INVALID_REQUEST", "timestamp is Unix seconds", field="timestamp")
        metadata = {**metadata, "timestamp": datetime.fromtimestamp(stamp, UTC).isoformat()}
    # Each id as the add named it (None: not named), so it is shown back as sent.
    mem0 = {k: getattr(scope, k) for k in ENTITY_FIELDS} | {"infer": infer}
    if agent_id is not None:
        mem0["agent_id"] = agent_id
    commands = []
    for index, (role, content, name) in enumerate(messages):
        said = {"role": role, **({"author": name} if name else {})}
        added = [k for k in said if k not in metadata]
        item = IngestRequest(
            user_id=user_id,
            content=content,
            source_type="conversation",
            session_id=scope.run_id,
            agent_id=agent_id,
            metadata={**said, **metadata, MEM0_KEY: {**mem0, "added": added}},
        )
        commands.append(command_of(request, item, principal, index, MEM0_NAMES, MEM0_KEY))
    # Registered only once every message is valid: a refused add leaves no agent behind.
    if agent_id is not None:
        await ensure_agents(request, principal, {agent_id: "agent_id"})
    batch_id = request.scope["state"]["request_id"]
    commands = [
        msgspec.structs.replace(c, batch_id=batch_id, batch_user_items=len(commands))
        for c in commands
    ]
    await publish(request, commands, "messages")
    now = datetime.now(UTC)
    # Stored as is, the messages are the memories; else the facts to come are.
    results = [
        memory_json(
            Stored(memory_id=c.memory_id, content=c.content, metadata=c.metadata, updated_at=now),
            event="ADD",
            status="PENDING",
        )
        for c in commands
        if not infer
    ]
    message = "Memory processing has been queued for background execution"
    return ok({"results": results, "status": "PENDING", "event_id": batch_id, "message": message})
