"""What audit does: record each command, event and signal once; answer chain queries."""

from typing import Any

import asyncpg
import msgspec

from mnemo.audit.entries import causal_order, entry_row
from mnemo.bus import Delivery
from mnemo.contracts import AuditEntry, AuditQuery, AuditResult, QueryError

SERVICE = "audit"

_INSERT = """
INSERT INTO audit.entries (tenant_id, message_id, kind, type, service, correlation_id,
                           causation_id, subject, "timestamp", data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
ON CONFLICT DO NOTHING
"""

_SELECT = """
SELECT message_id, kind, type, service, "timestamp", correlation_id, causation_id, subject,
       audited_at, data::text AS data
FROM audit.entries
WHERE tenant_id = $1 AND correlation_id = $2
ORDER BY "timestamp"
LIMIT $3
"""


class AuditHandlers:
    def __init__(self, pool: asyncpg.Pool, max_chain: int) -> None:
        self._pool = pool
        self._max_chain = max_chain

    def recorder(self, kind: str) -> Any:
        async def record(delivery: Delivery) -> None:
            await self._pool.execute(_INSERT, *entry_row(kind, delivery))

        return record

    def batch_recorder(self, kind: str) -> Any:
        async def record_all(deliveries: list[Delivery]) -> None:
            rows = [entry_row(kind, d) for d in deliveries]
            async with self._pool.acquire() as conn:
                await conn.executemany(_INSERT, rows)

        return record_all

    async def events(self, query: AuditQuery) -> AuditResult | QueryError:
        if not query.correlation_id:
            return QueryError(
                code="invalid", message="correlation_id is required", field="correlation_id"
            )
        limit = min(max(query.limit, 1), self._max_chain)
        rows = await self._pool.fetch(_SELECT, query.tenant_id, query.correlation_id, limit)
        entries = [
            AuditEntry(
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
                data=msgspec.json.decode(r["data"]),
            )
            for r in rows
        ]
        return AuditResult(correlation_id=query.correlation_id, events=causal_order(entries))
