"""An agentId named in an ingest is registered on first use.

The Anansi API (seed 001), which /v1/ingest follows, takes `agentId` as a free label of
the agent that produced the content: nobody registers it first. Mnemo also keeps a
registry of agents (packs, agent keys, /v1/agents), so a label nobody registered is made
an agent (named after its id) before the ingest is accepted. Then every agentId a memory
carries is a real agent: listed, with a pack, and able to get its own key. An id that
could not be an agent (see AGENT_ID_PATTERN) is a 400 naming the field.

Agents known to exist are remembered per process for a short while, so the ingest path
asks the ingest service once per agent per minute, not once per memory. A deletion on this
replica forgets its agent at once; another replica may still believe in it for that
minute, and then ingest makes the agent again when it records the memory (or drops the
memory, written with a key of the deleted agent): a memory's agent is always an agent.
"""

import re
import time

from litestar import Request

from mnemo.contracts import AGENT_ID_PATTERN, AgentInfo, CreateAgent, GetAgent
from mnemo.gateway.auth import Principal
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem

_AGENT_ID = re.compile(AGENT_ID_PATTERN)
_FRESH_SECONDS = 60.0
_MOST_REMEMBERED = 10_000
_known: dict[tuple[str, str], float] = {}


async def ensure_agents(request: Request, principal: Principal, named: dict[str, str]) -> None:
    """Make sure each agent id in `named` (id -> the field that named it) is an agent of
    the caller's tenant. An agent key writes only as its own agent, which exists."""
    if not principal.is_master:
        return
    now = time.monotonic()
    for agent_id, field in named.items():
        check_agent_id(agent_id, field)
        seen = _known.get((principal.tenant_id, agent_id))
        if seen is not None and now - seen < _FRESH_SECONDS:
            continue
        await _ensure(request, principal, agent_id)
        if len(_known) >= _MOST_REMEMBERED:
            _known.clear()
        _known[(principal.tenant_id, agent_id)] = now


async def register(request: Request, principal: Principal, agent_id: str, field: str) -> None:
    """Make `agent_id` an agent of the caller's tenant now (a master key's call that found
    it missing), whatever this process remembers."""
    check_agent_id(agent_id, field)
    await _ensure(request, principal, agent_id)
    _known[(principal.tenant_id, agent_id)] = time.monotonic()


def forget_agent(tenant_id: str, agent_id: str) -> None:
    """The agent was deleted: its next use registers it again."""
    _known.pop((tenant_id, agent_id), None)


def check_agent_id(agent_id: str, field: str) -> None:
    """A 400 naming `field` unless `agent_id` could be an agent's (the whole of it: `$`
    alone lets a final newline through)."""
    if not _AGENT_ID.fullmatch(agent_id):
        raise Problem(
            400,
            "INVALID_REQUEST",
            f"{field} must be 1-128 letters, digits or _ . : @ - (starting with a letter or digit)",
            field=field,
        )


async def _ensure(request: Request, principal: Principal, agent_id: str) -> None:
    deps = deps_of(request)
    tenant = principal.tenant_id
    try:
        await deps.ask(
            request,
            "ingest",
            "get_agent",
            GetAgent(tenant_id=tenant, agent_id=agent_id),
            AgentInfo,
            tenant,
        )
        return
    except Problem as problem:
        if problem.status != 404:
            raise
    command = CreateAgent(tenant_id=tenant, agent_id=agent_id, name=agent_id, actor=principal.actor)
    try:
        await deps.ask(request, "ingest", "create_agent", command, AgentInfo, tenant)
    except Problem as problem:
        if problem.status != 409:  # 409: another request registered it meanwhile
            raise
