"""GET /v1/search: hybrid search over a user's memories (asks the retrieval service)."""

from litestar import Request, Response, get

from mnemo.contracts import SearchQuery, SearchResult
from mnemo.gateway.auth import authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.validation import as_json, int_param, query_param


@get("/v1/search")
async def search(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "search")
    query = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=query_param(request, "userId", required=True) or "",
        query=query_param(request, "q", required=True, max_len=4000) or "",
        limit=int_param(request, "limit", default=10, low=1, high=50),
        source_type=query_param(request, "sourceType"),
    )
    result = await deps.ask(
        request, "retrieval", "search", query, SearchResult, principal.tenant_id
    )
    assert isinstance(result, SearchResult)
    body = {
        "results": [
            {
                "id": hit.memory_id,
                "content": hit.content,
                "similarity": hit.similarity,
                "sourceType": hit.source_type,
                "ingestedAt": hit.ingested_at,
                "metadata": hit.metadata,
            }
            for hit in result.results
        ]
    }
    return Response(as_json(body), media_type="application/json")
