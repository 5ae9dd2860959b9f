"""The lifecycle every backend service shares, written once."""

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from nats.aio.client import Client

from mnemo.bus import (
    BatchHandler,
    Consumer,
    ConsumerSpec,
    Handler,
    Publisher,
    connect,
    ensure_streams,
    serve,
    settled,
)
from mnemo.bus.queries import Endpoint
from mnemo.contracts import HealthReport, Topology
from mnemo.eventlog import connect as connect_db
from mnemo.eventlog import migrate, migrate_eventlog
from mnemo.host.probes import ProbeServer
from mnemo.settings import DatabaseSettings, ServiceSettings, SettingsError
from mnemo.telemetry import configure, get_logger
from mnemo.telemetry.live import MetricsPortUnavailable, Reading, Sampler, serve_metrics
from mnemo.telemetry.scrub import scrub_field

log = get_logger(__name__)

HealthCheck = Callable[[], Awaitable[None]]


class _HealthRequest:
    pass


class Host:
    """Owns one service's connections and background work, and stops them in order."""

    def __init__(self, service: str, settings: ServiceSettings) -> None:
        self.service = service
        self.settings = settings
        self.topology = Topology(root=settings.bus_root)
        self.nc: Client | None = None
        self.publisher: Publisher | None = None
        self.pool: asyncpg.Pool | None = None
        self._consumers: list[Consumer] = []
        self._tasks: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._endpoints: dict[str, tuple[type, Endpoint, int, bool]] = {}
        self._checks: dict[str, HealthCheck] = {}
        # Checks shown in the report that do not make the service degraded.
        self._optional: set[str] = set()
        self._backlogs: dict[str, Consumer] = {}
        self._running: list[asyncio.Task[None]] = []
        self._probes: ProbeServer | None = None
        self._serving = False  # consumers and queries run: the replica is ready
        self._samplers: list[Sampler] = [self._consumer_gauges, self._dependency_gauges]

    async def start(self, migrations: dict[str, Path] | None = None) -> None:
        """Connect to NATS (and Postgres when configured), create streams, run migrations."""
        configure(
            self.service, level=self.settings.log_level, otlp_endpoint=self.settings.otlp_endpoint
        )
        if self.settings.probe_port is not None:
            # First, so an orchestrator sees the process alive (and not ready) while it
            # connects, migrates and loads what it needs.
            self._probes = ProbeServer(self.settings.probe_port, self._readiness)
            await self._probes.start()
        self.nc = await connect(self.settings.nats_url, name=f"mnemo-{self.service}")
        self.publisher = Publisher(self.nc, self.topology, self.service)
        js = self.publisher.js
        await settled(lambda: ensure_streams(js, self.topology, self.settings), "streams")
        self._checks["nats"] = self._check_nats
        if isinstance(self.settings, DatabaseSettings):
            url = self.settings.database_url
            try:
                self.pool = pool = await settled(lambda: connect_db(url), "postgres")
            except Exception as exc:
                if refusal := database_refusal(exc):
                    raise SettingsError(f"MNEMO_DATABASE_URL {refusal}") from None
                raise

            async def migrated() -> None:
                async with pool.acquire() as conn:
                    await migrate_eventlog(conn)
                    for component, folder in (migrations or {}).items():
                        await migrate(conn, component, folder)

            await settled(migrated, "migrations")
            self._checks["postgres"] = self._check_postgres
        log.info("service_started", bus_root=self.topology.root)

    def consume(
        self, spec: ConsumerSpec, handler: Handler, batch_handler: BatchHandler | None = None
    ) -> Consumer:
        assert self.publisher is not None, "start() first"
        consumer = Consumer(self.publisher, spec, handler, batch_handler, self.settings)
        self._consumers.append(consumer)
        return consumer

    def background(self, task: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._tasks.append(task)

    def query(
        self, name: str, request_type: type, handler: Endpoint, *, concurrent: bool = False
    ) -> None:
        """Answer `name` queries. `concurrent`: the handler is safe alongside itself (it
        reads, or its writes are idempotent appends), so a replica runs up to
        `query_concurrency` at once; else one at a time, in arrival order."""
        concurrency = self.settings.query_concurrency if concurrent else 1
        # A concurrent handler may also be stopped at its asker's deadline (an "overloaded"
        # answer instead of a timeout), whatever MNEMO_QUERY_CONCURRENCY says.
        self._endpoints[name] = (request_type, handler, concurrency, concurrent)

    def health_check(self, name: str, check: HealthCheck, *, optional: bool = False) -> None:
        """`check` raises when `name` is unwell. An optional one (a dependency the service
        does without, e.g. the LLM) is reported but leaves the status "ok"."""
        self._checks[name] = check
        if optional:
            self._optional.add(name)

    def backlog(self, name: str, consumer: Consumer) -> None:
        """Show in the health report how many messages `consumer` has yet to handle."""
        self._backlogs[name] = consumer

    def gauges(self, sampler: Sampler) -> None:
        """Read `sampler` at each scrape of the metrics endpoint (when there is one)."""
        self._samplers.append(sampler)

    async def _consumer_gauges(self) -> list[Reading]:
        readings: list[Reading] = []
        for consumer in self._consumers:
            waiting, unacked = await consumer.lag()
            labels = {"consumer": consumer.durable}
            readings.append(("mnemo_consumer_lag_messages", labels, waiting))
            readings.append(("mnemo_consumer_ack_pending_messages", labels, unacked))
        for name, consumer in self._backlogs.items():
            readings.append(("mnemo_backlog_messages", {"backlog": name}, await consumer.pending()))
        return readings

    async def _dependency_gauges(self) -> list[Reading]:
        checks = (await self.health()).checks
        return [
            ("mnemo_dependency_up", {"dependency": name}, 1.0 if state == "ok" else 0.0)
            for name, state in checks.items()
        ]

    async def health(self, _: object = None) -> HealthReport:
        checks: dict[str, str] = {}
        for name, check in self._checks.items():
            try:
                await asyncio.wait_for(check(), 2.0)
                checks[name] = "ok"
            except Exception as exc:
                # Shown by the public /v1/health: a URL's password or a key the failure
                # quotes is redacted, as in a log line.
                checks[name] = scrub_field("check", f"error: {exc!r}"[:300])
        required = [v for name, v in checks.items() if name not in self._optional]
        status = "ok" if all(v == "ok" for v in required) else "degraded"
        backlog: dict[str, int] = {}
        for name, consumer in self._backlogs.items():
            with contextlib.suppress(Exception):
                backlog[name] = await asyncio.wait_for(consumer.pending(), 2.0)
        return HealthReport(service=self.service, status=status, checks=checks, backlog=backlog)

    async def _readiness(self) -> HealthReport:
        if not self._serving:
            return HealthReport(service=self.service, status="starting", checks={})
        return await self.health()

    async def serve_forever(self) -> None:
        """Run consumers, tasks and queries until SIGTERM/SIGINT, then stop cleanly."""
        assert self.nc is not None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if self.settings.metrics_port is not None:
            live = serve_metrics(self.settings.metrics_host, self.settings.metrics_port)
            for sampler in self._samplers:
                live.add(sampler)
            log.info("metrics_serving", port=self.settings.metrics_port)
        endpoints = {**self._endpoints, "health": (dict, self.health, 1, False)}
        svc = await serve(self.nc, self.topology, self.service, endpoints)
        for consumer in self._consumers:
            await settled(consumer.ensure, f"consumer {consumer.durable}")
            self._running.append(asyncio.create_task(consumer.run()))
        for task in self._tasks:
            self._running.append(asyncio.create_task(task()))
        self._serving = True
        log.info("service_ready")
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *self._running], return_when=asyncio.FIRST_COMPLETED)
        for running in self._running:
            if running.done() and not running.cancelled() and running.exception():
                log.error("service_task_crashed", error=running.exception())
        log.info("service_stopping")
        await self.close(svc)

    async def close(self, svc: Any = None) -> None:
        self._serving = False
        for consumer in self._consumers:
            consumer.stop()
        for task in self._running:
            task.cancel()
        for task in self._running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if svc is not None:
            with contextlib.suppress(Exception):
                await svc.stop()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 5)
        if self._probes is not None:
            await self._probes.stop()

    async def _check_nats(self) -> None:
        assert self.publisher is not None
        await self.publisher.js.account_info()

    async def _check_postgres(self) -> None:
        assert self.pool is not None
        await self.pool.fetchval("SELECT 1")


def database_refusal(exc: BaseException) -> str | None:
    """Why PostgreSQL will never take MNEMO_DATABASE_URL as it is (a wrong password, a user
    or database that does not exist, a host name that does not resolve, a DSN asyncpg
    cannot read), or None. Said in one line that names the setting (the process exits 78)
    instead of a traceback without a message (exit 1, started again the same way). The
    server's words name the user or database, never the password; a DSN's own never."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate.startswith("28") or sqlstate == "3D000"):
        said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"was refused by PostgreSQL: {scrub_field('error', said)}"
    if isinstance(exc, socket.gaierror):
        return "names a host that does not resolve"
    if type(exc).__name__ == "ClientConfigurationError":
        return "is not a DSN PostgreSQL's client can use (postgresql://user:password@host/db)"
    return None


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a service's async main; exit code 1 with the reason on a settings error. What
    it writes is its owner's only (umask 077), however it was started: a service's files
    (the vector store holds sessions' and sources' ids) were readable by every local user
    when run as the README shows (`python -m mnemo.retrieval rebuild`), outside `mnemo
    run`, which sets the same umask for what it starts."""
    from mnemo.settings import SettingsError, config_exit

    os.umask(0o077)
    try:
        uvloop.run(main())
    except (SettingsError, MetricsPortUnavailable) as exc:
        raise config_exit(exc) from None
