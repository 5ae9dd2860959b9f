"""Wiring: settings -> app -> uvicorn."""

import asyncio
import socket
from types import FrameType

import uvicorn

from mnemo.bus.failures import is_dependency_failure
from mnemo.gateway.app import SERVICE, STARTUP_REFUSALS, create_asgi
from mnemo.gateway.http_server import ProblemHttpProtocol
from mnemo.gateway.settings import GatewaySettings
from mnemo.settings import SettingsError, config_exit, load_settings
from mnemo.telemetry import configure


class Server(uvicorn.Server):
    """uvicorn takes SIGTERM at once but looks at it only after the app's startup, which
    waits for NATS: a gateway started while NATS is away would never stop. A signal that
    comes before startup is done cancels it (nothing has been accepted yet)."""

    _serving: "asyncio.Task[None] | None" = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._loop, self._serving = loop, asyncio.current_task()
        try:
            await super().serve(sockets)
        except asyncio.CancelledError:
            if self.started:
                raise
            # stopped before it served anything

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if not self.started and self._serving is not None:
            self._loop.call_soon_threadsafe(self._serving.cancel)


def main() -> None:
    try:
        settings = load_settings(GatewaySettings)
    except SettingsError as exc:
        raise config_exit(exc) from None
    configure(SERVICE, level=settings.log_level, otlp_endpoint=settings.otlp_endpoint)
    try:
        socket.getaddrinfo(settings.gateway_host, settings.gateway_port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        # A name server that did not answer (EAI_AGAIN) is away, not the setting's fault:
        # uvicorn tries and fails, and the gateway is started again (exit 78 would not be).
        if not is_dependency_failure(exc):
            # uvicorn would say only "[Errno -2] Name or service not known", after NATS.
            raise config_exit(
                SettingsError(f"MNEMO_GATEWAY_HOST is no address to listen on ({exc})")
            ) from None
    server = Server(
        uvicorn.Config(
            create_asgi(settings),
            host=settings.gateway_host,
            port=settings.gateway_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            loop="uvloop",
            # httptools, answering what it cannot parse as problem+json.
            http=ProblemHttpProtocol,
            # X-Forwarded-For is believed from the configured proxies only (uvicorn's own
            # default would believe any process on this host).
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips or None,
            # Streams (SSE) never end by themselves: on shutdown they get 5 s, then go.
            timeout_graceful_shutdown=5,
        )
    )
    try:
        server.run()
    except SystemExit:
        # uvicorn's exit 3 on a failed startup: the one a setting caused is exit 78.
        if STARTUP_REFUSALS:
            raise config_exit(STARTUP_REFUSALS[0]) from None
        raise
