"""One Mem0 memory by id (`/v1/memories/{id}/`: get, update, delete).

A memory stored as is is read from the log (ingest's `memory_versions`), not from a
projection, so a read after an update or a delete sees it. An update is a revision: the
new text is a new memory and the old one is deleted with a link to it, both events in the
log; the Mem0 id (the first version's) stays the memory's id. A memory drawn by synthesis
is a chain of facts (mem0_facts).
"""

from datetime import UTC, datetime

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
    fact_stored,
    live,
    retract_fact,
    revise_fact,
)
from mnemo.gateway.compat.mem0_shapes import (
    MEM0_KEY,
    MEM0_NAMES,
    Stored,
    mem0_of,
    memory_json,
    ok,
    own_metadata,
)
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.forget import drop_now
from mnemo.gateway.routes.ingest import IngestRequest, command_of
from mnemo.gateway.routes.memories import remove_memory
from mnemo.gateway.validation import object_body

_NOT_FOUND = "Memory not found"


async def versions(request: Request, principal: Principal, memory_id: str) -> list[MemoryVersion]:
    """Every version of the memory (another agent's is not found), from the log."""
    if len(memory_id) > 128:
        raise Problem(404, "NOT_FOUND", _NOT_FOUND)
    query = MemoryVersionsQuery(
        tenant_id=principal.tenant_id,
        memory_id=memory_id,
        agent_id=agent_scope(principal, None),
        since=principal.history_since(None),
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


def version_stored(version: MemoryVersion) -> Stored:
    return Stored(
        memory_id=version.memory_id,
        content=version.content,
        metadata=version.metadata,
        updated_at=version.recorded_at,
        user_id=version.user_id,
        agent_id=version.agent_id,
        session_id=version.session_id,
    )


async def found_memory(
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
    found = await found_memory(request, principal, memory_id)
    if isinstance(found, FactChain):
        if not live(found):
            raise Problem(404, "NOT_FOUND", _NOT_FOUND)
        return ok(memory_json(fact_stored(found)))
    if found[-1].deleted_at is not None:
        raise Problem(404, "NOT_FOUND", _NOT_FOUND)
    return ok(memory_json(version_stored(found[-1])))


@put("/v1/memories/{memory_id:str}")
async def update_memory(request: Request, memory_id: str) -> Response[bytes]:
    principal = await authorize(request, "ingest")
    body = await object_body(request)
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
    found = await found_memory(request, principal, memory_id)
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
        if text.strip() == found.facts[-1].statement:
            # The fact says it already (the same update again): nothing to supersede.
            return ok({**memory_json(fact_stored(found)), "text": found.facts[-1].statement})
        return ok(await revise_fact(request, principal, found, text))
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
    # The update's words are its `text` (an add's are its `messages`).
    revision = command_of(
        request, item, principal, names={**MEM0_NAMES, "content": "text"}, surface_key=MEM0_KEY
    )
    made = next((v for v in chain if v.memory_id == revision.memory_id), None)
    if made is not None:
        # This very update, retried (its Idempotency-Key fixes the version's id) once its
        # kept answer is gone: it was made already, and is answered as it was. Revised
        # again, the live version would be dropped as the one it replaces.
        again = Stored(
            made.memory_id,
            made.content,
            made.metadata,
            made.recorded_at,
            made.user_id,
            made.agent_id,
            made.session_id,
        )
        return ok({**memory_json(again), "text": made.content})
    if revision.content == current.content and own_metadata(revision.metadata) == own_metadata(
        current.metadata
    ):
        # Nothing to change: the same update again (a retry after a lost answer, without an
        # Idempotency-Key) is answered as the first was, not made a second revision (a
        # second UPDATE in the history, its old and new words the same).
        return ok({**memory_json(version_stored(current)), "text": current.content})
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
    # A search or listing after the answer finds the new text, not the old (the events
    # do it again when they arrive).
    dropped = DeleteMemory(
        tenant_id=principal.tenant_id,
        memory_id=current.memory_id,
        agent_id=scoped,
        actor=principal.actor,
        successor_event_id=done.event_ids[-1],
    )
    await drop_now(
        request, principal.tenant_id, [("retrieval", "drop_memory", dropped)], confirm=False
    )
    now = datetime.now(UTC)
    stored = Stored(
        done.memory_id,
        revision.content,
        revision.metadata,
        now,
        current.user_id,
        current.agent_id,
        current.session_id,
    )
    return ok({**memory_json(stored), "text": revision.content})


@delete("/v1/memories/{memory_id:str}", status_code=200)
async def delete_memory(request: Request, memory_id: str) -> Response[bytes]:
    principal = await authorize(request, "forget")
    try:
        found = await found_memory(request, principal, memory_id)
    except Problem as problem:
        if problem.status != 404:
            raise
        # Not recorded yet, perhaps: an add just answered, its message still on its way.
        # Ingest's deletion waits for what was accepted before it (and answers 404 if it
        # is no memory after all).
        try:
            await remove_memory(request, principal, memory_id, agent_scope(principal, None))
        except Problem as missing:
            if missing.status != 404:
                raise
            raise Problem(404, "NOT_FOUND", _NOT_FOUND) from None
        return ok({"message": "Memory deleted successfully!"})
    if isinstance(found, FactChain):
        if not live(found):
            raise Problem(404, "NOT_FOUND", _NOT_FOUND)
        await retract_fact(request, principal, found)
        return ok({"message": "Memory deleted successfully!"})
    # Deleted already (a retry after a 503 READ_MODELS_BEHIND, or a second delete): ingest
    # answers the same deletion and the read models are asked again, so the answer is the
    # same as the first's once they confirm, as the native route's is.
    await remove_memory(request, principal, found[-1].memory_id, agent_scope(principal, None))
    return ok({"message": "Memory deleted successfully!"})
