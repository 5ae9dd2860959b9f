"""After a forget, PostgreSQL keeps no byte of the deleted rows: `compact` rewrites the
tables and retires the WAL, on the bundled server (its own data directory, read here)."""

import asyncio
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


async def test_rows_an_open_snapshot_still_saw_are_rewritten_away_once_it_ends(own_postgres):
    """VACUUM FULL copies the deleted rows a transaction's snapshot may still see (any
    table of the database: a read of another service) into the new file, where they stayed
    until the next forget. The compaction rewrites again once that snapshot is gone."""
    word = "Quokkarine" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(own_postgres.create_database("snapshot"))
    reader = await asyncpg.connect(own_postgres.dsn_for("snapshot"))
    pool = await asyncpg.create_pool(own_postgres.dsn_for("snapshot"), min_size=1, max_size=2)
    try:
        await conn.execute(
            """CREATE SCHEMA kept; CREATE TABLE kept.notes (id int, content text);
               CREATE TABLE kept.other (id int);"""
        )
        await conn.execute(
            "INSERT INTO kept.notes SELECT i, $1 || i FROM generate_series(1, 50) i", word
        )
        reading = reader.transaction(isolation="repeatable_read")
        await reading.start()
        await reader.fetch("SELECT count(*) FROM kept.other")  # its snapshot is taken
        await conn.execute("DELETE FROM kept.notes")

        async def read_ends() -> None:
            await asyncio.sleep(1.0)  # the fault: a snapshot held open a moment
            await reading.rollback()

        ending = asyncio.create_task(read_ends())
        await compact(pool, ["kept.notes"])
        await ending
        await conn.execute("CHECKPOINT")
        assert files_holding(own_postgres.data_dir, [word.encode()]) == []
    finally:
        await pool.close()
        await reader.close()
        await conn.close()


async def test_the_planners_samples_of_deleted_rows_go_too(own_postgres):
    """ANALYZE (autovacuum runs it on its own) keeps a sample of each column's values in
    pg_statistic: a memory's words, a subject's data key. VACUUM FULL leaves them there, and
    so does an ANALYZE of a table left empty; after `compact` neither the statistics nor
    the files hold them, and the live rows' statistics are taken again."""
    word = "Pangolinic" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(own_postgres.create_database("statistics"))
    pool = await asyncpg.create_pool(own_postgres.dsn_for("statistics"), min_size=1, max_size=2)
    try:
        await conn.execute(
            """CREATE SCHEMA kept;
               CREATE TABLE kept.notes (id int, user_id text, content text);
               CREATE TABLE kept.keys (user_id text, key bytea);"""
        )
        await conn.execute(
            """INSERT INTO kept.notes SELECT i, CASE WHEN i % 10 = 0 THEN 'gone' ELSE 'stays' END,
                      CASE WHEN i % 10 = 0 THEN $1 || ' said ' || i ELSE 'other ' || i END
               FROM generate_series(1, 300) i""",
            word,
        )
        keys = [uuid.uuid4().bytes * 2 for _ in range(3)]  # data keys, all to be shredded
        await conn.executemany("INSERT INTO kept.keys VALUES ('gone', $1)", [(k,) for k in keys])
        key = keys[0]
        await conn.execute("ANALYZE kept.notes; ANALYZE kept.keys")
        sampled = "SELECT count(*) FROM pg_stats WHERE schemaname = 'kept' AND {} LIKE $1"
        values = "coalesce(most_common_vals::text, '') || coalesce(histogram_bounds::text, '')"
        assert await conn.fetchval(sampled.format(values), f"%{word}%")  # the premise
        assert await conn.fetchval(sampled.format(values), f"%{key.hex()}%")
        await conn.execute("DELETE FROM kept.notes WHERE user_id = 'gone'")
        await conn.execute("DELETE FROM kept.keys")

        await compact(pool, await schema_tables(pool, "kept"))

        assert not await conn.fetchval(sampled.format(values), f"%{word}%")
        assert not await conn.fetchval(sampled.format(values), f"%{key.hex()}%")
        assert files_holding(own_postgres.data_dir, [word.encode(), key]) == []
        # The live rows are sampled again: the planner still knows the table.
        assert await conn.fetchval(sampled.format(values), "%other%")
    finally:
        await pool.close()
        await conn.close()


async def test_statistics_are_rewritten_only_when_some_were_dropped(own_postgres):
    """Rewriting pg_statistic locks it: every planner lookup of statistics not cached
    waits. A compaction that dropped no statistics (the tables were never sampled) leaves
    it alone; one that dropped some rewrites it, so their old bytes leave its files."""
    conn = await asyncpg.connect(own_postgres.create_database("resample"))
    pool = await asyncpg.create_pool(own_postgres.dsn_for("resample"), min_size=1, max_size=2)
    statistics = "SELECT pg_relation_filenode('pg_catalog.pg_statistic')"
    try:
        await conn.execute(
            """CREATE SCHEMA kept;
               -- Sampled only when the test says so.
               CREATE TABLE kept.notes (id int, content text) WITH (autovacuum_enabled = off);
               INSERT INTO kept.notes SELECT i, 'note ' || i FROM generate_series(1, 200) i;
               DELETE FROM kept.notes WHERE id % 10 = 0;"""
        )
        tables = await schema_tables(pool, "kept")
        first = await conn.fetchval(statistics)
        await compact(pool, tables)
        assert await conn.fetchval(statistics) == first
        # The compaction sampled the table afresh: the next one drops those samples.
        assert await conn.fetchval("SELECT count(*) FROM pg_stats WHERE schemaname = 'kept'")
        await conn.execute("DELETE FROM kept.notes WHERE id % 10 = 1")
        await compact(pool, tables)
        assert await conn.fetchval(statistics) != first
    finally:
        await pool.close()
        await conn.close()
