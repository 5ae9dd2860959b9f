"""Phase 2 of indexing, its work list: the chunks stored for keyword search whose dense
vector is still to come, in PostgreSQL (`retrieval.dense_pending`).

A chunk is added once its point is in the store (phase 1) and removed in the transaction
that claimed it, once the store holds its dense vector (phase 2), so the list survives a
crash of either phase. Claims take `FOR UPDATE SKIP LOCKED`: replicas sharing one Qdrant
server never embed the same chunk twice. With an embedded store (one owner per folder)
phase 2 runs in the one replica that owns it.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class PendingChunk:
    point_id: str
    tenant_id: str
    user_id: str
    memory_id: str
    text: str  # what the dense vector is made of


_ADD = """
INSERT INTO retrieval.dense_pending (collection, point_id, tenant_id, user_id, memory_id, text)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
ON CONFLICT (collection, point_id) DO UPDATE
    SET text = excluded.text, enqueued_at = excluded.enqueued_at
"""

_CLAIM = """
SELECT point_id, tenant_id, user_id, memory_id, text FROM retrieval.dense_pending
WHERE collection = $1
ORDER BY enqueued_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""


class DensePending:
    """The pending chunks of one search collection."""

    def __init__(self, pool: asyncpg.Pool, collection: str) -> None:
        self._pool = pool
        self._collection = collection

    async def add(self, chunks: list[PendingChunk]) -> None:
        """Add (or renew, with new text) chunks whose points were just stored without a
        dense vector. A chunk being embedded meanwhile is added once that claim ends."""
        if not chunks:
            return
        columns = [
            [c.point_id for c in chunks],
            [c.tenant_id for c in chunks],
            [c.user_id for c in chunks],
            [c.memory_id for c in chunks],
            [c.text for c in chunks],
        ]
        await self._pool.execute(_ADD, self._collection, *columns)

    @asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[list[PendingChunk]]:
        """Up to `limit` of the oldest chunks no one else holds; they leave the list when
        the block ends without an exception, and stay for the next claim otherwise."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self._collection, limit)
            claimed = [PendingChunk(**dict(r)) for r in rows]
            yield claimed
            if claimed:
                await conn.execute(
                    "DELETE FROM retrieval.dense_pending"
                    " WHERE collection = $1 AND point_id = ANY($2::text[])",
                    self._collection,
                    [c.point_id for c in claimed],
                )

    async def drop_memory(self, tenant_id: str, memory_id: str) -> None:
        """Forget the chunks of one memory (waiting for a claim of them to end)."""
        await self._pool.execute(
            "DELETE FROM retrieval.dense_pending"
            " WHERE collection = $1 AND tenant_id = $2 AND memory_id = $3",
            self._collection,
            tenant_id,
            memory_id,
        )

    async def drop_subject(self, tenant_id: str, user_id: str) -> None:
        await self._pool.execute(
            "DELETE FROM retrieval.dense_pending"
            " WHERE collection = $1 AND tenant_id = $2 AND user_id = $3",
            self._collection,
            tenant_id,
            user_id,
        )

    async def clear(self) -> None:
        await self._pool.execute(
            "DELETE FROM retrieval.dense_pending WHERE collection = $1", self._collection
        )

    async def backlog(self) -> tuple[int, datetime | None]:
        """(chunks pending, when the oldest of them was added)."""
        row = await self._pool.fetchrow(
            "SELECT count(*) AS n, min(enqueued_at) AS oldest FROM retrieval.dense_pending"
            " WHERE collection = $1",
            self._collection,
        )
        assert row is not None
        return int(row["n"]), row["oldest"]
