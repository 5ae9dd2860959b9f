"""What a caller's change to a fact appends: a validation; a supersession (a new fact of
the same attribute and the old one ended at validFrom); a contradiction (both flagged,
neither ended); and what is refused, naming the field."""

from datetime import UTC, datetime

import pytest

from mnemo.contracts import (
    ChangeFact,
    FactContradicted,
    FactExtracted,
    FactSuperseded,
    FactValidated,
)
from mnemo.synthesis.curation import Refused, _check, _decide
from mnemo.synthesis.extractor import extract
from mnemo.synthesis.timeline import Timeline

SAID = datetime(2026, 3, 1, tzinfo=UTC)


def employer() -> tuple[Timeline, str]:
    tl = Timeline("subject")
    tl.decide(cause="c1", memory_id="m1", user_id="u", at=SAID, found=extract("I work at Acme."))
    [fact] = tl.holding()
    return tl, fact.fact_id


def change(fact_id: str, change: str, **fields) -> ChangeFact:
    return ChangeFact(tenant_id="t", fact_id=fact_id, change=change, actor="key:k", **fields)


def test_validate_raises_confidence():
    tl, fid = employer()
    [(_, data, _)] = _decide(change(fid, "validate"), tl.facts[fid], "u", "req-1")
    assert isinstance(data, FactValidated)
    tl.apply(data, SAID)
    assert tl.facts[fid].confidence == 1.0


def test_supersede_states_a_new_fact_and_ends_the_old_at_valid_from():
    tl, fid = employer()
    at = datetime(2026, 6, 1, tzinfo=UTC)
    request = change(fid, "supersede", content="Works at Globex", value="Globex", valid_from=at)
    decided = _decide(request, tl.facts[fid], "u", "req-2")
    (new_id, stated, from_), (_, ended, _) = decided
    assert isinstance(stated, FactExtracted) and isinstance(ended, FactSuperseded)
    assert stated.fact.attribute == "employer" and stated.fact.value == "Globex"
    assert stated.extractor == "api" and stated.memory_id == "m1" and from_ == at
    assert ended.valid_to == at and ended.superseded_by == new_id
    for _, data, when in decided:
        tl.apply(data, when)
    assert [f.value for f in tl.holding()] == ["Globex"]
    assert [f.value for f in tl.holding(datetime(2026, 4, 1, tzinfo=UTC))] == ["Acme"]
    with pytest.raises(Refused, match="already ended"):
        _decide(request, tl.facts[fid], "u", "req-3")


def test_contradict_keeps_both_and_flags_them():
    tl, fid = employer()
    request = change(fid, "contradict", content="Works at Initech", reason="HR says so")
    decided = _decide(request, tl.facts[fid], "u", "req-4")
    for _, data, when in decided:
        tl.apply(data, when)
    flags = [d for _, d, _ in decided if isinstance(d, FactContradicted)]
    assert {f.fact_id for f in flags} == {fid, decided[0][0]}
    assert flags[0].statement == "HR says so"
    assert all(f.contradicted for f in tl.holding()) and len(tl.holding()) == 2


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (change("f", "delete"), "change"),
        (change("f", "supersede"), "content"),
        (change("f", "contradict", reason=" "), "reason"),
        (change("f", "supersede", content="x" * 1001), "content"),
    ],
)
def test_bad_changes_are_refused_naming_the_field(request_, field):
    with pytest.raises(Refused) as refused:
        _check(request_)
    assert refused.value.error.field == field


def test_a_new_fact_may_not_start_before_the_old():
    tl, fid = employer()
    early = change(
        fid, "supersede", content="Works at X", valid_from=datetime(2025, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(Refused) as refused:
        _decide(early, tl.facts[fid], "u", "req-5")
    assert refused.value.error.field == "validFrom"
