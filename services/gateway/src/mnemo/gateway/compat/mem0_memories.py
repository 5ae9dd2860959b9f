"""Mem0's list and search (`/v3/memories/`, `/v3/memories/search/`): the memories stored as
is, and the facts synthesis drew from those an `infer` add stored (mem0_facts)."""

from typing import Any

from litestar import Request, Response, post

from mnemo.contracts import ListMemoriesQuery, MemoryPage, SearchQuery, SearchResult
from mnemo.contracts.limits import MAX_QUERY_CHARS
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.compat.mem0_facts import facts_of, is_inferred
from mnemo.gateway.compat.mem0_shapes import (
    Scope,
    Stored,
    memory_json,
    ok,
    scope_of,
)
from mnemo.gateway.compat.search_hits import written_metadata
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.validation import int_param, object_body

MAX_TOP_K = 50
MAX_LISTED = 10_000


def native_scope(principal: Principal, scope: Scope) -> tuple[str | None, str | None]:
    """(user, agent) of a read: an agent key reads only its agent; a user, an agent or a
    run is needed."""
    agent_id = agent_scope(principal, scope.agent_id, "agent_id")
    if scope.user_id is None and agent_id is None and scope.run_id is None:
        raise Problem(
            400, "INVALID_REQUEST", "filters need a user_id, agent_id or run_id", field="filters"
        )
    return scope.user_id, agent_id


async def records(request: Request, principal: Principal, scope: Scope) -> list[Stored]:
    """Every memory Mnemo holds in the scope (up to MAX_LISTED), newest first."""
    user_id, agent_id = native_scope(principal, scope)
    found: list[Stored] = []
    while len(found) < MAX_LISTED:
        query = ListMemoriesQuery(
            tenant_id=principal.tenant_id,
            user_id=user_id,
            agent_id=agent_id,
            session_id=scope.run_id,
            limit=100,
            offset=len(found),
        )
        page = await deps_of(request).ask(
            request, "retrieval", "memories", query, MemoryPage, principal.tenant_id
        )
        assert isinstance(page, MemoryPage)
        found.extend(
            Stored(m.memory_id, m.content, m.metadata, m.recorded_at, m.user_id, m.agent_id,
                   m.session_id)
            for m in page.memories
        )  # fmt: skip
        # A page may hold fewer than asked (as many as one reply holds): go on to the total.
        if not page.memories or len(found) >= page.total:
            break
    return found


async def listing(request: Request, principal: Principal, scope: Scope) -> list[Stored]:
    """The scope's memories as Mem0 shows them, newest first: those stored as is, and the
    facts drawn from those an `infer` add stored."""
    held = await records(request, principal, scope)
    shown = [s for s in held if not is_inferred(s)]
    shown.extend(fact for fact, _ in await facts_of(request, principal, held))
    shown.sort(key=lambda s: s.updated_at, reverse=True)
    return [s for s in shown if scope.matches(s.metadata)]


def paging(request: Request, body: dict[str, Any], name: str, *, default: int, high: int) -> int:
    """`page` or `page_size`: a query parameter, as the mem0ai client sends them, else the
    body's (what a client writing the call by hand may send; it was ignored, so that every
    page asked for was the first), an integer from 1 to `high` either way."""
    if name in request.query_params or name not in body:
        return int_param(request, name, default=default, low=1, high=high)
    value = body[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 2.0: an integer, as JSON Schema counts it
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise Problem(
            400, "INVALID_REQUEST", f"{name} must be an integer from 1 to {high}", field=name
        )
    return value


@post("/v3/memories", status_code=200)
async def get_all(request: Request) -> Response[bytes]:
    principal = await authorize(request, "memories")
    body = await object_body(request)
    scope = scope_of(body, body.get("filters"), wildcard=True)
    page = paging(request, body, "page", default=1, high=MAX_LISTED)
    size = paging(request, body, "page_size", default=100, high=1000)
    shown = await listing(request, principal, scope)
    found, total = shown[(page - 1) * size : page * size], len(shown)
    base = f"{request.url.path}?page_size={size}&page="
    return ok(
        {
            "count": total,
            "next": base + str(page + 1) if page * size < total else None,
            "previous": base + str(page - 1) if page > 1 else None,
            "results": [memory_json(s) for s in found],
        }
    )


@post("/v3/memories/search", status_code=200)
async def search(request: Request) -> Response[bytes]:
    principal = await authorize(request, "search")
    body = await object_body(request)
    query = body.get("query")
    if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
        raise Problem(
            400, "INVALID_REQUEST", f"query must be 1-{MAX_QUERY_CHARS} characters", field="query"
        )
    top_k = body.get("top_k", body.get("limit", 10))
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise Problem(400, "INVALID_REQUEST", f"top_k must be 1-{MAX_TOP_K}", field="top_k")
    threshold = body.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 1
    ):
        raise Problem(400, "INVALID_REQUEST", "threshold must be 0-1", field="threshold")
    scope = scope_of(body, body.get("filters"), wildcard=True)
    user_id, agent_id = native_scope(principal, scope)
    ask = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=user_id,
        agent_id=agent_id,
        session_id=scope.run_id,
        query=query,
        # Filters applied after the search need more candidates to keep top_k.
        limit=MAX_TOP_K if scope.post_filtered else top_k,
        threshold=None if threshold is None else float(threshold),
        mode="keyword" if body.get("keyword_search") else "hybrid",
    )
    result = await deps_of(request).ask(
        request, "retrieval", "search", ask, SearchResult, principal.tenant_id
    )
    assert isinstance(result, SearchResult)
    # Shown as get and list show it: the client's metadata, the memory's agent and session.
    hits = {
        h.memory_id: (
            Stored(h.memory_id, h.content, written_metadata(h), h.ingested_at, h.user_id,
                   h.metadata.get("agentId"), h.metadata.get("sessionId")),
            h,
        )
        for h in result.results
    }  # fmt: skip
    scored = [(s, h.similarity) for s, h in hits.values() if not is_inferred(s)]
    # A memory an `infer` add stored is found as the facts drawn from it, at its score.
    for fact, source in await facts_of(request, principal, [s for s, _ in hits.values()]):
        scored.append((fact, hits[source.memory_id][1].similarity))
    scored.sort(key=lambda pair: -pair[1])
    shown = [memory_json(s, score=score) for s, score in scored if scope.matches(s.metadata)]
    return ok({"results": shown[:top_k]})
