"""Who holds memories in a tenant (users, agents, sessions), from the memories read model."""

import asyncpg

from mnemo.contracts import SCOPE_KINDS, QueryError, ScopeCount, ScopeList, ScopesQuery

MAX_SCOPES = 1000

# One grouping per kind, most recently active first; an agent-scoped query sees only the
# agent's own memories (and so only itself among the agents).
_SCOPE = """
SELECT {column} AS id, count(*) AS memories, min(recorded_at) AS first_recorded_at,
    max(recorded_at) AS last_recorded_at
FROM retrieval.memories
WHERE tenant_id = $1 AND ($2::text IS NULL OR agent_id = $2) AND {column} IS NOT NULL
GROUP BY {column}
ORDER BY max(recorded_at) DESC, {column}
LIMIT $3
"""
_COLUMNS = dict(zip(SCOPE_KINDS, ("user_id", "agent_id", "session_id"), strict=True))


class Scopes:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def listing(self, query: ScopesQuery) -> ScopeList | QueryError:
        if not 1 <= query.limit <= MAX_SCOPES:
            return QueryError(
                code="invalid", message=f"limit must be 1..{MAX_SCOPES}", field="limit"
            )
        found: list[ScopeCount] = []
        async with self._pool.acquire() as conn:
            for kind, column in _COLUMNS.items():
                rows = await conn.fetch(
                    _SCOPE.format(column=column), query.tenant_id, query.agent_id, query.limit
                )
                found.extend(
                    ScopeCount(
                        kind=kind,
                        id=row["id"],
                        memories=row["memories"],
                        first_recorded_at=row["first_recorded_at"],
                        last_recorded_at=row["last_recorded_at"],
                    )
                    for row in rows
                )
        return ScopeList(scopes=found)
