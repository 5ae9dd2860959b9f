"""MEMANTO's REST API v2 (seed 004) over Mnemo's commands and queries, under /api/v2.

How its concepts map onto ours:
- a MEMANTO agent is an agent (its `agent_id` is ours); creating and deleting need a
  master key;
- a session is a token from `activate`, kept (as a SHA-256 digest) in a NATS KV bucket
  shared by every gateway replica, with its tenant, agent, the id of the key that opened
  it and its expiry; memory operations need `X-Session-Token` of a live session of that
  agent opened by the calling key (see `_session`);
- a memory is a memory of the agent: agent_id = the agent, user_id = the `user_id` sent
  or else the agent itself (its own world), `memory_type`, `confidence` and `tags` in the
  memory's metadata; `remember` takes query parameters (as the seed's example) or a body;
- recall is the native hybrid search over the agent's memories; `as-of` is valid time
  (what had happened by then), `changed-since` the memories recorded since, `current`
  the facts synthesis holds now (superseded ones left out), each with its fact id;
- validate, supersede (`new_content`, or `?new_memory_id=`: that memory's words) and
  contradict act on those facts (by that id, in the path or as `memory_id` in the body)
  through the native fact changes, so each is an event with the caller as actor;
- a master key's `activate` of an agent never created registers it (the seed's Quick
  Start does exactly that);
- the requests that name no agent (`/session/...`, `/context/...`) are in
  mnemo.gateway.compat.memanto_session, the router in memanto_routes;
- `answer` asks synthesis's LLM adapter (when MNEMO_LLM_URL is set) to answer from the
  best supporting memories, and otherwise works offline: the sentence among them that
  shares most with the question;
- `context/summarize` is the agent's memory pack (its only `scope` is the agent),
  `context/compress` keeps the newest messages and the informative sentences of older
  ones within a budget (mnemo.gateway.compat.memanto_compress);
- every field is read by mnemo.gateway.compat.memanto_inputs: a value of the wrong kind
  or out of range is a 422 naming it, never coerced; a request is read whole before
  anything is registered or stored;
- answers are `{"status": "success", "data": ..., "timestamp": ...}` with the data's
  fields also at the top (the seed's example reads `response.json()["session_token"]`);
  errors are `{"status": "error", "error": {code, message}, "timestamp"}`.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.exceptions import HTTPException
from nats.js.errors import KeyNotFoundError

from mnemo.contracts import (
    AgentInfo,
    AgentPage,
    ChangeFact,
    CreateAgent,
    FactChange,
    FactList,
    FactsQuery,
    FactView,
    GetAgent,
    GetMemoryQuery,
    ListAgents,
    MemoryView,
    PackQuery,
    PackView,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from mnemo.contracts.limits import MAX_METADATA_BYTES, MAX_QUERY_CHARS
from mnemo.contracts.speakers import spoken_by
from mnemo.gateway import agents_seen, answering
from mnemo.gateway.auth import Principal, authorize, require_master
from mnemo.gateway.compat.memanto_compress import compressed_messages
from mnemo.gateway.compat.memanto_inputs import (
    body_of,
    count_of,
    metadata_of,
    number_of,
    one_of,
    tags_of,
    text_of,
)
from mnemo.gateway.compat.search_hits import written_metadata
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem, unexpected
from mnemo.gateway.retries import retry_seed
from mnemo.gateway.routes.accounts import retire_agent
from mnemo.gateway.routes.context import time_param
from mnemo.gateway.routes.ingest import IngestRequest, command_of, publish
from mnemo.gateway.routes.memories import agent_memories
from mnemo.gateway.routes.packs import compile_pack
from mnemo.gateway.secrets import TEXT_FIELDS, redacted
from mnemo.gateway.validation import (
    about_param,
    as_json,
    check_not_wildcard,
    int_param,
    query_param,
)
from mnemo.redaction import redact
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SESSION_HOURS = 6.0
# The most a recall returns, and how deep it reads when it filters what the search found
# (retrieval serves up to 100).
RECALL_DEPTH = 100
MAX_SESSION_HOURS = 24.0
MEMORY_TYPES = (
    "fact",
    "preference",
    "event",
    "goal",
    "instruction",
    "observation",
    "relationship",
    "context",
    "learning",
    "decision",
    "commitment",
    "error",
    "artifact",
)
# What a summary covers: the agent's memories, never another agent's (see _agent_of).
SUMMARY_SCOPES = ("agent",)
_CODES = {
    401: "INVALID_API_KEY",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}


# --- envelope ------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def ok(data: dict[str, Any], status: int = 200) -> Response[bytes]:
    body = {"status": "success", "data": data, "timestamp": _now(), **data}
    return Response(as_json(body), status_code=status, media_type="application/json")


def fail(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response[bytes]:
    body = {
        "status": "error",
        "error": {"code": code, "message": message},
        "timestamp": _now(),
    }
    return Response(
        as_json(body), status_code=status, media_type="application/json", headers=headers
    )


def memanto_refusal(exc: Problem) -> Response[bytes]:
    """A problem in this surface's envelope (also for input refused before routing)."""
    code = (
        exc.code if exc.code.startswith(("MISSING_", "INVALID_", "SESSION_", "MEMORY_")) else None
    )
    if code is None:
        code = _CODES.get(exc.status, "VALIDATION_ERROR" if exc.status == 400 else exc.code)
    message = exc.detail
    if field := exc.details.get("field"):
        message = f"{field}: {message}" if field not in message else message
    return fail(exc.status, code, message, exc.headers)


def handle_error(request: Request, exc: Exception) -> Response[bytes]:
    if isinstance(exc, Problem):
        return memanto_refusal(exc)
    if isinstance(exc, HTTPException):
        return fail(exc.status_code, _CODES.get(exc.status_code, "HTTP_ERROR"), str(exc.detail))
    log.exception("memanto_failed")
    problem = unexpected(exc)
    if problem.status == 503:
        return fail(503, "SERVICE_UNAVAILABLE", problem.detail, problem.headers)
    return fail(500, "INTERNAL_ERROR", "the request failed; see the gateway's log")


# --- inputs --------------------------------------------------------------------------


def _when(request: Request, name: str, *, required: bool = True) -> datetime | None:
    when = time_param(request, name)
    if when is None and required:
        raise Problem(400, "VALIDATION_ERROR", f"query parameter {name!r} is required", field=name)
    return when


# --- agents --------------------------------------------------------------------------


def agent_json(agent: AgentInfo) -> dict[str, Any]:
    return {
        "agent_id": agent.agent_id,
        "name": agent.name,
        "description": agent.description,
        "metadata": agent.metadata,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


def _reach(principal: Principal, agent_id: str) -> None:
    """An agent key reaches only its own agent: another is answered as if it did not exist."""
    if not principal.is_master and principal.agent_id != agent_id:
        raise Problem(404, "INVALID_AGENT_ID", f"Agent '{agent_id}' not found")


async def _agent(request: Request, principal: Principal, agent_id: str) -> AgentInfo:
    _reach(principal, agent_id)
    try:
        found = await deps_of(request).ask(
            request,
            "ingest",
            "get_agent",
            GetAgent(tenant_id=principal.tenant_id, agent_id=agent_id),
            AgentInfo,
            principal.tenant_id,
        )
    except Problem as problem:
        if problem.status == 404:
            raise Problem(404, "INVALID_AGENT_ID", f"Agent '{agent_id}' not found") from None
        raise
    assert isinstance(found, AgentInfo)
    return found


@post("/agents", status_code=201)
async def create_agent(request: Request) -> Response[bytes]:
    principal = await authorize(request, "admin")
    require_master(principal)
    body = await body_of(request)
    agent_id = text_of(body, "agent_id", limit=128) or ""
    metadata = metadata_of(body)
    command = redacted(
        CreateAgent(
            tenant_id=principal.tenant_id,
            agent_id=agent_id,
            name=text_of(body, "name", required=False, limit=200) or agent_id,
            description=text_of(body, "description", required=False, limit=2000),
            metadata=metadata,
            actor=principal.actor,
        ),
        *TEXT_FIELDS[CreateAgent],
    )
    try:
        agent = await deps_of(request).ask(
            request, "ingest", "create_agent", command, AgentInfo, principal.tenant_id
        )
    except Problem as problem:
        field = problem.details.get("field")
        if problem.status != 400 or not isinstance(field, str):
            raise
        # As MEMANTO answers any bad input: 422, naming the field as it is sent here.
        named = _FIELD_NAMES.get(field, field)
        raise Problem(
            422, "VALIDATION_ERROR", problem.detail.replace(field, named), field=named
        ) from None
    assert isinstance(agent, AgentInfo)
    return ok(agent_json(agent), 201)


@get("/agents")
async def list_agents(request: Request) -> Response[bytes]:
    principal = await authorize(request, "admin")
    limit = int_param(request, "limit", default=10, low=1, high=100)
    offset = int_param(request, "offset", default=0, low=0, high=1_000_000)
    if not principal.is_master:
        own = await _agent(request, principal, principal.agent_id or "")
        return ok({"agents": [agent_json(own)], "total": 1, "limit": limit, "offset": 0})
    query = ListAgents(tenant_id=principal.tenant_id, limit=limit, offset=offset)
    page = await deps_of(request).ask(
        request, "ingest", "list_agents", query, AgentPage, principal.tenant_id
    )
    assert isinstance(page, AgentPage)
    return ok(
        {
            "agents": [agent_json(a) for a in page.agents],
            "total": page.total,
            "limit": limit,
            "offset": offset,
        }
    )


@get("/agents/{agent_id:str}")
async def get_agent(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "admin")
    return ok(agent_json(await _agent(request, principal, agent_id)))


@delete("/agents/{agent_id:str}", status_code=204)
async def delete_agent(request: Request, agent_id: str) -> None:
    principal = await authorize(request, "admin")
    require_master(principal)
    await _agent(request, principal, agent_id)
    await retire_agent(request, principal, agent_id)


# --- sessions ------------------------------------------------------------------------


class Session(msgspec.Struct):
    tenant_id: str
    agent_id: str
    key_id: str
    created_at: datetime
    expires_at: datetime
    active: bool = True


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _session(
    request: Request, principal: Principal, agent_id: str, *, live: bool = True
) -> tuple[str, Session]:
    """The live session of `X-Session-Token`, if it is the caller's own.

    A session belongs to the principal that opened it: the key (its id), and so the tenant,
    with the agent of the path. Any other key presenting the token, another agent's or the
    tenant's master key included, gets 401; an agent key on another agent's path gets 404
    first, token or not. The key is authenticated on every call (`authorize`, against the
    KeyCache that a KV watch keeps in step with revocations), so binding the session to it
    means a revoked key ends its sessions: the key itself is refused, and no other key may
    carry its token.
    """
    _reach(principal, agent_id)
    digest, session = await token_session(request, principal, live=live)
    if session.agent_id != agent_id:
        raise Problem(
            401,
            "INVALID_SESSION_TOKEN",
            "the session token was opened by another key or for another agent",
        )
    return digest, session


async def token_session(
    request: Request, principal: Principal, *, live: bool = True
) -> tuple[str, Session]:
    """The session of `X-Session-Token` opened by the calling key, whatever its agent: the
    requests that name no agent (`/session/current`, `/context/...`) act on its agent."""
    token = request.headers.get("x-session-token", "").strip()
    if not token:
        raise Problem(401, "MISSING_SESSION_TOKEN", "X-Session-Token header is required")
    kv = request.app.state.sessions
    try:
        entry = await kv.get(_digest(token))
    except KeyNotFoundError:
        raise Problem(401, "INVALID_SESSION_TOKEN", "the session token is not known") from None
    session = msgspec.json.decode(entry.value or b"{}", type=Session)
    if (session.tenant_id, session.key_id) != (principal.tenant_id, principal.key_id):
        raise Problem(
            401,
            "INVALID_SESSION_TOKEN",
            "the session token was opened by another key or for another agent",
        )
    if live and (not session.active or session.expires_at <= _now()):
        raise Problem(401, "SESSION_EXPIRED", "the session is no longer active; activate again")
    return _digest(token), session


def _session_json(agent_id: str, session: Session) -> dict[str, Any]:
    # A deactivated session has no time left, whatever its expiry said.
    left = (session.expires_at - _now()).total_seconds() if session.active else 0.0
    remaining = max(left, 0.0)
    return {
        "agent_id": agent_id,
        "session_active": remaining > 0,
        "expires_at": session.expires_at,
        "remaining_seconds": round(remaining),
    }


@post("/agents/{agent_id:str}/activate", status_code=200)
async def activate(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "admin")
    _reach(principal, agent_id)
    # The whole request is read before the agent may be registered: a refused one
    # leaves nothing behind.
    body = await body_of(request)
    hours = number_of(body, "duration_hours", SESSION_HOURS, 0.01, MAX_SESSION_HOURS)
    try:
        await _agent(request, principal, agent_id)
    except Problem as problem:
        # The seed's Quick Start activates an agent it never created: a master key's
        # activate registers it, as an ingest naming an agent does (agents_seen).
        if problem.status != 404 or not principal.is_master:
            raise
        await agents_seen.register(request, principal, agent_id, "agent_id")
        await _agent(request, principal, agent_id)
    token = "mst_" + secrets.token_urlsafe(32)
    now = _now()
    session = Session(
        tenant_id=principal.tenant_id,
        agent_id=agent_id,
        key_id=principal.key_id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    await request.app.state.sessions.put(_digest(token), msgspec.json.encode(session))
    data = {"session_token": token, **_session_json(agent_id, session), "duration_hours": hours}
    response = ok(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@post("/agents/{agent_id:str}/deactivate", status_code=200)
async def deactivate(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "admin")
    digest, session = await _session(request, principal, agent_id, live=False)
    ended = msgspec.structs.replace(session, active=False)
    await request.app.state.sessions.put(digest, msgspec.json.encode(ended))
    return ok({"agent_id": agent_id, "deactivated": True})


@get("/agents/{agent_id:str}/status")
async def status(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "admin")
    await _agent(request, principal, agent_id)
    if not request.headers.get("x-session-token"):
        return ok(
            {
                "agent_id": agent_id,
                "session_active": False,
                "expires_at": None,
                "remaining_seconds": 0,
            }
        )
    _, session = await _session(request, principal, agent_id, live=False)
    return ok(_session_json(agent_id, session))


@post("/agents/{agent_id:str}/extend", status_code=200)
async def extend(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "admin")
    digest, session = await _session(request, principal, agent_id)
    body = await body_of(request)
    hours = number_of(body, "hours", SESSION_HOURS, 0.01, MAX_SESSION_HOURS)
    limit = session.created_at + timedelta(hours=MAX_SESSION_HOURS * 4)
    longer = msgspec.structs.replace(
        session, expires_at=min(session.expires_at + timedelta(hours=hours), limit)
    )
    await request.app.state.sessions.put(digest, msgspec.json.encode(longer))
    return ok(_session_json(agent_id, longer))


# --- memories ------------------------------------------------------------------------


# What MEMANTO calls a memory's fields, for the native names a refusal may give.
_FIELD_NAMES = {"userId": "user_id", "sessionId": "session_id", "agentId": "agent_id"}


def checked_type(memory_type: str, field: str) -> str:
    """One of MEMORY_TYPES, or 422 naming `field`: remember stores it, recall filters by it
    (an unknown one filtered everything out, answering an empty 200)."""
    if memory_type not in MEMORY_TYPES:
        raise Problem(
            422,
            "VALIDATION_ERROR",
            f"{field} must be one of: {', '.join(MEMORY_TYPES)}",
            field=field,
        )
    return memory_type


def _item(values: dict[str, Any], agent_id: str) -> IngestRequest:
    content = text_of(values, "content") or ""
    # The seed's batch example names it `type`; remember's parameter is `memory_type`.
    named = "memory_type" if "memory_type" in values or "type" not in values else "type"
    memory_type = checked_type(text_of(values, named, required=False, limit=40) or "fact", named)
    confidence = number_of(values, "confidence", 1.0, 0.0, 1.0)
    tags = tags_of(values)
    metadata = metadata_of(values)
    user_id = text_of(values, "user_id", required=False, limit=256)
    session_id = text_of(values, "session_id", required=False, limit=256)
    check_not_wildcard(user_id, "user_id")
    check_not_wildcard(session_id, "session_id")
    kept = {**metadata, "memory_type": memory_type, "confidence": confidence, "tags": tags}
    if len(as_json(kept)) > MAX_METADATA_BYTES:
        # Kept together as the memory's metadata: the larger is named (long tags were
        # refused as a metadata too large, though none was sent).
        named = "tags" if len(as_json(tags)) > len(as_json(metadata)) else "metadata"
        raise Problem(
            413,
            "METADATA_TOO_LARGE",
            f"{named} is too large: tags and metadata are kept together, at most"
            f" {MAX_METADATA_BYTES // 1024} KiB encoded as JSON",
            field=named,
        )
    return IngestRequest(
        user_id=user_id or agent_id,
        content=content,
        source_type="api_text",
        session_id=session_id,
        agent_id=agent_id,
        metadata=kept,
    )


@post("/agents/{agent_id:str}/remember", status_code=201)
async def remember(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "ingest")
    await _session(request, principal, agent_id)
    values: dict[str, Any] = {**dict(request.query_params), **await body_of(request)}
    item = _item(values, agent_id)
    command = command_of(request, item, principal, names=_FIELD_NAMES)
    await publish(request, [command])
    return ok(
        {
            "memory_id": command.memory_id,
            "agent_id": agent_id,
            "memory_type": item.metadata["memory_type"],
            "confidence": item.metadata["confidence"],
            "created_at": command.issued_at,
        },
        201,
    )


@post("/agents/{agent_id:str}/batch-remember", status_code=201)
async def batch_remember(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "batch")
    await _session(request, principal, agent_id)
    body = await body_of(request)
    memories = body.get("memories")
    if not isinstance(memories, list) or not 1 <= len(memories) <= 100:
        raise Problem(
            422, "VALIDATION_ERROR", "memories must hold 1 to 100 items", field="memories"
        )
    commands = []
    for index, values in enumerate(memories):
        if not isinstance(values, dict):
            raise Problem(
                422, "VALIDATION_ERROR", "each memory must be an object", field=f"memories[{index}]"
            )
        try:
            commands.append(
                command_of(request, _item(values, agent_id), principal, index, _FIELD_NAMES)
            )
        except Problem as problem:
            field = f"memories[{index}].{problem.details.get('field', '')}".rstrip(".")
            raise Problem(
                problem.status, problem.code, f"memory {index}: {problem.detail}", field=field
            ) from None
    await publish(request, commands, "memories")
    return ok({"memory_ids": [c.memory_id for c in commands], "count": len(commands)}, 201)


def memory_json(
    memory_id: str,
    content: str,
    metadata: dict[str, Any],
    created_at: datetime,
    score: float | None = None,
) -> dict[str, Any]:
    extra = {k: v for k, v in metadata.items() if k not in {"memory_type", "confidence", "tags"}}
    return {
        "memory_id": memory_id,
        "content": content,
        "memory_type": metadata.get("memory_type", "fact"),
        "confidence": metadata.get("confidence", 1.0),
        "tags": metadata.get("tags", []),
        "score": score,
        "created_at": created_at,
        "metadata": extra,
    }


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return memory_json(
        hit.memory_id, hit.content, written_metadata(hit), hit.ingested_at, round(hit.similarity, 4)
    )


def _view_json(memory: MemoryView) -> dict[str, Any]:
    return memory_json(memory.memory_id, memory.content, memory.metadata, memory.recorded_at)


async def _search(
    request: Request,
    principal: Principal,
    agent_id: str,
    query: str,
    limit: int,
    *,
    as_of: datetime | None = None,
) -> list[SearchHit]:
    search = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=None,
        agent_id=agent_id,
        query=query,
        limit=limit,
        occurred_before=as_of,
    )
    found = await deps_of(request).ask(
        request, "retrieval", "search", search, SearchResult, principal.tenant_id
    )
    assert isinstance(found, SearchResult)
    return list(found.results)


async def _recall(request: Request, agent_id: str, *, as_of: bool) -> Response[bytes]:
    principal = await authorize(request, "search")
    await _session(request, principal, agent_id)
    query = query_param(request, "query", required=True, max_len=MAX_QUERY_CHARS) or ""
    limit = int_param(request, "limit", default=10, low=1, high=RECALL_DEPTH)
    memory_type = query_param(request, "memory_type")
    if memory_type:
        checked_type(memory_type, "memory_type")
    when = _when(request, "as_of") if as_of else None
    about = about_param(request)
    # Filtered after the search, the best RECALL_DEPTH matches are read to keep `limit`.
    depth = RECALL_DEPTH if memory_type or about is not None else limit
    hits = await _search(request, principal, agent_id, query, depth, as_of=when)
    if memory_type:
        hits = [h for h in hits if h.metadata.get("memory_type", "fact") == memory_type]
    if about is not None:  # one person's own words (mnemo.contracts.speakers)
        hits = [h for h in hits if spoken_by(h.metadata, h.user_id or agent_id, about)]
    memories = [_hit_json(h) for h in hits[:limit]]
    # Echoed as redacted: an answer that echoes input echoes the redacted form.
    shown = redact(query).text
    data: dict[str, Any] = {"query": shown, "memories": memories, "count": len(memories)}
    if when is not None:
        data["as_of"] = when
    return ok(data)


@get("/agents/{agent_id:str}/recall")
async def recall(request: Request, agent_id: str) -> Response[bytes]:
    return await _recall(request, agent_id, as_of=False)


@get("/agents/{agent_id:str}/recall/as-of")
async def recall_as_of(request: Request, agent_id: str) -> Response[bytes]:
    return await _recall(request, agent_id, as_of=True)


@get("/agents/{agent_id:str}/recall/changed-since")
async def recall_changed_since(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "memories")
    await _session(request, principal, agent_id)
    since = _when(request, "since")
    assert since is not None
    limit = int_param(request, "limit", default=10, low=1, high=100)
    offset = int_param(request, "offset", default=0, low=0, high=100_000)
    changed: list[MemoryView] = []
    # Newest first: stop at the first memory recorded before `since`.
    async for memory in agent_memories(request, principal, agent_id):
        if memory.recorded_at <= since or len(changed) >= offset + limit:
            break
        changed.append(memory)
    memories = [_view_json(m) for m in changed[offset : offset + limit]]
    return ok(
        {
            "since": since,
            "memories": memories,
            "count": len(memories),
            "limit": limit,
            "offset": offset,
        }
    )


def fact_memory_json(fact: FactView) -> dict[str, Any]:
    """A synthesized fact as a MEMANTO memory (its id is the fact's id)."""
    return {
        "memory_id": fact.fact_id,
        "content": fact.statement,
        "memory_type": "preference" if fact.category == "preference" else "fact",
        "confidence": fact.confidence,
        "kind": fact.kind,
        "status": fact.status,
        "current": fact.status == "current",
        "validated": fact.validated,
        "contradicted": fact.contradicted,
        "superseded_by": fact.superseded_by,
        "valid_from": fact.valid_from,
        "valid_to": fact.valid_to,
        "created_at": fact.recorded_at,
        "sources": [e.memory_id for e in fact.evidence],
    }


@get("/agents/{agent_id:str}/recall/current")
async def recall_current(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "facts")
    await _session(request, principal, agent_id)
    limit = int_param(request, "limit", default=10, low=1, high=100)
    offset = int_param(request, "offset", default=0, low=0, high=100_000)
    subject = query_param(request, "user_id") or agent_id
    found = await deps_of(request).ask(
        request,
        "synthesis",
        "facts",
        FactsQuery(
            tenant_id=principal.tenant_id,
            user_id=subject,
            agent_id=agent_id,
            about=about_param(request),
        ),
        FactList,
        principal.tenant_id,
    )
    assert isinstance(found, FactList)
    current = [f for f in found.facts if f.status == "current"]
    memories = [fact_memory_json(f) for f in current[offset : offset + limit]]
    return ok(
        {
            "memories": memories,
            "count": len(memories),
            "total": len(current),
            "limit": limit,
            "offset": offset,
        }
    )


async def _change(
    request: Request, agent_id: str, memory_id: str | None, change: str
) -> Response[bytes]:
    principal = await authorize(request, "facts")
    await _session(request, principal, agent_id)
    body = await body_of(request)
    memory_id = memory_id or text_of(body, "memory_id", limit=128) or ""
    content = None
    if change == "supersede":
        content = text_of(body, "new_content", required=False, limit=1000) or text_of(
            body, "content", required=False, limit=1000
        )
        if content is None:
            # MEMANTO's own form: `?new_memory_id=` names a memory stored since (remember).
            content = await _memory_text(request, principal, agent_id, "new_memory_id")
    elif change == "contradict":
        content = text_of(body, "content", required=False, limit=1000)
    command = redacted(
        ChangeFact(
            tenant_id=principal.tenant_id,
            fact_id=memory_id,
            change=change,
            actor=principal.actor,
            agent_id=agent_id,
            content=content,
            reason=text_of(body, "reason", required=False, limit=1000),
            retry_key=await retry_seed(request, principal),
        ),
        "content",
        "reason",
    )
    try:
        done = await deps_of(request).ask(
            request, "synthesis", "change_fact", command, FactChange, principal.tenant_id
        )
    except Problem as problem:
        if problem.status == 404:
            raise Problem(404, "MEMORY_NOT_FOUND", f"Memory '{memory_id}' not found") from None
        raise
    assert isinstance(done, FactChange)
    return ok(
        {
            "memory": fact_memory_json(done.fact),
            "new_memory": fact_memory_json(done.new_fact) if done.new_fact else None,
            "action": change,
        }
    )


async def _memory_text(request: Request, principal: Principal, agent_id: str, name: str) -> str:
    """The content of the agent's memory named by the query parameter `name`."""
    memory_id = query_param(request, name, max_len=128)
    if memory_id is None:
        raise Problem(
            422, "VALIDATION_ERROR", f"new_content or {name} is required", field="new_content"
        )
    query = GetMemoryQuery(tenant_id=principal.tenant_id, memory_id=memory_id, agent_id=agent_id)
    try:
        found = await deps_of(request).ask(
            request, "retrieval", "memory", query, MemoryView, principal.tenant_id
        )
    except Problem as problem:
        if problem.status == 404:
            raise Problem(404, "MEMORY_NOT_FOUND", f"Memory '{memory_id}' not found") from None
        raise
    assert isinstance(found, MemoryView)
    return found.content[:1000]


@post(
    [
        "/agents/{agent_id:str}/validate",
        "/agents/{agent_id:str}/validate/{memory_id:str}",
        "/agents/{agent_id:str}/memories/{memory_id:str}/validate",
    ],
    status_code=200,
)
async def validate(
    request: Request, agent_id: str, memory_id: str | None = None
) -> Response[bytes]:
    return await _change(request, agent_id, memory_id, "validate")


@post(
    [
        "/agents/{agent_id:str}/supersede",
        "/agents/{agent_id:str}/supersede/{memory_id:str}",
        "/agents/{agent_id:str}/memories/{memory_id:str}/supersede",
    ],
    status_code=200,
)
async def supersede(
    request: Request, agent_id: str, memory_id: str | None = None
) -> Response[bytes]:
    return await _change(request, agent_id, memory_id, "supersede")


@post(
    [
        "/agents/{agent_id:str}/contradict",
        "/agents/{agent_id:str}/contradict/{memory_id:str}",
        "/agents/{agent_id:str}/memories/{memory_id:str}/contradict",
    ],
    status_code=200,
)
async def contradict(
    request: Request, agent_id: str, memory_id: str | None = None
) -> Response[bytes]:
    return await _change(request, agent_id, memory_id, "contradict")


@get("/agents/{agent_id:str}/export")
async def export(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "memories")
    await _session(request, principal, agent_id)
    memories = [_view_json(m) async for m in agent_memories(request, principal, agent_id)]
    return ok(
        {"agent_id": agent_id, "memories": memories, "count": len(memories), "exported_at": _now()}
    )


# --- answers and context -------------------------------------------------------------


@post("/agents/{agent_id:str}/answer", status_code=200)
async def answer(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "answer")
    await _session(request, principal, agent_id)
    body = {**dict(request.query_params), **await body_of(request)}
    # Searched, answered and echoed as redacted (as POST /v1/answer's question).
    question = redact(text_of(body, "question", limit=MAX_QUERY_CHARS) or "").text
    limit = count_of(body, "limit", 5, 1, 20)
    subject = text_of(body, "user_id", required=False, limit=256) or agent_id
    search = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=None,
        agent_id=agent_id,
        query=question,
        limit=min(limit * 3, 50),
    )
    found = await answering.answer(request, search, subject=subject, question=question, limit=limit)
    return ok(
        {
            "question": question,
            "answer": found.answer or "No stored memory answers this question.",
            "confidence": found.confidence,
            "method": "extractive" if found.method == "none" else found.method,
            "sources": [fact_memory_json(f) for f in found.facts]
            + [_hit_json(h) for h in found.memories],
        }
    )


@post("/agents/{agent_id:str}/context/summarize", status_code=200)
async def summarize(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "context")
    await _session(request, principal, agent_id)
    return ok(await pack_summary(request, principal, agent_id, await body_of(request)))


async def pack_summary(
    request: Request, principal: Principal, agent_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The agent's memory pack as a summary of its memories (self_determined preset).
    Its scope is the agent (`user_id` narrows it to one person): `scope` names no other."""
    one_of(body, "scope", SUMMARY_SCOPES)
    max_tokens = count_of(body, "max_tokens", 1000, 100, 32_000)
    query = PackQuery(
        tenant_id=principal.tenant_id,
        agent_id=agent_id,
        user_id=text_of(body, "user_id", required=False, limit=256) or agent_id,
        query=text_of(body, "query", required=False, limit=MAX_QUERY_CHARS),
        preset="self_determined",
        max_tokens=max_tokens,
        actor=principal.actor,
    )
    try:
        pack = await compile_pack(request, query)
    except Problem as problem:
        if problem.status != 404:
            raise
        return {"summary": "", "token_count": 0, "memory_count": 0, "original_memory_ids": []}
    assert isinstance(pack, PackView)
    summary = pack.content.get("context", "")
    sources = [
        item["id"]
        for section in ("session_memories", "long_term_memories")
        for item in pack.content.get(section, [])
        if isinstance(item, dict) and item.get("id")
    ]
    return {
        "summary": summary,
        "summary_id": pack.pack_id,
        "summary_preview": summary[:200],
        "token_count": pack.token_count,
        "memory_count": pack.session_memory_count + pack.long_term_memory_count,
        "summarized_count": len(sources),
        "original_memory_ids": sources,
        "knowledge_count": pack.knowledge_count,
        "pack_id": pack.pack_id,
    }


@post("/agents/{agent_id:str}/context/compress", status_code=200)
async def compress_context(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "context")
    await _session(request, principal, agent_id)
    return ok(compressed_messages(await body_of(request)))
