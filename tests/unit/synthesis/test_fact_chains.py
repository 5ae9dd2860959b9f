"""Facts in chains: first fact to current, one chain per end."""

from datetime import UTC, datetime, timedelta

from mnemo.contracts import FactView
from mnemo.synthesis.fact_chains import chains_of

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
