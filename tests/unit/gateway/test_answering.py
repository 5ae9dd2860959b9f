"""What an answer may rest on: the memories whose every fact has ended are outdated (a
memory that is also evidence of a holding fact is not), and the extractive answer is the
sentence sharing most content words with the question ("lives" and "live" are one)."""

from datetime import UTC, datetime

from mnemo.contracts import FactEvidence, FactView
from mnemo.gateway.answering import extractive_answer, outdated, words

AT = datetime(2024, 5, 1, tzinfo=UTC)


def fact(fact_id: str, status: str, *memories: str, contradicted: bool = False) -> FactView:
    return FactView(
        fact_id=fact_id,
        user_id="u",
        attribute="location",
        value=fact_id,
        statement=f"Lives in {fact_id}",
        kind="static",
        category="identity",
        confidence=0.8,
        valid_from=AT,
        valid_to=None,
        recorded_at=AT,
        status=status,
        contradicted=contradicted,
        evidence=[FactEvidence(memory_id=m, span=None, occurred_at=AT) for m in memories],
    )


def test_a_memory_is_outdated_when_every_fact_of_it_has_ended():
    facts = [
        fact("Lisbon", "superseded", "m-lisbon", "m-both"),
        fact("Madrid", "current", "m-madrid", "m-both"),
        fact("Porto", "negated", "m-porto"),
        fact("Faro", "current", "m-faro", contradicted=True),
    ]
    assert outdated(facts) == {"m-lisbon", "m-porto", "m-faro"}


def test_words_drop_stop_words_and_a_plural_s():
    assert words("Where does she live? She lives in Lisbon.") == {"she", "live", "lisbon"}
    assert words("the class") == {"class"}


def test_the_extractive_answer_is_the_best_sentence_and_its_passage():
    passages = ["I like tea. I live in Madrid now.", "I lived in Lisbon."]
    assert extractive_answer("Where do I live now?", passages) == ("I live in Madrid now.", 1.0, 0)
    assert extractive_answer("What is my dog called?", passages) == (None, 0.0, -1)
