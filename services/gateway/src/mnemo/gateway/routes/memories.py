"""GET /v1/memories and GET /v1/memories/{id}: a user's recorded memories (the read model)."""

from collections.abc import AsyncIterator

import msgspec
from litestar import Request, Response, delete, get

from mnemo.contracts import (
    DeleteAgentMemories,
    DeletedMemories,
    DeletedMemory,
    DeleteMemory,
    DeleteScopeMemories,
    DropMemories,
    GetMemoryQuery,
    ListMemoriesQuery,
    MemoryPage,
    MemoryView,
    MetadataEquality,
)
from mnemo.contracts.limits import MAX_QUERY_CHARS
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.routes.forget import drop_now
from mnemo.gateway.routes.ingest import SOURCE_TYPES
from mnemo.gateway.validation import as_json, int_param, query_param


def memory_json(memory: MemoryView) -> dict[str, object]:
    return {
        "id": memory.memory_id,
        "userId": memory.user_id,
        "content": memory.content,
        "sourceType": memory.source_type,
        "sourceId": memory.source_id,
        "sessionId": memory.session_id,
        "agentId": memory.agent_id,
        "metadata": memory.metadata,
        "synthesized": memory.synthesized,
        "occurredAt": memory.occurred_at,
        "createdAt": memory.recorded_at,
        "expiresAt": None,
    }


@get("/v1/memories")
async def list_memories(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "memories")
    source_type = query_param(request, "sourceType", choices=SOURCE_TYPES)
    query = ListMemoriesQuery(
        tenant_id=principal.tenant_id,
        user_id=query_param(request, "userId", required=True) or "",
        limit=int_param(request, "limit", default=20, low=1, high=100),
        offset=int_param(request, "offset", default=0, low=0, high=1_000_000),
        source_type=source_type,
        session_id=query_param(request, "sessionId"),
        agent_id=agent_scope(principal, query_param(request, "agentId")),
        q=query_param(request, "q", max_len=MAX_QUERY_CHARS),
    )
    page = await deps.ask(request, "retrieval", "memories", query, MemoryPage, principal.tenant_id)
    assert isinstance(page, MemoryPage)
    body = {
        "memories": [memory_json(m) for m in page.memories],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
    }
    return Response(as_json(body), media_type="application/json")


@get("/v1/memories/{memory_id:str}")
async def get_memory(request: Request, memory_id: str) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "memories")
    query = GetMemoryQuery(
        tenant_id=principal.tenant_id,
        memory_id=memory_id,
        agent_id=agent_scope(principal, None),
    )
    memory = await deps.ask(request, "retrieval", "memory", query, MemoryView, principal.tenant_id)
    assert isinstance(memory, MemoryView)
    return Response(as_json(memory_json(memory)), media_type="application/json")


async def agent_memories(
    request: Request,
    principal: Principal,
    agent_id: str,
    *,
    most: int = 10_000,
    user_id: str | None = None,
) -> AsyncIterator[MemoryView]:
    """The agent's memories with every user (or with `user_id` only), newest first, a page
    of 100 at a time (at most `most`); stop iterating to stop asking."""
    offset = 0
    while offset < most:
        page = await deps_of(request).ask(
            request,
            "retrieval",
            "memories",
            ListMemoriesQuery(
                tenant_id=principal.tenant_id,
                user_id=user_id,
                agent_id=agent_id,
                limit=100,
                offset=offset,
            ),
            MemoryPage,
            principal.tenant_id,
        )
        assert isinstance(page, MemoryPage)
        for memory in page.memories[: most - offset]:
            yield memory
        offset += len(page.memories)
        # A page may hold fewer than asked (as many as one reply holds): on to the total.
        if not page.memories or offset >= page.total:
            return


async def remove_agent_memories(
    request: Request, principal: Principal, agent_id: str, *, user_id: str | None = None
) -> int:
    """Delete every memory of the agent (with `user_id`: its memories of that user only),
    each a `memory.deleted`, a hundred to an ask of ingest; how many. First those the read
    model lists (a memory recorded before the log kept its agent in clear is found only
    there), listed again until none is left (deleting while paging would shift the pages);
    then those the log holds, whether or not the read model has them yet."""
    tried: set[str] = set()
    deleted: set[str] = set()
    while True:
        share: list[str] = []
        async for memory in agent_memories(request, principal, agent_id, user_id=user_id):
            if memory.memory_id not in tried:
                share.append(memory.memory_id)
                if len(share) == SHARE:
                    break
        if not share:
            break
        done = await _delete_share(request, principal, agent_id, user_id, share)
        deleted.update(d.memory_id for d in done.deleted)
        tried.update(d.memory_id for d in done.deleted)
        if not done.more or not done.deleted:
            tried.update(share)  # the rest are no memories of the agent (any more)
    while True:
        done = await _delete_share(request, principal, agent_id, user_id, None)
        deleted.update(d.memory_id for d in done.deleted)
        if not done.more or not done.deleted:
            return len(deleted)


# Memories one ask of ingest deletes (about half a second on a loaded 2-core machine).
SHARE = 100


async def _delete_share(
    request: Request,
    principal: Principal,
    agent_id: str,
    user_id: str | None,
    memory_ids: list[str] | None,
) -> DeletedMemories:
    """Have ingest delete these of the agent's memories (None: a share of those the log
    holds), then the read model drop them now (reads after the answer)."""
    tenant = principal.tenant_id
    command = DeleteAgentMemories(
        tenant_id=tenant,
        agent_id=agent_id,
        actor=principal.actor,
        user_id=user_id,
        memory_ids=memory_ids,
        most=SHARE,
    )
    done = await deps_of(request).ask(
        request, "ingest", "delete_agent_memories", command, DeletedMemories, tenant
    )
    assert isinstance(done, DeletedMemories)
    gone = [d.version_id or d.memory_id for d in done.deleted]
    if gone:
        drop = DropMemories(tenant_id=tenant, memory_ids=gone)
        await drop_now(request, tenant, [("retrieval", "drop_memories", drop)])
    return done


async def remove_scope_memories(
    request: Request,
    principal: Principal,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    metadata: list[MetadataEquality] | None = None,
) -> set[str]:
    """Delete every memory the log holds of the user, agent and session named (at least
    one) whose metadata holds each of `metadata`, whether or not the read model has it
    yet, a share to an ask of ingest; the ids deleted. The first ask marks the command
    stream: a memory command of the scope accepted before it and recorded after is
    dropped. Each share is dropped from the read model at once (reads after the answer)."""
    tenant = principal.tenant_id
    deleted: set[str] = set()
    after: int | None = None
    while True:
        command = DeleteScopeMemories(
            tenant_id=tenant,
            actor=principal.actor,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            metadata=metadata or [],
            after=after,
            most=SHARE,
        )
        done = await deps_of(request).ask(
            request, "ingest", "delete_scope_memories", command, DeletedMemories, tenant
        )
        assert isinstance(done, DeletedMemories)
        gone = [d.version_id or d.memory_id for d in done.deleted]
        if gone:
            drop = DropMemories(tenant_id=tenant, memory_ids=gone)
            await drop_now(request, tenant, [("retrieval", "drop_memories", drop)])
        deleted.update(d.memory_id for d in done.deleted)
        if not done.more or done.after is None:
            return deleted
        after = done.after


async def remove_memory(
    request: Request, principal: Principal, memory_id: str, agent_id: str | None
) -> DeletedMemory:
    """Delete one memory (a `memory.deleted` event; every projection drops it). With an
    agent scope, only that agent's memory is found."""
    command = DeleteMemory(
        tenant_id=principal.tenant_id,
        memory_id=memory_id,
        agent_id=agent_id,
        actor=principal.actor,
    )
    done = await deps_of(request).ask(
        request, "ingest", "delete_memory", command, DeletedMemory, principal.tenant_id
    )
    assert isinstance(done, DeletedMemory)
    # So that no read after the answer finds it (the event drops it again, a no-op): the
    # version deleted, when the id asked for was revised into it.
    if done.version_id is not None:
        command = msgspec.structs.replace(command, memory_id=done.version_id)
    await drop_now(request, principal.tenant_id, [("retrieval", "drop_memory", command)])
    return done


@delete("/v1/memories/{memory_id:str}", status_code=200)
async def delete_memory(request: Request, memory_id: str) -> Response[bytes]:
    principal = await authorize(request, "forget")
    done = await remove_memory(request, principal, memory_id, agent_scope(principal, None))
    body = {"deleted": True, "id": done.memory_id, "userId": done.user_id}
    return Response(as_json(body), media_type="application/json")
