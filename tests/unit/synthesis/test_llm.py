"""The LLM extractor's answer is held to the built-in extractor's shapes: known attributes
and entity types, confidences in [0, 1], quotes that are in the memory (their place is the
span); anything else is refused with what is wrong. And its settings are checked at start."""

import json

import pytest

from mnemo.contracts import ENTITY_TYPES
from mnemo.settings import SettingsError, load_settings
from mnemo.synthesis.attributes import ATTRIBUTES
from mnemo.synthesis.llm import SCHEMA, InvalidAnswer, parse
from mnemo.synthesis.settings import SynthesisSettings

MEMORY = "I work at Stripe and my manager is Sarah. I no longer use Jira."


def answer(**parts: object) -> str:
    return json.dumps({"facts": [], "negations": [], "mentions": [], **parts})


def fact(**over: object) -> dict:
    return {
        "attribute": "employer",
        "value": "Stripe",
        "statement": "Works at Stripe",
        "confidence": 0.9,
        "quote": "work at Stripe",
        **over,
    }


def test_a_good_answer_becomes_findings_with_spans():
    found = parse(
        answer(
            facts=[fact(), fact()],  # said twice: kept once
            negations=[{"attribute": "tool", "value": "Jira", "quote": "no longer use Jira"}],
            mentions=[
                {
                    "name": "Sarah",
                    "type": "person",
                    "relationship": "manager",
                    "confidence": 0.8,
                    "quote": "my manager is Sarah",
                }
            ],
        ),
        MEMORY,
    )
    [employer] = found.facts
    assert (employer.attribute, employer.value, employer.kind) == ("employer", "Stripe", "static")
    assert MEMORY[employer.span[0] : employer.span[1]] == "work at Stripe"
    [negation] = found.negations
    assert (negation.attribute, negation.value) == ("tool", "Jira")
    [sarah] = found.mentions
    assert MEMORY[sarah.span[0] : sarah.span[1]] == "my manager is Sarah"


def test_a_quote_not_in_the_memory_falls_back_to_the_value():
    [employer] = parse(answer(facts=[fact(quote="employed by Stripe")]), MEMORY).facts
    assert MEMORY[employer.span[0] : employer.span[1]] == "Stripe"


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("not json", "not JSON"),
        ('{"facts": "none"}', "Expected `array`"),
        (answer(facts=[fact(attribute="shoe_size")]), "facts[0].attribute is not a known"),
        (answer(facts=[fact(confidence=1.5)]), "facts[0].confidence"),
        (answer(facts=[fact(value="  ")]), "facts[0].value"),
        (answer(facts=[fact(quote="Acme", value="Acme")]), "facts[0].quote is not in"),
        (
            answer(
                mentions=[
                    {
                        "name": "Sarah",
                        "type": "vehicle",
                        "relationship": "x",
                        "confidence": 0.5,
                        "quote": "Sarah",
                    }
                ]
            ),
            "mentions[0].type is not one of",
        ),
        (answer(negations=[{"attribute": "mood", "value": None, "quote": "Jira"}]), "negations[0]"),
    ],
)
def test_a_wrong_answer_is_refused_naming_what_is_wrong(text, wrong):
    with pytest.raises(InvalidAnswer, match=wrong.replace("[", r"\[").replace("]", r"\]")):
        parse(text, MEMORY)


@pytest.mark.parametrize(
    "text",
    [
        answer(facts=[fact(attribute="works_at_Stripe_with_Sarah")]),
        answer(
            mentions=[
                {
                    "name": "Sarah",
                    "type": "Sarah_my_manager",
                    "relationship": "x",
                    "confidence": 0.5,
                    "quote": "Sarah",
                }
            ]
        ),
        json.dumps({"facts": [{**fact(), "value": ["Stripe", "Sarah"]}]}),
        json.dumps({"facts": [{"Stripe": "Sarah"}]}),
    ],
)
def test_a_refusal_never_repeats_what_the_model_wrote(text):
    """The reason is kept in memory.refined and may be logged: the model's words (which
    may be the memory's) are not in it, only the schema's."""
    with pytest.raises(InvalidAnswer) as refused:
        parse(text, MEMORY)
    assert "Stripe" not in str(refused.value) and "Sarah" not in str(refused.value)
    assert "facts[0]" in str(refused.value) or "mentions[0]" in str(refused.value)


def test_the_schema_sent_requires_facts_with_quotes():
    fact_schema = SCHEMA["$defs"]["_Fact"]
    assert SCHEMA["type"] == "object" and "facts" in SCHEMA["required"]
    assert {"attribute", "value", "statement", "confidence", "quote"} <= set(
        fact_schema["required"]
    )


def test_the_schema_sent_names_the_only_attributes_and_types_parse_takes():
    """A server that makes the schema a grammar cannot let the model write an attribute of
    its own (the real 1.5B model did, and lost whole answers to it): every enum
    value is one parse accepts, and nothing parse accepts is missing from it."""
    defs = SCHEMA["$defs"]
    assert set(defs["_Fact"]["properties"]["attribute"]["enum"]) == set(ATTRIBUTES)
    assert set(defs["_Negation"]["properties"]["attribute"]["enum"]) == {*ATTRIBUTES, None}
    assert defs["_Mention"]["properties"]["type"]["enum"] == list(ENTITY_TYPES)
    for attribute in ATTRIBUTES:
        said = "My name is Stripe." if attribute == "name" else MEMORY
        [found] = parse(answer(facts=[fact(attribute=attribute, quote="Stripe")]), said).facts
        assert found.attribute == attribute


BASE = {"MNEMO_NATS_URL": "nats://x", "MNEMO_DATABASE_URL": "postgresql://x"}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MNEMO_LLM_URL": "http://llm"}, "MNEMO_LLM_MODEL"),
        ({"MNEMO_LLM_URL": "llm:8000", "MNEMO_LLM_MODEL": "m"}, "MNEMO_LLM_URL"),
        ({"MNEMO_LLM_CONCURRENCY": "0"}, "MNEMO_LLM_CONCURRENCY"),
        ({"MNEMO_LLM_TENANT_BUDGET": "-1"}, "MNEMO_LLM_TENANT_BUDGET"),
        ({"MNEMO_LLM_RETRIES": "many"}, "MNEMO_LLM_RETRIES"),
    ],
)
def test_bad_llm_settings_stop_the_service_naming_the_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(SynthesisSettings, {**BASE, **env})


def test_without_a_url_there_is_no_llm():
    settings = load_settings(SynthesisSettings, BASE)
    assert settings.llm_url is None and settings.llm_tenant_budget == 1000


# What Qwen2.5-Coder-1.5B answered for the first turns of LoCoMo's conv-26 (before the
# prompt named the person addressed): the listener's name as the speaker's name, and
# as someone the speaker mentioned.
GREETING = "Hey Mel! Good to see you! How have you been?"
GREETING_ANSWER = json.dumps(
    {
        "facts": [
            {
                "attribute": "name",
                "value": "Mel",
                "statement": "Hey Mel! Good to see you! How have you been? ",
                "confidence": 1.0,
                "quote": "Hey Mel! Good to see you! How have you been? ",
            }
        ],
        "negations": [],
        "mentions": [
            {
                "name": "Mel",
                "type": "person",
                "relationship": "friend",
                "confidence": 1.0,
                "quote": "Hey Mel! Good to see you! How have you been? ",
            }
        ],
    }
)


def test_the_person_addressed_is_neither_the_speakers_name_nor_a_mention():
    found = parse(GREETING_ANSWER, GREETING)
    assert found.facts == [] and found.mentions == []


@pytest.mark.parametrize(
    ("content", "value", "kept"),
    [
        ("Hey Caroline! I'm swamped with the kids & work.", "Caroline", False),
        ("Thanks, Caroline. I'm fine.", "Caroline", False),
        ("Caroline, my name is Melanie by the way.", "Caroline", False),
        ("Caroline, my name is Melanie by the way.", "Melanie", True),
        ("Hi! I'm Melanie, nice to meet you.", "Melanie", True),
        ("My sister Melanie lives in Paris.", "Melanie", False),
    ],
)
def test_a_name_is_the_speakers_only_where_the_message_gives_it_as_theirs(content, value, kept):
    quote = value
    text = answer(facts=[fact(attribute="name", value=value, statement=f"Is {value}", quote=quote)])
    assert [f.value for f in parse(text, content).facts] == ([value] if kept else [])


def test_a_question_is_no_fact_but_the_rest_of_the_answer_stands():
    content = "I work at Stripe. Do you like Berlin?"
    text = answer(
        facts=[
            fact(),
            fact(attribute="preference", value="Berlin", statement="Likes Berlin?", quote="Berlin"),
        ]
    )
    assert [f.value for f in parse(text, content).facts] == ["Stripe"]


def test_a_mention_said_to_the_speaker_is_kept_when_not_addressed():
    content = "Hey Mel! My friend Ana got me into pottery."
    ana = {"name": "Ana", "type": "person", "relationship": "friend", "confidence": 0.9,
           "quote": "My friend Ana"}  # fmt: skip
    assert [m.name for m in parse(answer(mentions=[ana]), content).mentions] == ["Ana"]


def test_words_about_the_listener_alone_are_no_fact_about_the_speaker():
    """The model's reading of a greeting: feelings quoted from "Good to see you!"."""
    looped = [
        fact(attribute="feeling", value=v, statement="Good to see you!", quote="Good to see you!")
        for v in ("good", "well", "happy")
    ]
    assert parse(answer(facts=looped), GREETING).facts == []
    # Seen in bench-facts (conv-26, after the greeting was fixed): praise of the listener.
    praise = "Wow, Caroline! Painting looks like a great outlet for expressing yourself."
    outlet = fact(attribute="preference", value="painting", statement="Likes painting",
                  quote="Painting looks like a great outlet for expressing yourself")  # fmt: skip
    assert parse(answer(facts=[outlet]), praise).facts == []
    # ... and a quote cut short of the word that says whom it is about.
    guts = fact(attribute="possession", value="guts", statement="Got guts", quote="got guts")
    said = "That's really cool. You've got guts. I got a cat."
    assert parse(answer(facts=[guts]), said).facts == []
    cat = fact(attribute="possession", value="a cat", statement="Has a cat", quote="got a cat")
    assert [f.value for f in parse(answer(facts=[cat]), said).facts] == ["a cat"]
    mine = "Good to see you! I'm so happy with my new job."
    happy = fact(attribute="feeling", value="happy", statement="Is happy with a new job",
                 quote="I'm so happy")  # fmt: skip
    assert [f.value for f in parse(answer(facts=[happy]), mine).facts] == ["happy"]


def test_the_schema_bounds_every_list_so_a_looping_model_stops():
    for name in ("facts", "negations", "mentions"):
        assert 1 <= SCHEMA["properties"][name]["maxItems"] <= 6
