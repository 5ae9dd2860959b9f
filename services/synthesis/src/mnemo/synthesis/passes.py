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
        """The passes these memories (of one subject) complete, each as (the memory that
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
        async with self._pool.acquire() as conn:
            await conn.execute(
                # In the order they came (seen_at orders a pass's members).
                """INSERT INTO synthesis.batch_members
                       (tenant_id, batch_id, user_id, memory_id, seen_at)
                   SELECT $1, b, u, m, clock_timestamp()
                   FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(b, u, m, n)
                   ORDER BY n
                   ON CONFLICT DO NOTHING""",
                tenant_id,
                [m.batch_id for m in batched],
                [m.user_id for m in batched],
                [m.memory_id for m in batched],
            )
            rows = await conn.fetch(
                """SELECT m.batch_id, m.memory_id FROM synthesis.batch_members m
                   JOIN unnest($2::text[], $3::text[]) AS b(batch_id, user_id)
                     ON m.batch_id = b.batch_id AND m.user_id = b.user_id
                   WHERE m.tenant_id = $1
                   ORDER BY m.seen_at, m.memory_id""",
                tenant_id,
                list(last),
                [m.user_id for m in last.values()],
            )
        members: dict[str, list[str]] = {}
        for r in rows:
            members.setdefault(r["batch_id"], []).append(r["memory_id"])
        for batch_id, memory in last.items():
            found = members.get(batch_id, [])
            if len(found) >= memory.batch_user_items:
                passes.append((memory, found))
        return passes
