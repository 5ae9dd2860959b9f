"""Deleting on the ElizaOS surface, and what it does not support yet (answered 501).

Deleting one memory, or all of one agent's, is the native `memory.deleted` (every
projection drops the memory; its sealed event stays in the log until its subject is
forgotten). Forgetting an entity shreds its keys, which reaches its memories with every
agent; so it takes a master key, as on /v1.
"""

from litestar import Request, Response, delete, get, post

from mnemo.gateway.auth import authorize, require_master
from mnemo.gateway.compat.eliza_envelope import ok
from mnemo.gateway.compat.eliza_memories import agent_of, entity_param
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.forget import forget_subject
from mnemo.gateway.routes.memories import agent_memories, remove_memory


@delete(["/agents/{agent_id:str}/memories", "/memory/{agent_id:str}/memories"], status_code=200)
async def delete_memories(request: Request, agent_id: str) -> Response[bytes]:
    principal, scoped = await agent_of(request, agent_id, "forget")
    entity = entity_param(request)
    if entity is None:
        # Every id first, then each deletion: deleting while paging would shift the pages
        # as the projection catches up.
        ids = [m.memory_id async for m in agent_memories(request, principal, scoped)]
        for memory_id in ids:
            await remove_memory(request, principal, memory_id, scoped)
        deleted = len(ids)
        return ok({"deleted": deleted, "agentId": agent_id})
    # Forgetting shreds the entity's keys, whichever agent its memories went to.
    require_master(principal)
    result = await forget_subject(request, principal, entity)
    deleted = result.removed.get("memory.recorded", 0)
    message = f"everything of entity {entity!r} was forgotten, with every agent"
    return ok({"deleted": deleted, "entityId": entity, "message": message})


@delete(
    [
        "/agents/{agent_id:str}/memories/{memory_id:str}",
        "/memory/{agent_id:str}/memories/{memory_id:str}",
    ],
    status_code=200,
)
async def delete_memory(request: Request, agent_id: str, memory_id: str) -> Response[bytes]:
    principal, scoped = await agent_of(request, agent_id, "forget")
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
