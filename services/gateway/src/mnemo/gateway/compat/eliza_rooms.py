"""ElizaOS's rooms of an agent (seed 002, "Room Management": `GET /api/agents/{id}/rooms`
and `GET /api/agents/{id}/rooms/{roomId}`).

Mnemo keeps no room of its own: a room is a session (roomId -> session_id) that holds
memories of the agent. The listing is the sessions retrieval's `scopes` query finds within
the agent's memories (the 100 most recently written to); one room is read from the
agent's memories in it, however many rooms there are. A room no memory of the agent names
is 404, as ElizaOS answers a room it does not know; creating one (`POST`) is not offered:
a memory sent with a new roomId makes its room.
"""

from datetime import datetime
from typing import Any

from litestar import Request, Response, get

from mnemo.contracts import ListMemoriesQuery, MemoryPage, ScopeList, ScopesQuery
from mnemo.gateway.compat.eliza_envelope import ok
from mnemo.gateway.compat.eliza_mapping import check_id
from mnemo.gateway.compat.eliza_memories import agent_of
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem


def _room(agent_id: str, room_id: str, memories: int, last: datetime) -> dict[str, Any]:
    """A session as ElizaOS shows a room; how many of the agent's memories it holds, and
    when the last was recorded, in its metadata."""
    return {
        "id": room_id,
        "name": room_id,
        "agentId": agent_id,
        "source": "mnemo",
        "type": "API",
        "channelId": room_id,
        "serverId": None,
        "worldId": None,
        "metadata": {"memoryCount": memories, "lastMemoryAt": last},
    }


@get("/agents/{agent_id:str}/rooms")
async def agent_rooms(request: Request, agent_id: str) -> Response[bytes]:
    principal, agent = await agent_of(request, agent_id, "memories")
    tenant = principal.tenant_id
    query = ScopesQuery(tenant_id=tenant, agent_id=agent)
    found = await deps_of(request).ask(request, "retrieval", "scopes", query, ScopeList, tenant)
    assert isinstance(found, ScopeList)
    rooms = [
        _room(agent, s.id, s.memories, s.last_recorded_at)
        for s in found.scopes
        if s.kind == "session"
    ]
    return ok({"rooms": rooms})


@get("/agents/{agent_id:str}/rooms/{room_id:str}")
async def agent_room(request: Request, agent_id: str, room_id: str) -> Response[bytes]:
    # A room is a session: its id, which the audit never keeps, is not logged or audited
    # (as a Mem0 run's name in a path: mnemo.gateway.paths).
    principal, agent = await agent_of(request, agent_id, "memories")
    room_id = check_id(room_id, "roomId") or room_id
    tenant = principal.tenant_id
    query = ListMemoriesQuery(tenant_id=tenant, agent_id=agent, session_id=room_id, limit=1)
    page = await deps_of(request).ask(request, "retrieval", "memories", query, MemoryPage, tenant)
    assert isinstance(page, MemoryPage)
    if not page.memories:
        raise Problem(404, "NOT_FOUND", "Room not found", field="roomId")
    last = max(m.recorded_at for m in page.memories)
    return ok(_room(agent, room_id, page.total, last))
