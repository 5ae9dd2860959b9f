"""When a synthesis pass over a subject is due: after a single memory, or after the last
of a user's memories in a batch (so a batch triggers one pass per user touched)."""

from pathlib import Path

import asyncpg

from mnemo.contracts import MemoryRecorded

SQL = Path(__file__).parent / "sql"


class PassTracker:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def complete_passes(
        self, tenant_id: str, memories: list[MemoryRecorded]
    ) -> list[tuple[MemoryRecorded, list[str]]]:
        """The passes these memories (of one subject: one user) complete, each as (the memory that
        completes it, the pass's memory ids): a memory outside a batch is a pass of its own;
        a batch's pass is complete once all of the user's items in it have been seen."""
        passes: list[tuple[MemoryRecorded, list[str]]] = []
        last: dict[str, MemoryRecorded] = {}
        for memory in memories:
            if memory.batch_id is None:
                passes.append((memory, [memory.memory_id]))
            else:
                last[memory.batch_id] = memory
        if not last:
            return passes
        batched = [m for m in memories if m.batch_id is not None]
        [user_id] = {m.user_id for m in batched}
        async with self._pool.acquire() as conn:
            await conn.execute(
                # In the order they came (seen_at orders a pass's members).
                """INSERT INTO synthesis.batch_members
                       (tenant_id, batch_id, user_id, memory_id, seen_at)
                   SELECT $1, b, $2, m, clock_timestamp()
                   FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS t(b, m, n)
                   ORDER BY n
                   ON CONFLICT DO NOTHING""",
                tenant_id,
                user_id,
                [m.batch_id for m in batched],
                [m.memory_id for m in batched],
            )
            # By the primary key's prefix (a join on unnest was planned as a scan of
            # the tenant's members).
            rows = await conn.fetch(
                """SELECT batch_id, memory_id FROM synthesis.batch_members
                   WHERE tenant_id = $1 AND batch_id = ANY($2::text[]) AND user_id = $3
                   ORDER BY seen_at, memory_id""",
                tenant_id,
                list(last),
                user_id,
            )
        members: dict[str, list[str]] = {}
        for r in rows:
            members.setdefault(r["batch_id"], []).append(r["memory_id"])
        for batch_id, memory in last.items():
            found = members.get(batch_id, [])
            if len(found) >= memory.batch_user_items:
                passes.append((memory, found))
        return passes
