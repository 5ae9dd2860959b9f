"""GET /v1/entities: the entity graph of a user (people, pets, organizations, tools, places,
products, events), each with its relationship to the user, asOf and asOfKnowledge like
/v1/context, and `about` one speaker's mentions only."""

from litestar import Request, Response, get

from mnemo.contracts import ENTITY_TYPES, EntitiesQuery, EntityGraph
from mnemo.gateway.auth import agent_scope, authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.routes.context import time_param
from mnemo.gateway.validation import about_param, as_json, query_param


@get("/v1/entities")
async def entities(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "entities")
    user_id = query_param(request, "userId", required=True) or ""
    type_ = query_param(request, "type", choices=ENTITY_TYPES)
    tenant = principal.tenant_id
    query = EntitiesQuery(
        tenant_id=tenant,
        user_id=user_id,
        type=type_,
        as_of=time_param(request, "asOf"),
        as_of_knowledge=time_param(request, "asOfKnowledge"),
        agent_id=agent_scope(principal, query_param(request, "agentId")),
        about=about_param(request),
    )
    graph = await deps.ask(request, "synthesis", "entities", query, EntityGraph, tenant)
    assert isinstance(graph, EntityGraph)
    body = {
        "entities": [
            {
                "name": e.name,
                "type": e.type,
                "relationship": e.relationship,
                "confidence": e.confidence,
                "id": e.entity_id,
                "mentions": e.mentions,
                "firstSeen": e.first_seen,
                "lastSeen": e.last_seen,
            }
            for e in graph.entities
        ]
    }
    return Response(as_json(body), media_type="application/json")
