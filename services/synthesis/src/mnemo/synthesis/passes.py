"""When a synthesis pass over a subject is due: after a single memory, or after the last
of a user's memories in a batch (so a batch triggers one pass per user touched)."""

from pathlib import Path

import asyncpg

from mnemo.contracts import MemoryRecorded

SQL = Path(__file__).parent / "sql"


class PassTracker:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def complete_pass(self, tenant_id: str, memory: MemoryRecorded) -> list[str] | None:
        """The memory ids of the pass this memory completes, or None if more are to come."""
        if memory.batch_id is None:
            return [memory.memory_id]
        async with self._pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO synthesis.batch_members (tenant_id, batch_id, user_id, memory_id)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                tenant_id,
                memory.batch_id,
                memory.user_id,
                memory.memory_id,
            )
            rows = await conn.fetch(
                """SELECT memory_id FROM synthesis.batch_members
                   WHERE tenant_id = $1 AND batch_id = $2 AND user_id = $3
                   ORDER BY seen_at, memory_id""",
                tenant_id,
                memory.batch_id,
                memory.user_id,
            )
        if len(rows) < memory.batch_user_items:
            return None
        return [r["memory_id"] for r in rows]
