"""The ElizaOS memory surface (seed 002): `/api/agents/{agentId}/memories` and
`/api/memory/agents/{agentId}/...`, answered in ElizaOS's `{success, data}` envelope.

A thin adapter: writes publish the native `IngestMemory` command (the helpers of
`routes.ingest`), reads ask retrieval's `memories` and `search` queries, forgetting asks
ingest's `forget`, exactly as the /v1 routes do. Auth, rate limits, correlation ids and
Idempotency-Key apply as everywhere; `X-API-KEY: <key>` works as well as a bearer key.

Endpoints (under /api): GET/POST/DELETE agents/{agentId}/memories (and GET/POST
memory/agents/{agentId}/memories), DELETE agents/{agentId}/memories/{memoryId},
GET memory/agents/{agentId}/memories/search, GET memory/agents/{agentId}/rooms/{roomId}/memories,
GET memory/agents/{agentId}/export, POST memory/agents/{agentId}/import,
GET memory/agents/{agentId}/stats, GET agents/{agentId}/rooms[/{roomId}] (the sessions
holding the agent's memories); groups and insights answer 501. The memory domain's
paths also answer as ElizaOS's own server mounts them: memory/{agentId}/memories[/{id}],
memory/{agentId}/rooms/{roomId}/memories.

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

Deleting one memory, all of an agent's, or (`entityId`) the agent's memories of one
entity is the native delete of each memory; other agents' memories stay. `GET
server/ping` and `GET server/health` answer as ElizaOS's server does. Not supported yet,
answered 501 in the envelope: groups and insights.
"""

from litestar import Router
from litestar.exceptions import HTTPException

from mnemo.gateway.compat.eliza_envelope import api_key_header, handle_error
from mnemo.gateway.compat.eliza_forget import (
    create_group,
    delete_memories,
    delete_memory,
    groups,
    insights,
)
from mnemo.gateway.compat.eliza_memories import (
    create_memory,
    list_memories,
    memory_stats,
    room_memories,
    search_memories,
)
from mnemo.gateway.compat.eliza_rooms import agent_room, agent_rooms
from mnemo.gateway.compat.eliza_server import ping, server_health
from mnemo.gateway.compat.eliza_transfer import export_memories, import_memories
from mnemo.gateway.problems import Problem

eliza_router = Router(
    path="/api",
    route_handlers=[
        list_memories,
        room_memories,
        create_memory,
        search_memories,
        memory_stats,
        agent_rooms,
        agent_room,
        export_memories,
        import_memories,
        delete_memories,
        delete_memory,
        groups,
        create_group,
        insights,
        ping,
        server_health,
    ],
    # Every layer's kinds, so none of the app's problem+json handlers answers here.
    exception_handlers={
        Problem: handle_error,
        HTTPException: handle_error,
        Exception: handle_error,
    },
    middleware=[api_key_header],
)
