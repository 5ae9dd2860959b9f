"""The profile of a subject: its facts, split into static traits and dynamic context,
as they were at a point in valid time (asOf) or in knowledge time (asOfKnowledge)."""

from typing import Any

import asyncpg

from mnemo.contracts import Envelope, FactExtracted, Profile, ProfileQuery


class FactTable:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_all(self, envelopes: list[Envelope]) -> None:
        rows = [_row(e) for e in envelopes if isinstance(e.data, FactExtracted)]
        if rows:
            async with self._pool.acquire() as conn:
                await conn.executemany(
                    """INSERT INTO synthesis.facts (tenant_id, fact_id, user_id, memory_id,
                           attribute, value, statement, kind, confidence, occurred_at, recorded_at)
                       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING""",
                    rows,
                )

    async def forget(self, tenant_id: str, user_id: str) -> None:
        await self._pool.execute(
            "DELETE FROM synthesis.facts WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
        )

    async def profile(self, query: ProfileQuery) -> Profile:
        rows = await self._pool.fetch(
            """SELECT statement, kind FROM synthesis.facts
               WHERE tenant_id = $1 AND user_id = $2
                 AND ($3::timestamptz IS NULL OR occurred_at <= $3)
                 AND ($4::timestamptz IS NULL OR recorded_at <= $4)
               ORDER BY occurred_at DESC, recorded_at DESC, fact_id""",
            query.tenant_id,
            query.user_id,
            query.as_of,
            query.as_of_knowledge,
        )
        lists: dict[str, list[str]] = {"static": [], "dynamic": []}
        seen: set[str] = set()
        for row in rows:
            # Newest first; the same statement said again counts once.
            key = row["statement"].lower()
            if key not in seen and row["kind"] in lists:
                seen.add(key)
                lists[row["kind"]].append(row["statement"])
        return Profile(static=lists["static"], dynamic=lists["dynamic"])


def _row(envelope: Envelope) -> tuple[Any, ...]:
    data = envelope.data
    assert isinstance(data, FactExtracted)
    fact = data.fact
    return (
        envelope.tenant_id,
        fact.fact_id,
        data.user_id,
        data.memory_id,
        fact.attribute,
        fact.value,
        fact.statement,
        fact.kind,
        fact.confidence,
        envelope.occurred_at,
        envelope.recorded_at,
    )
