"""ElizaOS's memory reads and writes of one agent: list, room memories, create, search,
stats (see `mnemo.gateway.compat.eliza` for the mapping)."""

from datetime import datetime

from litestar import Request, Response, get, post

from mnemo.contracts import ListMemoriesQuery, MemoryPage, SearchQuery, SearchResult
from mnemo.contracts.limits import MAX_QUERY_CHARS
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.compat.eliza_envelope import ok
from mnemo.gateway.compat.eliza_mapping import (
    ElizaMemory,
    check_id,
    hit_json,
    memory_json,
    ms_time,
    to_ingest_command,
)
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.ingest import publish
from mnemo.gateway.validation import DECIMAL, decode_body, int_param, query_param
from mnemo.redaction import redact

# 9999-12-31T23:59:59.999Z, the last millisecond a datetime holds.
_LAST_MILLIS = 253_402_300_799_999


async def agent_of(request: Request, agent_id: str, action: str) -> tuple[Principal, str]:
    """The caller, charged for `action`, and the agent it may reach (else 400 or 404)."""
    principal = await authorize(request, action)
    scoped = agent_scope(principal, check_id(agent_id, "agentId"))
    assert scoped is not None
    return principal, scoped


def entity_param(request: Request) -> str | None:
    """`entityId` (older clients: `userId`), the subject to narrow to."""
    value = query_param(request, "entityId") or query_param(request, "userId")
    return check_id(value, "entityId")


def room_param(request: Request) -> str | None:
    """`roomId` (newer clients: `channelId`), the session to narrow to."""
    return check_id(query_param(request, "roomId") or query_param(request, "channelId"), "roomId")


async def memory_page(
    request: Request,
    principal: Principal,
    agent_id: str,
    room_id: str | None,
    offset: int,
    limit: int,
    before: datetime | None = None,
) -> MemoryPage:
    """One page of the agent's memories, narrowed by the request's entityId and q (and
    to those that happened before `before`)."""
    query = ListMemoriesQuery(
        tenant_id=principal.tenant_id,
        user_id=entity_param(request),
        agent_id=agent_id,
        session_id=room_id,
        limit=limit,
        offset=offset,
        q=query_param(request, "q", max_len=MAX_QUERY_CHARS),
        occurred_before=before,
    )
    tenant = principal.tenant_id
    page = await deps_of(request).ask(request, "retrieval", "memories", query, MemoryPage, tenant)
    assert isinstance(page, MemoryPage)
    return page


async def _list(
    request: Request, agent_id: str, room_id: str | None, before: datetime | None = None
) -> Response[bytes]:
    principal, agent = await agent_of(request, agent_id, "memories")
    page = await memory_page(
        request,
        principal,
        agent,
        room_id,
        int_param(request, "offset", default=0, low=0, high=1_000_000),
        int_param(request, "limit", default=20, low=1, high=100),
        before,
    )
    memories = [memory_json(m) for m in page.memories]
    return ok(
        {"memories": memories, "total": page.total, "limit": page.limit, "offset": page.offset}
    )


# Each path as the seed gives it, and as ElizaOS's server mounts it (/api/memory/{agentId}/...).
@get(
    [
        "/agents/{agent_id:str}/memories",
        "/memory/agents/{agent_id:str}/memories",
        "/memory/{agent_id:str}/memories",
    ]
)
async def list_memories(request: Request, agent_id: str) -> Response[bytes]:
    return await _list(request, agent_id, room_param(request))


@get(
    [
        "/memory/agents/{agent_id:str}/rooms/{room_id:str}/memories",
        "/memory/{agent_id:str}/rooms/{room_id:str}/memories",
    ]
)
async def room_memories(request: Request, agent_id: str, room_id: str) -> Response[bytes]:
    """A room's memories, newest first; `before` (ms since 1970) pages back in time as
    ElizaOS's room view does: only those that happened before it, by when they happened
    (it was read and ignored, so a client paging with it got its first page again)."""
    before = None
    if request.query_params.get("before") is not None:
        millis = int_param(request, "before", default=0, low=0, high=2**53)
        # Past the last time a datetime holds, every memory is before it.
        if millis <= _LAST_MILLIS:
            before = ms_time(millis)
    return await _list(request, agent_id, check_id(room_id, "roomId"), before)


@post(
    [
        "/agents/{agent_id:str}/memories",
        "/memory/agents/{agent_id:str}/memories",
        "/memory/{agent_id:str}/memories",
    ]
)
async def create_memory(request: Request, agent_id: str) -> Response[bytes]:
    principal, agent = await agent_of(request, agent_id, "ingest")
    memory = await decode_body(request, ElizaMemory, status=400)
    if memory.agent_id is not None and check_id(memory.agent_id, "agentId") != agent:
        raise Problem(
            400,
            "INVALID_REQUEST",
            "agentId in the body must be the path's agentId",
            field="agentId",
        )
    command = to_ingest_command(request, memory, agent, principal)
    await publish(request, [command])
    data = {"id": command.memory_id, "queued": True, "message": "Memory created"}
    return ok(data, 201)


@get("/memory/agents/{agent_id:str}/memories/search")
async def search_memories(request: Request, agent_id: str) -> Response[bytes]:
    principal, agent = await agent_of(request, agent_id, "search")
    text = query_param(request, "q", max_len=MAX_QUERY_CHARS) or query_param(
        request, "query", max_len=MAX_QUERY_CHARS
    )
    if not text or not text.strip():
        raise Problem(400, "INVALID_REQUEST", "query parameter 'q' is required", field="q")
    threshold = query_param(request, "threshold") or query_param(request, "minScore")
    query = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=entity_param(request),
        agent_id=agent,
        session_id=room_param(request),
        query=text,
        limit=int_param(request, "limit", default=10, low=1, high=50),
        threshold=_fraction(threshold, "threshold"),
    )
    tenant = principal.tenant_id
    result = await deps_of(request).ask(request, "retrieval", "search", query, SearchResult, tenant)
    assert isinstance(result, SearchResult)
    # Echoed as redacted: an answer that echoes input echoes the redacted form.
    return ok({"query": redact(text).text, "memories": [hit_json(h) for h in result.results]})


def _fraction(raw: str | None, name: str) -> float | None:
    if raw is None:
        return None
    # ASCII decimal text: float() alone took " 0.5" and "٠٫٥" too.
    value = float(raw) if DECIMAL.fullmatch(raw) else -1.0
    if not 0.0 <= value <= 1.0:
        raise Problem(400, "INVALID_REQUEST", f"{name!r} must be between 0 and 1", field=name)
    return value


@get("/memory/agents/{agent_id:str}/stats")
async def memory_stats(request: Request, agent_id: str) -> Response[bytes]:
    principal, agent = await agent_of(request, agent_id, "memories")
    page = await memory_page(request, principal, agent, room_param(request), 0, 1)
    return ok({"agentId": agent, "totalMemories": page.total})
