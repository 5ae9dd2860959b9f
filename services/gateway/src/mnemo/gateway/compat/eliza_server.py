"""ElizaOS's server domain (seed 002, "Server API"): `GET /api/server/ping` and
`GET /api/server/health`, the seed's first step ("Test the API"). Public, like every
health check here, and holding no tenant's data: the health is the stack's."""

import time
from datetime import UTC, datetime

from litestar import Request, Response, get

from mnemo.bus import QueryFailed, ask
from mnemo.contracts import HealthReport
from mnemo.gateway.deps import deps_of
from mnemo.gateway.validation import as_json

SERVICES = ("ingest", "retrieval", "synthesis", "audit")


@get("/server/ping")
async def ping() -> Response[bytes]:
    body = {"pong": True, "timestamp": int(time.time() * 1000)}
    return Response(as_json(body), media_type="application/json")


@get("/server/health")
async def server_health(request: Request) -> Response[bytes]:
    """`status` OK when every service answers healthy, else 503 with the ones that do not."""
    deps = deps_of(request)
    unhealthy = []
    for service in SERVICES:
        try:
            report = await ask(
                deps.nc,
                deps.topology.svc_subject(service, "health"),
                {},  # type: ignore[arg-type]
                HealthReport,
                timeout=2.5,
            )
            if report.status != "ok":
                unhealthy.append(service)
        except QueryFailed:
            unhealthy.append(service)
    body = {
        "status": "OK" if not unhealthy else "DEGRADED",
        "timestamp": datetime.now(UTC),
        "dependencies": {s: "unhealthy" if s in unhealthy else "healthy" for s in SERVICES},
    }
    return Response(
        as_json(body), status_code=503 if unhealthy else 200, media_type="application/json"
    )
