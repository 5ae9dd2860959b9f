"""This replica's own health over HTTP, for an orchestrator's probes (MNEMO_PROBE_PORT).

A backend service's health report is a NATS query, answered by whichever replica the
queue group picks: it cannot tell Kubernetes whether *this* pod is well. So each replica
can also answer two plain HTTP requests on a port of its own:

- `GET /livez`: 200 while the process's event loop runs (a stuck loop does not answer,
  and the orchestrator restarts it).
- `GET /readyz`: 200 when the replica's required checks pass (its NATS and PostgreSQL
  connections, and the service's own), else 503; the body is the health report.

Only these; nothing else is served, no request body is read. Other ports of the process
(metrics) live beside this one, not in it.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import msgspec

from mnemo.contracts import HealthReport
from mnemo.telemetry import get_logger

log = get_logger(__name__)

Report = Callable[[], Awaitable[HealthReport]]

_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


class ProbeServer:
    """Answers /livez and /readyz on `port` (all interfaces: the kubelet calls the pod IP)."""

    def __init__(self, port: int, report: Report, host: str = "0.0.0.0") -> None:
        self._port = port
        self._host = host
        self._report = report
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._answer, self._host, self._port)
        log.info("probes_listening", port=self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 and parts[0] in ("GET", "HEAD") else ""
            status, body = await self._route(path)
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeError):
            pass  # a probe that went away or sent nothing: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(self, path: str) -> tuple[int, bytes]:
        path = path.split("?", 1)[0]
        if path == "/livez":
            return 200, b'{"status":"ok"}'
        if path == "/readyz":
            report = await self._report()
            return (200 if report.status == "ok" else 503), msgspec.json.encode(report)
        return 404, b'{"status":"unknown path"}'
