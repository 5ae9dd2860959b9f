"""Facts in chains: first fact to current, one chain per end."""

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec

from mnemo.contracts import FactChains, FactChainsQuery, FactView
from mnemo.synthesis.fact_chains import FactChainViews, chains_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fact(fact_id: str, minute: int, superseded_by: str | None = None) -> FactView:
    return FactView(
        fact_id=fact_id,
        user_id="u",
        attribute="employer",
        value=fact_id,
        statement=fact_id,
        kind="dynamic",
        category="work",
        confidence=0.9,
        valid_from=T0,
        valid_to=None,
        recorded_at=T0 + timedelta(minutes=minute),
        status="superseded" if superseded_by else "current",
        superseded_by=superseded_by,
    )


def table(*facts: FactView) -> dict[str, tuple[FactView, datetime]]:
    return {f.fact_id: (f, f.recorded_at) for f in facts}


def test_a_chain_runs_from_the_first_fact_to_the_current_one():
    found = chains_of(table(fact("c", 3), fact("a", 1, "b"), fact("b", 2, "c"), fact("x", 0)))
    assert [[f.fact_id for f in c.facts] for c in found] == [["x"], ["a", "b", "c"]]
    assert found[1].changed_at == T0 + timedelta(minutes=3)


def test_where_two_facts_were_superseded_by_one_it_ends_only_the_earlier_chain():
    found = chains_of(table(fact("a", 1, "c"), fact("b", 2, "c"), fact("c", 3)))
    assert [[f.fact_id for f in c.facts] for c in found] == [["a", "c"]]


def test_a_successor_the_caller_cannot_see_ends_the_chain():
    found = chains_of(table(fact("a", 1, "hidden")))
    assert [[f.fact_id for f in c.facts] for c in found] == [["a"]]


class Views:
    """The facts read model, as FactViews answers it (statuses not as of any time)."""

    def __init__(self, *facts: FactView) -> None:
        self.facts = facts

    async def views(self, *_args: object, **_kwargs: object) -> list[tuple[FactView, datetime]]:
        return [(f, f.recorded_at) for f in self.facts]


def test_a_chain_is_as_of_now_a_fact_that_starts_later_not_in_it_yet():
    """Mem0's memories are the chains: a fact dated after now (a memory's timestamp, a
    supersession's validFrom) is not its chain's end yet, and the fact it ends then is
    current until then."""
    later = datetime(2999, 1, 1, tzinfo=UTC)
    ends_later = msgspec.structs.replace(fact("a", 1, "b"), valid_to=later)
    starts_later = msgspec.structs.replace(fact("b", 2), valid_from=later)
    query = FactChainsQuery(tenant_id="t", user_id="u")
    found = asyncio.run(FactChainViews(Views(ends_later, starts_later)).chains(query))
    assert isinstance(found, FactChains)
    assert [[(f.fact_id, f.status) for f in c.facts] for c in found.chains] == [[("a", "current")]]
