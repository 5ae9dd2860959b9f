"""Connection pools to the database that holds the log and the projections."""

import asyncpg


async def connect(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool; statements are prepared per connection and cached."""
    pool = await asyncpg.create_pool(dsn=dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool
