"""The Litestar application: routes, middleware, error shapes, start-up and shutdown."""

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp
from nats.js.kv import KeyValue

from mnemo.bus import (
    Publisher,
    connect,
    ensure_streams,
    erasable_key_value,
    key_value,
    settled,
    when_reconnected,
)
from mnemo.contracts import Topology, key_usage_bucket, keys_bucket
from mnemo.gateway.auth import KeyCache
from mnemo.gateway.compat import elephantasm, eliza_router
from mnemo.gateway.compat.eliza_envelope import error as eliza_error
from mnemo.gateway.compat.mem0 import Mem0Paths, mem0_router
from mnemo.gateway.compat.mem0_shapes import mem0_refusal
from mnemo.gateway.compat.memanto import memanto_refusal
from mnemo.gateway.compat.memanto_routes import memanto_router
from mnemo.gateway.console import console_router
from mnemo.gateway.correlation import CorrelationMiddleware
from mnemo.gateway.deps import Deps
from mnemo.gateway.guard import InputGuard, Shape, shape_for
from mnemo.gateway.http_telemetry import observed, serve_gateway_metrics
from mnemo.gateway.idempotency import TTL_SECONDS, IdempotencyMiddleware
from mnemo.gateway.limits import Limits
from mnemo.gateway.mcp.endpoint import McpEndpoint, mcp_endpoint
from mnemo.gateway.methods import answer_options
from mnemo.gateway.problems import (
    Problem,
    handle_http_exception,
    handle_problem,
    handle_unexpected,
    http_problem,
)
from mnemo.gateway.routes.accounts import (
    create_agent,
    create_key,
    delete_agent,
    get_agent,
    list_agents,
    list_keys,
    revoke_key,
    sign_up,
    update_agent,
)
from mnemo.gateway.routes.answer import answer
from mnemo.gateway.routes.audit import audit_events
from mnemo.gateway.routes.context import context
from mnemo.gateway.routes.docs import docs_asset, docs_ui, openapi_json
from mnemo.gateway.routes.entities import entities
from mnemo.gateway.routes.events import events_stream
from mnemo.gateway.routes.facts import contradict_fact, list_facts, supersede_fact, validate_fact
from mnemo.gateway.routes.forget import forget_memory, forget_user
from mnemo.gateway.routes.health import health
from mnemo.gateway.routes.ingest import ingest, ingest_batch
from mnemo.gateway.routes.memories import delete_memory, get_memory, list_memories
from mnemo.gateway.routes.packs import latest_pack
from mnemo.gateway.routes.search import search, search_post
from mnemo.gateway.settings import GatewaySettings
from mnemo.gateway.shedding import LoadShedder
from mnemo.settings import SettingsError
from mnemo.telemetry import get_logger
from mnemo.telemetry.live import MetricsPortUnavailable

SERVICE = "gateway"

log = get_logger(__name__)


# Each compatible surface answers a refused input in its own error shape.
REFUSALS: list[tuple[str, Shape]] = [
    ("/mem0/", mem0_refusal),
    ("/api/v2/", memanto_refusal),
    ("/api/agents/", eliza_error),
    ("/api/memory/", eliza_error),
    ("/api/server/", eliza_error),
    ("/api/", elephantasm.refusal),
]


def handle_router_refusal(request: Request, exc: Exception) -> Response[bytes]:
    """No such route (404) or method (405): answered in the shape of the surface the path
    belongs to, as the guard's refusals are, so a client of a surface parses every error."""
    assert isinstance(exc, HTTPException)
    shape = shape_for(request.url.path, REFUSALS)
    return shape(http_problem(request, exc)) if shape else handle_http_exception(request, exc)


def create_asgi(settings: GatewaySettings) -> ASGIApp:
    """The app as served: Litestar inside the correlation middleware."""
    app = create_app(settings)
    # Load shedding first (before a body is read or anything waits on the bus), then the
    # input guard, so nothing hostile reaches the idempotency store or a route.
    # Every reader of a body reads it within MNEMO_BODY_TIMEOUT (mnemo.gateway.body).
    timeout = settings.body_timeout
    shedder = LoadShedder(
        InputGuard(
            IdempotencyMiddleware(app, app.state, REFUSALS, timeout),
            settings.max_body_bytes,
            REFUSALS,
            timeout,
        ),
        app.state,
        settings.max_in_flight,
        settings.tenant_share,
        REFUSALS,
    )
    # Correlation around the rest, so replayed and shed answers get this call's ids too;
    # the root span and the HTTP metrics around everything (mnemo.gateway.http_telemetry).
    # Inside, the Mem0 surface's requests are told apart (by their Token scheme) before
    # anything reads the path. The MCP tools call the app as served, so every middleware
    # applies to them too.
    served = observed(
        CorrelationMiddleware(
            Mem0Paths(shedder),
            app.state,
            settings.max_body_bytes,
            shapes=REFUSALS,
            body_timeout=timeout,
        )
    )
    app.state.served = served
    return served


@dataclass(frozen=True)
class _Buckets:
    """What the gateway keeps in JetStream besides the streams."""

    limits: Limits
    keys: KeyValue
    key_usage: KeyValue
    # MEMANTO's sessions (by token digest); each entry carries its own expiry.
    sessions: KeyValue
    # Elephantasm's dedupe keys, claimed once across replicas (no expiry).
    dedupe: KeyValue
    # Kept answers may hold what a user said: a forget erases them (mnemo.bus.erasure).
    idempotency: KeyValue

    @classmethod
    async def made(cls, publisher: Publisher, settings: GatewaySettings) -> "_Buckets":
        """The streams and buckets, each made where missing or brought to its settings."""
        js, topology, replicas = publisher.js, publisher.topology, settings.stream_replicas
        await ensure_streams(js, topology, settings)
        root = topology.root
        return cls(
            limits=await Limits.open(
                publisher.nc, topology, settings.limit_spec(), settings.limit_timeout, replicas
            ),
            keys=await key_value(js, keys_bucket(root), replicas=replicas),
            key_usage=await key_value(js, key_usage_bucket(root), replicas=replicas),
            sessions=await key_value(
                js, f"{root.upper()}_SESSIONS", ttl=7 * 86400, replicas=replicas
            ),
            dedupe=await key_value(js, f"{root.upper()}_DEDUPE", replicas=replicas),
            idempotency=await erasable_key_value(
                js, topology.idempotency_bucket, ttl=TTL_SECONDS, cache=True, replicas=replicas
            ),
        )


# A setting refused at startup by a server (see lifespan), for the process to exit on.
STARTUP_REFUSALS: list[Exception] = []


def create_app(settings: GatewaySettings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        topology = Topology(root=settings.bus_root)
        try:
            nc = await connect(settings.nats_url, name="mnemo-gateway")
            publisher = Publisher(nc, topology, SERVICE)
            # Each step makes what is missing: tried again while JetStream is not ready.
            made = await settled(lambda: _Buckets.made(publisher, settings), "jetstream")
        except SettingsError as exc:
            # Refused for good by what it was configured with (NATS's credentials): the
            # process ends on one line naming the setting and exit 78 (bootstrap.main), as
            # for a malformed setting, not on uvicorn's exit 3, which `mnemo run` would
            # restart into the same refusal.
            STARTUP_REFUSALS.append(exc)
            raise
        except Exception:
            # uvicorn would log only the first line of the traceback it is handed.
            log.error("startup_failed", exc_info=True)
            raise
        limits = made.limits
        keys = KeyCache(made.keys, made.key_usage)
        await keys.start()
        when_reconnected(nc, keys.resync)
        app.state.deps = Deps(
            settings=settings,
            nc=nc,
            publisher=publisher,
            topology=topology,
            limits=limits,
            keys=keys,
        )
        app.state.publisher = publisher
        if settings.metrics_port is not None:
            try:
                serve_gateway_metrics(settings, publisher)
            except MetricsPortUnavailable as exc:
                # As every other service: one line naming the setting and exit 78, not
                # uvicorn's exit 3 with the first line of a traceback.
                STARTUP_REFUSALS.append(exc)
                raise
        app.state.sessions = made.sessions
        app.state.dedupe = made.dedupe
        app.state.idempotency = made.idempotency
        # The MCP endpoint's session manager lives as long as the app (it runs once).
        app.state.mcp = McpEndpoint(getattr(app.state, "served", app))
        try:
            async with app.state.mcp.running():
                yield
        finally:
            await keys.stop()
            # NATS may be away at shutdown: then there is nothing left to drain.
            with contextlib.suppress(Exception):
                await nc.drain()

    return Litestar(
        route_handlers=[
            ingest,
            ingest_batch,
            list_memories,
            get_memory,
            delete_memory,
            forget_memory,
            forget_user,
            search,
            search_post,
            context,
            answer,
            entities,
            list_facts,
            validate_fact,
            supersede_fact,
            contradict_fact,
            audit_events,
            events_stream,
            health,
            docs_ui,
            docs_asset,
            openapi_json,
            sign_up,
            create_key,
            list_keys,
            revoke_key,
            create_agent,
            list_agents,
            get_agent,
            update_agent,
            delete_agent,
            eliza_router,
            latest_pack,
            *elephantasm.HANDLERS,
            memanto_router,
            mcp_endpoint,
            console_router,
            mem0_router,
        ],
        lifespan=[lifespan],
        before_request=answer_options,
        exception_handlers={
            Problem: handle_problem,
            HTTPException: handle_router_refusal,
            Exception: handle_unexpected,
        },
        request_max_body_size=settings.max_body_bytes,
        # The OpenAPI document is written by hand in mnemo.gateway.openapi (see there).
        openapi_config=None,
        on_app_init=[_no_litestar_logging],
        debug=False,
    )


def _no_litestar_logging(config: AppConfig) -> AppConfig:
    # structlog writes our lines; Litestar's own logging config would add a second format.
    config.logging_config = None
    return config
