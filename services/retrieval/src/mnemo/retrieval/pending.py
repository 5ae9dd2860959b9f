"""Phase 2 of indexing, its work list: the chunks stored for keyword search whose dense
vector is still to come, in PostgreSQL (`retrieval.dense_pending`).

A chunk is added once its point is in the store (phase 1) and removed once the store
holds its dense vector (phase 2), so the list survives a crash of either phase.

A claim is a lease: one short statement marks the oldest unclaimed chunks with a claim
token and an expiry (`FOR UPDATE SKIP LOCKED` inside it, so replicas sharing one Qdrant
server never take the same chunk), and another removes them when their vectors are
stored. No transaction stays open while the chunks are embedded: one open for seconds
would hold back `pg_snapshot_xmin`, and the event relay, which publishes only events older
than every transaction in flight, would stall for as long (measured: phase 1 of retrieval
idle for 3-8 s at a time at 200 items/s, 202 -> searchable p95 2-5 s). A failed claim is
released at once; one whose process died is taken again when its lease ends. With an
embedded store (one owner per folder) phase 2 runs in the one replica that owns it.
"""

import uuid
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
    # The span that indexed it (phase 1): phase 2's span links to it.
    traceparent: str | None = None


_ADD = """
INSERT INTO retrieval.dense_pending
    (collection, point_id, tenant_id, user_id, memory_id, text, traceparent)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
ON CONFLICT (collection, point_id) DO UPDATE
    SET text = excluded.text, enqueued_at = excluded.enqueued_at,
        traceparent = excluded.traceparent
"""

# The oldest chunks no live lease holds, leased for $4 seconds under the token $3. The
# choice is a MATERIALIZED CTE, run once: as a subquery in FROM, the planner may run it
# again for every row it joins, and each run (SKIP LOCKED) can pick other rows, so a claim
# of 2 took all 5 pending chunks.
_CLAIM = """
WITH free AS MATERIALIZED (
    SELECT point_id FROM retrieval.dense_pending
    WHERE collection = $1 AND (claimed_until IS NULL OR claimed_until < now())
    ORDER BY enqueued_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE retrieval.dense_pending AS d
SET claim = $3, claimed_until = now() + make_interval(secs => $4)
FROM free
WHERE d.collection = $1 AND d.point_id = free.point_id
RETURNING d.point_id, d.tenant_id, d.user_id, d.memory_id, d.text, d.enqueued_at,
    d.traceparent
"""

# Done: the claimed chunks leave, except those renewed (new text) since they were claimed,
# which the next claim embeds again.
_DONE = """
DELETE FROM retrieval.dense_pending AS d
USING unnest($3::text[], $4::timestamptz[]) AS done(point_id, enqueued_at)
WHERE d.collection = $1 AND d.claim = $2
  AND d.point_id = done.point_id AND d.enqueued_at = done.enqueued_at
"""

_RELEASE = """
UPDATE retrieval.dense_pending SET claim = NULL, claimed_until = NULL
WHERE collection = $1 AND claim = $2
"""

# How long a claim is held when its holder never says it is done (it died): then another
# claim may take its chunks. Embedding 128 chunks takes seconds; a lease that ends early
# costs only a chunk embedded twice.
LEASE_S = 60.0


class DensePending:
    """The pending chunks of one search collection."""

    def __init__(self, pool: asyncpg.Pool, collection: str) -> None:
        self._pool = pool
        self._collection = collection

    async def add(self, chunks: list[PendingChunk]) -> None:
        """Add (or renew, with new text) chunks whose points were just stored without a
        dense vector. A chunk renewed while claimed stays, for the next claim."""
        if not chunks:
            return
        columns = [
            [c.point_id for c in chunks],
            [c.tenant_id for c in chunks],
            [c.user_id for c in chunks],
            [c.memory_id for c in chunks],
            [c.text for c in chunks],
            [c.traceparent for c in chunks],
        ]
        await self._pool.execute(_ADD, self._collection, *columns)

    @asynccontextmanager
    async def claim(
        self, limit: int, lease_s: float = LEASE_S
    ) -> AsyncIterator[list[PendingChunk]]:
        """Up to `limit` of the oldest chunks no one else holds, oldest first; they leave
        the list when the block ends without an exception (unless renewed meanwhile), and
        are free for the next claim at once otherwise."""
        token = uuid.uuid4()
        rows = sorted(
            await self._pool.fetch(_CLAIM, self._collection, limit, token, lease_s),
            key=lambda r: r["enqueued_at"],
        )
        claimed = [
            PendingChunk(
                r["point_id"],
                r["tenant_id"],
                r["user_id"],
                r["memory_id"],
                r["text"],
                r["traceparent"],
            )
            for r in rows
        ]
        try:
            yield claimed
        except BaseException:
            if claimed:
                await self._pool.execute(_RELEASE, self._collection, token)
            raise
        if claimed:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    _DONE,
                    self._collection,
                    token,
                    [r["point_id"] for r in rows],
                    [r["enqueued_at"] for r in rows],
                )
                await conn.execute(_RELEASE, self._collection, token)

    async def drop_memory(self, tenant_id: str, memory_id: str) -> None:
        """Forget the chunks of one memory. A claim of them that ends later writes to no
        point: the store's update of a deleted point's vector does nothing (see
        `VectorStore.set_dense`)."""
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
