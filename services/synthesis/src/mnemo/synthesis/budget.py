"""Each tenant's daily allowance of LLM calls, counted in PostgreSQL so that every
synthesis replica draws on the same count (one row per tenant and UTC day)."""

import asyncpg

from mnemo.contracts import utcnow

_TAKE = """
    INSERT INTO synthesis.llm_usage AS u (tenant_id, day, calls) VALUES ($1, $2, 1)
    ON CONFLICT (tenant_id, day) DO UPDATE SET calls = u.calls + 1 WHERE u.calls < $3
    RETURNING calls
"""


class LLMBudget:
    def __init__(self, pool: asyncpg.Pool, calls_per_day: int) -> None:
        self._pool = pool
        self._limit = calls_per_day  # 0: no limit

    async def take(self, tenant_id: str) -> bool:
        """Count one call for the tenant today; False (and nothing counted) past the limit."""
        if self._limit <= 0:
            return True
        taken = await self._pool.fetchval(_TAKE, tenant_id, utcnow().date(), self._limit)
        return taken is not None

    async def used(self, tenant_id: str) -> int:
        found = await self._pool.fetchval(
            "SELECT calls FROM synthesis.llm_usage WHERE tenant_id = $1 AND day = $2",
            tenant_id,
            utcnow().date(),
        )
        return int(found or 0)
