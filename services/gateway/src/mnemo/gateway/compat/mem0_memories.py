"""Mem0's add, list and search (`/v3/memories/add/`, `/v3/memories/`, `/v3/memories/search/`).

Adding records each message as a memory of the scope's user (or of the agent, sent
without a user), its role and name where synthesis reads who is speaking, in one batch
(one synthesis pass). `infer` true (Mem0's default) lets synthesis derive facts from it;
false marks it as stored as is. Either way the answer lists the memories' ids at once:
they are queued, and readable once ingest has them (`status: PENDING`).
"""

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, post

from mnemo.contracts import ListMemoriesQuery, MemoryPage, SearchQuery, SearchResult
from mnemo.contracts.limits import MAX_QUERY_CHARS
from mnemo.gateway.agents_seen import ensure_agents
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.compat.mem0_facts import facts_of, is_inferred
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
    return _ok({"results": results, "status": "PENDING", "event_id": batch_id, "message": message})


def native_scope(principal: Principal, scope: Scope) -> tuple[str | None, str | None]:
    """(user, agent) of a read: an agent key reads only its agent; one of them is needed."""
    agent_id = agent_scope(principal, scope.agent_id, "agent_id")
    if scope.user_id is None and agent_id is None:
        raise Problem(
            400, "INVALID_REQUEST", "filters need a user_id or an agent_id", field="filters"
        )
    return scope.user_id, agent_id


async def records(request: Request, principal: Principal, scope: Scope) -> list[Stored]:
    """Every memory Mnemo holds in the scope (up to MAX_LISTED), newest first."""
    user_id, agent_id = native_scope(principal, scope)
    found: list[Stored] = []
    while len(found) < MAX_LISTED:
        query = ListMemoriesQuery(
            tenant_id=principal.tenant_id,
            user_id=user_id,
            agent_id=agent_id,
            session_id=scope.run_id,
            limit=100,
            offset=len(found),
        )
        page = await deps_of(request).ask(
            request, "retrieval", "memories", query, MemoryPage, principal.tenant_id
        )
        assert isinstance(page, MemoryPage)
        found.extend(
            Stored(m.memory_id, m.content, m.metadata, m.recorded_at, m.user_id, m.agent_id,
                   m.session_id)
            for m in page.memories
        )  # fmt: skip
        if len(page.memories) < 100:
            break
    return found


async def listing(request: Request, principal: Principal, scope: Scope) -> list[Stored]:
    """The scope's memories as Mem0 shows them, newest first: those stored as is, and the
    facts drawn from those an `infer` add stored."""
    held = await records(request, principal, scope)
    shown = [s for s in held if not is_inferred(s)]
    shown.extend(fact for fact, _ in await facts_of(request, principal, held))
    shown.sort(key=lambda s: s.updated_at, reverse=True)
    return [s for s in shown if scope.matches(s.metadata)]


@post("/v3/memories", status_code=200)
async def get_all(request: Request) -> Response[bytes]:
    principal = await authorize(request, "memories")
    body = await json_body(request)
    scope = scope_of(body, body.get("filters"))
    page = int_param(request, "page", default=1, low=1, high=MAX_LISTED)
    size = int_param(request, "page_size", default=100, low=1, high=1000)
    shown = await listing(request, principal, scope)
    found, total = shown[(page - 1) * size : page * size], len(shown)
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
    hits = {
        h.memory_id: (Stored(h.memory_id, h.content, h.metadata, h.ingested_at, h.user_id), h)
        for h in result.results
    }
    scored = [(s, h.similarity) for s, h in hits.values() if not is_inferred(s)]
    # A memory an `infer` add stored is found as the facts drawn from it, at its score.
    for fact, source in await facts_of(request, principal, [s for s, _ in hits.values()]):
        scored.append((fact, hits[source.memory_id][1].similarity))
    scored.sort(key=lambda pair: -pair[1])
    shown = [memory_json(s, score=score) for s, score in scored if scope.matches(s.metadata)]
    return _ok({"results": shown[:top_k]})
