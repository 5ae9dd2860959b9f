"""After a forget, PostgreSQL keeps no byte of the deleted rows: `compact` rewrites the
tables and retires the WAL, on the bundled server (its own data directory, read here)."""

import uuid

import asyncpg

from mnemo.eventlog import compact, schema_tables

from ..disk import files_holding


async def test_deleted_rows_leave_tables_indexes_and_wal(own_postgres):
    word = "Wombatique" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(own_postgres.create_database("compaction"))
    pool = await asyncpg.create_pool(own_postgres.dsn_for("compaction"), min_size=1, max_size=2)
    try:
        await conn.execute(
            """CREATE SCHEMA kept;
               CREATE TABLE kept.notes (id int PRIMARY KEY, user_id text, content text);
               CREATE INDEX ON kept.notes USING gin (to_tsvector('english', content));"""
        )
        await conn.execute(
            """INSERT INTO kept.notes SELECT i, CASE WHEN i % 10 = 0 THEN 'gone' ELSE 'stays' END,
                      CASE WHEN i % 10 = 0 THEN $1 || ' said ' || i ELSE 'other ' || i END
               FROM generate_series(1, 3000) i""",
            word,
        )
        await conn.execute("CHECKPOINT")
        assert files_holding(own_postgres.data_dir, [word.encode()])  # the premise
        await conn.execute("DELETE FROM kept.notes WHERE user_id = 'gone'")

        await compact(pool, await schema_tables(pool, "kept"))

        assert files_holding(own_postgres.data_dir, [word.encode()]) == []
        assert await conn.fetchval("SELECT count(*) FROM kept.notes") == 2700
    finally:
        await pool.close()
        await conn.close()
