"""Connection pools to the database that holds the log and the projections.

asyncpg resets every connection it takes back (`SELECT pg_advisory_unlock_all(); CLOSE
ALL; UNLISTEN *; RESET ALL`): a round trip and a transaction on the server for each
`pool.execute`, `pool.fetch` or `acquire`, as many as the statements themselves (measured:
4.3 of them per ingested memory). The services' statements leave no session state behind,
so the pool skips that query unless the connection was marked with `keep_session_state`
by code that does leave some (a session advisory lock, LISTEN, SET); an open transaction is
still rolled back and the listener callbacks still dropped (asyncpg does that before
calling the reset).
"""

from typing import Any

import asyncpg


class LogConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection that knows whether it holds session state to reset."""

    session_state = False


def keep_session_state(conn: Any) -> None:
    """Say that `conn` (pooled, or a pool's proxy of it) is about to hold session state
    (a session advisory lock, LISTEN, SET): the pool resets it in full when it comes back."""
    raw = getattr(conn, "_con", None) or conn
    # Not isinstance: asyncpg's metaclass says yes to any connection, of any pool.
    if issubclass(type(raw), LogConnection):
        raw.session_state = True


async def _reset(conn: Any) -> None:
    if issubclass(type(conn), LogConnection) and conn.session_state:
        query = conn.get_reset_query()
        if query:
            await conn.execute(query)
        conn.session_state = False


async def connect(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool; statements are prepared per connection and cached."""
    pool = await asyncpg.create_pool(
        dsn=dsn,
        min_size=min_size,
        max_size=max_size,
        connection_class=LogConnection,
        reset=_reset,
    )
    assert pool is not None
    return pool
