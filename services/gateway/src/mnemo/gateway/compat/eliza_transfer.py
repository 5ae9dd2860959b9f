"""An agent's memories as one JSON document: export, and import into any agent."""

import msgspec
from litestar import Request, Response, get, post

from mnemo.gateway.compat.eliza_envelope import ok
from mnemo.gateway.compat.eliza_mapping import ElizaMemory, memory_json, to_ingest_command
from mnemo.gateway.compat.eliza_memories import agent_of, memory_page, room_param
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.ingest import publish
from mnemo.gateway.validation import decode_body

MAX_IMPORT = 1000
MAX_EXPORT = 10_000
_PAGE = 100


@get("/memory/agents/{agent_id:str}/export")
async def export_memories(request: Request, agent_id: str) -> Response[bytes]:
    """Every memory of the agent (optionally one room's or one entity's), newest first."""
    principal, agent = await agent_of(request, agent_id, "memories")
    room = room_param(request)
    first = await memory_page(request, principal, agent, room, 0, _PAGE)
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
        page = await memory_page(request, principal, agent, room, len(memories), _PAGE)
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
    principal, agent = await agent_of(request, agent_id, "batch")
    body = await decode_body(request, ImportBody, status=400)
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
            commands.append(to_ingest_command(request, memory, agent, principal, index))
        except Problem as problem:
            field = f"memories[{index}].{problem.details.get('field', '')}".rstrip(".")
            raise Problem(
                problem.status, problem.code, f"memory {index}: {problem.detail}", field=field
            ) from None
    await publish(request, commands, "memories")
    return ok({"imported": len(commands), "ids": [c.memory_id for c in commands]}, 201)
