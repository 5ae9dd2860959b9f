"""GET /v1/health: NATS as the gateway sees it, and each service's own dependencies."""

import asyncio

from litestar import Request, Response, get

from mnemo.bus import QueryFailed, ask
from mnemo.contracts import HealthReport
from mnemo.gateway.deps import deps_of
from mnemo.gateway.validation import as_json

BACKENDS = ("ingest", "synthesis", "retrieval", "audit")


@get("/v1/health")
async def health(request: Request) -> Response[bytes]:
    deps = deps_of(request)

    async def backend(name: str) -> dict[str, object]:
        try:
            subject = deps.topology.svc_subject(name, "health")
            report = await ask(deps.nc, subject, {}, HealthReport, timeout=2.5)  # type: ignore[arg-type]
            return {"status": report.status, "checks": report.checks}
        except QueryFailed as exc:
            return {"status": "down", "error": str(exc)}

    try:
        await deps.publisher.js.account_info()
        nats = "ok"
    except Exception as exc:
        nats = f"error: {exc!r}"
    reports = await asyncio.gather(*(backend(name) for name in BACKENDS))
    services: dict[str, dict[str, object]] = {"gateway": {"status": "ok", "checks": {"nats": nats}}}
    services.update(dict(zip(BACKENDS, reports, strict=True)))
    healthy = all(s["status"] == "ok" for s in services.values())
    body = {"status": "ok" if healthy else "degraded", "services": services}
    return Response(
        as_json(body), status_code=200 if healthy else 503, media_type="application/json"
    )
