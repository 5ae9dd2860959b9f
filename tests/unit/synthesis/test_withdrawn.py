"""A deleted memory withdrawn from its subject's facts (`timeline.counted`): what only it
said is left out, what it ended holds again, a fact another memory also said is that
memory's from then on, and a fact stated through the API stays."""

from datetime import datetime

import pytest

from mnemo.contracts import (
    AgentWithdrawn,
    EntityExtracted,
    Envelope,
    EventData,
    ExtractedFact,
    FactExtracted,
    FactValidated,
    MemorySynthesized,
    MemoryWithdrawn,
)
from mnemo.synthesis.extractor import extract
from mnemo.synthesis.timeline import Timeline, counted

from .test_timeline import day, said_by


class Log:
    """A subject's facts stream, as synthesis would have appended it."""

    def __init__(self) -> None:
        self.deciding = Timeline("s")
        self.events: list[Envelope] = []

    def add(self, event_id: str, data: EventData, at: datetime, cause: str = "c") -> None:
        self.events.append(
            Envelope(
                event_id=event_id,
                event_type=type(data).__struct_config__.tag,  # type: ignore[attr-defined]
                tenant_id="t",
                stream_id="facts",
                stream_version=len(self.events),
                global_position=len(self.events) + 1,
                occurred_at=at,
                recorded_at=at,
                correlation_id="c",
                causation_id=cause,
                actor="synthesis",
                service="synthesis",
                data=data,
            )
        )

    def say(self, n: int, text: str, agent: str | None = None) -> None:
        for event_id, data in said_by(self.deciding, agent, n, text):
            self.add(event_id, data, day(n), cause=f"cause-{n}")

    def withdraw(self, n: int, at: int) -> None:
        self.add(f"w{n}", MemoryWithdrawn(memory_id=f"m{n}", user_id="u"), day(at))

    def now(self) -> Timeline:
        return Timeline.folded("s", self.events)


def lisbon_stated(agent: str | None = None) -> FactExtracted:
    """A fact stated through the API on memory m1's fact (extractor "api")."""
    stated = ExtractedFact(
        fact_id="api-fact",
        attribute="home",
        value="Lisbon",
        statement="Lives in Lisbon",
        kind="static",
        confidence=1.0,
        span=(0, 0),
        category="identity",
    )
    return FactExtracted(memory_id="m1", user_id="u", fact=stated, extractor="api", agent_id=agent)


def holding(tl: Timeline) -> set[tuple[str, str]]:
    return {(f.attribute, f.value) for f in tl.holding()}


def test_without_withdrawals_every_event_counts():
    log = Log()
    log.say(1, "I work at Acme.")
    assert counted(log.events) is log.events


def test_what_only_the_deleted_memory_said_is_left_out_and_what_it_ended_holds_again():
    log = Log()
    log.say(1, "I work at Acme. I live in Porto.")
    log.say(2, "I just joined Globex.")
    assert holding(log.now()) == {("employer", "Globex"), ("location", "Porto")}
    log.withdraw(2, at=3)
    tl = log.now()
    assert holding(tl) == {("employer", "Acme"), ("location", "Porto")}
    assert "m2" in tl.withdrawn
    kept = counted(log.events)
    assert not any(getattr(e.data, "memory_id", None) == "m2" for e in kept[:-1])
    # Its entities too: Globex was named by m2 only.
    named = {e.data.entity.value for e in kept if isinstance(e.data, EntityExtracted)}
    assert "Globex" not in named and "Acme" in named


def entities(events: list[Envelope]) -> set[tuple[str, str]]:
    return {
        (e.data.entity.value, e.data.entity.relationship)
        for e in counted(events)
        if isinstance(e.data, EntityExtracted)
    }


@pytest.mark.parametrize(
    ("first", "then", "old", "new"),
    [
        ("I work at Oldcorpia.", "I work at Newcorpia.", "Oldcorpia", "Newcorpia"),
        ("My partner is Rosalind.", "My partner is Theo.", "Rosalind", "Theo"),
        # a negation that names no value: the value was the deleted memory's words alone
        ("I work at Oldcorpia.", "I quit my job.", "Oldcorpia", None),
    ],
)
def test_the_older_memory_deleted_takes_the_former_relationship_its_value_gave(
    first: str, then: str, old: str, new: str | None
):
    """The newer memory ended the older one's fact and related its value as it was
    ("Oldcorpia, former employer"); that mention is the newer memory's event but the
    older memory's words, and leaves with them."""
    log = Log()
    log.say(1, first)
    log.say(2, then)
    assert any(name == old and rel.startswith("former") for name, rel in entities(log.events))
    log.withdraw(1, at=3)
    assert not any(name == old for name, _ in entities(log.events))
    if new is not None:
        assert any(
            name == new and not rel.startswith("former") for name, rel in entities(log.events)
        )
        assert {v for _, v in holding(log.now())} == {new}


def test_a_former_relationship_another_memory_also_gave_stays():
    log = Log()
    log.say(1, "I work at Oldcorpia.")
    log.say(2, "I work at Oldcorpia, as I said.")
    log.say(3, "I work at Newcorpia.")
    log.withdraw(1, at=4)
    assert ("Oldcorpia", "former employer") in entities(log.events)
    assert holding(log.now()) == {("employer", "Newcorpia")}


def test_a_fact_another_memory_also_said_becomes_that_memorys():
    log = Log()
    log.say(1, "I live in Porto.")
    log.say(2, "As I said, I live in Porto.")
    log.withdraw(1, at=3)
    kept = counted(log.events)
    facts = [e for e in kept if isinstance(e.data, FactExtracted)]
    assert len(facts) == 1
    again = facts[0]
    assert isinstance(again.data, FactExtracted)
    assert again.data.memory_id == "m2" and again.occurred_at == day(2)
    assert again.event_type == "fact.extracted"
    tl = log.now()
    (porto,) = tl.holding()
    assert porto.valid_from == day(2) and porto.evidence == 1


def test_a_fact_stated_through_the_api_stays_and_marks_follow_their_fact():
    log = Log()
    log.say(1, "I work at Acme.")
    acme = next(e.data for e in log.events if isinstance(e.data, FactExtracted))
    assert isinstance(acme, FactExtracted)
    log.add("v", FactValidated(user_id="u", fact_id=acme.fact.fact_id), day(2))
    log.add("api", lisbon_stated(), day(2))
    log.withdraw(1, at=3)
    kept = counted(log.events)
    assert not any(isinstance(e.data, FactValidated) for e in kept)
    assert holding(log.now()) == {("home", "Lisbon")}


def test_a_withdrawn_memory_is_never_read_again():
    log = Log()
    log.say(1, "I work at Acme.")
    log.withdraw(1, at=2)
    assert "m1" in log.now().withdrawn


def test_a_deleted_agents_facts_stated_ones_too_are_left_out_and_one_made_again_starts_anew():
    log = Log()
    log.say(1, "I work at Acme.", agent="a1")
    log.say(2, "I live in Porto.", agent="a2")
    acme = next(e.data for e in log.events if isinstance(e.data, FactExtracted))
    assert isinstance(acme, FactExtracted)
    # a1 states a fact through the API (as curation does: its memory is the fact's).
    log.add("api", lisbon_stated(agent="a1"), day(2))
    log.add("v", FactValidated(user_id="u", fact_id=acme.fact.fact_id), day(2))
    # Its memory deleted, the stated fact stands (a person's word outlives the memory) ...
    log.withdraw(1, at=3)
    assert holding(log.now()) == {("home", "Lisbon"), ("location", "Porto")}
    assert log.now().holds_agent("a1")
    # ... until the agent goes.
    log.add("gone", AgentWithdrawn(user_id="u", agent_id="a1"), day(4))
    tl = log.now()
    assert holding(tl) == {("location", "Porto")}
    assert not tl.holds_agent("a1") and tl.holds_agent("a2")
    # An agent made again with the id: what it gives from then on counts.
    log.deciding = log.now()
    log.say(5, "I work at Globex.", agent="a1")
    assert holding(log.now()) == {("employer", "Globex"), ("location", "Porto")}
    assert log.now().holds_agent("a1")


def test_a_memory_recorded_again_after_its_deletion_is_read_anew():
    """The same sourceId sent again once its memory was deleted records the memory again
    (its stream's next version): what the new recording says counts, what the deleted
    one said still does not, and the old recording delivered again is not read."""
    log = Log()
    log.say(1, "I work at Acme.")
    log.add("w1", MemoryWithdrawn(memory_id="m1", user_id="u", deleted_version=1), day(2))
    tl = log.now()
    assert holding(tl) == set()
    assert tl.read_before("m1", 0)  # the first recording, delivered again
    assert not tl.read_before("m1", 2)  # recorded again after the deletion
    log.deciding = tl
    for event_id, data in tl.decide(
        cause="cause-again",
        memory_id="m1",
        user_id="u",
        at=day(3),
        found=extract("I live in Porto."),
    ):
        log.add(event_id, data, day(3))
    log.add("s", MemorySynthesized(memory_id="m1", user_id="u", extractor="rules"), day(3))
    tl = log.now()
    assert holding(tl) == {("location", "Porto")}
    assert tl.read_before("m1", 2) and "m1" not in tl.withdrawn
    # Deleted again: withdrawn for that deletion, what it said left out once more.
    log.add("w2", MemoryWithdrawn(memory_id="m1", user_id="u", deleted_version=3), day(4))
    assert holding(log.now()) == set()


def test_a_withdrawal_written_before_versions_were_kept_withdraws_for_good():
    log = Log()
    log.say(1, "I work at Acme.")
    log.withdraw(1, at=2)
    assert log.now().read_before("m1", 5)


def test_a_deleted_agents_memory_that_comes_late_belongs_to_it():
    """A memory of the deleted agent recorded before its withdrawal, read after it (a
    backlog), would give an agent made again with the id its facts: it is the deleted
    one's (by when each was stored), and another agent's or a later one's is not."""
    log = Log()
    log.say(1, "I work at Acme.", agent="a1")
    log.add("gone", AgentWithdrawn(user_id="u", agent_id="a1"), day(4))
    tl = log.now()
    assert tl.of_deleted_agent("a1", day(3)) and tl.of_deleted_agent("a1", day(4))
    assert not tl.of_deleted_agent("a1", day(5))  # the agent made again
    assert not tl.of_deleted_agent("a2", day(3)) and not tl.of_deleted_agent(None, day(3))
