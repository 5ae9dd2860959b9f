"""One Mem0 memory by id (`/v1/memories/{id}/`: get, update, delete, history), and
deleting all of a scope's (`DELETE /v1/memories/`).

A memory is read from the log (ingest's `memory_versions`), not from a projection, so a
read after an update or a delete sees it. An update is a revision: the new text is a new
memory and the old one is deleted with a link to it, both events in the log; the Mem0 id
(the first version's) stays the memory's id, and its history is every version the log
holds: ADD, each UPDATE with the old and the new text, and DELETE.
"""

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, delete, get, put

from mnemo.contracts import (
    DeleteMemory,
    FactChain,
    MemoryVersion,
    MemoryVersions,
    MemoryVersionsQuery,
    RevisedMemory,
    ReviseMemory,
)
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.compat.mem0_facts import (
    fact_chain,
    fact_history,
    fact_stored,
    live,
    retract_fact,
    revise_fact,
)
from mnemo.gateway.compat.mem0_memories import records
from mnemo.gateway.compat.mem0_shapes import (
    MEM0_KEY,
    Scope,
    Stored,
    json_body,
    mem0_of,
    memory_json,
    own_metadata,
    scope_of,
)
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.forget import drop_now, forget_subject
from mnemo.gateway.routes.ingest import IngestRequest, to_command
from mnemo.gateway.routes.memories import remove_memory
from mnemo.gateway.validation import as_json

_NOT_FOUND = "Memory not found"


def _ok(body: Any) -> Response[bytes]:
    return Response(as_json(body), media_type="application/json")


async def versions(request: Request, principal: Principal, memory_id: str) -> list[MemoryVersion]:
    """Every version of the memory (another agent's is not found), from the log."""
    if len(memory_id) > 128:
        raise Problem(404, "NOT_FOUND", _NOT_FOUND)
    query = MemoryVersionsQuery(
        tenant_id=principal.tenant_id, memory_id=memory_id, agent_id=agent_scope(principal, None)
    )
    try:
        found = await deps_of(request).ask(
            request, "ingest", "memory_versions", query, MemoryVersions, principal.tenant_id
        )
    except Problem as problem:
        if problem.status == 404:
            raise Problem(404, "NOT_FOUND", _NOT_FOUND) from None
        raise
    assert isinstance(found, MemoryVersions)
    return found.versions


def _stored(version: MemoryVersion) -> Stored:
    return Stored(
        memory_id=version.memory_id,
        content=version.content,
        metadata=version.metadata,
        updated_at=version.recorded_at,
        user_id=version.user_id,
        agent_id=version.agent_id,
        session_id=version.session_id,
    )


async def _found(
    request: Request, principal: Principal, memory_id: str
) -> list[MemoryVersion] | FactChain:
    """A memory stored as is (its versions), else one drawn by synthesis (its facts)."""
    try:
        return await versions(request, principal, memory_id)
    except Problem as problem:
        if problem.status != 404:
            raise
    chain = await fact_chain(request, principal, memory_id)
    if chain is None:
        raise Problem(404, "NOT_FOUND", _NOT_FOUND)
    return chain


@get("/v1/memories/{memory_id:str}")
async def get_memory(request: Request, memory_id: str) -> Response[bytes]:
    principal = await authorize(request, "memories")
    found = await _found(request, principal, memory_id)
    if isinstance(found, FactChain):
        if not live(found):
            raise Problem(404, "NOT_FOUND", _NOT_FOUND)
        return _ok(memory_json(fact_stored(found)))
    if found[-1].deleted_at is not None:
        raise Problem(404, "NOT_FOUND", _NOT_FOUND)
    return _ok(memory_json(_stored(found[-1])))


@put("/v1/memories/{memory_id:str}")
async def update_memory(request: Request, memory_id: str) -> Response[bytes]:
    principal = await authorize(request, "ingest")
    body = await json_body(request)
    if body.get("expiration_date"):
        raise Problem(
            400, "UNSUPPORTED", "expiration_date is not supported here", field="expiration_date"
        )
    text, metadata = body.get("text"), body.get("metadata")
    if text is None and metadata is None:
        raise Problem(400, "INVALID_REQUEST", "text or metadata is required", field="text")
    if text is not None and not isinstance(text, str):
        raise Problem(400, "INVALID_REQUEST", "text must be a string", field="text")
    if metadata is not None and (not isinstance(metadata, dict) or MEM0_KEY in metadata):
        raise Problem(
            400, "INVALID_REQUEST", f"metadata: an object without {MEM0_KEY!r}", field="metadata"
        )
    found = await _found(request, principal, memory_id)
    if isinstance(found, FactChain):
        if not live(found):
            raise Problem(404, "NOT_FOUND", _NOT_FOUND)
        if metadata is not None or not text:
            raise Problem(
                400,
                "UNSUPPORTED",
                "a memory drawn by synthesis takes new text only, not metadata",
                field="metadata" if metadata is not None else "text",
            )
        return _ok(await revise_fact(request, principal, found, text))
    chain = found
    current = chain[-1]
    if current.deleted_at is not None:
        raise Problem(404, "NOT_FOUND", _NOT_FOUND)
    mem0 = mem0_of(current.metadata)
    said = {k: current.metadata[k] for k in mem0.get("added", []) if k in current.metadata}
    kept = own_metadata(current.metadata) if metadata is None else metadata
    mem0 = {**mem0, "id": chain[0].memory_id, "created_at": chain[0].recorded_at.isoformat()}
    item = IngestRequest(
        user_id=current.user_id,
        content=current.content if text is None else text,
        source_type=current.source_type,
        session_id=current.session_id,
        agent_id=current.agent_id,
        metadata={**said, **kept, MEM0_KEY: mem0},
    )
    revision = to_command(item, principal.tenant_id, principal.actor)
    scoped = agent_scope(principal, None)
    command = ReviseMemory(
        tenant_id=principal.tenant_id,
        memory_id=current.memory_id,
        revision=revision,
        actor=principal.actor,
        agent_id=scoped,
    )
    done = await deps_of(request).ask(
        request, "ingest", "revise_memory", command, RevisedMemory, principal.tenant_id
    )
    assert isinstance(done, RevisedMemory)
    # No search or listing after the answer finds the old text (the event drops it again).
    dropped = DeleteMemory(
        tenant_id=principal.tenant_id,
        memory_id=current.memory_id,
        agent_id=scoped,
        actor=principal.actor,
    )
    await drop_now(request, principal.tenant_id, [("retrieval", "drop_memory", dropped)])
    now = datetime.now(UTC)
    stored = Stored(done.memory_id, revision.content, revision.metadata, now)
    return _ok({**memory_json(stored), "text": revision.content})


@delete("/v1/memories/{memory_id:str}", status_code=200)
async def delete_memory(request: Request, memory_id: str) -> Response[bytes]:
    principal = await authorize(request, "forget")
    found = await _found(request, principal, memory_id)
    if isinstance(found, FactChain):
        if not live(found):
            raise Problem(404, "NOT_FOUND", _NOT_FOUND)
        await retract_fact(request, principal, found)
        return _ok({"message": "Memory deleted successfully!"})
    current = found[-1]
    if current.deleted_at is not None:
        raise Problem(404, "NOT_FOUND", _NOT_FOUND)
    await remove_memory(request, principal, current.memory_id, agent_scope(principal, None))
    return _ok({"message": "Memory deleted successfully!"})


@get("/v1/memories/{memory_id:str}/history")
async def history(request: Request, memory_id: str) -> Response[bytes]:
    principal = await authorize(request, "memories")
    found = await _found(request, principal, memory_id)
    if isinstance(found, FactChain):
        return _ok(fact_history(found))
    chain = found
    root = chain[0].memory_id
    entries = []
    for i, version in enumerate(chain):
        before = chain[i - 1].content if i else None
        event = "UPDATE" if i else "ADD"
        entries.append(_change(root, version, event, before, version.content, version.recorded_at))
        entries[-1]["actor"] = version.recorded_by
    last = chain[-1]
    if last.deleted_at is not None and last.replaced_by is None:
        entries.append(_change(root, last, "DELETE", last.content, None, last.deleted_at))
        entries[-1]["actor"] = last.deleted_by
    return _ok(entries)


def _change(
    root: str,
    version: MemoryVersion,
    event: str,
    old: str | None,
    new: str | None,
    at: datetime,
) -> dict[str, Any]:
    shown = memory_json(_stored(version))
    return {
        # One entry per event of the log: the version and what happened to it.
        "id": f"{version.memory_id}:{event.lower()}",
        "memory_id": root,
        "old_memory": old,
        "new_memory": new,
        "event": event,
        "input": [],
        "user_id": shown["user_id"],
        "agent_id": shown["agent_id"],
        "run_id": shown["run_id"],
        "metadata": shown["metadata"],
        "categories": shown["categories"],
        "is_deleted": event == "DELETE",
        "created_at": at,
        "updated_at": at,
    }


async def delete_scope(request: Request, principal: Principal, scope: Scope) -> int:
    """Delete the scope's memories. A master key naming only a user forgets that user
    (every memory, fact and entity of theirs, crypto-shredded: DELETE /v1/user); anything
    narrower deletes each memory in it (each a `memory.deleted`)."""
    only_user = scope.user_id is not None and scope == Scope(user_id=scope.user_id)
    if only_user and principal.is_master:
        assert scope.user_id is not None
        done = await forget_subject(request, principal, scope.user_id)
        return done.removed.get("memory.recorded", 0)
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
    return _ok({"message": "Memories deleted successfully!", "deleted": deleted})
