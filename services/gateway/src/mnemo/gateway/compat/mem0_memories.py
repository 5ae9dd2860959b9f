"""Mem0's add, list and search (`/v3/memories/add/`, `/v3/memories/`, `/v3/memories/search/`).

Adding records each message as a memory of the scope's user (or of the agent, sent
without a user), its role and name where synthesis reads who is speaking, in one batch
(one synthesis pass). `infer` true (Mem0's default) lets synthesis derive facts from it;
false marks it as stored as is. Either way the answer lists the memories' ids at once:
they are queued, and readable once ingest has them (`status: PENDING`).
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, post

from mnemo.contracts import ListMemoriesQuery, MemoryPage, SearchQuery, SearchResult
from mnemo.contracts.limits import MAX_QUERY_CHARS
from mnemo.gateway.agents_seen import ensure_agents
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.compat.mem0_shapes import (
    MEM0_KEY,
    Scope,
    Stored,
    json_body,
    memory_json,
    scope_of,
)
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.ingest import IngestRequest, publish, to_command
from mnemo.gateway.validation import as_json, int_param

MAX_MESSAGES = 50
MAX_TOP_K = 50
MAX_LISTED = 10_000


def _ok(body: Any) -> Response[bytes]:
    return Response(as_json(body), media_type="application/json")


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
        if not isinstance(role, str) or not (name is None or isinstance(name, str)):
            raise Problem(400, "INVALID_REQUEST", "role and name are text", field=f"messages[{i}]")
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
    body = await json_body(request)
    _refuse_unsupported(body)
    messages = _messages(body.get("messages"))
    scope = scope_of(body, body.get("filters"))
    infer = body.get("infer", True)
    metadata = body.get("metadata") or {}
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
    given = {k: getattr(scope, k) for k in ("user_id", "agent_id", "app_id", "run_id")}
    mem0 = {k: v for k, v in given.items() if v is not None} | {"infer": infer}
    if agent_id is not None:
        mem0["agent_id"] = agent_id
        await ensure_agents(request, principal, {agent_id: "agent_id"})
    key = request.headers.get("idempotency-key")
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
        retry = None if key is None else f"{request.url.path}:{key}#{index}"
        commands.append(to_command(item, principal.tenant_id, principal.actor, retry))
    batch_id = request.scope["state"]["request_id"]
    commands = [
        msgspec.structs.replace(c, batch_id=batch_id, batch_user_items=len(commands))
        for c in commands
    ]
    await publish(request, commands)
    now = datetime.now(UTC)
    results = [
        memory_json(
            Stored(memory_id=c.memory_id, content=c.content, metadata=c.metadata, updated_at=now),
            event="ADD",
            status="PENDING",
        )
        for c in commands
    ]
    message = "Memory processing has been queued for background execution"
    return _ok({"results": results, "status": "PENDING", "event_id": batch_id, "message": message})


def native_scope(principal: Principal, scope: Scope) -> tuple[str | None, str | None]:
    """(user, agent) of a read: an agent key reads only its agent; one of them is needed."""
    agent_id = agent_scope(principal, scope.agent_id, "agent_id")
    if scope.user_id is None and agent_id is None:
        raise Problem(
            400, "INVALID_REQUEST", "filters need a user_id or an agent_id", field="filters"
        )
    return scope.user_id, agent_id


async def listing(
    request: Request, principal: Principal, scope: Scope, offset: int, most: int
) -> tuple[list[Stored], int]:
    """A page of the scope's memories, newest first, and how many there are in all (the
    filters Mnemo's query cannot apply are applied to every memory, up to MAX_LISTED)."""
    user_id, agent_id = native_scope(principal, scope)
    found: list[Stored] = []
    total = 0
    async for view, count in _memories(request, principal, user_id, agent_id, scope, offset):
        total = count
        if scope.post_filtered and not scope.matches(view.metadata):
            continue
        found.append(view)
        if not scope.post_filtered and len(found) >= most:
            break
    if scope.post_filtered:
        return found[offset : offset + most], len(found)
    return found, total


async def _memories(
    request: Request,
    principal: Principal,
    user_id: str | None,
    agent_id: str | None,
    scope: Scope,
    offset: int,
) -> AsyncIterator[tuple[Stored, int]]:
    at = 0 if scope.post_filtered else offset
    while at < MAX_LISTED:
        query = ListMemoriesQuery(
            tenant_id=principal.tenant_id,
            user_id=user_id,
            agent_id=agent_id,
            session_id=scope.run_id,
            limit=100,
            offset=at,
        )
        page = await deps_of(request).ask(
            request, "retrieval", "memories", query, MemoryPage, principal.tenant_id
        )
        assert isinstance(page, MemoryPage)
        for m in page.memories:
            yield (
                Stored(m.memory_id, m.content, m.metadata, m.recorded_at, m.user_id, m.agent_id,
                       m.session_id),
                page.total,
            )  # fmt: skip
        at += len(page.memories)
        if len(page.memories) < 100:
            return


@post("/v3/memories", status_code=200)
async def get_all(request: Request) -> Response[bytes]:
    principal = await authorize(request, "memories")
    body = await json_body(request)
    scope = scope_of(body, body.get("filters"))
    page = int_param(request, "page", default=1, low=1, high=MAX_LISTED)
    size = int_param(request, "page_size", default=100, low=1, high=1000)
    found, total = await listing(request, principal, scope, (page - 1) * size, size)
    base = f"{request.url.path}?page_size={size}&page="
    return _ok(
        {
            "count": total,
            "next": base + str(page + 1) if page * size < total else None,
            "previous": base + str(page - 1) if page > 1 else None,
            "results": [memory_json(s) for s in found],
        }
    )


@post("/v3/memories/search", status_code=200)
async def search(request: Request) -> Response[bytes]:
    principal = await authorize(request, "search")
    body = await json_body(request)
    query = body.get("query")
    if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
        raise Problem(
            400, "INVALID_REQUEST", f"query must be 1-{MAX_QUERY_CHARS} characters", field="query"
        )
    top_k = body.get("top_k", body.get("limit", 10))
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise Problem(400, "INVALID_REQUEST", f"top_k must be 1-{MAX_TOP_K}", field="top_k")
    threshold = body.get("threshold")
    if threshold is not None and (
        not isinstance(threshold, int | float) or not 0 <= threshold <= 1
    ):
        raise Problem(400, "INVALID_REQUEST", "threshold must be 0-1", field="threshold")
    scope = scope_of(body, body.get("filters"))
    user_id, agent_id = native_scope(principal, scope)
    ask = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=user_id,
        agent_id=agent_id,
        session_id=scope.run_id,
        query=query,
        # Filters applied after the search need more candidates to keep top_k.
        limit=MAX_TOP_K if scope.post_filtered else top_k,
        threshold=None if threshold is None else float(threshold),
        mode="keyword" if body.get("keyword_search") else "hybrid",
    )
    result = await deps_of(request).ask(
        request, "retrieval", "search", ask, SearchResult, principal.tenant_id
    )
    assert isinstance(result, SearchResult)
    hits = [h for h in result.results if scope.matches(h.metadata)][:top_k]
    shown = [
        memory_json(
            Stored(h.memory_id, h.content, h.metadata, h.ingested_at, h.user_id),
            score=h.similarity,
        )
        for h in hits
    ]
    return _ok({"results": shown})
