"""Facts in chains: each first fact, then the fact that superseded it, and so on to the
one that holds now (see mnemo.contracts.chains), from the facts read model."""

from datetime import datetime

from mnemo.contracts import (
    FactChain,
    FactChains,
    FactChainsQuery,
    FactView,
    QueryError,
    valid_at,
)
from mnemo.synthesis.fact_views import FactViews, status_at

# A bound on a chain's length, far above any a subject reaches.
MAX_CHAIN = 1000


class FactChainViews:
    def __init__(self, views: FactViews) -> None:
        self._views = views

    async def chains(self, query: FactChainsQuery) -> FactChains | QueryError:
        user_id = query.user_id
        if query.fact_id is not None:
            user_id = await self._views.owner(query.tenant_id, query.fact_id, query.agent_id)
            if user_id is None or (query.user_id is not None and user_id != query.user_id):
                return QueryError(
                    code="not_found", message=f"no fact {query.fact_id!r}", field="factId"
                )
        if user_id is None:
            return QueryError(
                code="invalid", message="userId or factId is required", field="userId"
            )
        views = await self._views.views(query.tenant_id, user_id, agent_id=query.agent_id)
        # As of now (Mem0's memories are what holds): a fact that starts later is not in
        # its chain yet, and the fact it will end is current until then.
        now = valid_at(None)
        found = chains_of(
            {v.fact_id: (status_at(v, now), changed) for v, changed in views if v.valid_from <= now}
        )
        if query.fact_id is not None:
            found = [c for c in found if any(f.fact_id == query.fact_id for f in c.facts)][:1]
        return FactChains(chains=found)


def chains_of(facts: dict[str, tuple[FactView, datetime]]) -> list[FactChain]:
    """One chain per first fact (one that superseded none). Where a fact superseded two,
    the chains meet: it ends the chain of the earlier first fact only, so no fact is the
    end of two chains."""
    superseded = {v.superseded_by for v, _ in facts.values() if v.superseded_by}
    firsts = sorted(
        (v for v, _ in facts.values() if v.fact_id not in superseded),
        key=lambda v: (v.recorded_at, v.fact_id),
    )
    taken: set[str] = set()
    chains = []
    for first in firsts:
        chain = [first]
        while (next_id := chain[-1].superseded_by) in facts and len(chain) < MAX_CHAIN:
            assert next_id is not None
            chain.append(facts[next_id][0])
        if chain[-1].fact_id in taken:
            continue
        taken.add(chain[-1].fact_id)
        chains.append(FactChain(facts=chain, changed_at=facts[chain[-1].fact_id][1]))
    return chains
