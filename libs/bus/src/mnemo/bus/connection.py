"""Connecting to NATS: reconnect forever, so an outage is a pause, not a crash.

Nothing is buffered while disconnected (`pending_size=0`): a publish then fails at once
(OutboundBufferLimitError, a dependency failure) instead of waiting in the client to be
sent when the server is back. So the gateway can answer 503 at once, and a 503 means the
command was not accepted (a buffered one would have been stored after it).
"""

import nats
from nats.aio.client import Client

from mnemo.telemetry import get_logger

log = get_logger(__name__)


async def connect(url: str, name: str, *, connect_timeout: float = 5.0) -> Client:
    """A NATS connection that keeps reconnecting while the server is away."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", error=exc)

    async def on_disconnect() -> None:
        log.warning("nats_disconnected")

    async def on_reconnect() -> None:
        log.info("nats_reconnected")

    return await nats.connect(
        servers=[url],
        name=name,
        connect_timeout=connect_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        pending_size=0,
    )
