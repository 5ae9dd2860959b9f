"""The built-in extractor: first-person facts with their spans, negations, and the
entities of the subject's world; questions, conditionals and other people are no facts."""

import re

from mnemo.synthesis import values
from mnemo.synthesis.extractor import MAX_SENTENCE, extract, sentences


def facts(text: str) -> list[tuple[str, str]]:
    return [(f.attribute, f.value) for f in extract(text).facts]


def test_facts_with_kind_category_and_span():
    text = "Hi! I work at Stripe. I'm currently building a webhook retry system."
    found = extract(text).facts
    assert [(f.attribute, f.value, f.kind, f.category) for f in found] == [
        ("employer", "Stripe", "static", "work"),
        ("activity", "a webhook retry system", "dynamic", "activities"),
    ]
    start, end = found[0].span
    assert text[start:end] == "I work at Stripe"
    assert found[0].statement == "Works at Stripe"
    assert 0 < found[0].confidence <= 1


def test_the_same_fact_said_twice_in_one_memory_is_found_once():
    assert facts("I love TypeScript. Really, I love typescript.") == [("preference", "TypeScript")]


def test_no_first_person_statement_no_fact():
    assert extract("The weather in Paris is mild in May.").facts == []


def test_questions_and_conditionals_say_nothing_about_the_subject():
    assert facts("Do I live in Berlin? If I worked at Google I'd be rich.") == []


def test_lists_give_one_fact_per_item():
    assert facts("I love hiking, climbing and kayaking.") == [
        ("preference", "hiking"),
        ("preference", "climbing"),
        ("preference", "kayaking"),
    ]


def test_negations_name_what_stops_holding():
    found = extract("I left Acme. I no longer use Jira. I don't live in Paris anymore.")
    assert [(n.attribute, n.value) for n in found.negations] == [
        (None, "Acme"),
        ("tool", "Jira"),
        ("location", "Paris"),
    ]
    assert found.facts == []


def test_a_switch_ends_one_value_and_starts_another():
    found = extract("We switched from Jira to Linear.")
    assert [(n.attribute, n.value) for n in found.negations] == [("tool", "Jira")]
    assert [(f.attribute, f.value) for f in found.facts] == [("tool", "Linear")]


def test_people_mentioned_with_their_relationship():
    found = extract(
        "I just joined Globex. My new manager is Sarah Chen. My friend Raj works at Google."
    )
    assert [(m.name, m.type, m.relationship) for m in found.mentions] == [
        ("Globex", "organization", "employer"),
        ("Sarah Chen", "person", "manager"),
        ("Raj", "person", "friend"),
        ("Google", "organization", "employer of their friend"),
    ]
    assert ("manager", "Sarah Chen") in facts("My new manager is Sarah Chen.")


def test_what_others_do_is_not_a_fact_about_the_subject():
    assert facts("My dad works at Boeing and loves golf.") == []


def test_hedged_statements_are_less_sure():
    sure = extract("I'm going to learn to sail.").facts[0]
    hedged = extract("I think I'm going to learn to sail.").facts[0]
    assert hedged.value == sure.value and hedged.confidence < sure.confidence


def mentions(text: str) -> list[tuple[str, str, str]]:
    return [(m.name, m.type, m.relationship) for m in extract(text).mentions]


def test_names_said_in_passing_are_mentions_typed_by_the_words_around_them():
    assert mentions(
        "We got another cat named Bailey. I love my dogs Pepper, Precious and Panda."
    ) == [
        ("Bailey", "pet", "pet"),
        ("Pepper", "pet", "pet"),
        ("Precious", "pet", "pet"),
        ("Panda", "pet", "pet"),
    ]
    assert mentions("And yup, I do- Oscar, my guinea pig.") == [("Oscar", "pet", "pet")]
    assert mentions("It was a gift from my grandma in my home country, Sweden.") == [
        ("Sweden", "place", "mentioned")
    ]
    assert mentions('I loved "Becoming Nicole" by Amy Ellis Nutt.') == [
        ("Becoming Nicole", "product", "mentioned"),
        ("Amy Ellis Nutt", "person", "mentioned"),
    ]
    assert mentions("We saw the Perseid meteor shower, then walked in Pride Month.") == [
        ("Perseid", "event", "mentioned"),
        ("Pride Month", "event", "mentioned"),
    ]
    assert mentions("Our group, 'Connected LGBTQ Activists', meets weekly.") == [
        ("Connected LGBTQ Activists", "organization", "mentioned")
    ]


def test_a_capital_that_only_starts_a_sentence_or_spells_an_acronym_is_no_name():
    assert mentions("Dancing is fun. LOL. Yesterday was great. Thanks, I'm Kim.") == []


def test_names_in_questions_and_conditions_are_not_read():
    assert mentions("Have you been to Lisbon? If I had met Sam I would know.") == []


def test_a_name_a_rule_read_is_mentioned_once_with_its_relationship():
    assert mentions("My friend Raj lives in Madrid. I no longer use Notion.") == [
        ("Raj", "person", "friend"),
        ("Madrid", "place", "mentioned"),
    ]


def test_what_they_did_have_and_feel_in_conversation():
    assert facts(
        "I just signed up for a pottery class yesterday. I went to an LGBTQ support group. "
        "I started transitioning three years ago. I've got two kids. "
        "I'm so excited about the art show."
    ) == [
        ("experience", "a pottery class"),
        ("experience", "an LGBTQ support group"),
        ("experience", "transitioning"),
        ("possession", "two kids"),
        ("feeling", "the art show"),
    ]
    assert extract("I'm so excited about the art show.").facts[0].statement == (
        "Is excited about the art show"
    )


def test_a_rule_of_its_own_wins_over_a_generic_experience():
    assert facts("I joined Globex last week.") == [("employer", "Globex")]


def test_values_about_the_listener_or_pointing_back_or_cut_off_are_no_facts():
    assert (
        facts(
            "I love how you use it. I'd love to check them out. I love to. I'm planning a few. "
            "I love how it's both a creative outlet and a form of therapy. "
            "I also use it to speak up and push. I went to a few weeks ago."
        )
        == []
    )


# What the speaker's words say of someone or something else, or of nothing, is no fact
# about them (issue #20: precision of the rules on conversations). Each class is one rule,
# written in sentences of these tests' own.


def test_a_relative_clause_is_about_its_noun_not_what_follows_its_verb():
    # "a car I drive to work": the object of "drive" is the car, not "to work"
    assert (
        facts(
            "It's a car I drive to work most days. Here's the cake I've been baking all "
            "week. The songs I love make any drive shorter. That's something I enjoy "
            "doing. Here's a photo of the cabin we rented and the lake I want to swim in. "
            "I'm saving up for trips I want to take. It's the pie that I baked for Sam."
        )
        == []
    )
    # a time, a manner or a reason before the clause, or a phrase put first, is no noun
    # the clause describes: what follows the verb is still its object
    assert facts(
        "The other week I went to a jazz festival. That's the reason I love baking bread. "
        "After moving my office I joined a running club. At the market I met Priya."
    ) == [
        ("experience", "a jazz festival"),
        ("preference", "baking bread"),
        ("experience", "a running club"),
        ("experience", "Priya"),
    ]


def test_liking_one_particular_thing_in_front_of_them_is_a_reaction_not_a_taste():
    assert facts("What a view! I love the colours and the light. I adore his boots.") == []
    assert facts("I love all the little details.") == []
    # a kind of thing is a taste; a particular one in the same list is left out
    assert facts("I love jazz and the sea.") == [("preference", "jazz")]
    assert facts("I really like my job.") == [("preference", "my job")]


def test_an_announcement_or_a_vague_amount_names_nothing():
    assert facts(
        "I've got a weird story. I got some big news to tell - I adopted a cat! "
        "I have a few ideas. I'm learning a bunch. I've been building something cool."
    ) == [("experience", "a cat")]


def test_a_polite_would_love_to_is_no_plan():
    assert facts("I'd love to help out sometime! I'd like to come along.") == []
    assert facts("I want to run a marathon.") == [("plan", "run a marathon")]


def test_a_verb_keeps_its_complement_and_a_title_in_quotes_is_read_whole():
    assert facts("I'm thinking of partnering with a local bakery, for a start.") == [
        ("plan", "partnering with a local bakery")
    ]
    assert facts('I\'m reading "The Left Hand of Darkness" by Ursula Le Guin.') == [
        ("activity", '"The Left Hand of Darkness" by Ursula Le Guin')
    ]
    # "for a <noun>" is a time only when the noun is one ("for a week", not "for a job")
    assert facts("I got an offer for a part-time job.") == [
        ("experience", "an offer for a part-time job")
    ]


def test_a_tool_used_for_a_purpose_lists_no_verbs_as_tools():
    assert facts("I use Trello to plan sprints, track bugs and review work.") == [
        ("tool", "Trello")
    ]


def test_words_quoted_are_someone_elses():
    found = extract(
        'My aunt told me, "I\'m moving to Denver. My boss Greg hates me." I live in Boise.'
    )
    assert [(f.attribute, f.value) for f in found.facts] == [("location", "Boise")]
    assert [(m.name, m.relationship) for m in found.mentions if m.name == "Greg"] == [
        ("Greg", "mentioned")
    ]


def test_statements_are_written_about_the_speaker_not_in_their_words():
    found = extract("I'm grateful for my neighbours. I hope to teach my kids to swim.").facts
    assert [f.statement for f in found] == [
        "Is grateful for their neighbours",
        "Plans to teach their kids to swim",
    ]
    # names and titles keep their words
    assert [f.statement for f in extract("I love My Chemical Romance.").facts] == [
        "Likes My Chemical Romance"
    ]
    assert [f.statement for f in extract('I\'m reading "Hold Me Tight" to my kids.').facts] == [
        'Reading "Hold Me Tight" to their kids'
    ]


# --------------------------------------------------------------------------- bounded work


def test_no_rule_reads_more_than_a_bounded_piece_of_a_long_sentence():
    """A memory with no full stop (a log, a list of numbers) is read in pieces cut at a
    space: every rule tries a name at each capitalised word, so an unbounded sentence cost
    its length squared (9 KB held synthesis for 10 s)."""
    text = " ".join(f"ERROR{i}" for i in range(3000)) + " and I work at Acme."
    pieces = sentences(text)
    assert max(len(s) for _, s in pieces) <= MAX_SENTENCE
    assert all(text[o : o + len(s)] == s for o, s in pieces)  # offsets still index the text
    assert "".join(s for _, s in pieces) == text  # nothing skipped
    found = extract(text)
    assert ("employer", "Acme") in {(f.attribute, f.value) for f in found.facts}


def test_a_name_is_read_to_at_most_its_bounded_number_of_words():
    run = " ".join(f"Word{i}" for i in range(40))
    match = re.match(values.NAME, run)
    assert match is not None and len(match.group(0).split()) == values.NAME_WORDS
