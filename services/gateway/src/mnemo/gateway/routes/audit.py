"""GET /v1/audit/events: the chain of everything one correlation id caused."""

from litestar import Request, Response, get

from mnemo.contracts import AuditQuery, AuditResult
from mnemo.gateway.auth import agent_scope, authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.routes.context import time_param
from mnemo.gateway.validation import as_json, int_param, query_param


@get("/v1/audit/events")
async def audit_events(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "audit")
    query = AuditQuery(
        tenant_id=principal.tenant_id,
        correlation_id=query_param(request, "correlation_id"),
        since=time_param(request, "since"),
        until=time_param(request, "until"),
        actor=query_param(request, "actor"),
        type=query_param(request, "type"),
        agent_id=agent_scope(principal, None),
        agent_since=principal.agent_since,
        limit=int_param(request, "limit", default=500, low=1, high=1000),
        offset=int_param(request, "offset", default=0, low=0, high=10_000_000),
    )
    result = await deps.ask(request, "audit", "events", query, AuditResult, principal.tenant_id)
    assert isinstance(result, AuditResult)
    body = {
        "correlation_id": result.correlation_id,
        "services": sorted(
            {e.service for e in result.events} | {e.recorded_by for e in result.events}
        ),
        "events": result.events,
        "total": result.total,
        "next_offset": result.next_offset,
    }
    return Response(as_json(body), media_type="application/json")
