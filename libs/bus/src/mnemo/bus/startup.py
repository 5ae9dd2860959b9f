"""Start-up steps waited for while a dependency is away, never a crash.

A service that starts beside a JetStream that is not ready yet (a cluster still electing
its leaders, a node busy catching up, a loaded machine) sees its stream, bucket and
consumer requests time out or answered "temporarily unavailable"; one that starts before
PostgreSQL or a Qdrant server listens is refused. Those steps are idempotent (each makes
or updates what is missing), so the service tries again, with backoff, for as long as the
dependency is away, as it reconnects to NATS for as long as NATS is away. What is refused
for good (settings JetStream will not take, a wrong password) still stops the start.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mnemo.bus.failures import is_dependency_failure
from mnemo.telemetry import get_logger

log = get_logger(__name__)

T = TypeVar("T")


# What an operator reading `startup_waiting` should look at, by step.
_HINTS = {
    "postgres": "is PostgreSQL up and reachable at MNEMO_DATABASE_URL?",
    "migrations": "is PostgreSQL up and reachable at MNEMO_DATABASE_URL?",
    "vector store": "is the Qdrant server at MNEMO_QDRANT_URL up?",
}
_JETSTREAM = (
    "is JetStream enabled on the NATS server at MNEMO_NATS_URL, and has its cluster elected"
    " a leader?"
)


async def settled(
    step: Callable[[], Awaitable[T]], what: str, *, first_wait: float = 0.5, most: float = 5.0
) -> T:
    """`step()`, tried again while it fails because a dependency is away."""
    wait, attempt = first_wait, 1
    while True:
        try:
            return await step()
        except Exception as exc:
            if not is_dependency_failure(exc):
                raise
            hint = _HINTS.get(what, _JETSTREAM)
            log.warning("startup_waiting", step=what, attempt=attempt, error=exc, hint=hint)
        await asyncio.sleep(wait)
        wait, attempt = min(wait * 2, most), attempt + 1
