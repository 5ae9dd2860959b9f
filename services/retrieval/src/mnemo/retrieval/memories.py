"""The memories read model in PostgreSQL: list, filter, count and fetch recorded memories."""

from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from mnemo.contracts import (
    Envelope,
    GetMemoryQuery,
    ListMemoriesQuery,
    MemoryPage,
    MemoryRecorded,
    MemoryView,
    jsonb_json,
)
from mnemo.eventlog import compact, schema_tables
from mnemo.retrieval.contents import MemoryText
from mnemo.retrieval.turns import Turn

SQL = Path(__file__).parent / "sql"

_UPSERT = """
INSERT INTO retrieval.memories (tenant_id, memory_id, user_id, content, source_type, source_id,
    session_id, agent_id, metadata, occurred_at, recorded_at, global_position)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12)
ON CONFLICT (tenant_id, memory_id) DO NOTHING
"""

# For each memory of a session, the one just before it there: by valid time, then by log
# position (the turns of one conversation often share a timestamp). Only a turn of the same
# agent (or, for a memory of none, of none): its words join the memory's indexed text, and
# an agent's key must not find its memories by another agent's words (an agent key sees its
# own agent's memories only).
_PRECEDING = """
SELECT q.memory_id, p.content, p.metadata->>'author' AS author, p.metadata->>'role' AS role
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
            $7::bigint[])
    AS q(tenant_id, memory_id, user_id, session_id, agent_id, occurred_at, global_position)
CROSS JOIN LATERAL (
    SELECT m.content, m.metadata FROM retrieval.memories m
    WHERE m.tenant_id = q.tenant_id AND m.user_id = q.user_id AND m.session_id = q.session_id
      AND m.agent_id IS NOT DISTINCT FROM q.agent_id
      AND (m.occurred_at, m.global_position) < (q.occurred_at, q.global_position)
    ORDER BY m.occurred_at DESC, m.global_position DESC
    LIMIT 1
) p
"""

# The log position of the memory just after one in its session (the reverse of _PRECEDING).
_FOLLOWING = """
SELECT n.global_position FROM retrieval.memories m
JOIN retrieval.memories n
  ON n.tenant_id = m.tenant_id AND n.user_id = m.user_id AND n.session_id = m.session_id
 AND n.agent_id IS NOT DISTINCT FROM m.agent_id
 AND (n.occurred_at, n.global_position) > (m.occurred_at, m.global_position)
WHERE m.tenant_id = $1 AND m.memory_id = $2
ORDER BY n.occurred_at, n.global_position
LIMIT 1
"""

# The memory just after each of these in its session, among those recorded (one query).
_FOLLOWERS = """
SELECT n.memory_id, n.global_position
FROM unnest($1::text[], $2::text[]) AS q(tenant_id, memory_id)
JOIN retrieval.memories m ON m.tenant_id = q.tenant_id AND m.memory_id = q.memory_id
CROSS JOIN LATERAL (
    SELECT n.memory_id, n.global_position FROM retrieval.memories n
    WHERE n.tenant_id = m.tenant_id AND n.user_id = m.user_id AND n.session_id = m.session_id
      AND n.agent_id IS NOT DISTINCT FROM m.agent_id
      AND (n.occurred_at, n.global_position) > (m.occurred_at, m.global_position)
    ORDER BY n.occurred_at, n.global_position
    LIMIT 1
) n
"""

# What search hits show: their memories' words and metadata (see contents.py). One primary
# key lookup per id, whatever the statistics say: with `memory_id = ANY($2)` and none yet
# (a table just filled), the planner scanned the tenant's whole agent index instead
# (20k rows: 2.5 ms, not 0.3).
_CONTENTS = """
SELECT m.memory_id, m.content, m.metadata::text AS metadata
FROM unnest($2::text[]) AS q(memory_id)
JOIN retrieval.memories m ON m.tenant_id = $1 AND m.memory_id = q.memory_id
"""

_COLUMNS = """memory_id, user_id, content, source_type, source_id, session_id, agent_id,
    metadata::text AS metadata, occurred_at, recorded_at, synthesized"""


def _row(envelope: Envelope) -> tuple[Any, ...]:
    memory = envelope.data
    assert isinstance(memory, MemoryRecorded)
    return (
        envelope.tenant_id,
        memory.memory_id,
        memory.user_id,
        memory.content,
        memory.source_type,
        memory.source_id,
        memory.session_id,
        memory.agent_id,
        jsonb_json(memory.metadata).decode(),
        envelope.occurred_at,
        envelope.recorded_at,
        envelope.global_position,
    )


def _view(row: Any) -> MemoryView:
    return MemoryView(
        memory_id=row["memory_id"],
        user_id=row["user_id"],
        content=row["content"],
        source_type=row["source_type"],
        source_id=row["source_id"],
        session_id=row["session_id"],
        agent_id=row["agent_id"],
        metadata=msgspec.json.decode(row["metadata"]),
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        synthesized=row["synthesized"],
    )


class MemoryTable:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_all(self, envelopes: list[Envelope]) -> None:
        """Insert the memories; one already there (a redelivery) is left as it is."""
        if envelopes:
            async with self._pool.acquire() as conn:
                await conn.executemany(_UPSERT, [_row(e) for e in envelopes])

    async def preceding(self, envelopes: list[Envelope]) -> dict[str, Turn]:
        """The turn before each memory in its session, by memory id (none: first, or no
        session). Reads what `record_all` wrote, so call that first."""
        rows = [e for e in envelopes if isinstance(e.data, MemoryRecorded) and e.data.session_id]
        if not rows:
            return {}
        columns: list[list[Any]] = [[] for _ in range(7)]
        for e in rows:
            assert isinstance(e.data, MemoryRecorded)
            values = (
                e.tenant_id,
                e.data.memory_id,
                e.data.user_id,
                e.data.session_id,
                e.data.agent_id,
                e.occurred_at,
                e.global_position,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        found = await self._pool.fetch(_PRECEDING, *columns)
        return {
            r["memory_id"]: Turn(speaker=r["author"] or r["role"], content=r["content"])
            for r in found
        }

    async def contents(self, tenant_id: str, memory_ids: list[str]) -> dict[str, MemoryText]:
        """By memory id, those of `memory_ids` still recorded for the tenant (one query)."""
        if not memory_ids:
            return {}
        rows = await self._pool.fetch(_CONTENTS, tenant_id, memory_ids)
        return {
            r["memory_id"]: MemoryText(r["content"], msgspec.json.decode(r["metadata"]))
            for r in rows
        }

    async def following(self, tenant_id: str, memory_id: str) -> int | None:
        """The log position of the memory after this one in its session, if any."""
        position = await self._pool.fetchval(_FOLLOWING, tenant_id, memory_id)
        return int(position) if position is not None else None

    async def followers(self, envelopes: list[Envelope]) -> dict[str, int]:
        """By memory id, the log position of the turn just after each of these memories in
        its session, where one is recorded (one query)."""
        rows = [e for e in envelopes if isinstance(e.data, MemoryRecorded) and e.data.session_id]
        if not rows:
            return {}
        ids = [e.data.memory_id for e in rows if isinstance(e.data, MemoryRecorded)]
        found = await self._pool.fetch(_FOLLOWERS, [e.tenant_id for e in rows], ids)
        return {r["memory_id"]: int(r["global_position"]) for r in found}

    async def page(self, query: ListMemoriesQuery) -> MemoryPage:
        where = ["tenant_id = $1"]
        args: list[Any] = [query.tenant_id]
        for column, value in (
            ("user_id", query.user_id),
            ("source_type", query.source_type),
            ("session_id", query.session_id),
            ("agent_id", query.agent_id),
        ):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if query.q:
            args.append(f"%{_escape_like(query.q)}%")
            where.append(f"content ILIKE ${len(args)}")
        # Memories appended in one transaction share recorded_at: their log position
        # keeps them in the order they were sent.
        order = "recorded_at DESC, global_position DESC"
        if query.occurred_before is not None:
            args.append(query.occurred_before)
            where.append(f"occurred_at < ${len(args)}")
            order = "occurred_at DESC, global_position DESC"
        condition = " AND ".join(where)
        async with self._pool.acquire() as conn:
            total = await conn.fetchval(
                f"SELECT count(*) FROM retrieval.memories WHERE {condition}", *args
            )
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM retrieval.memories WHERE {condition}"
                f" ORDER BY {order}"
                f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
                *args,
                query.limit,
                query.offset,
            )
        return MemoryPage(
            memories=[_view(r) for r in rows], total=total, limit=query.limit, offset=query.offset
        )

    async def get(self, query: GetMemoryQuery) -> MemoryView | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM retrieval.memories WHERE tenant_id = $1 AND memory_id = $2"
            " AND ($3::text IS NULL OR agent_id = $3)",
            query.tenant_id,
            query.memory_id,
            query.agent_id,
        )
        return _view(row) if row else None

    async def forget(self, tenant_id: str, user_id: str) -> int:
        result = await self._pool.execute(
            "DELETE FROM retrieval.memories WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
        )
        return int(result.split()[-1])

    async def mark_synthesized(self, marks: list[tuple[str, str]]) -> None:
        """(tenant, memory id) of memories synthesis has read; one not here is gone."""
        if marks:
            await self._pool.executemany(
                "UPDATE retrieval.memories SET synthesized = true"
                " WHERE tenant_id = $1 AND memory_id = $2 AND NOT synthesized",
                marks,
            )

    async def compact(self) -> None:
        """After a forget: rewrite retrieval's tables so the deleted rows leave the disk."""
        await compact(self._pool, await schema_tables(self._pool, "retrieval"))

    async def delete(self, tenant_id: str, memory_id: str) -> None:
        await self._pool.execute(
            "DELETE FROM retrieval.memories WHERE tenant_id = $1 AND memory_id = $2",
            tenant_id,
            memory_id,
        )

    async def clear(self) -> None:
        await self._pool.execute("TRUNCATE retrieval.memories")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
