"""The ElizaOS memory surface (seed 002): `/api/agents/{agentId}/memories` and
`/api/memory/agents/{agentId}/...`, answered in ElizaOS's `{success, data}` envelope.

A thin adapter: writes publish the native `IngestMemory` command (the helpers of
`routes.ingest`), reads ask retrieval's `memories` and `search` queries, forgetting asks
ingest's `forget`, exactly as the /v1 routes do. Auth, rate limits, correlation ids and
Idempotency-Key apply as everywhere; `X-API-KEY: <key>` works as well as a bearer key.

How ElizaOS's concepts map onto Mnemo's:

- agentId -> agent_id. An agent key reaches only its own agent (another's answers 404);
  a master key reaches any agent id of its tenant.
- entityId (older clients: userId) -> user_id, the subject; none given: the agent itself.
- roomId (or channelId) -> session_id.
- content.text -> content; content's other fields -> metadata.content.
- metadata (type, source, tags ...) -> metadata.eliza; worldId -> metadata.worldId.
- createdAt (ms since 1970) -> occurred_at (valid time), through metadata.timestamp.
- id sent by the client -> source_id = uuid5("eliza", agentId, id): sending it again to the
  same agent is the same memory; importing it into another agent makes that agent's copy.
- id answered -> Mnemo's memory_id; similarity -> the search score.
- embedding, unique, tableName -> not taken: Mnemo embeds what it records itself.

Not supported yet, answered 501 in the envelope: deleting one memory or all of an agent's
(the log forgets per subject, by shredding the subject's keys; so `DELETE .../memories`
with `entityId` forgets that entity everywhere, with a master key), groups and insights.
"""

from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post
from litestar.exceptions import HTTPException

from mnemo.contracts import (
    ForgetResult,
    ForgetSubject,
    ListMemoriesQuery,
    MemoryPage,
    SearchQuery,
    SearchResult,
)
from mnemo.gateway.auth import Principal, agent_scope, authorize, require_master
from mnemo.gateway.compat.eliza_envelope import api_key_header, handle_error, ok
from mnemo.gateway.compat.eliza_mapping import (
    ElizaMemory,
    check_id,
    hit_json,
    memory_json,
    to_ingest_command,
)
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.ingest import publish
from mnemo.gateway.validation import decode_body, int_param, query_param

MAX_IMPORT = 1000
MAX_EXPORT = 10_000
_PAGE = 100


async def _agent(request: Request, agent_id: str, action: str) -> tuple[Principal, str]:
    principal = await authorize(request, action)
    check_id(agent_id, "agentId")
    scoped = agent_scope(principal, agent_id)
    assert scoped is not None
    return principal, scoped


def _entity(request: Request) -> str | None:
    value = query_param(request, "entityId") or query_param(request, "userId")
    return check_id(value, "entityId")


def _room(request: Request) -> str | None:
    return check_id(query_param(request, "roomId") or query_param(request, "channelId"), "roomId")


async def _page(
    request: Request,
    principal: Principal,
    agent_id: str,
    room_id: str | None,
    offset: int,
    limit: int,
) -> MemoryPage:
    query = ListMemoriesQuery(
        tenant_id=principal.tenant_id,
        user_id=_entity(request),
        agent_id=agent_id,
        session_id=room_id,
        limit=limit,
        offset=offset,
        q=query_param(request, "q", max_len=4000),
    )
    tenant = principal.tenant_id
    page = await deps_of(request).ask(request, "retrieval", "memories", query, MemoryPage, tenant)
    assert isinstance(page, MemoryPage)
    return page


async def _list(request: Request, agent_id: str, room_id: str | None) -> Response[bytes]:
    principal, agent = await _agent(request, agent_id, "memories")
    page = await _page(
        request,
        principal,
        agent,
        room_id,
        int_param(request, "offset", default=0, low=0, high=1_000_000),
        int_param(request, "limit", default=20, low=1, high=100),
    )
    memories = [memory_json(m) for m in page.memories]
    return ok(
        {"memories": memories, "total": page.total, "limit": page.limit, "offset": page.offset}
    )


@get(["/agents/{agent_id:str}/memories", "/memory/agents/{agent_id:str}/memories"])
async def list_memories(request: Request, agent_id: str) -> Response[bytes]:
    return await _list(request, agent_id, _room(request))


@get("/memory/agents/{agent_id:str}/rooms/{room_id:str}/memories")
async def room_memories(request: Request, agent_id: str, room_id: str) -> Response[bytes]:
    # `before` (ms) pages ElizaOS's room view; Mnemo pages by offset, newest first.
    int_param(request, "before", default=0, low=0, high=2**53)
    return await _list(request, agent_id, check_id(room_id, "roomId"))


@post(["/agents/{agent_id:str}/memories", "/memory/agents/{agent_id:str}/memories"])
async def create_memory(request: Request, agent_id: str) -> Response[bytes]:
    principal, agent = await _agent(request, agent_id, "ingest")
    memory = await decode_body(request, ElizaMemory)
    if memory.agent_id is not None and memory.agent_id != agent_id:
        raise Problem(
            400,
            "INVALID_REQUEST",
            "agentId in the body must be the path's agentId",
            field="agentId",
        )
    command = to_ingest_command(memory, agent, principal)
    await publish(request, [command])
    data = {"id": command.memory_id, "queued": True, "message": "Memory created"}
    return ok(data, 201)


@get("/memory/agents/{agent_id:str}/memories/search")
async def search_memories(request: Request, agent_id: str) -> Response[bytes]:
    principal, agent = await _agent(request, agent_id, "search")
    text = query_param(request, "q", max_len=4000) or query_param(request, "query", max_len=4000)
    if not text or not text.strip():
        raise Problem(400, "INVALID_REQUEST", "query parameter 'q' is required", field="q")
    threshold = query_param(request, "threshold") or query_param(request, "minScore")
    query = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=_entity(request),
        agent_id=agent,
        session_id=_room(request),
        query=text,
        limit=int_param(request, "limit", default=10, low=1, high=50),
        threshold=_fraction(threshold, "threshold"),
    )
    tenant = principal.tenant_id
    result = await deps_of(request).ask(request, "retrieval", "search", query, SearchResult, tenant)
    assert isinstance(result, SearchResult)
    return ok({"query": text, "memories": [hit_json(h) for h in result.results]})


def _fraction(raw: str | None, name: str) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise Problem(400, "INVALID_REQUEST", f"{name!r} must be between 0 and 1", field=name)
    return value


@get("/memory/agents/{agent_id:str}/export")
async def export_memories(request: Request, agent_id: str) -> Response[bytes]:
    """Every memory of the agent (optionally one room's or one entity's), newest first."""
    principal, agent = await _agent(request, agent_id, "memories")
    room = _room(request)
    first = await _page(request, principal, agent, room, 0, _PAGE)
    if first.total > MAX_EXPORT:
        raise Problem(
            400,
            "INVALID_REQUEST",
            f"the agent holds {first.total} memories, more than {MAX_EXPORT} in one export:"
            " export one roomId or entityId at a time",
            field="roomId",
        )
    memories = [memory_json(m) for m in first.memories]
    while len(memories) < first.total:
        page = await _page(request, principal, agent, room, len(memories), _PAGE)
        if not page.memories:
            break
        memories += [memory_json(m) for m in page.memories]
    return ok({"agentId": agent, "count": len(memories), "memories": memories})


class Exported(msgspec.Struct, forbid_unknown_fields=False):
    memories: list[ElizaMemory]


class ImportBody(msgspec.Struct, forbid_unknown_fields=False):
    """What an import takes: `{memories: [...]}`, or an export's answer as it came."""

    memories: list[ElizaMemory] | None = None
    data: Exported | None = None


@post("/memory/agents/{agent_id:str}/import")
async def import_memories(request: Request, agent_id: str) -> Response[bytes]:
    """All memories or none; each becomes the agent's own (its agentId is the path's)."""
    principal, agent = await _agent(request, agent_id, "batch")
    body = await decode_body(request, ImportBody)
    memories = body.memories if body.memories is not None else body.data and body.data.memories
    if not memories or len(memories) > MAX_IMPORT:
        raise Problem(
            400,
            "INVALID_REQUEST",
            f"memories must hold 1 to {MAX_IMPORT} entries",
            field="memories",
        )
    commands = []
    for index, memory in enumerate(memories):
        try:
            commands.append(to_ingest_command(memory, agent, principal))
        except Problem as problem:
            field = f"memories[{index}].{problem.details.get('field', '')}".rstrip(".")
            raise Problem(
                problem.status, problem.code, f"memory {index}: {problem.detail}", field=field
            ) from None
    await publish(request, commands)
    return ok({"imported": len(commands), "ids": [c.memory_id for c in commands]}, 201)


@get("/memory/agents/{agent_id:str}/stats")
async def memory_stats(request: Request, agent_id: str) -> Response[bytes]:
    principal, agent = await _agent(request, agent_id, "memories")
    page = await _page(request, principal, agent, _room(request), 0, 1)
    return ok({"agentId": agent, "totalMemories": page.total})


@delete("/agents/{agent_id:str}/memories", status_code=200)
async def delete_memories(request: Request, agent_id: str) -> Response[bytes]:
    principal, _ = await _agent(request, agent_id, "forget")
    entity = _entity(request)
    if entity is None:
        raise Problem(
            501,
            "NOT_IMPLEMENTED",
            "deleting all of an agent's memories is not supported yet: Mnemo forgets per"
            " entity (user), everywhere; send entityId to forget one entity (master key)",
            field="entityId",
        )
    # Forgetting shreds the entity's keys, whichever agent its memories went to.
    require_master(principal)
    forget = ForgetSubject(tenant_id=principal.tenant_id, user_id=entity, actor=principal.actor)
    tenant = principal.tenant_id
    result = await deps_of(request).ask(request, "ingest", "forget", forget, ForgetResult, tenant)
    assert isinstance(result, ForgetResult)
    deleted = result.removed.get("memory.recorded", 0)
    message = f"everything of entity {entity!r} was forgotten, with every agent"
    return ok({"deleted": deleted, "entityId": entity, "message": message})


@delete("/agents/{agent_id:str}/memories/{memory_id:str}", status_code=200)
async def delete_memory(request: Request, agent_id: str, memory_id: str) -> Response[bytes]:
    await _agent(request, agent_id, "forget")
    raise Problem(
        501,
        "NOT_IMPLEMENTED",
        "deleting one memory is not supported yet: Mnemo forgets per entity (user);"
        " DELETE /api/agents/{agentId}/memories?entityId=... forgets one entity (master key)",
    )


async def _unsupported(request: Request) -> Response[bytes]:
    await authorize(request, "memories")
    raise Problem(501, "NOT_IMPLEMENTED", f"{request.url.path} is not supported yet")


@get(["/memory/groups", "/memory/groups/{group_id:str}/memories"])
async def groups(request: Request) -> Response[bytes]:
    return await _unsupported(request)


@post("/memory/groups")
async def create_group(request: Request) -> Response[bytes]:
    return await _unsupported(request)


@get("/memory/agents/{agent_id:str}/insights")
async def insights(request: Request) -> Response[bytes]:
    return await _unsupported(request)


def _handlers() -> list[Any]:
    return [
        list_memories,
        room_memories,
        create_memory,
        search_memories,
        export_memories,
        import_memories,
        memory_stats,
        delete_memories,
        delete_memory,
        groups,
        create_group,
        insights,
    ]


eliza_router = Router(
    path="/api",
    route_handlers=_handlers(),
    # Every layer's kinds, so none of the app's problem+json handlers answers here.
    exception_handlers={
        Problem: handle_error,
        HTTPException: handle_error,
        Exception: handle_error,
    },
    middleware=[api_key_header],
)
