"""MEMANTO's requests that name no agent (seed 004): the `X-Session-Token` says which.

- `GET /session/current`: the caller's session (its agent, start, expiry, what is left);
- `POST /session/extend`: `additional_hours` (query, as MEMANTO's server takes it) or
  `hours` (body) more, within the same cap as `/agents/{id}/extend`;
- `POST /context/summarize`: the session agent's memory pack as a summary
  (`max_tokens`, `query`, `user_id`), with the ids of the memories it draws on;
- `POST /context/summarize/custom`: the memories named by `memory_ids` (1-100, the
  agent's own) in one summary within `max_tokens`;
- `POST /context/compress`: `messages` compressed as `/agents/{id}/context/compress`
  does, or, without messages, the agent's stored history: what is older than
  `days_to_compress` days beyond the `keep_recent_count` newest memories, in one summary.

A summary is extractive (the memories' sentences that carry facts, oldest first) and is
not stored as a memory: it is derived from the log and can always be made again. A body
naming an agent (`agent_id` or `scope_id`) other than the session's is refused like a
token of another agent.
"""

from datetime import timedelta
from typing import Any

import msgspec
from litestar import Request, Response, get, post

from mnemo.contracts import GetMemoryQuery, MemoryView
from mnemo.gateway import answering
from mnemo.gateway.auth import Principal, authorize
from mnemo.gateway.compat.memanto import (
    MAX_SESSION_HOURS,
    SESSION_HOURS,
    Session,
    _now,
    _reach,
    _session_json,
    ok,
    pack_summary,
    token_session,
)
from mnemo.gateway.compat.memanto_compress import (
    INFORMATIVE,
    approx_tokens,
    compressed_messages,
    tokens_in,
)
from mnemo.gateway.compat.memanto_inputs import body_of, count_of, number_of
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.memories import agent_memories

MAX_SUMMARIZED = 100


async def _scoped(
    request: Request, action: str, *, live: bool = True
) -> tuple[Principal, str, Session]:
    principal = await authorize(request, action)
    digest, session = await token_session(request, principal, live=live)
    _reach(principal, session.agent_id)
    return principal, digest, session


def _agent_of(body: dict[str, Any], session: Session) -> str:
    for name in ("agent_id", "scope_id"):
        named = body.get(name)
        if named is not None and named != session.agent_id:
            raise Problem(
                401,
                "INVALID_SESSION_TOKEN",
                f"the session token was opened for another agent than {name}",
            )
    return session.agent_id


@get("/session/current")
async def current_session(request: Request) -> Response[bytes]:
    _, digest, session = await _scoped(request, "admin", live=False)
    remaining = _session_json(session.agent_id, session)
    if not session.active:
        state = "ended"
    else:
        state = "active" if remaining["session_active"] else "expired"
    return ok(
        {
            "session_id": digest[:16],
            "started_at": session.created_at,
            "session_status": state,
            "time_remaining_seconds": remaining["remaining_seconds"],
            **remaining,
        }
    )


@post("/session/extend", status_code=200)
async def extend_session(request: Request) -> Response[bytes]:
    _, digest, session = await _scoped(request, "admin")
    values = {**dict(request.query_params), **await body_of(request)}
    name = "additional_hours" if "additional_hours" in values else "hours"
    hours = number_of(values, name, SESSION_HOURS, 0.01, MAX_SESSION_HOURS)
    cap = session.created_at + timedelta(hours=MAX_SESSION_HOURS * 4)
    longer = msgspec.structs.replace(
        session, expires_at=min(session.expires_at + timedelta(hours=hours), cap)
    )
    await request.app.state.sessions.put(digest, msgspec.json.encode(longer))
    return ok({"session_id": digest[:16], **_session_json(session.agent_id, longer)})


@post("/context/summarize", status_code=200)
async def summarize_scope(request: Request) -> Response[bytes]:
    principal, _, session = await _scoped(request, "context")
    body = await body_of(request)
    agent_id = _agent_of(body, session)
    return ok({"agent_id": agent_id, **await pack_summary(request, principal, agent_id, body)})


def summary_of(texts: list[str], budget: int) -> str:
    """The texts as one summary within `budget` tokens: whole while they fit, else the
    sentences that carry facts (numbers, names, first-person statements), in order."""
    whole = "\n".join(f"- {t.strip()}" for t in texts)
    if approx_tokens(whole) <= budget:
        return whole
    kept: list[str] = []
    length = 0  # of "\n".join(kept), counted as it grows: joining it for each is quadratic
    for text in texts:
        for sentence in answering.SENTENCE.split(text.strip()):
            if not INFORMATIVE.search(sentence):
                continue
            line = f"- {sentence}"
            longer = length + (1 if kept else 0) + len(line)
            if tokens_in(longer) > budget:
                return "\n".join(kept)
            kept.append(line)
            length = longer
    return "\n".join(kept)


def _summary(memories: list[MemoryView], budget: int) -> dict[str, Any]:
    ordered = sorted(memories, key=lambda m: m.occurred_at)
    summary = summary_of([m.content for m in ordered], budget)
    return {
        "summary": summary,
        "summary_preview": summary[:200],
        "token_count": approx_tokens(summary) if summary else 0,
        "summarized_count": len(ordered),
        "original_memory_ids": [m.memory_id for m in ordered],
    }


@post("/context/summarize/custom", status_code=200)
async def summarize_custom(request: Request) -> Response[bytes]:
    principal, _, session = await _scoped(request, "context")
    body = await body_of(request)
    agent_id = _agent_of(body, session)
    ids = body.get("memory_ids")
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_SUMMARIZED
        or not all(isinstance(i, str) and 0 < len(i) <= 128 for i in ids)
    ):
        raise Problem(
            422,
            "VALIDATION_ERROR",
            f"memory_ids must hold 1 to {MAX_SUMMARIZED} memory ids",
            field="memory_ids",
        )
    budget = count_of(body, "max_tokens", 1000, 50, 32_000)
    memories = []
    for memory_id in dict.fromkeys(ids):
        query = GetMemoryQuery(
            tenant_id=principal.tenant_id, memory_id=memory_id, agent_id=agent_id
        )
        try:
            found = await deps_of(request).ask(
                request, "retrieval", "memory", query, MemoryView, principal.tenant_id
            )
        except Problem as problem:
            if problem.status == 404:
                raise Problem(404, "MEMORY_NOT_FOUND", f"Memory '{memory_id}' not found") from None
            raise
        assert isinstance(found, MemoryView)
        memories.append(found)
    return ok({"agent_id": agent_id, **_summary(memories, budget)})


@post("/context/compress", status_code=200)
async def compress_scope(request: Request) -> Response[bytes]:
    principal, _, session = await _scoped(request, "context")
    body = await body_of(request)
    agent_id = _agent_of(body, session)
    if "messages" in body:
        return ok({"agent_id": agent_id, **compressed_messages(body)})
    days = count_of(body, "days_to_compress", 7, 1, 365)
    keep = count_of(body, "keep_recent_count", 10, 0, 50)
    budget = count_of(body, "max_tokens", 1000, 50, 32_000)
    before = _now() - timedelta(days=days)
    older: list[MemoryView] = []
    index = 0
    # Newest first: the `keep` newest stay whole, then the ones recorded before the cut.
    async for memory in agent_memories(request, principal, agent_id):
        index += 1
        if index > keep and memory.recorded_at < before:
            older.append(memory)
            if len(older) >= MAX_SUMMARIZED:
                break
    if not older:
        reason = f"no memory older than {days} days beyond the {keep} most recent"
        return ok({"agent_id": agent_id, "compressed": False, "reason": reason})
    summary = _summary(older, budget)
    return ok(
        {
            "agent_id": agent_id,
            "compressed": True,
            "compressed_count": summary["summarized_count"],
            "compression_date": before,
            **summary,
        }
    )


HANDLERS = [current_session, extend_session, summarize_scope, summarize_custom, compress_scope]
