"""What a memory does to a subject's facts: a conflicting value supersedes (valid_to set,
nothing deleted), the same fact said again is corroborated, negations end facts,
multi-valued attributes accumulate, late memories about the past are slotted in, and
deciding again yields the same event ids."""

from datetime import UTC, datetime

from mnemo.contracts import (
    EntityExtracted,
    FactCorroborated,
    FactExtracted,
    FactSuperseded,
    MemorySynthesized,
)
from mnemo.synthesis.extractor import extract
from mnemo.synthesis.timeline import Derived, Timeline


def day(n: int) -> datetime:
    return datetime(2026, 1, n, tzinfo=UTC)


def say(tl: Timeline, n: int, text: str, at: datetime | None = None) -> list[Derived]:
    return tl.decide(
        cause=f"cause-{n}", memory_id=f"m{n}", user_id="u", at=at or day(n), found=extract(text)
    )


def holding(tl: Timeline, at: datetime | None = None) -> set[tuple[str, str]]:
    return {(f.attribute, f.value) for f in tl.holding(at)}


def test_a_new_employer_supersedes_the_old_in_valid_time():
    tl = Timeline("s")
    say(tl, 1, "I work at Acme.")
    derived = say(tl, 5, "I just joined Globex.")
    [ended] = [d for _, d in derived if isinstance(d, FactSuperseded)]
    acme = next(f for f in tl.facts.values() if f.value == "Acme")
    globex = next(f for f in tl.facts.values() if f.value == "Globex")
    assert ended.fact_id == acme.fact_id and ended.valid_to == day(5)
    assert ended.reason == "replaced" and ended.superseded_by == globex.fact_id
    assert holding(tl) == {("employer", "Globex")}
    assert holding(tl, day(3)) == {("employer", "Acme")}
    assert len(tl.facts) == 2  # nothing deleted
    relations = {
        (d.entity.value, d.entity.relationship)
        for _, d in derived
        if isinstance(d, EntityExtracted)
    }
    assert relations == {("Globex", "employer"), ("Acme", "former employer")}


def test_the_same_fact_said_twice_is_corroborated_not_repeated():
    tl = Timeline("s")
    say(tl, 1, "I work at Acme.")
    derived = say(tl, 2, "As I said, I work at ACME.")
    assert [type(d) for _, d in derived if not isinstance(d, EntityExtracted)] == [FactCorroborated]
    [fact] = tl.facts.values()
    assert fact.evidence == 2 and fact.confidence > 0.85


def test_negations_end_current_facts():
    tl = Timeline("s")
    say(tl, 1, "I work at Acme. I use Jira. I live in Paris.")
    derived = say(tl, 2, "I quit Acme. I no longer use Jira. I don't live in Paris anymore.")
    ends = [d for _, d in derived if isinstance(d, FactSuperseded)]
    assert {e.reason for e in ends} == {"negated"} and len(ends) == 3
    assert holding(tl) == set()
    assert holding(tl, day(1)) == {("employer", "Acme"), ("tool", "Jira"), ("location", "Paris")}


def test_a_job_ends_without_naming_it():
    tl = Timeline("s")
    say(tl, 1, "I work at Acme. I use Jira.")
    say(tl, 2, "I quit my job.")
    assert holding(tl) == {("tool", "Jira")}


def test_multi_valued_attributes_accumulate():
    tl = Timeline("s")
    say(tl, 1, "I use Postgres. I love jazz. My sister Anna is visiting.")
    say(tl, 2, "I've started using Redis. I also enjoy chess. My sister Mei called.")
    assert holding(tl) == {
        ("tool", "Postgres"),
        ("tool", "Redis"),
        ("preference", "jazz"),
        ("preference", "chess"),
        ("sister", "Anna"),
        ("sister", "Mei"),
    }


def test_disliking_what_was_liked_replaces_it():
    tl = Timeline("s")
    say(tl, 1, "I like running.")
    say(tl, 2, "I hate running now.")
    assert holding(tl) == {("dislike", "running")}


def test_a_late_memory_about_the_past_is_slotted_in():
    tl = Timeline("s")
    say(tl, 10, "I joined Vercel.")
    derived = say(tl, 11, "I work at Netlify.", at=day(2))
    netlify = next(f for f in tl.facts.values() if f.value == "Netlify")
    assert netlify.valid_to == day(10)
    assert holding(tl) == {("employer", "Vercel")}
    assert holding(tl, day(5)) == {("employer", "Netlify")}
    relations = {
        (d.entity.value, d.entity.relationship)
        for _, d in derived
        if isinstance(d, EntityExtracted)
    }
    assert relations == {("Netlify", "former employer")}


def test_a_late_memory_between_two_values_shortens_the_first():
    tl = Timeline("s")
    say(tl, 1, "I work at Acme.")
    say(tl, 20, "I joined Globex.")
    say(tl, 21, "I work at Initech now.", at=day(10))
    assert holding(tl, day(5)) == {("employer", "Acme")}
    assert holding(tl, day(15)) == {("employer", "Initech")}
    assert holding(tl, day(25)) == {("employer", "Globex")}


def test_deciding_again_from_the_same_log_gives_the_same_events():
    def run() -> list[Derived]:
        tl = Timeline("s")
        say(tl, 1, "I work at Acme. My manager is Sarah.")
        return say(tl, 2, "I joined Globex, my new manager is Tom.")

    first, second = run(), run()
    assert [eid for eid, _ in first] == [eid for eid, _ in second]
    assert len({eid for eid, _ in first}) == len(first)


def test_the_timeline_folds_back_from_its_events():
    tl = Timeline("s")
    events = say(tl, 1, "I work at Acme.") + say(tl, 2, "I joined Globex.")
    events.append(("done", MemorySynthesized(memory_id="m2", user_id="u", extractor="rules-v2")))
    again = Timeline("s")
    for n, (_, data) in enumerate(events):
        at = day(1) if n < 2 else day(2)
        again.apply(data, at)
    assert holding(again) == holding(tl) and "m2" in again.memories
    assert any(isinstance(d, FactExtracted) for _, d in events)


def said_by(tl: Timeline, agent: str | None, n: int, text: str) -> list[Derived]:
    return tl.decide(
        cause=f"cause-{n}",
        memory_id=f"m{n}",
        user_id="u",
        at=day(n),
        found=extract(text),
        agent_id=agent,
    )


def test_one_agents_memory_never_weighs_on_another_agents_facts():
    """Two agents that know a user of the same name share the subject's stream, not its
    facts: the second agent's new employer, its same fact, its negation leave the first
    agent's facts as they were, and tell the second nothing of them (no `former employer`
    entity of a company only the first agent heard of)."""
    tl = Timeline("s")
    said_by(tl, "a1", 1, "I work at Initech. I live in Boston.")
    moved = said_by(tl, "a2", 2, "I just joined Globex.")
    same = said_by(tl, "a2", 3, "I live in Boston.")
    denied = said_by(tl, None, 4, "I no longer live in Boston.")
    for derived in (moved, same, denied):
        assert not [d for _, d in derived if isinstance(d, FactSuperseded | FactCorroborated)]
    entities = {d.entity.value for _, d in moved if isinstance(d, EntityExtracted)}
    assert entities == {"Globex"}
    first = {(f.attribute, f.value) for f in tl.holding() if f.agent_id == "a1"}
    assert first == {("employer", "Initech"), ("location", "Boston")}
    second = {(f.attribute, f.value) for f in tl.holding() if f.agent_id == "a2"}
    assert second == {("employer", "Globex"), ("location", "Boston")}
    # Within one agent, all as before: its own new employer supersedes its own old one.
    again = said_by(tl, "a1", 5, "I just joined Globex.")
    [ended] = [d for _, d in again if isinstance(d, FactSuperseded)]
    assert tl.facts[ended.fact_id].value == "Initech"
