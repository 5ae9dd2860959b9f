"""Telling a dependency outage from a message that can never succeed.

A consumer's handler fails for one of two reasons: something it depends on is away
(PostgreSQL restarting, NATS reconnecting, the vector store or a model server unreachable),
or the message itself is bad. The first must never use up the message's deliveries: the
consumer pauses and tries again, however long the outage lasts. Only the second counts
towards dead-lettering. Classified by type, across the exception's causes, without
importing the drivers (asyncpg, nats, httpx, qdrant, grpc): their names and SQLSTATEs.
"""

import asyncio
import errno
import socket


class DependencyDown(Exception):
    """Raised by an adapter to say: a dependency is unavailable, try again later."""


# Exceptions of the drivers Mnemo uses that mean "could not reach it" or "it went away".
_UNAVAILABLE = frozenset(
    {
        # asyncpg
        "PostgresConnectionError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "TooManyConnectionsError",
        "AdminShutdownError",
        "CrashShutdownError",
        # nats-py
        "NoServersError",
        "ConnectionClosedError",
        "ConnectionReconnectingError",
        "StaleConnectionError",
        "OutboundBufferLimitError",
        "FlushTimeoutError",
        "NoRespondersError",
        "ServiceUnavailableError",
        # httpx / httpcore (qdrant-client, OpenAI-compatible servers)
        "ConnectError",
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
        "ResponseHandlingException",
        # mnemo.bus
        "PublishError",
    }
)
# The network or the peer gone, or the disk full: all pass, none is the message's fault.
_UNAVAILABLE_ERRNO = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.ENOSPC,
    }
)
# SQLSTATE classes: connection exception, insufficient resources, operator intervention,
# system error.
_UNAVAILABLE_SQLSTATE = ("08", "53", "57", "58")


def is_dependency_failure(exc: BaseException) -> bool:
    """Whether `exc` (or anything that caused it) says a dependency is unavailable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        if _unavailable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DependencyDown | ConnectionError | TimeoutError | asyncio.TimeoutError):
        return True
    if isinstance(exc, OSError) and exc.errno in _UNAVAILABLE_ERRNO:
        return True
    if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN:
        return True  # the name server did not answer (a name that did not resolve is final)
    if any(cls.__name__ in _UNAVAILABLE for cls in type(exc).__mro__):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATE):
        return True
    status = getattr(exc, "status_code", None)
    # A server that answers 5xx (qdrant's UnexpectedResponse, an LLM server) is away too.
    return type(exc).__name__ == "UnexpectedResponse" and isinstance(status, int) and status >= 500
