"""Connecting to NATS: reconnect forever, so an outage is a pause, not a crash.

Nothing sent before an outage is sent after it. While disconnected, nothing is buffered
(`pending_size=0`): a publish then fails at once (OutboundBufferLimitError, a dependency
failure) instead of waiting in the client to be sent when the server is back. And what the
client had queued but not yet written when the connection broke is dropped when it notices
(`_drop_unsent`): nats-py keeps that queue across a reconnect and writes it on the new
connection, so a command the gateway had already answered 503 for (its ack never came), or
an Idempotency-Key claim whose request had failed, would have been stored seconds later —
a 503 that did not mean "not accepted", and a claim nobody holds. So the gateway can answer
503 at once, and a 503 means the command was not accepted.
"""

import contextlib
import weakref
from collections.abc import Awaitable, Callable

from nats.aio.client import Client

from mnemo.settings import SettingsError
from mnemo.telemetry import get_logger

log = get_logger(__name__)


def _drop_unsent(nc: Client) -> int:
    """Forget what the client queued but never wrote to the broken connection: whoever
    sent it sees a failure (no ack, no reply) and may retry; a late copy would be a
    duplicate or a promise broken. Subscriptions are replayed by the client itself."""
    dropped = len(nc._pending)
    nc._pending = []
    nc._pending_data_size = 0
    return dropped


def server_urls(url: str) -> list[str]:
    """The servers of MNEMO_NATS_URL: one URL, or several separated by commas (the nodes
    of a cluster, tried in turn at start and on reconnect)."""
    return [part.strip() for part in url.split(",") if part.strip()]


# What to do once a connection is back (a watch to start again, say), by connection.
_on_reconnect: "weakref.WeakKeyDictionary[Client, list[Callable[[], Awaitable[None]]]]" = (
    weakref.WeakKeyDictionary()
)


def when_reconnected(nc: Client, then: Callable[[], Awaitable[None]]) -> None:
    """Run `then` each time `nc` (made by `connect`) is connected again after losing its
    server: state kept by the server for the connection (an ordered consumer's, a KV
    watch's) may be gone with it, and is made again rather than waited for."""
    _on_reconnect.setdefault(nc, []).append(then)


async def connect(url: str, name: str, *, connect_timeout: float = 5.0) -> Client:
    """A NATS connection that keeps reconnecting while the server is away; `url` may name
    several servers, comma-separated."""
    nc = Client()
    connecting = True

    async def on_error(exc: Exception) -> None:
        if connecting and (refusal := nats_refusal(exc)):
            # Refused for good (a wrong user, password or token): nats-py would try again
            # twice a second for ever, each try a `nats_error` line that says nothing.
            # Raised from here, it leaves nc.connect.
            raise SettingsError(f"MNEMO_NATS_URL was refused by the NATS server: {refusal}")
        log.warning("nats_error", error=exc)

    async def on_disconnect() -> None:
        # The client is reconnecting now (or closed): nothing more is queued until it is
        # connected again, and what is queued would go out first on the new connection.
        if connecting:
            return  # never connected: nothing was queued, nothing was lost
        log.warning("nats_disconnected", unsent_dropped=_drop_unsent(nc))

    async def on_reconnect() -> None:
        log.info("nats_reconnected")
        for then in _on_reconnect.get(nc, []):
            try:
                await then()
            except Exception as exc:
                log.warning("reconnect_hook_failed", error=exc)

    try:
        await nc.connect(
            servers=server_urls(url),
            name=name,
            connect_timeout=connect_timeout,  # type: ignore[arg-type]  # seconds: any number
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,  # type: ignore[arg-type]
            allow_reconnect=True,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            pending_size=0,
        )
    except SettingsError:
        with contextlib.suppress(Exception):
            await nc.close()
        raise
    connecting = False
    return nc


def nats_refusal(exc: Exception) -> str | None:
    """What the NATS server said when it refused this client's credentials, or None."""
    text = str(exc).lower()
    if "authorization violation" in text:
        return "authorization violation (check the user, password or token)"
    if "authentication expired" in text or "authentication revoked" in text:
        return "its credentials expired or were revoked"
    return None
