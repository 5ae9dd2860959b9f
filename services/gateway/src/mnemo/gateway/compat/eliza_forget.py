"""Deleting on the ElizaOS surface, and what it does not support yet (answered 501).

The log forgets per subject, by shredding the subject's keys: deleting one memory, or all
of one agent's, has no native command yet. What can be done is forgetting an entity, which
reaches its memories with every agent; so it takes a master key, as on /v1.
"""

from litestar import Request, Response, delete, get, post

from mnemo.contracts import ForgetResult, ForgetSubject
from mnemo.gateway.auth import authorize, require_master
from mnemo.gateway.compat.eliza_envelope import ok
from mnemo.gateway.compat.eliza_memories import agent_of, entity_param
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem


@delete(["/agents/{agent_id:str}/memories", "/memory/{agent_id:str}/memories"], status_code=200)
async def delete_memories(request: Request, agent_id: str) -> Response[bytes]:
    principal, _ = await agent_of(request, agent_id, "forget")
    entity = entity_param(request)
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


@delete(
    [
        "/agents/{agent_id:str}/memories/{memory_id:str}",
        "/memory/{agent_id:str}/memories/{memory_id:str}",
    ],
    status_code=200,
)
async def delete_memory(request: Request, agent_id: str, memory_id: str) -> Response[bytes]:
    await agent_of(request, agent_id, "forget")
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
