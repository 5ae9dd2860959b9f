"""DELETE /v1/memory and DELETE /v1/user: forget everything of one user.

Forgetting is a request/reply to ingest, not a queued command, so that when the answer
comes the user's content in the log is already unreadable (its keys are shredded) and the
caller learns what was removed. Before answering, the gateway also asks the read models to
drop the subject at once, so that no read after the answer sees it; `memory.forgotten`
does the same when it reaches them (a repeat drops nothing), then they compact, and
ingest erases the subject from the streams (README, Forgetting).
"""

import asyncio

from litestar import Request, Response, delete

from mnemo.contracts import DeleteMemory, DropMemories, Dropped, ForgetResult, ForgetSubject
from mnemo.gateway.auth import Principal, authorize, require_master
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.validation import as_json, check_not_wildcard, only_params, query_param
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# Read models that keep a subject's rows, and the endpoint that drops them now.
SUBJECT_READ_MODELS = (("retrieval", "drop_subject"), ("synthesis", "drop_subject"))


async def drop_now(
    request: Request,
    tenant: str,
    asks: list[tuple[str, str, ForgetSubject | DeleteMemory | DropMemories]],
    *,
    confirm: bool = True,
) -> None:
    """Ask read models to drop what was just forgotten or deleted (or revised), so that no
    read after the answer sees it; the event does it again when it reaches them. One that
    does not answer (slow under load, or away) is asked again for up to twice the query
    timeout; then, with `confirm`, the request is answered 503 READ_MODELS_BEHIND: what it
    did is recorded (asking again repeats nothing, and is answered once they confirm), but
    a read could still show what went. Without (a revision: asking again would revise
    again), the read models catch up from the event."""
    deps = deps_of(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2 * deps.settings.query_timeout
    pause = 0.1
    while True:
        answers = await asyncio.gather(
            *(deps.ask(request, svc, endpoint, q, Dropped, tenant) for svc, endpoint, q in asks),
            return_exceptions=True,
        )
        errors = [
            (ask, a) for ask, a in zip(asks, answers, strict=True) if isinstance(a, BaseException)
        ]
        if not errors:
            return
        failed = [ask for ask, _ in errors]
        for service, endpoint, _ in failed:
            log.warning("read_model_drop_failed", target=service, endpoint=endpoint)
        # Refused (a 4xx), it would be refused again: only the slow or away are asked again.
        refused = all(isinstance(e, Problem) and e.status < 500 for _, e in errors)
        if refused or loop.time() + pause >= deadline:
            break
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)
        asks = failed
    if not confirm:
        log.warning("read_model_drop_deferred", targets=sorted({s for s, _, _ in failed}))
        return
    raise Problem(
        503,
        "READ_MODELS_BEHIND",
        "recorded, but a read model has not confirmed it yet (a search may still show what"
        " went); ask again: it repeats nothing and is answered once they have",
        headers={"Retry-After": "1"},
    )


async def forget_subject(
    request: Request, principal: Principal, user_id: str, field: str = "userId"
) -> ForgetResult:
    """Forget `user_id` of the principal's tenant (every surface forgets through here, and
    so no surface forgets "*", which a client may read as everyone: `field` names it)."""
    check_not_wildcard(user_id, field)
    query = ForgetSubject(tenant_id=principal.tenant_id, user_id=user_id, actor=principal.actor)
    tenant = principal.tenant_id
    result = await deps_of(request).ask(request, "ingest", "forget", query, ForgetResult, tenant)
    assert isinstance(result, ForgetResult)
    await drop_now(request, tenant, [(s, e, query) for s, e in SUBJECT_READ_MODELS])
    return result


async def _forget(request: Request) -> Response[bytes]:
    principal = await authorize(request, "forget")
    # A user's memories may span agents: forgetting them all is the tenant admin's call.
    require_master(principal)
    only_params(request, ("userId",))
    user_id = query_param(request, "userId", required=True) or ""
    result = await forget_subject(request, principal, user_id)
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
