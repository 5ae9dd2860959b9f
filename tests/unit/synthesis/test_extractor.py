"""The built-in extractor finds first-person facts with their spans, once each."""

from mnemo.synthesis.extractor import extract


def test_facts_with_kind_and_span():
    text = "Hi! I work at Stripe. I'm currently building a webhook retry system."
    facts = extract(text)
    assert [(f.attribute, f.value, f.kind) for f in facts] == [
        ("employer", "Stripe", "static"),
        ("current_activity", "a webhook retry system", "dynamic"),
    ]
    start, end = facts[0].span
    assert text[start:end] == "I work at Stripe"


def test_the_same_fact_said_twice_is_found_once():
    facts = extract("I love TypeScript. Really, I love typescript.")
    assert [(f.attribute, f.value) for f in facts] == [("preference", "TypeScript")]


def test_no_first_person_statement_no_fact():
    assert extract("The weather in Paris is mild in May.") == []
