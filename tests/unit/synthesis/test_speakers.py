"""Whom a memory's facts describe (mnemo.contracts.speakers): two people sharing one userId
keep their own facts, one's never supersedes or ends the other's; the assistant's side
says nothing about anyone; an author equal to the userId is the user."""

from mnemo.contracts import FactExtracted, FactSuperseded
from mnemo.contracts.speakers import speaker_of
from mnemo.synthesis.extractor import extract
from mnemo.synthesis.timeline import Timeline

from .test_timeline import day


def said(tl: Timeline, n: int, text: str, about: str | None):
    return tl.decide(
        cause=f"cause-{n}",
        memory_id=f"m{n}",
        user_id="conversation",
        at=day(n),
        found=extract(text),
        about=about,
    )


def test_two_speakers_keep_their_own_one_value_facts():
    tl = Timeline("s")
    said(tl, 1, "I work at Acme.", "Audrey")
    derived = said(tl, 2, "I work at Globex.", "Andrew")
    assert not [d for _, d in derived if isinstance(d, FactSuperseded)]
    [new] = [d for _, d in derived if isinstance(d, FactExtracted)]
    assert new.about == "Andrew" and new.fact.value == "Globex"
    assert {(f.about, f.value) for f in tl.holding()} == {("Audrey", "Acme"), ("Andrew", "Globex")}
    # The same person said again, in another case, replaces their own fact only.
    derived = said(tl, 3, "I just joined Initech.", "audrey")
    [ended] = [d for _, d in derived if isinstance(d, FactSuperseded)]
    assert tl.facts[ended.fact_id].value == "Acme"
    assert {f.value for f in tl.holding()} == {"Globex", "Initech"}


def test_one_speaker_negating_leaves_the_other_speakers_fact():
    tl = Timeline("s")
    said(tl, 1, "I live in Paris.", "Audrey")
    said(tl, 2, "I live in Paris.", "Andrew")
    said(tl, 3, "I don't live in Paris anymore.", "Andrew")
    assert {(f.about, f.value) for f in tl.holding()} == {("Audrey", "Paris")}


def test_the_same_fact_by_two_speakers_is_two_facts():
    tl = Timeline("s")
    said(tl, 1, "I use Jira.", "Audrey")
    derived = said(tl, 2, "I use Jira.", "Andrew")
    assert [d.about for _, d in derived if isinstance(d, FactExtracted)] == ["Andrew"]
    assert len(tl.facts) == 2


def test_who_speaks():
    assert speaker_of({"role": "assistant", "author": "Bot"}, "u").describes_self is False
    assert speaker_of({"role": "AI"}, "u").describes_self is False
    assert speaker_of({"role": "user"}, "u").about is None
    assert speaker_of({"author": "  Audrey   Smith "}, "u").about == "Audrey Smith"
    assert speaker_of({"speaker": "Caroline"}, "u").about == "Caroline"
    assert speaker_of({"author": "Alice"}, "alice").about is None  # the user themselves
    assert speaker_of({"author": 42}, "u").about is None
    assert speaker_of({"author": "x" * 101}, "u").about is None
    assert speaker_of({}, "u").about is None and speaker_of(None, "u").describes_self
