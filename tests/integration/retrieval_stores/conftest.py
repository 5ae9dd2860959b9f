"""What the retrieval store tests share: a fresh database with the log and retrieval's
tables migrated."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from mnemo.eventlog import connect, migrate, migrate_eventlog
from mnemo.retrieval.memories import SQL


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect(fresh_database, max_size=4)
    async with pool.acquire() as conn:
        await migrate_eventlog(conn)
        await migrate(conn, "retrieval", SQL)
    yield pool
    await pool.close()
