"""A subject's facts as the API lists them (GET /v1/facts): each with its valid time, its
status, the flags callers set and its evidence, as of a valid time (asOf) and as known at
a transaction time (asOfKnowledge); or every fact changed since a time."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from mnemo.contracts import FactEvidence, FactList, FactsQuery, FactView, valid_at
from mnemo.contracts.speakers import is_about

_KNOWN = "recorded_at <= coalesce($3::timestamptz, 'infinity')"
# An agent-scoped caller reaches its own agent's facts only: never one of another agent's
# that its memory once corroborated (synthesis no longer weighs one agent's memory on
# another's facts, but a log written before it did holds such evidence).
_FACTS = f"""
    SELECT * FROM synthesis.facts f
    WHERE tenant_id = $1 AND user_id = $2 AND {_KNOWN}
      AND ($4::text IS NULL OR agent_id = $4)
      AND ($5::text[] IS NULL OR fact_id = ANY($5::text[]))
"""
_ENDINGS = f"""
    SELECT fact_id, valid_to, reason, superseded_by, recorded_at FROM synthesis.fact_endings
    WHERE tenant_id = $1 AND user_id = $2 AND {_KNOWN} ORDER BY valid_to
"""
_EVIDENCE = f"""
    SELECT fact_id, memory_id, span_start, span_end, occurred_at, agent_id, recorded_at
    FROM synthesis.fact_evidence
    WHERE tenant_id = $1 AND user_id = $2 AND {_KNOWN} ORDER BY occurred_at, event_id
"""
_MARKS = f"""
    SELECT fact_id, mark, other_fact_id, recorded_at FROM synthesis.fact_marks
    WHERE tenant_id = $1 AND user_id = $2 AND {_KNOWN} ORDER BY recorded_at, event_id
"""
_STATUS = {"negated": "negated"}  # any other reason for an end is a supersession


class FactViews:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def owner(self, tenant_id: str, fact_id: str, agent_id: str | None) -> str | None:
        """The user a fact is about, if the caller (an agent, when set) may reach it."""
        return await self._pool.fetchval(  # type: ignore[no-any-return]
            """SELECT user_id FROM synthesis.facts
               WHERE tenant_id = $1 AND fact_id = $2 AND ($3::text IS NULL OR agent_id = $3)""",
            tenant_id,
            fact_id,
            agent_id,
        )

    async def listing(self, query: FactsQuery) -> FactList:
        views = await self.views(
            query.tenant_id, query.user_id, query.as_of_knowledge, query.agent_id
        )
        at = valid_at(query.as_of)
        if query.changed_since is not None:
            since = query.changed_since
            chosen = [v for v, changed in views if changed and changed > since]
        else:
            chosen = [v for v, _ in views if holds(v, at)]
        if query.about is not None:
            about = query.about
            chosen = [v for v in chosen if is_about(v.about, query.user_id, about)]
        # Statuses are as of asOf (default now): a fact ended after it still held then.
        chosen = [status_at(v, at) for v in chosen]
        chosen.sort(key=lambda v: (-v.valid_from.timestamp(), v.fact_id))
        return FactList(facts=chosen)

    async def views(
        self,
        tenant_id: str,
        user_id: str,
        known_at: datetime | None = None,
        agent_id: str | None = None,
        fact_ids: Sequence[str] | None = None,
    ) -> list[tuple[FactView, datetime]]:
        """Each fact known at `known_at`, with when anything last happened to it."""
        args = (tenant_id, user_id, known_at)
        async with self._pool.acquire() as conn:
            facts = await conn.fetch(_FACTS, *args, agent_id, fact_ids)
            if not facts:
                return []
            endings = _by_fact(await conn.fetch(_ENDINGS, *args))
            evidence = _by_fact(await conn.fetch(_EVIDENCE, *args))
            marks = _by_fact(await conn.fetch(_MARKS, *args))
        out = []
        for f in facts:
            fid = f["fact_id"]
            ended = endings.get(fid, [])
            first = ended[0] if ended else None  # the earliest end wins
            said = [
                r for r in evidence.get(fid, []) if agent_id is None or r["agent_id"] == agent_id
            ]
            flags = marks.get(fid, [])
            view = FactView(
                fact_id=fid,
                user_id=f["user_id"],
                attribute=f["attribute"],
                value=f["value"],
                statement=f["statement"],
                kind=f["kind"],
                category=f["category"],
                confidence=round(float(f["confidence"]), 2),
                valid_from=f["occurred_at"],
                valid_to=first["valid_to"] if first else None,
                recorded_at=f["recorded_at"],
                status=_STATUS.get(first["reason"], "superseded") if first else "current",
                superseded_by=first["superseded_by"] if first else None,
                validated=any(m["mark"] == "validated" for m in flags),
                contradicted=any(m["mark"] == "contradicted" for m in flags),
                contradicted_by=[m["other_fact_id"] for m in flags if m["other_fact_id"]],
                extractor=f["extractor"],
                agent_id=f["agent_id"],
                about=f["about"],
                evidence=[
                    *(
                        [_evidence(f, f["occurred_at"])]
                        if agent_id is None or f["agent_id"] == agent_id
                        else []
                    ),
                    *(_evidence(r, r["occurred_at"]) for r in said),
                ],
            )
            changed = max(r["recorded_at"] for r in [f, *ended, *evidence.get(fid, []), *flags])
            out.append((view, changed))
        return out


def holds(view: FactView, at: datetime) -> bool:
    """Whether the fact held at `at` (valid time)."""
    return view.valid_from <= at and (view.valid_to is None or at < view.valid_to)


def status_at(view: FactView, at: datetime) -> FactView:
    """The fact with its status as of `at`: one that ends after it is current then."""
    if view.valid_to is not None and at < view.valid_to:
        return msgspec.structs.replace(view, status="current")
    return view


def _evidence(row: Any, occurred_at: datetime) -> FactEvidence:
    span = (row["span_start"], row["span_end"]) if row["span_start"] is not None else None
    return FactEvidence(
        memory_id=row["memory_id"], span=span, occurred_at=occurred_at, agent_id=row["agent_id"]
    )


def _by_fact(rows: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row["fact_id"]].append(row)
    return grouped
