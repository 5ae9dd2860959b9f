"""Deleting on the ElizaOS surface, and what it does not support yet (answered 501).

Deleting one memory, all of one agent's, or the agent's memories of one entity, is the
native `memory.deleted` of each (every projection drops the memory; its sealed event stays
in the log until its subject is forgotten). Only that agent's memories go: an entity's
memories with other agents stay (forgetting an entity everywhere is `DELETE /v1/user`).
"""

from litestar import Request, Response, delete, get, post

from mnemo.gateway.auth import authorize
from mnemo.gateway.compat.eliza_envelope import ok
from mnemo.gateway.compat.eliza_mapping import check_id
from mnemo.gateway.compat.eliza_memories import agent_of, entity_param
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.memories import remove_agent_memories, remove_memory
from mnemo.gateway.validation import only_params


@delete(["/agents/{agent_id:str}/memories", "/memory/{agent_id:str}/memories"], status_code=200)
async def delete_memories(request: Request, agent_id: str) -> Response[bytes]:
    """Every memory of the agent, or (`entityId`) the agent's memories of that entity: the
    entity's memories held by other agents stay. Forgetting an entity with every agent is
    the native `DELETE /v1/user` (master keys)."""
    principal, scoped = await agent_of(request, agent_id, "forget")
    # Older clients call the entity userId; nothing else narrows it (a roomId would be
    # ignored, and every memory of the agent deleted).
    only_params(request, ("entityId", "userId"))
    sent = [request.query_params.get(name) for name in ("entityId", "userId")]
    named = {v for v in sent if v is not None}
    if "" in named or len(named) > 1:
        # An empty entity (or two) is no entity: taken as none, every memory went.
        raise Problem(400, "INVALID_REQUEST", "entityId must name one entity", field="entityId")
    entity = entity_param(request)
    deleted = await remove_agent_memories(request, principal, scoped, user_id=entity)
    if entity is None:
        return ok({"deleted": deleted, "agentId": scoped})
    return ok({"deleted": deleted, "agentId": scoped, "entityId": entity})


@delete(
    [
        "/agents/{agent_id:str}/memories/{memory_id:str}",
        "/memory/{agent_id:str}/memories/{memory_id:str}",
    ],
    status_code=200,
)
async def delete_memory(request: Request, agent_id: str, memory_id: str) -> Response[bytes]:
    principal, scoped = await agent_of(request, agent_id, "forget")
    memory_id = check_id(memory_id, "memoryId") or memory_id
    done = await remove_memory(request, principal, memory_id, scoped)
    return ok({"deleted": True, "id": done.memory_id})


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
async def insights(request: Request, agent_id: str) -> Response[bytes]:
    # Another agent's is not found, as on every route of one agent; one's own, not yet.
    await agent_of(request, agent_id, "memories")
    raise Problem(501, "NOT_IMPLEMENTED", f"{request.url.path} is not supported yet")
