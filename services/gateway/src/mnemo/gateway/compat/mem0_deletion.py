"""Deleting every Mem0 memory of a scope (`DELETE /v1/memories/?user_id=…`, and the
entities' deletes)."""

from litestar import Request, Response, delete

from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.compat.mem0_memories import native_scope, records
from mnemo.gateway.compat.mem0_shapes import Scope, ok, scope_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.forget import forget_subject
from mnemo.gateway.routes.memories import remove_agent_memories, remove_memory


async def delete_scope(request: Request, principal: Principal, scope: Scope) -> int:
    """Delete the scope's memories. A master key naming only a user forgets that user
    (every memory, fact and entity of theirs, crypto-shredded: DELETE /v1/user); anything
    narrower deletes each memory in it (each a `memory.deleted`)."""
    only_user = scope.user_id is not None and scope == Scope(user_id=scope.user_id)
    if only_user and principal.is_master:
        assert scope.user_id is not None
        done = await forget_subject(request, principal, scope.user_id)
        return done.removed.get("memory.recorded", 0)
    user_id, agent_id = native_scope(principal, scope)
    if agent_id is not None and scope.run_id is None and not scope.post_filtered:
        # An agent's memories (of one user, or of all): those the log holds too, whether
        # or not the read model has them yet, a share to an ask of ingest.
        return await remove_agent_memories(request, principal, agent_id, user_id=user_id)
    # Every id first, then each deletion: deleting while paging shifts the pages.
    found = [s for s in await records(request, principal, scope) if scope.matches(s.metadata)]
    scoped = agent_scope(principal, None)
    for stored in found:
        await remove_memory(request, principal, stored.memory_id, scoped)
    return len(found)


@delete("/v1/memories", status_code=200)
async def delete_all(request: Request) -> Response[bytes]:
    principal = await authorize(request, "forget")
    params = {k: v for k, v in request.query_params.items() if k != "filters"}
    scope = scope_of(params)
    if scope == Scope():
        raise Problem(
            400,
            "INVALID_REQUEST",
            "name the memories to delete: user_id, agent_id, app_id or run_id",
            field="user_id",
        )
    deleted = await delete_scope(request, principal, scope)
    return ok({"message": "Memories deleted successfully!", "deleted": deleted})
