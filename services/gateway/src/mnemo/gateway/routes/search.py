"""Search over a user's memory chunks (asks the retrieval service).

GET /v1/search is the seed's form; POST /v1/search takes what the anansi-memory SDK sends:
`{userId, query, searchMode, threshold, alpha, limit, filters, sessionId}`.
"""

from typing import Any, Literal

import msgspec
from litestar import Request, Response, get, post

from mnemo.contracts import SearchHit, SearchQuery, SearchResult
from mnemo.contracts.limits import MAX_QUERY_CHARS
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.context import time_param
from mnemo.gateway.routes.ingest import SOURCE_TYPES
from mnemo.gateway.routes.search_filters import (
    SearchFilters,
    check_filters,
    check_fraction,
    check_id_text,
    ingested_by,
)
from mnemo.gateway.validation import as_json, decode_body, int_param, query_param

MAX_LIMIT = 50


class SearchRequest(msgspec.Struct, rename="camel"):
    user_id: str
    query: str
    search_mode: Literal["vector", "keyword", "hybrid"] = "hybrid"
    threshold: float | None = None
    alpha: float | None = None
    limit: int = 10
    filters: SearchFilters | None = None
    session_id: str | None = None
    # The agent whose memories to search (as GET's `agentId`; or `filters.agentId`).
    agent_id: str | None = None
    # Only the memories stored under this sourceId (the SDK's top-level `sourceId`).
    source_id: str | None = None


def _agent_asked(principal: Principal, top: str | None, filtered: str | None) -> str | None:
    """The agent a POST search names, at the top (`agentId`) or in its filters: both name
    the same one, or it is a 400 (neither is dropped for the other)."""
    if top is not None and filtered is not None and top != filtered:
        raise Problem(
            400,
            "INVALID_REQUEST",
            "agentId and filters.agentId name different agents",
            field="agentId",
        )
    if top is not None:
        check_id_text(top, "agentId")
        return agent_scope(principal, top, "agentId")
    return agent_scope(principal, filtered, "filters.agentId")


def hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "id": hit.memory_id,
        "content": hit.content,
        "similarity": hit.similarity,
        "score": hit.similarity,
        "sourceType": hit.source_type,
        "sourceId": hit.source_id,
        "ingestedAt": hit.ingested_at,
        "metadata": hit.metadata,
    }


async def run_search(request: Request, query: SearchQuery) -> Response[bytes]:
    result = await deps_of(request).ask(
        request, "retrieval", "search", query, SearchResult, query.tenant_id
    )
    assert isinstance(result, SearchResult)
    body = {"results": [hit_json(hit) for hit in result.results]}
    return Response(as_json(body), media_type="application/json")


@get("/v1/search")
async def search(request: Request) -> Response[bytes]:
    principal = await authorize(request, "search")
    query = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=query_param(request, "userId", required=True) or "",
        query=query_param(request, "q", required=True, max_len=MAX_QUERY_CHARS) or "",
        limit=int_param(request, "limit", default=10, low=1, high=MAX_LIMIT),
        source_type=query_param(request, "sourceType", choices=SOURCE_TYPES),
        source_id=query_param(request, "sourceId"),
        session_id=query_param(request, "sessionId"),
        agent_id=agent_scope(principal, query_param(request, "agentId")),
        recorded_before=ingested_by(
            time_param(request, "asOf"), time_param(request, "asOfKnowledge")
        ),
    )
    return await run_search(request, query)


@post("/v1/search", status_code=200)
async def search_post(request: Request) -> Response[bytes]:
    principal = await authorize(request, "search")
    body = await decode_body(request, SearchRequest, status=400)
    if not body.user_id or len(body.user_id) > 256:
        raise Problem(400, "INVALID_REQUEST", "userId must be 1-256 characters", field="userId")
    if not body.query.strip():
        raise Problem(400, "INVALID_REQUEST", "query must not be empty", field="query")
    if len(body.query) > MAX_QUERY_CHARS:
        raise Problem(
            400,
            "INVALID_REQUEST",
            f"query is longer than {MAX_QUERY_CHARS} characters",
            field="query",
        )
    if not 1 <= body.limit <= MAX_LIMIT:
        raise Problem(
            400, "INVALID_REQUEST", f"limit must be between 1 and {MAX_LIMIT}", field="limit"
        )
    check_fraction(body.alpha, "alpha")
    check_fraction(body.threshold, "threshold")
    check_id_text(body.session_id, "sessionId")
    filters = check_filters(body.filters or SearchFilters())
    if body.source_id is not None and not 1 <= len(body.source_id) <= 256:
        raise Problem(400, "INVALID_REQUEST", "sourceId must be 1-256 characters", field="sourceId")
    query = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=body.user_id,
        query=body.query,
        limit=body.limit,
        source_type=filters.source_type,
        source_id=body.source_id,
        session_id=body.session_id or filters.session_id,
        agent_id=_agent_asked(principal, body.agent_id, filters.agent_id),
        threshold=body.threshold,
        mode=body.search_mode,
        alpha=0.5 if body.alpha is None else body.alpha,
        recorded_before=ingested_by(filters.as_of, filters.as_of_knowledge),
    )
    return await run_search(request, query)
