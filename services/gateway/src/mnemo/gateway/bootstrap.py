"""Wiring: settings -> app -> uvicorn."""

import uvicorn

from mnemo.gateway.app import SERVICE, create_asgi
from mnemo.gateway.http_server import ProblemHttpProtocol
from mnemo.gateway.settings import GatewaySettings
from mnemo.settings import SettingsError, load_settings
from mnemo.telemetry import configure


def main() -> None:
    try:
        settings = load_settings(GatewaySettings)
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    configure(SERVICE, level=settings.log_level, otlp_endpoint=settings.otlp_endpoint)
    server = uvicorn.Server(
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
    server.run()
