"""GET /v1/health: NATS as the gateway sees it, each service's own dependencies, and the
dead letters waiting (by consumer; they do not make the stack unhealthy, but an operator
should look: `mnemo admin dead-letters list`)."""

import asyncio

from litestar import Request, Response, get

from mnemo.bus import QueryFailed, ask
from mnemo.bus.dead_letters import DeadLetters
from mnemo.contracts import HealthReport
from mnemo.gateway.auth import client_address
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.validation import as_json

BACKENDS = ("ingest", "synthesis", "retrieval", "audit")


@get("/v1/health")
async def health(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    await _charge(request)

    async def backend(name: str) -> dict[str, object]:
        try:
            subject = deps.topology.svc_subject(name, "health")
            report = await ask(deps.nc, subject, {}, HealthReport, timeout=2.5)  # type: ignore[arg-type]
            shown: dict[str, object] = {"status": report.status, "checks": report.checks}
            if report.backlog:
                shown["backlog"] = report.backlog
            return shown
        except QueryFailed as exc:
            return {"status": "down", "error": str(exc)}

    dead: dict[str, int] = {}
    try:
        if not deps.nc.is_connected:
            raise ConnectionError("not connected")
        await deps.publisher.js.account_info()
        nats = "ok"
        dead = await DeadLetters(deps.publisher.js, deps.topology).counts()
    except Exception as exc:
        nats = f"down: {type(exc).__name__}"
    reports = await asyncio.gather(*(backend(name) for name in BACKENDS))
    gateway: dict[str, object] = {
        "status": "ok" if nats == "ok" else "down",
        "checks": {"nats": nats},
    }
    services: dict[str, dict[str, object]] = {"gateway": gateway}
    services.update(dict(zip(BACKENDS, reports, strict=True)))
    healthy = all(s["status"] == "ok" for s in services.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "services": services,
        "deadLetters": {"total": sum(dead.values()), "byConsumer": dead},
    }
    return Response(
        as_json(body), status_code=200 if healthy else 503, media_type="application/json"
    )


async def _charge(request: Request) -> None:
    """Count the call against its client address's per-minute limit (action "health"),
    so that it carries X-RateLimit-* like every answer (seed 003). Health is what an
    operator reads when things are down: counters that cannot be reached leave the
    headers out and the report is given all the same."""
    deps = deps_of(request)
    try:
        usage = await deps.limits.charge("health", f"ip:{client_address(request)}", "health")
    except Problem as problem:
        if problem.status != 503:
            raise
        return
    if usage is not None:
        request.scope["state"]["rate_usage"] = usage
