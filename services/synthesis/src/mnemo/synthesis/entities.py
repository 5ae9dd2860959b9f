"""The entity graph of a subject: the people, organizations, tools and places they
mention, each related to them as its latest mention (in valid time) says, asOf and
asOfKnowledge like the profile."""

from typing import Any

import asyncpg

from mnemo.contracts import (
    ENTITY_TYPES,
    EntitiesQuery,
    EntityExtracted,
    EntityGraph,
    EntityView,
    Envelope,
    MemorySynthesized,
    QueryError,
    valid_at,
)
from mnemo.contracts.speakers import normal_name
from mnemo.synthesis.names import MENTIONED

_GRAPH = f"""
    WITH visible AS (
        SELECT * FROM synthesis.entity_mentions
        WHERE tenant_id = $1 AND user_id = $2
          AND occurred_at <= $3::timestamptz  -- asOf, or now (`valid_at`)
          AND recorded_at <= coalesce($4::timestamptz, 'infinity')
          AND ($5::text IS NULL OR type = $5)
          AND ($6::text IS NULL OR agent_id = $6)
          -- mnemo.contracts.speakers.is_about, in SQL: NULL is the user themselves
          AND ($7::text IS NULL OR lower(coalesce(about, user_id)) = lower($7))
    )
    SELECT DISTINCT ON (entity_id)
        entity_id, name, type, relationship,
        max(confidence) OVER (PARTITION BY entity_id) AS confidence,
        count(*) OVER (PARTITION BY entity_id) AS mentions,
        min(occurred_at) OVER (PARTITION BY entity_id) AS first_seen,
        max(occurred_at) OVER (PARTITION BY entity_id) AS last_seen
    FROM visible
    -- what the latest mention that said a relationship says; a name only said in
    -- passing ("mentioned") never replaces one
    ORDER BY entity_id, (relationship = '{MENTIONED}'), occurred_at DESC, global_position DESC
"""


class EntityTable:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_all(self, conn: asyncpg.Connection, envelopes: list[Envelope]) -> None:
        mentions = [_mention(e) for e in envelopes if isinstance(e.data, EntityExtracted)]
        if mentions:
            await conn.executemany(
                """INSERT INTO synthesis.entity_mentions (tenant_id, event_id, user_id,
                       entity_id, name, type, relationship, confidence, memory_id,
                       occurred_at, recorded_at, global_position, agent_id, about)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
                   ON CONFLICT DO NOTHING""",
                mentions,
            )
        subjects = {
            (e.tenant_id, e.data.user_id): e.recorded_at
            for e in envelopes
            if isinstance(e.data, MemorySynthesized)
        }
        if subjects:
            await conn.executemany(
                """INSERT INTO synthesis.subjects (tenant_id, user_id, synthesized_at)
                   VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
                [(t, u, at) for (t, u), at in subjects.items()],
            )

    async def forget(
        self, conn: asyncpg.Connection, tenant_id: str, user_id: str, *, mentions_only: bool = False
    ) -> int:
        """Drop the subject's entities; how many rows that dropped."""
        dropped = 0
        for table in ("entity_mentions",) if mentions_only else ("entity_mentions", "subjects"):
            result = await conn.execute(
                f"DELETE FROM synthesis.{table} WHERE tenant_id = $1 AND user_id = $2",
                tenant_id,
                user_id,
            )
            dropped += int(result.split()[-1])
        return dropped

    async def graph(self, query: EntitiesQuery) -> EntityGraph | QueryError:
        if query.type is not None and query.type not in ENTITY_TYPES:
            return QueryError(
                code="invalid",
                message=f"type must be one of {', '.join(ENTITY_TYPES)}, not {query.type!r}",
                field="type",
            )
        async with self._pool.acquire() as conn:
            known = await conn.fetchval(
                "SELECT 1 FROM synthesis.subjects WHERE tenant_id = $1 AND user_id = $2",
                query.tenant_id,
                query.user_id,
            )
            if query.agent_id is not None and known:
                # An agent-scoped caller learns of the user only through its own memories.
                known = await conn.fetchval(
                    "SELECT 1 FROM synthesis.entity_mentions"
                    " WHERE tenant_id = $1 AND user_id = $2 AND agent_id = $3 LIMIT 1",
                    query.tenant_id,
                    query.user_id,
                    query.agent_id,
                )
            if not known:
                return QueryError(
                    code="not_found",
                    message=f"no entity graph for user {query.user_id!r}: nothing of theirs "
                    "has been synthesized yet",
                    field="userId",
                )
            rows = await conn.fetch(
                _GRAPH,
                query.tenant_id,
                query.user_id,
                valid_at(query.as_of),
                query.as_of_knowledge,
                query.type,
                query.agent_id,
                normal_name(query.about) if query.about is not None else None,
            )
        entities = [
            EntityView(
                entity_id=r["entity_id"],
                name=r["name"],
                type=r["type"],
                relationship=r["relationship"],
                confidence=round(float(r["confidence"]), 2),
                mentions=r["mentions"],
                first_seen=r["first_seen"],
                last_seen=r["last_seen"],
            )
            for r in rows
        ]
        entities.sort(key=lambda e: (-e.confidence, -e.last_seen.timestamp(), e.name))
        return EntityGraph(entities=entities)


def _mention(envelope: Envelope) -> tuple[Any, ...]:
    data = envelope.data
    assert isinstance(data, EntityExtracted)
    entity = data.entity
    return (
        envelope.tenant_id,
        envelope.event_id,
        data.user_id,
        entity.entity_id,
        entity.value,
        entity.type,
        entity.relationship,
        entity.confidence,
        data.memory_id,
        envelope.occurred_at,
        envelope.recorded_at,
        envelope.global_position,
        data.agent_id,
        data.about,
    )
