"""DELETE /v1/memory and DELETE /v1/user: forget everything of one user.

Forgetting is a request/reply to ingest, not a queued command, so that when the answer
comes the user's content in the log is already unreadable (its keys are shredded) and the
caller learns what was removed. Projections drop the rest as `memory.forgotten` reaches them.
"""

from litestar import Request, Response, delete

from mnemo.contracts import ForgetResult, ForgetSubject
from mnemo.gateway.auth import authorize, require_master
from mnemo.gateway.deps import deps_of
from mnemo.gateway.validation import as_json, query_param


async def _forget(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "forget")
    # A user's memories may span agents: forgetting them all is the tenant admin's call.
    require_master(principal)
    user_id = query_param(request, "userId", required=True) or ""
    query = ForgetSubject(tenant_id=principal.tenant_id, user_id=user_id, actor=principal.actor)
    result = await deps.ask(request, "ingest", "forget", query, ForgetResult, principal.tenant_id)
    assert isinstance(result, ForgetResult)
    removed = {
        "memories": result.removed.get("memory.recorded", 0),
        "facts": result.removed.get("fact.extracted", 0),
    }
    body = {"deleted": True, "userId": result.user_id, "removed": removed}
    return Response(as_json(body), media_type="application/json")


@delete("/v1/memory", status_code=200)
async def forget_memory(request: Request) -> Response[bytes]:
    return await _forget(request)


@delete("/v1/user", status_code=200)
async def forget_user(request: Request) -> Response[bytes]:
    return await _forget(request)
