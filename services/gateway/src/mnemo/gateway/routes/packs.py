"""GET /v1/agents/{agentId}/packs/latest: the agent's memory pack, compiled by synthesis
(or found again, when nothing changed since it was compiled)."""

from typing import Any

from litestar import Request, Response, get

from mnemo.contracts import DEFAULT_MAX_TOKENS, PRESETS, PackQuery, PackView
from mnemo.contracts.limits import MAX_QUERY_CHARS
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.secrets import redacted
from mnemo.gateway.validation import about_param, as_json, int_param, query_param


def pack_query(
    request: Request,
    principal: Principal,
    agent_id: str,
    user_id: str | None,
    query: str | None,
    preset: str | None,
    max_tokens: int,
) -> PackQuery:
    """The pack a request asks for; `?about=` narrows its profile to one person."""
    agent_scope(principal, agent_id)
    preset = preset or "conversational"
    if preset not in PRESETS:
        raise Problem(
            400, "INVALID_REQUEST", f"preset must be one of: {', '.join(PRESETS)}", field="preset"
        )
    return PackQuery(
        tenant_id=principal.tenant_id,
        agent_id=agent_id,
        user_id=user_id,
        query=query,
        preset=preset,
        max_tokens=max_tokens,
        actor=principal.actor,
        about=about_param(request),
    )


async def compile_pack(request: Request, query: PackQuery) -> PackView:
    """The pack, from synthesis. Its query is kept with it (the `pack.compiled` event): a
    secret in it is redacted first, as in anything else stored, on every surface."""
    query = redacted(query, "query")
    view = await deps_of(request).ask(
        request, "synthesis", "pack", query, PackView, query.tenant_id
    )
    assert isinstance(view, PackView)
    return view


def pack_json(view: PackView) -> dict[str, Any]:
    return {
        "id": view.pack_id,
        "agentId": view.agent_id,
        "userId": view.user_id,
        "query": view.query,
        "preset": view.preset,
        "sessionMemoryCount": view.session_memory_count,
        "knowledgeCount": view.knowledge_count,
        "longTermMemoryCount": view.long_term_memory_count,
        "hasIdentity": view.has_identity,
        "tokenCount": view.token_count,
        "maxTokens": view.max_tokens,
        "content": view.content,
        "compiledAt": view.compiled_at,
    }


@get("/v1/agents/{agent_id:str}/packs/latest")
async def latest_pack(request: Request, agent_id: str) -> Response[bytes]:
    principal = await authorize(request, "context")
    query = pack_query(
        request,
        principal,
        agent_id,
        query_param(request, "userId"),
        query_param(request, "query", max_len=MAX_QUERY_CHARS),
        query_param(request, "preset", choices=PRESETS),
        int_param(request, "maxTokens", default=DEFAULT_MAX_TOKENS, low=100, high=32_000),
    )
    view = await compile_pack(request, query)
    return Response(as_json(pack_json(view)), media_type="application/json")
