"""Making PostgreSQL drop the bytes of deleted rows, after a forget.

A DELETE leaves the row's bytes in its page until the space is reused, and a plain VACUUM
frees the space without overwriting it; the write-ahead log keeps the inserts (and full
page images) until a checkpoint retires their segment. So a service that deleted a
forgotten subject's rows rewrites those tables (VACUUM FULL: new files holding only live
rows, the old ones unlinked), switches to a new WAL segment and checkpoints, which removes
the segments before it. The bundled PostgreSQL runs with `wal_recycle=off`, so a retired
segment is unlinked rather than renamed for reuse with its old bytes inside.

The planner's statistics are copies too: ANALYZE (autovacuum runs it on its own) keeps a
sample of each column's values in `pg_statistic`, a memory's words and a subject's data
key among them, and neither a DELETE nor VACUUM FULL touches them (nor does an ANALYZE
that finds the table empty). So the rewritten tables' statistics are dropped and taken
again from the live rows, and `pg_statistic` is itself rewritten (when statistics were
dropped), so the old samples leave its files too.

Each rewrite locks its table (`pg_statistic`'s: every planner lookup of statistics not
cached meanwhile), so a forget that removed nothing (a retry, the same user forgotten
again) rewrites nothing either: `worth_compacting`.

On a server of your own, WAL archiving, replicas, backups and `wal_recycle` are yours:
what they keep is outside Mnemo's reach. A role that may not CHECKPOINT (neither
superuser nor pg_checkpoint) leaves the WAL to the server's next scheduled checkpoint; one
that is not superuser leaves the old samples to the next ANALYZE of the table, and their
bytes in `pg_statistic`'s files until PostgreSQL reuses the space.
"""

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import asyncpg

from mnemo.contracts import MemoryForgotten
from mnemo.eventlog.pool import keep_session_state
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# VACUUM FULL waits for an exclusive lock; a long read holding it off fails the try
# (the forget is redelivered and compacts again) rather than stalling every reader.
LOCK_TIMEOUT = "10s"
# VACUUM FULL copies the deleted rows an open snapshot may still see (a transaction of the
# same database, on any table) into the new file: rewritten again after these waits, once
# the snapshot is gone.
KEPT_RETRIES = (0.5, 1.0, 2.0, 4.0, 7.0)
_KEPT = re.compile(r"(\d+) dead row versions cannot be removed yet")
STATISTICS = "pg_catalog.pg_statistic"


async def schema_tables(pool: asyncpg.Pool, schema: str) -> list[str]:
    """The tables of `schema`, quoted, for `compact`."""
    rows = await pool.fetch(
        "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables"
        " WHERE schemaname = $1 ORDER BY tablename",
        schema,
    )
    return [r["name"] for r in rows]


def silenced_by(forgotten: MemoryForgotten) -> int:
    """What a forget took away in the log: the events it silenced and the keys it shredded
    (a key may hold bytes to erase with no event counted under it)."""
    return sum(forgotten.removed.values()) + forgotten.keys


def worth_compacting(silenced: int, dropped: int = 0) -> bool:
    """Whether a forget left anything for `compact` to take away: it silenced sealed
    events of the subject or shredded its keys (`silenced`: `silenced_by`), so the
    subject was heard from since it was last forgotten and a projection may hold its words,
    in live rows or dead ones (a memory deleted before); or the service dropped rows of it
    just now (`dropped`). A repeat (a client's retry, the same user forgotten twice) does
    neither: the compaction after the first forget took what there was (and is done again
    when that forget's own event is delivered again)."""
    if silenced > 0 or dropped > 0:
        return True
    log.info("compaction_skipped", reason="the forget removed nothing")
    return False


async def compact(pool: asyncpg.Pool, tables: Sequence[str]) -> None:
    """Rewrite `tables` (quoted names) without their dead rows, then retire the WAL."""
    async with pool.acquire() as conn:
        keep_session_state(conn)
        await conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        kept: list[int] = []

        def heard(_conn: Any, message: Any) -> None:
            found = _KEPT.search(str(message.as_dict().get("detail") or ""))
            if found:
                kept.append(int(found.group(1)))

        async def rewrite(table: str) -> None:
            for wait in (*KEPT_RETRIES, None):
                kept.clear()
                # Not in a transaction block: VACUUM cannot run inside one.
                await conn.execute(f"VACUUM (FULL, VERBOSE) {table}")
                if not any(kept):
                    return
                if wait is None:
                    log.warning("compaction_kept_dead_rows", rows=sum(kept))
                    return
                await asyncio.sleep(wait)

        conn.add_log_listener(heard)
        try:
            dropped = 0
            for table in tables:
                await rewrite(table)
                dropped += await _resample(conn, table)
            if dropped:  # none dropped: no old sample to take away, nothing to lock
                await rewrite(STATISTICS)
        finally:
            conn.remove_log_listener(heard)
            await conn.execute("RESET lock_timeout")
        for statement in ("SELECT pg_switch_wal()", "CHECKPOINT"):
            try:
                await conn.execute(statement)
            except asyncpg.InsufficientPrivilegeError:
                log.warning("wal_left_to_next_checkpoint", reason="role may not retire WAL")
                break
            except asyncpg.ObjectNotInPrerequisiteStateError:
                break  # a standby: its primary's WAL is not ours to retire
    log.info("tables_compacted", tables=len(tables))


async def _resample(conn: asyncpg.Connection, table: str) -> int:
    """Drop the table's statistics (and its expression indexes'), samples of the rows just
    deleted among them, and take them again from its live rows (the planner needs them).
    The statistics rows dropped: none when the table had none, or when the role may not
    drop them (not superuser; the ANALYZE replaces them then, unless the table is empty)."""
    try:
        result = await conn.execute(
            f"""DELETE FROM {STATISTICS} WHERE starelid = $1::regclass OR starelid IN
                   (SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid = $1::regclass)""",
            table,
        )
    except asyncpg.InsufficientPrivilegeError:
        log.warning("statistics_left_to_next_analyze", reason="role may not drop them")
        await conn.execute(f"ANALYZE {table}")
        return 0
    await conn.execute(f"ANALYZE {table}")
    return int(result.split()[-1])
