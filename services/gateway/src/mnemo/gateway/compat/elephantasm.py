"""Elephantasm's REST API (seed 000) over Mnemo's commands and queries.

How its concepts map onto ours:
- an anima is an agent (`POST /api/animas` registers one with a UUID id, as the SDK
  expects); `user_id` of an anima is null (tenants are not UUIDs);
- an event is a memory of the anima: agent_id = user_id = the anima's id (the anima's own
  world is the subject its facts are about), content as is, session_id as is, occurred_at
  as the memory's valid time, and event_type, role, author, summary, source_uri,
  importance_score and meta in the memory's metadata; message.* events are conversation,
  tool.* are actions, system is api_text;
- `dedupe_key` is claimed atomically in a NATS KV bucket (a second event with it is 409,
  on every gateway replica) and becomes the memory's sourceId, so it is stored once; an
  event sent without one gets a random key, claimed the same way, which its answer shows;
- a memory pack is the native pack of the anima (`/v1/agents/{id}/packs/latest`), null
  while the anima has no memory;
- errors are `{"detail": "..."}`; invalid input is 422, as FastAPI answers.
"""

import contextlib
import hashlib
import secrets
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from mnemo.bus import QueryFailed, ask
from mnemo.contracts import (
    AgentInfo,
    AgentPage,
    CreateAgent,
    GetAgent,
    HealthReport,
    ListAgents,
    MemoryVersions,
    MemoryVersionsQuery,
    PackView,
    joined,
)
from mnemo.contracts.limits import MAX_METADATA_BYTES, MAX_QUERY_CHARS
from mnemo.gateway.auth import Principal, agent_scope, authorize, require_master
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.retries import retry_agent_id, retry_seed
from mnemo.gateway.routes.accounts import create_once
from mnemo.gateway.routes.ingest import IngestRequest, command_of, publish
from mnemo.gateway.routes.packs import compile_pack, pack_query
from mnemo.gateway.secrets import TEXT_FIELDS, redact_value, redacted
from mnemo.gateway.validation import (
    as_json,
    check_not_wildcard,
    check_values,
    int_param,
    query_param,
)
from mnemo.redaction import redact

EVENT_TYPES = {
    "message.in": "conversation",
    "message.out": "conversation",
    "tool.call": "action",
    "tool.result": "action",
    "system": "api_text",
}
_UUID_LEN = 36
# The roles seed 000 lists for an event's message.
ROLES = ("user", "assistant", "system", "tool")


class AnimaBody(msgspec.Struct, forbid_unknown_fields=False):
    name: str
    description: str | None = None
    meta: dict[str, Any] | None = None


class EventBody(msgspec.Struct, forbid_unknown_fields=False):
    anima_id: str
    event_type: str
    content: str
    role: str | None = None
    author: str | None = None
    summary: str | None = None
    occurred_at: datetime | None = None
    session_id: str | None = None
    meta: dict[str, Any] = {}
    source_uri: str | None = None
    dedupe_key: str | None = None
    importance_score: float | None = None


def _detail(status: int, detail: str, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        as_json({"detail": detail}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def refusal(problem: Problem) -> Response[bytes]:
    """A problem as this surface answers it (also for input refused before routing)."""
    # FastAPI answers a body it cannot read or validate with 422.
    status = 422 if problem.status == 400 else problem.status
    field = problem.details.get("field")
    detail = (
        f"{field}: {problem.detail}" if field and field not in problem.detail else problem.detail
    )
    return _detail(status, detail, problem.headers)


async def _decode(request: Request, type_: type) -> Any:
    body = await request.body()
    try:
        decoded: Any = msgspec.json.decode(body or b"null", type=type_)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise Problem(400, "INVALID_REQUEST", str(exc)) from None
    check_values(decoded)
    return decoded


def anima_json(agent: AgentInfo) -> dict[str, Any]:
    return {
        "id": agent.agent_id,
        "name": agent.name,
        "description": agent.description,
        "meta": agent.metadata or None,
        "user_id": None,
        "is_deleted": False,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


async def _anima(request: Request, principal: Principal, anima_id: str) -> AgentInfo:
    agent_scope(principal, anima_id)
    query = GetAgent(tenant_id=principal.tenant_id, agent_id=anima_id)
    try:
        found = await deps_of(request).ask(
            request, "ingest", "get_agent", query, AgentInfo, principal.tenant_id
        )
    except Problem as problem:
        if problem.status == 404:
            raise Problem(404, "NOT_FOUND", "Anima not found") from None
        raise
    assert isinstance(found, AgentInfo)
    return found


@get("/api/health")
async def health(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    try:
        report = await ask(
            deps.nc,
            deps.topology.svc_subject("ingest", "health"),
            {},  # type: ignore[arg-type]
            HealthReport,
            timeout=2.5,
        )
        database = "healthy" if report.checks.get("postgres") == "ok" else "unhealthy"
    except QueryFailed:
        database = "unhealthy"
    status = "healthy" if database == "healthy" else "unhealthy"
    body = {"status": status, "timestamp": datetime.now(UTC), "checks": {"database": database}}
    return Response(
        as_json(body),
        status_code=200 if status == "healthy" else 503,
        media_type="application/json",
    )


def _check_metadata_size(body: EventBody, metadata: dict[str, Any]) -> None:
    """An event's meta, summary, source_uri and author are kept together as the memory's
    metadata: too large together, the largest is named (a long summary was refused as a
    `meta` too large, sent empty)."""
    if len(as_json(metadata)) <= MAX_METADATA_BYTES:
        return
    parts = {name: getattr(body, name) for name in ("meta", "summary", "source_uri", "author")}
    field = max(parts, key=lambda name: len(as_json(parts[name])))
    raise Problem(
        413,
        "METADATA_TOO_LARGE",
        f"{field} is too large: an event's meta, summary, source_uri and author are kept"
        f" together, at most {MAX_METADATA_BYTES // 1024} KiB encoded as JSON",
        field=field,
    )


# What an event's fields are called here, for the native names a refusal may give.
_FIELD_NAMES = {
    "userId": "anima_id",
    "agentId": "anima_id",
    "sessionId": "session_id",
    "sourceId": "dedupe_key",
    "metadata.timestamp": "occurred_at",
    "metadata": "meta",
}


@post("/api/animas", status_code=201)
async def create_anima(request: Request) -> Response[bytes]:
    try:
        principal = await authorize(request, "admin")
        require_master(principal)
        body = await _decode(request, AnimaBody)
        if not body.name.strip() or len(body.name) > 255:
            raise Problem(400, "INVALID_REQUEST", "name must be 1-255 characters", field="name")
        # The Idempotency-Key names the anima: a retry whose kept answer is gone finds it.
        retried = retry_agent_id(await retry_seed(request, principal))
        command = redacted(
            CreateAgent(
                tenant_id=principal.tenant_id,
                agent_id=retried,
                name=body.name,
                description=body.description,
                metadata=body.meta or {},
                actor=principal.actor,
            ),
            *TEXT_FIELDS[CreateAgent],
        )
        agent = await create_once(request, principal, command, retried)
    except Problem as problem:
        return refusal(problem)
    return Response(as_json(anima_json(agent)), status_code=201, media_type="application/json")


@get("/api/animas")
async def list_animas(request: Request) -> Response[bytes]:
    """The caller's animas (seed 000's authentication example): a master key's are the
    tenant's agents, a page at a time (`limit` 1-100, `offset`); an agent key's, its own."""
    try:
        principal = await authorize(request, "admin")
        limit = int_param(request, "limit", default=100, low=1, high=100)
        offset = int_param(request, "offset", default=0, low=0, high=1_000_000)
        if principal.agent_id is not None:
            found = [await _anima(request, principal, principal.agent_id)]
            animas = found[offset : offset + limit]
        else:
            query = ListAgents(tenant_id=principal.tenant_id, limit=limit, offset=offset)
            page = await deps_of(request).ask(
                request, "ingest", "list_agents", query, AgentPage, principal.tenant_id
            )
            assert isinstance(page, AgentPage)
            animas = page.agents
    except Problem as problem:
        return refusal(problem)
    return Response(as_json([anima_json(a) for a in animas]), media_type="application/json")


@get("/api/animas/{anima_id:str}")
async def get_anima(request: Request, anima_id: str) -> Response[bytes]:
    try:
        principal = await authorize(request, "admin")
        agent = await _anima(request, principal, anima_id)
    except Problem as problem:
        return refusal(problem)
    return Response(as_json(anima_json(agent)), media_type="application/json")


@post("/api/events", status_code=201)
async def create_event(request: Request) -> Response[bytes]:
    try:
        principal = await authorize(request, "ingest")
        body = await _decode(request, EventBody)
        source_type = EVENT_TYPES.get(body.event_type)
        if source_type is None:
            raise Problem(
                400,
                "INVALID_REQUEST",
                f"event_type must be one of: {', '.join(EVENT_TYPES)}",
                field="event_type",
            )
        if body.role is not None and body.role not in ROLES:
            raise Problem(
                400, "INVALID_REQUEST", f"role must be one of: {', '.join(ROLES)}", field="role"
            )
        if body.importance_score is not None and not 0.0 <= body.importance_score <= 1.0:
            raise Problem(
                400, "INVALID_REQUEST", "must be between 0 and 1", field="importance_score"
            )
        check_not_wildcard(body.session_id, "session_id")
        if body.occurred_at is not None and body.occurred_at.tzinfo is None:
            body = msgspec.structs.replace(body, occurred_at=body.occurred_at.replace(tzinfo=UTC))
        anima = await _anima(request, principal, body.anima_id)
        occurred = body.occurred_at or datetime.now(UTC)
        # An event sent without a key gets one (the seed's answer shows a key it did not
        # send), claimed as a sent one is: sent again with it, the event is a 409. With an
        # Idempotency-Key it is fixed by the request's retry seed (the calling key's, as its
        # kept answers are: another key, or another body, makes its own event), so a retry
        # whose kept answer is gone (a forget erases the tenant's) finds it claimed rather
        # than storing the event again.
        retry = await retry_seed(request, principal)
        dedupe_key = body.dedupe_key or (
            hashlib.sha256(retry.encode()).hexdigest()[:16] if retry else secrets.token_hex(8)
        )
        source_id = "dedupe:" + _digest(principal.tenant_id, body.anima_id, dedupe_key)
        metadata = {
            **body.meta,
            "event_type": body.event_type,
            "timestamp": occurred.isoformat(),
        }
        for name in ("role", "author", "summary", "source_uri", "importance_score"):
            value = getattr(body, name)
            if value is not None:
                metadata[name] = value
        _check_metadata_size(body, metadata)
        item = IngestRequest(
            user_id=body.anima_id,
            content=body.content,
            source_type=source_type,
            source_id=source_id,
            session_id=body.session_id,
            agent_id=body.anima_id,
            metadata=metadata,
        )
        command = command_of(request, item, principal, names=_FIELD_NAMES)
        # Claimed first, so that a 409 means nothing was sent; a publish that fails gives
        # the claim back, so that a retry can work.
        claim = await _claim(request, principal, anima, source_id, command.memory_id, retry)
        if claim is None:
            raise Problem(409, "CONFLICT", "An event with this dedupe_key already exists")
        key, revision, fresh = claim
        try:
            # Sent again when the claim was this very request's (a retry whose kept answer
            # is gone): its ids are the first run's, so it is stored once, and a first run
            # that died between its claim and its send is stored now.
            await publish(request, [command])
        except BaseException:
            if fresh:
                await _release(request, key, revision)
            raise
    except Problem as problem:
        return refusal(problem)
    now = datetime.now(UTC)
    # The answer shows what was stored: the caller's text as redacted, never as sent.
    sent = {name: getattr(body, name) for name in ("role", "author", "summary", "source_uri")}
    shown = redact_value({**sent, "meta": body.meta}, Counter())
    event = {
        "id": command.memory_id,
        "anima_id": body.anima_id,
        "event_type": body.event_type,
        "content": command.content,
        "role": shown["role"],
        "author": shown["author"],
        "summary": shown["summary"],
        "occurred_at": occurred,
        "session_id": body.session_id,
        "meta": shown["meta"],
        "source_uri": shown["source_uri"],
        # Only its digest is kept (source_id); echoed, as redacted.
        "dedupe_key": redact(dedupe_key).text,
        "importance_score": body.importance_score,
        "is_deleted": False,
        "created_at": now,
        "updated_at": now,
    }
    return Response(as_json(event), status_code=201, media_type="application/json")


def _digest(*parts: str) -> str:
    return hashlib.sha256(joined(parts).encode()).hexdigest()[:40]


async def _claim(
    request: Request,
    principal: Principal,
    anima: AgentInfo,
    source_id: str,
    memory_id: str,
    retry: str | None,
) -> tuple[str, int, bool] | None:
    """The claim of this dedupe key (its bucket key, revision, and whether it is new), on
    any gateway replica, or None when another event holds it. A key is the anima's as it
    is now (made again after a deletion, it claims afresh), and its event's once that
    event's memory is deleted: sent again, it is stored again, as a native sourceId is.
    `retry`: the request's retry seed (its Idempotency-Key's), kept with the claim, so
    that the same request retried once its kept answer is gone (a forget erased it) finds
    its own claim and is answered 201 as it was, not 409."""
    bucket = request.app.state.dedupe
    key = _digest(source_id, anima.created_at.isoformat())
    value = f"{memory_id}\n{retry}" if retry else memory_id
    try:
        return key, await bucket.create(key, value.encode()), True
    except KeyWrongLastSequenceError:
        pass
    try:
        held = await bucket.get(key)
    except KeyNotFoundError:
        return None  # given back meanwhile: this one is still a duplicate of a send in flight
    held_value = held.value.decode() if held.value else ""
    if retry and held_value == value:
        return key, held.revision or 0, False
    if not await _deleted(request, principal, held_value.partition("\n")[0]):
        return None
    try:
        return key, await bucket.update(key, value.encode(), last=held.revision), True
    except KeyWrongLastSequenceError:
        return None  # another send of the key took it first


async def _release(request: Request, key: str, revision: int) -> None:
    """Give a claim back (its event was not sent); a failure leaves the key claimed, and a
    retry then answers 409 until the claim is seen to hold no memory."""
    with contextlib.suppress(Exception):
        await request.app.state.dedupe.delete(key, last=revision)


async def _deleted(request: Request, principal: Principal, memory_id: str) -> bool:
    """Whether the memory a claim holds was deleted (the log says; not revised into
    another). Not found (still on its way, or never sent) is not deleted."""
    query = MemoryVersionsQuery(tenant_id=principal.tenant_id, memory_id=memory_id)
    try:
        found = await deps_of(request).ask(
            request, "ingest", "memory_versions", query, MemoryVersions, principal.tenant_id
        )
    except Problem:
        return False
    assert isinstance(found, MemoryVersions)
    first = found.versions[0] if found.versions else None
    return first is not None and first.deleted_at is not None and first.replaced_by is None


@get("/api/animas/{anima_id:str}/memory-packs/latest")
async def latest_memory_pack(request: Request, anima_id: str) -> Response[bytes]:
    try:
        principal = await authorize(request, "context")
        await _anima(request, principal, anima_id)
        query = pack_query(
            request,
            principal,
            anima_id,
            anima_id,
            query_param(request, "query", max_len=MAX_QUERY_CHARS),
            query_param(request, "preset"),
            4000,
        )
        try:
            view = await compile_pack(request, query)
        except Problem as problem:
            if problem.status == 404:
                return Response(b"null", media_type="application/json")
            raise
    except Problem as problem:
        return refusal(problem)
    return Response(as_json(pack_json(view)), media_type="application/json")


def pack_json(view: PackView) -> dict[str, Any]:
    return {
        "id": view.pack_id,
        "anima_id": view.agent_id,
        "query": view.query,
        "preset_name": view.preset,
        "session_memory_count": view.session_memory_count,
        "knowledge_count": view.knowledge_count,
        "long_term_memory_count": view.long_term_memory_count,
        "has_identity": view.has_identity,
        "token_count": view.token_count,
        "max_tokens": view.max_tokens,
        "content": view.content,
        "compiled_at": view.compiled_at,
        "created_at": view.compiled_at,
    }


@get("/api/subscriptions/usage")
async def usage(request: Request) -> Response[bytes]:
    try:
        principal = await authorize(request, "admin")
        # The tenant's counters (every agent's calls): a tenant-wide read, as keys are.
        require_master(principal)
    except Problem as problem:
        return refusal(problem)
    deps = deps_of(request)
    month = datetime.now(UTC).strftime("%Y-%m")
    used = await deps.limits.month_usage(principal.tenant_id)
    body = {
        "plan": "self-hosted",
        "period": month,
        "usage": used,
        "limits": deps.limits.monthly_quotas,
    }
    return Response(as_json(body), media_type="application/json")


HANDLERS = [health, create_anima, list_animas, get_anima, create_event, latest_memory_pack, usage]
