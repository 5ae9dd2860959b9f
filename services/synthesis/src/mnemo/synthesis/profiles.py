"""The profile of a subject: its facts, split into static traits and dynamic context,
as they held at a point in valid time (asOf) and as they were known at a point in
knowledge time (asOfKnowledge). A superseded or negated fact is kept, with its end."""

from typing import Any

import asyncpg

from mnemo.contracts import (
    Envelope,
    FactContradicted,
    FactCorroborated,
    FactExtracted,
    FactSuperseded,
    FactValidated,
    Profile,
    ProfileQuery,
    valid_at,
)
from mnemo.contracts.speakers import is_about

# A fact holds at (asOf, asOfKnowledge) if it began by asOf, was known by asOfKnowledge,
# and no end known by asOfKnowledge came at or before asOf (no asOf: now, `valid_at`). An
# agent-scoped profile has what that agent's memories said.
_HOLDING = """
    SELECT f.statement, f.kind, f.about FROM synthesis.facts f
    WHERE f.tenant_id = $1 AND f.user_id = $2
      AND f.occurred_at <= $3::timestamptz
      AND f.recorded_at <= coalesce($4::timestamptz, 'infinity')
      AND ($5::text IS NULL OR f.agent_id = $5)  -- its own agent's only (fact_views.py)
      AND NOT EXISTS (
          SELECT 1 FROM synthesis.fact_endings e
          WHERE e.tenant_id = f.tenant_id AND e.fact_id = f.fact_id
            AND e.valid_to <= $3::timestamptz
            AND e.recorded_at <= coalesce($4::timestamptz, 'infinity'))
    ORDER BY f.occurred_at DESC, f.recorded_at DESC, f.fact_id
"""


class FactTable:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_all(self, conn: asyncpg.Connection, envelopes: list[Envelope]) -> None:
        facts = [_fact(e) for e in envelopes if isinstance(e.data, FactExtracted)]
        if facts:
            await conn.executemany(
                """INSERT INTO synthesis.facts (tenant_id, fact_id, user_id, memory_id,
                       attribute, value, statement, kind, confidence, occurred_at, recorded_at,
                       category, span_start, span_end, agent_id, extractor, about)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
                   ON CONFLICT DO NOTHING""",
                facts,
            )
        endings = [_ending(e) for e in envelopes if isinstance(e.data, FactSuperseded)]
        if endings:
            await conn.executemany(
                """INSERT INTO synthesis.fact_endings (tenant_id, event_id, user_id, fact_id,
                       valid_to, reason, superseded_by, recorded_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING""",
                endings,
            )
        evidence = [_evidence(e) for e in envelopes if isinstance(e.data, FactCorroborated)]
        if evidence:
            await conn.executemany(
                """INSERT INTO synthesis.fact_evidence (tenant_id, event_id, user_id, fact_id,
                       memory_id, span_start, span_end, confidence, occurred_at, recorded_at,
                       agent_id)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING""",
                evidence,
            )
            # Said again: the fact is as sure as its best evidence.
            await conn.executemany(
                """UPDATE synthesis.facts SET confidence = greatest(confidence, $3)
                   WHERE tenant_id = $1 AND fact_id = $2""",
                [(row[0], row[3], row[7]) for row in evidence],
            )
        marks = [
            _mark(e) for e in envelopes if isinstance(e.data, FactValidated | FactContradicted)
        ]
        if marks:
            await conn.executemany(
                """INSERT INTO synthesis.fact_marks (tenant_id, event_id, user_id, fact_id, mark,
                       other_fact_id, confidence, actor, recorded_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING""",
                marks,
            )
            # Confirmed by someone: as sure as they said.
            await conn.executemany(
                """UPDATE synthesis.facts SET confidence = greatest(confidence, $3)
                   WHERE tenant_id = $1 AND fact_id = $2""",
                [(row[0], row[3], row[6]) for row in marks if row[4] == "validated"],
            )

    async def forget(self, conn: asyncpg.Connection, tenant_id: str, user_id: str) -> int:
        """Drop the subject's facts; how many rows that dropped."""
        dropped = 0
        for table in ("facts", "fact_endings", "fact_evidence", "fact_marks"):
            result = await conn.execute(
                f"DELETE FROM synthesis.{table} WHERE tenant_id = $1 AND user_id = $2",
                tenant_id,
                user_id,
            )
            dropped += int(result.split()[-1])
        return dropped

    async def profile(self, query: ProfileQuery) -> Profile:
        rows = await self._pool.fetch(
            _HOLDING,
            query.tenant_id,
            query.user_id,
            valid_at(query.as_of),
            query.as_of_knowledge,
            query.agent_id,
        )
        lists: dict[str, list[str]] = {"static": [], "dynamic": []}
        seen: set[str] = set()
        if query.about is not None:
            rows = [r for r in rows if is_about(r["about"], query.user_id, query.about)]
        for row in rows:
            # Newest first; a statement that two facts make (one slotted in late) counts once.
            key = row["statement"].lower()
            if key not in seen and row["kind"] in lists:
                seen.add(key)
                lists[row["kind"]].append(row["statement"])
        return Profile(static=lists["static"], dynamic=lists["dynamic"])


def _fact(envelope: Envelope) -> tuple[Any, ...]:
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
        fact.category,
        fact.span[0],
        fact.span[1],
        data.agent_id,
        data.extractor,
        data.about,
    )


def _mark(envelope: Envelope) -> tuple[Any, ...]:
    data = envelope.data
    assert isinstance(data, FactValidated | FactContradicted)
    validated = isinstance(data, FactValidated)
    return (
        envelope.tenant_id,
        envelope.event_id,
        data.user_id,
        data.fact_id,
        "validated" if validated else "contradicted",
        data.by_fact_id if isinstance(data, FactContradicted) else None,
        data.confidence if isinstance(data, FactValidated) else None,
        envelope.actor,
        envelope.recorded_at,
    )


def _ending(envelope: Envelope) -> tuple[Any, ...]:
    data = envelope.data
    assert isinstance(data, FactSuperseded)
    return (
        envelope.tenant_id,
        envelope.event_id,
        data.user_id,
        data.fact_id,
        data.valid_to,
        data.reason,
        data.superseded_by,
        envelope.recorded_at,
    )


def _evidence(envelope: Envelope) -> tuple[Any, ...]:
    data = envelope.data
    assert isinstance(data, FactCorroborated)
    return (
        envelope.tenant_id,
        envelope.event_id,
        data.user_id,
        data.fact_id,
        data.memory_id,
        data.span[0],
        data.span[1],
        data.confidence,
        envelope.occurred_at,
        envelope.recorded_at,
        data.agent_id,
    )
