"""What audit does: record each command, event and signal once; answer chain queries."""

from typing import Any

import asyncpg
import msgspec

from mnemo.audit.entries import AGENT_POSITIONS, INSERT, POSITIONS, causal_order, entry_rows
from mnemo.bus import Delivery
from mnemo.contracts import AuditEntry, AuditQuery, AuditResult, QueryError

SERVICE = "audit"

_COLUMNS = """message_id, kind, type, service, "timestamp", correlation_id, causation_id,
    subject, audited_at, data::text AS data, trace_id"""

_WHERE = """tenant_id = $1
  AND ($2::text IS NULL OR correlation_id = $2)
  AND ($3::timestamptz IS NULL OR "timestamp" >= $3)
  AND ($4::timestamptz IS NULL OR "timestamp" <= $4)
  AND ($5::text IS NULL OR data->>'actor' = $5)
  AND ($6::text IS NULL OR type = $6)
  AND ($7::text IS NULL OR message_id IN (SELECT message_id FROM agent_scope))"""

# $7, an agent key's scope: in each chain the agent took part in, the entries of its own
# doing: those it acted in, and what services did because of them (following causation).
# Entries of any other principal, and all that followed from them, stay out. Principals act
# as `kind:id` (key:…, agent:…/key:…, signup:…, admin:…), services under a plain name. A
# caller may give its own correlation id, so a chain is not one caller's: without this, an
# agent could join another's chain with one request and read all of it. The agent id is
# matched as text (a LIKE pattern would make `_` in an id a wildcard). $8, when the agent
# was made: what a deleted agent of the same id did, and all that followed from it (even
# a service's step that came after the new agent was made), stays out.
_AGENT_SCOPE = """WITH RECURSIVE agent_scope (message_id, correlation_id) AS (
    SELECT message_id, correlation_id FROM audit.entries
    WHERE $7::text IS NOT NULL AND tenant_id = $1
      AND starts_with(data->>'actor', 'agent:' || $7 || '/')
      AND ($8::timestamptz IS NULL OR "timestamp" >= $8)
  UNION
    SELECT e.message_id, e.correlation_id
    FROM audit.entries e JOIN agent_scope s
      ON e.tenant_id = $1 AND e.correlation_id = s.correlation_id
     AND e.causation_id = s.message_id
    WHERE strpos(coalesce(e.data->>'actor', ''), ':') = 0
)
"""


class AuditHandlers:
    def __init__(self, pool: asyncpg.Pool, max_chain: int) -> None:
        self._pool = pool
        self._max_chain = max_chain

    def recorder(self, kind: str) -> Any:
        async def record(delivery: Delivery) -> None:
            rows = entry_rows(kind, delivery)
            if len(rows) == 1:
                await self._pool.execute(INSERT, *rows[0])
                return
            async with self._pool.acquire() as conn:
                await conn.executemany(INSERT, rows)

        return record

    def batch_recorder(self, kind: str) -> Any:
        async def record_all(deliveries: list[Delivery]) -> None:
            rows = [row for d in deliveries for row in entry_rows(kind, d)]
            async with self._pool.acquire() as conn:
                await conn.executemany(INSERT, rows)

        return record_all

    async def events(self, query: AuditQuery) -> AuditResult | QueryError:
        if not 1 <= query.limit <= self._max_chain:
            return QueryError(
                code="invalid", message=f"limit must be 1..{self._max_chain}", field="limit"
            )
        if query.offset < 0:
            return QueryError(code="invalid", message="offset must be >= 0", field="offset")
        args = (
            query.tenant_id,
            query.correlation_id,
            query.since,
            query.until,
            query.actor,
            query.type,
            query.agent_id,
            query.agent_since,
        )
        hidden = POSITIONS | AGENT_POSITIONS if query.agent_id is not None else POSITIONS
        async with self._pool.acquire() as conn:
            total = await conn.fetchval(
                f"{_AGENT_SCOPE} SELECT count(*) FROM audit.entries WHERE {_WHERE}", *args
            )
            if query.correlation_id:
                # A chain is ordered by cause, which needs all of it; chains are small.
                rows = await conn.fetch(
                    f"{_AGENT_SCOPE} SELECT {_COLUMNS} FROM audit.entries WHERE {_WHERE}"
                    f' ORDER BY "timestamp" LIMIT {self._max_chain}',
                    *args,
                )
                page = causal_order([_entry(r, hidden) for r in rows])[
                    query.offset : query.offset + query.limit
                ]
            else:
                rows = await conn.fetch(
                    f"{_AGENT_SCOPE} SELECT {_COLUMNS} FROM audit.entries WHERE {_WHERE}"
                    ' ORDER BY "timestamp", message_id LIMIT $9 OFFSET $10',
                    *args,
                    query.limit,
                    query.offset,
                )
                page = [_entry(r, hidden) for r in rows]
        end = query.offset + len(page)
        return AuditResult(
            correlation_id=query.correlation_id,
            events=page,
            total=total,
            next_offset=end if end < total else None,
        )


def _entry(r: Any, hidden: frozenset[str]) -> AuditEntry:
    return AuditEntry(
        message_id=r["message_id"],
        kind=r["kind"],
        type=r["type"],
        service=r["service"],
        timestamp=r["timestamp"],
        correlation_id=r["correlation_id"],
        causation_id=r["causation_id"],
        subject=r["subject"],
        recorded_by=SERVICE,
        audited_at=r["audited_at"],
        data=_shown(msgspec.json.decode(r["data"]), hidden),
        trace_id=r["trace_id"],
    )


def _shown(data: Any, hidden: frozenset[str]) -> Any:
    """An entry's data as answered: without a position in a stream every tenant shares (an
    event's global position, a dead letter's stream sequence), which entries written
    before they were left out still hold (entries.POSITIONS says why), nor, to an agent
    key, one in a stream its tenant's agents share (entries.AGENT_POSITIONS)."""
    if isinstance(data, dict):
        for name in hidden:
            data.pop(name, None)
    return data
