"""The log's pool skips asyncpg's reset round trip, except for connections that kept
session state (mnemo.eventlog.pool)."""

import asyncpg

from mnemo.eventlog import connect
from mnemo.eventlog.pool import keep_session_state


async def test_a_connection_that_kept_session_state_comes_back_reset(fresh_database):
    pool = await connect(fresh_database, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            keep_session_state(conn)
            await conn.execute("SET application_name = 'kept'")
            assert await conn.fetchval("SELECT pg_try_advisory_lock(42)")
            await conn.execute("LISTEN somewhere")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == ""
            # This session's locks only: the server is shared with the suite's other stacks.
            held = await conn.fetchval(
                "SELECT count(*) FROM pg_locks"
                " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            assert held == 0
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            # Marked once: the next release skips the reset again.
            await conn.execute("SET application_name = 'unmarked'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "unmarked"
    finally:
        await pool.close()


async def test_other_connections_skip_the_reset_but_never_keep_a_transaction(fresh_database):
    pool = await connect(fresh_database, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'left'")
            await conn.execute("CREATE TABLE t (x int)")
            tx = conn.transaction()
            await tx.start()
            await conn.execute("INSERT INTO t VALUES (1)")
        # The reset query did not run (the setting stayed), but the open transaction was
        # rolled back all the same.
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "left"
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM t") == 0
    finally:
        await pool.close()


async def test_a_plain_asyncpg_pool_is_left_alone(fresh_database):
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            keep_session_state(conn)  # not a log connection: nothing to mark
            await conn.execute("SET application_name = 'plain'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == ""
    finally:
        await pool.close()
