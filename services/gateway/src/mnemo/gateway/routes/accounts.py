"""Tenants, agents and API keys.

- `POST /v1/agent/sign-up`: a new tenant with an agent, its `ak_` key and a `mk_` key
  (only when MNEMO_OPEN_SIGNUP is on; limited per client address).
- `POST/GET /v1/keys`, `DELETE /v1/keys/{id}`: a master key manages the tenant's keys.
- `POST/GET /v1/agents`, `GET/PATCH/DELETE /v1/agents/{id}`: a master key manages agents;
  an agent key sees and may rename only its own agent.

Keys are shown once, in the answer that creates them; listings show a prefix only.
"""

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post

from mnemo.contracts import (
    AgentInfo,
    AgentPage,
    CreateAgent,
    CreateTenant,
    DeleteAgent,
    Dropped,
    GetAgent,
    IssuedKey,
    IssueKey,
    KeyInfo,
    KeyList,
    ListAgents,
    ListKeys,
    NewTenant,
    RevokeKey,
    UpdateAgent,
    WithdrawAgent,
)
from mnemo.gateway.agents_seen import check_agent_id, forget_agent
from mnemo.gateway.auth import Principal, agent_scope, authorize, require_master
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.retries import retry_agent_id, retry_seed
from mnemo.gateway.routes.memories import remove_agent_memories
from mnemo.gateway.secrets import TEXT_FIELDS, redacted
from mnemo.gateway.validation import as_json, decode_body, int_param, query_param

MAX_NAME = 200
MAX_DESCRIPTION = 2000


class SignUpRequest(msgspec.Struct, forbid_unknown_fields=False):
    username: str
    human_email: str | None = None


class KeyRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    kind: str = "agent"
    agent_id: str | None = None
    label: str | None = None


class AgentRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    name: str
    id: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = {}


class AgentPatch(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None


def agent_json(agent: AgentInfo) -> dict[str, Any]:
    return {
        "id": agent.agent_id,
        "name": agent.name,
        "description": agent.description,
        "metadata": agent.metadata,
        "createdAt": agent.created_at,
        "updatedAt": agent.updated_at,
    }


def key_json(info: KeyInfo, last_used_at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": info.key_id,
        "kind": info.kind,
        "agentId": info.agent_id,
        "label": info.label,
        "prefix": info.prefix,
        "createdAt": info.created_at,
        "lastUsedAt": last_used_at,
        "revokedAt": info.revoked_at,
    }


def issued_json(issued: IssuedKey) -> dict[str, Any]:
    return {**key_json(issued.info), "key": issued.key}


def _json(body: Any, status: int = 200, *, secret: bool = False) -> Response[bytes]:
    # An answer with a key in it must not be kept by anyone: not proxies, not the
    # idempotency bucket.
    headers = {"Cache-Control": "no-store"} if secret else None
    return Response(
        as_json(body), status_code=status, media_type="application/json", headers=headers
    )


def _text(value: str | None, name: str, limit: int, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise Problem(400, "INVALID_REQUEST", f"{name} is required", field=name)
        return
    if (required and not value.strip()) or len(value) > limit:
        raise Problem(400, "INVALID_REQUEST", f"{name} must be 1-{limit} characters", field=name)


# --- sign-up -------------------------------------------------------------------------


@post("/v1/agent/sign-up", status_code=201)
async def sign_up(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    if not deps.settings.open_signup:
        raise Problem(
            403, "SIGNUP_DISABLED", "sign-up is closed on this server (MNEMO_OPEN_SIGNUP)"
        )
    client = request.client.host if request.client else "unknown"
    usage = await deps.limits.charge("signup", f"ip:{client}", "signup")
    if usage is not None:
        request.scope["state"]["rate_usage"] = usage
    body = await decode_body(request, SignUpRequest)
    _text(body.username, "username", MAX_NAME, required=True)
    if body.human_email is not None and (
        "@" not in body.human_email or len(body.human_email) > 320
    ):
        raise Problem(
            400, "INVALID_REQUEST", "human_email must be an email address", field="human_email"
        )
    command = redacted(
        CreateTenant(
            name=body.username,
            email=body.human_email,
            agent_name=body.username,
            actor=f"signup:{client}",
        ),
        *TEXT_FIELDS[CreateTenant],
    )
    made = await deps.ask(request, "ingest", "create_tenant", command, NewTenant, "signup")
    assert isinstance(made, NewTenant) and made.agent and made.agent_key
    return _json(
        {
            "tenant": {"id": made.tenant_id, "name": made.name, "createdAt": made.created_at},
            "agent": agent_json(made.agent),
            "apiKey": made.agent_key.key,
            "agentKey": issued_json(made.agent_key),
            "masterKey": issued_json(made.master_key),
        },
        201,
        secret=True,
    )


# --- keys ----------------------------------------------------------------------------


@post("/v1/keys", status_code=201)
async def create_key(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "admin")
    require_master(principal)
    body = await decode_body(request, KeyRequest)
    if body.kind not in ("master", "agent"):
        raise Problem(400, "INVALID_REQUEST", "kind must be 'master' or 'agent'", field="kind")
    if body.kind == "agent" and not body.agent_id:
        raise Problem(400, "INVALID_REQUEST", "an agent key needs agentId", field="agentId")
    _text(body.label, "label", MAX_NAME)
    command = redacted(
        IssueKey(
            tenant_id=principal.tenant_id,
            kind=body.kind,
            agent_id=body.agent_id if body.kind == "agent" else None,
            label=body.label,
            actor=principal.actor,
        ),
        *TEXT_FIELDS[IssueKey],
    )
    issued = await deps.ask(request, "ingest", "issue_key", command, IssuedKey, command.tenant_id)
    assert isinstance(issued, IssuedKey)
    return _json(issued_json(issued), 201, secret=True)


@get("/v1/keys")
async def list_keys(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "admin")
    require_master(principal)
    include = query_param(request, "includeRevoked", choices=("true", "false")) == "true"
    query = ListKeys(tenant_id=principal.tenant_id, include_revoked=include)
    found = await deps.ask(request, "ingest", "list_keys", query, KeyList, query.tenant_id)
    assert isinstance(found, KeyList)
    keys = [key_json(k, await deps.keys.last_used(k.key_id)) for k in found.keys]
    return _json({"keys": keys})


@delete("/v1/keys/{key_id:str}", status_code=200)
async def revoke_key(request: Request, key_id: str) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "admin")
    require_master(principal)
    command = RevokeKey(tenant_id=principal.tenant_id, key_id=key_id, actor=principal.actor)
    info = await deps.ask(request, "ingest", "revoke_key", command, KeyInfo, command.tenant_id)
    assert isinstance(info, KeyInfo)
    return _json(key_json(info))


# --- agents --------------------------------------------------------------------------


@post("/v1/agents", status_code=201)
async def create_agent(request: Request) -> Response[bytes]:
    principal = await authorize(request, "admin")
    require_master(principal)
    body = await decode_body(request, AgentRequest)
    if body.id is not None:
        # An empty id is no id to take (it was: a new agent with a random one, answered 201).
        check_agent_id(body.id, "id")
    _text(body.name, "name", MAX_NAME, required=True)
    _text(body.description, "description", MAX_DESCRIPTION)
    # Without an id, the Idempotency-Key names the agent: a retry whose kept answer is gone
    # finds the agent it made rather than making a second one.
    retried = None if body.id is not None else retry_agent_id(await retry_seed(request, principal))
    command = redacted(
        CreateAgent(
            tenant_id=principal.tenant_id,
            agent_id=body.id if body.id is not None else retried,
            name=body.name,
            description=body.description,
            metadata=body.metadata,
            actor=principal.actor,
        ),
        *TEXT_FIELDS[CreateAgent],
    )
    agent = await create_once(request, principal, command, retried)
    return _json(agent_json(agent), 201)


async def create_once(
    request: Request, principal: Principal, command: CreateAgent, retried: str | None
) -> AgentInfo:
    """Make the agent; `retried`: its id is the request's Idempotency-Key's, so that one
    there already is this request's own agent, made by a run whose answer was lost (and
    one deleted since is answered as made, not made again)."""
    if retried is not None:
        command = msgspec.structs.replace(command, once=True)
    try:
        agent = await deps_of(request).ask(
            request, "ingest", "create_agent", command, AgentInfo, command.tenant_id
        )
    except Problem as problem:
        if retried is None or problem.status != 409:
            raise
        agent = await _agent(request, principal, retried)
    assert isinstance(agent, AgentInfo)
    return agent


@get("/v1/agents")
async def list_agents(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "admin")
    limit = int_param(request, "limit", default=50, low=1, high=200)
    offset = int_param(request, "offset", default=0, low=0, high=1_000_000)
    if not principal.is_master:
        own = await _agent(request, principal, principal.agent_id or "")
        return _json({"agents": [agent_json(own)], "total": 1, "limit": limit, "offset": 0})
    query = ListAgents(tenant_id=principal.tenant_id, limit=limit, offset=offset)
    page = await deps.ask(request, "ingest", "list_agents", query, AgentPage, query.tenant_id)
    assert isinstance(page, AgentPage)
    return _json(
        {
            "agents": [agent_json(a) for a in page.agents],
            "total": page.total,
            "limit": limit,
            "offset": offset,
        }
    )


async def _agent(request: Request, principal: Principal, agent_id: str) -> AgentInfo:
    query = GetAgent(tenant_id=principal.tenant_id, agent_id=agent_id)
    agent = await deps_of(request).ask(
        request, "ingest", "get_agent", query, AgentInfo, query.tenant_id
    )
    assert isinstance(agent, AgentInfo)
    return agent


@get("/v1/agents/{agent_id:str}")
async def get_agent(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "admin")
    agent_scope(principal, agent_id)
    return _json(agent_json(await _agent(request, principal, agent_id)))


@patch("/v1/agents/{agent_id:str}")
async def update_agent(request: Request, agent_id: str) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "admin")
    agent_scope(principal, agent_id)
    body = await decode_body(request, AgentPatch)
    _text(body.name, "name", MAX_NAME, required=body.name is not None)
    _text(body.description, "description", MAX_DESCRIPTION)
    command = redacted(
        UpdateAgent(
            tenant_id=principal.tenant_id,
            agent_id=agent_id,
            name=body.name,
            description=body.description,
            metadata=body.metadata,
            actor=principal.actor,
        ),
        *TEXT_FIELDS[UpdateAgent],
    )
    agent = await deps.ask(request, "ingest", "update_agent", command, AgentInfo, command.tenant_id)
    assert isinstance(agent, AgentInfo)
    return _json(agent_json(agent))


@delete("/v1/agents/{agent_id:str}", status_code=200)
async def delete_agent(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "admin")
    agent_scope(principal, agent_id)
    require_master(principal)
    await _agent(request, principal, agent_id)
    agent, memories = await retire_agent(request, principal, agent_id)
    return _json({"deleted": True, "agent": agent_json(agent), "memoriesDeleted": memories})


async def retire_agent(
    request: Request, principal: Principal, agent_id: str
) -> tuple[AgentInfo, int]:
    """Delete an agent that exists: its memories first (each a `memory.deleted`), what it
    gave synthesis (`agent.withdrawn`: its stated facts too), then the agent with its keys.
    An agent made again with the id later starts with no memories or facts of the one
    deleted, and a deletion cut short is finished by asking again (the agent is
    still there until its memories are gone)."""
    memories = await remove_agent_memories(request, principal, agent_id)
    # What it stated about users (facts through the API) outlives its memories: it goes
    # with the agent, before it (and with the rest when a deletion cut short is asked again).
    withdraw = WithdrawAgent(
        tenant_id=principal.tenant_id, agent_id=agent_id, actor=principal.actor
    )
    await deps_of(request).ask(
        request, "synthesis", "withdraw_agent", withdraw, Dropped, principal.tenant_id
    )
    command = DeleteAgent(tenant_id=principal.tenant_id, agent_id=agent_id, actor=principal.actor)
    forget_agent(principal.tenant_id, agent_id)
    agent = await deps_of(request).ask(
        request, "ingest", "delete_agent", command, AgentInfo, command.tenant_id
    )
    forget_agent(principal.tenant_id, agent_id)
    assert isinstance(agent, AgentInfo)
    return agent, memories
